/**
 * `nvcc fmt` (dsl/format.ts, workflow/format.ts): a golden of every layout rule, the properties
 * the issue asks for (idempotent; the same tokens, comments and AST as the input) over every
 * fixture, example and std module and over 2,000 layout-mutated variants of them, and the
 * command's behaviour (check mode, atomic rewrite, refusals).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatSource, keepsMeaning } from '../../dsl/format.js';
import { parse } from '../../dsl/index.js';
import { SourceFile } from '../../dsl/span.js';
import { collectNvcFiles } from '../../workflow/format.js';

const NVCC = path.resolve('bin/nvcc.js');
const seed = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : 20_261_205;

function formatted(text: string, name = 'x.nvc'): string {
  const r = formatSource(new SourceFile(name, text));
  if (!r.ok) throw new Error(`${name} does not parse: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.text;
}

function parses(text: string): boolean {
  return !parse(new SourceFile('x.nvc', text)).diagnostics.some((d) => d.severity === 'error');
}

/** What every formatted text looks like, whatever the input. */
function expectCanonicalShape(text: string): void {
  expect(text === '' || text.endsWith('\n')).toBe(true);
  expect(text).not.toMatch(/[ \t]+\n/);
  expect(text).not.toMatch(/\n\n\n/);
  expect(text).not.toMatch(/\r/);
  expect(text).not.toMatch(/^\t/m);
  expect(text.startsWith('\n')).toBe(false);
}

/**
 * The text split into code and the blanks between it (odd indices); strings and comments are
 * code, so their insides are never mutated.
 */
function layoutPieces(text: string): string[] {
  const pieces: string[] = [''];
  const atoms = /"(?:[^"\\\r\n]|\\.)*"|\/\/[^\r\n]*|\/\*[\s\S]*?\*\/|[ \t]*(?:\r?\n[ \t]*)+|[ \t]+|[^\s"/]+|./g;
  for (const [atom] of text.matchAll(atoms)) {
    const isBlank = /^\s+$/.test(atom);
    if (isBlank === (pieces.length % 2 === 1)) pieces.push(atom);
    else pieces[pieces.length - 1] += atom;
  }
  return pieces;
}

const corpusFiles = collectNvcFiles(['test/fixtures', 'test/diagram', 'examples', 'std']);
const corpus = corpusFiles
  .map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }))
  .filter(({ text }) => parses(text));

describe('nvcc fmt layout', () => {
  it('lays out every rule as the golden says', () => {
    const out = formatted(fs.readFileSync('test/fixtures/fmt/messy.nvc', 'utf8'));
    expect(out).toBe(fs.readFileSync('test/fixtures/fmt/messy.formatted.nvc', 'utf8'));
  });

  it('normalises line endings, tabs and blank lines without joining or splitting lines', () => {
    const input = '\r\n\r\nconst  A:int = 1\r\n\r\n\r\n\r\n\tconst B: int = -A\r\n';
    expect(formatted(input)).toBe('const A: int = 1\n\nconst B: int = -A\n');
  });

  it('keeps a dataset field type apart from its levels but writes int[] as one word', () => {
    const out = formatted(fs.readFileSync('examples/mednvc.nvc', 'utf8'));
    expect(out).toContain('joint: binary [hip, knee]');
    expect(formatted('const D: int[] = [1]\n')).toBe('const D: int[] = [1]\n');
  });

  it('finds std/ and examples/ in the canonical layout (npm run lint checks it too)', () => {
    for (const file of collectNvcFiles(['std', 'examples'])) {
      const text = fs.readFileSync(file, 'utf8');
      expect(formatted(text, file), file).toBe(text);
    }
  });

  it('keeps a named forward and a member that are keywords attached to their brackets', () => {
    expect(formatted('interface I(n: int) {\n  forward stage (x: [B, n], i: int) -> [B, n]\n}\n')).toContain(
      '  forward stage(x: [B, n], i: int) -> [B, n]\n',
    );
  });

  it('refuses a file with syntax errors, reporting them', () => {
    const r = formatSource(new SourceFile('bad.nvc', 'block X( {\n'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics.map((d) => d.code)).toContain('NVC1011');
  });
});

describe('nvcc fmt properties', () => {
  it(`holds on every parsing fixture, example and std module (${corpus.length} files)`, () => {
    expect(corpus.length).toBeGreaterThan(80);
    for (const { file, text } of corpus) {
      const once = formatted(text, file);
      expectCanonicalShape(once);
      expect(keepsMeaning(new SourceFile(file, text), once), file).toBe(true);
      expect(formatted(once, file), file).toBe(once);
    }
  });

  // Layout mutations: every run of blanks becomes another run (a newline stays a newline, with
  // random indentation, blank lines or CRLF; spaces become tabs or several spaces), and
  // comments are dropped in between. Inputs that no longer parse are not counted.
  const small = corpus.filter(({ text }) => text.length < 6000);
  const blank = fc.constantFrom(' ', '  ', '\t', '   ', ' \t');
  const newline = fc.constantFrom('\n', '\n\n', '\n\n\n\n', '\r\n', '\n\t\t', '\n      ', '\n ');
  const inserted = fc.constantFrom('', '', '', '', '', '', '', '', '', ' /* c */ ', ' // note');
  const mutated = fc
    .nat({ max: small.length - 1 })
    .chain((index) => {
      const pieces = layoutPieces(small[index]!.text);
      const gaps = pieces.filter((_, i) => i % 2 === 1).length;
      return fc.tuple(
        fc.constant(pieces),
        fc.array(fc.tuple(blank, newline, inserted), { minLength: gaps, maxLength: gaps }),
      );
    })
    .map(([pieces, replacements]) =>
      pieces
        .map((piece, i) => {
          if (i % 2 === 0) return piece;
          const [b, n, extra] = replacements[(i - 1) / 2]!;
          // a line comment only where a line ends anyway
          return /\n/.test(piece) ? extra + n : b + extra.replace(' // note', '');
        })
        .join(''),
    );

  it('holds on 2,000 layout-mutated inputs that parse (fixed seed)', () => {
    let checked = 0;
    fc.assert(
      fc.property(mutated, (text) => {
        const result = formatSource(new SourceFile('x.nvc', text));
        if (!result.ok) return;
        checked++;
        const once = result.text;
        expectCanonicalShape(once);
        expect(keepsMeaning(new SourceFile('x.nvc', text), once)).toBe(true);
        expect(formatted(once)).toBe(once);
      }),
      { seed, numRuns: 2_200 },
    );
    expect(checked).toBeGreaterThanOrEqual(2_000);
  }, 600_000);
});

describe('nvcc fmt command', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-fmt-'));
  const run = (...args: string[]) => spawnSync(process.execPath, [NVCC, ...args], { encoding: 'utf8', cwd: dir });

  it('lists unformatted files with --check and writes nothing', () => {
    const file = path.join(dir, 'a.nvc');
    fs.writeFileSync(file, 'const  A:int=1\n');
    const r = run('fmt', '--check', dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`${file}: not formatted\n`);
    expect(fs.readFileSync(file, 'utf8')).toBe('const  A:int=1\n');
  });

  it('rewrites in place keeping the file mode, then --check passes', () => {
    const file = path.join(dir, 'b.nvc');
    fs.writeFileSync(file, 'const  B:int=2\n', { mode: 0o600 });
    const r = run('fmt', file);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${file}: formatted\n`);
    expect(fs.readFileSync(file, 'utf8')).toBe('const B: int = 2\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(run('fmt', '--check', file).status).toBe(0);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('leaves a file with syntax errors untouched and reports it with a caret', () => {
    const file = path.join(dir, 'c.nvc');
    fs.writeFileSync(file, 'block X( {\n');
    const r = run('fmt', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`--> ${file}:1:10`);
    expect(r.stderr).toContain(`${file}: not formatted (fix the syntax errors first)`);
    expect(fs.readFileSync(file, 'utf8')).toBe('block X( {\n');
  });

  it('refuses devices and formats standard input to standard output', () => {
    const dev = run('fmt', '/dev/zero');
    expect(dev.status).toBe(1);
    expect(dev.stderr).toContain('/dev/zero is a character device, not a regular file');
    const out = execFileSync(process.execPath, [NVCC, 'fmt', '-'], { input: 'const C:int=-1\n', encoding: 'utf8' });
    expect(out).toBe('const C: int = -1\n');
  });
});
