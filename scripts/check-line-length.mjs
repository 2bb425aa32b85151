// Line-length check for CI: lists every tracked .ts/.mjs/.js/.py/.nvc line longer than 120 characters (the
// project standard; Biome's formatter leaves long strings and comments alone) and exits 1 if any.
// In: the files `git ls-files` reports. Out: one `file:line: length` per offending line on stderr.
// Holds afterwards: exit 0 only when every checked line is at most 120 characters.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 120;
const EXTENSIONS = ['.ts', '.mjs', '.js', '.py', '.nvc'];
// Golden inputs and outputs are checked byte for byte elsewhere and may hold lines of any length.
const EXCLUDED_FOLDERS = ['test/fixtures/', 'test/baselines/'];
// Files still waiting to be shortened. This list must stay empty: fix new long lines instead.
const ALLOWED = [];

const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  .split('\0')
  .filter((f) => EXTENSIONS.some((e) => f.endsWith(e)))
  .filter((f) => !EXCLUDED_FOLDERS.some((d) => f.startsWith(d)))
  .filter((f) => !ALLOWED.some((a) => (a.endsWith('/') ? f.startsWith(a) : f === a)));

let long = 0;
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // listed by git but deleted in the working tree
  }
  text.split(/\r?\n/).forEach((line, i) => {
    // Counted like awk's length: characters (code points), not UTF-16 units.
    const length = [...line].length;
    if (length > MAX) {
      console.error(`${file}:${i + 1}: ${length} characters (at most ${MAX})`);
      long++;
    }
  });
}
if (long > 0) {
  console.error(`${long} line(s) longer than ${MAX} characters: split strings, wrap comments, name long expressions`);
  process.exit(1);
}
console.log(`line length: ${files.length} files, every line at most ${MAX} characters`);
