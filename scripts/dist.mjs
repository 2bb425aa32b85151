/**
 * Which precompiled bundle belongs to the current sources (cheap: bin/nvcc.js calls it on every
 * start; it must not import esbuild).
 * In: the package root. Out: the bundle id (a hash of the contents of every file the bundle is
 * made from: dsl/, compiler/, runtime/, workflow/ and cli/ .ts files, package.json,
 * package-lock.json and the bundler scripts) and its folder `dist/<id>/`.
 * Holds afterwards: a bundle folder is never rewritten: edited sources get a new id, hence a new
 * folder, so a process still running an older bundle keeps its files, and nobody runs a bundle
 * made from other sources. Hashing ~1 MB takes ~10 ms; `dist/current.json` remembers the id of
 * the last (path, mtime, size) listing, so an unchanged tree costs one stat per file (~3 ms) and
 * does not even load node:crypto.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SOURCE_DIRS = ['dsl', 'compiler', 'runtime', 'workflow', 'cli', 'lsp'];
/** Inputs besides the .ts sources: dependency versions (chevrotain is bundled) and the bundler. */
export const EXTRA_INPUTS = ['package.json', 'package-lock.json', 'scripts/dist.mjs', 'scripts/bundle.mjs'];
const CURRENT = 'current.json';

/** Sorted package-relative paths (posix) of every input of the bundle. */
export function bundleInputs(root) {
  const files = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (e.name.endsWith('.ts')) files.push(child);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  for (const f of EXTRA_INPUTS) if (fs.existsSync(path.join(root, f))) files.push(f);
  return files.sort();
}

/** Content hash of the inputs: the bundle id (16 hex digits). */
export async function contentId(root, files) {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  for (const f of files)
    h.update(f)
      .update('\0')
      .update(fs.readFileSync(path.join(root, f)))
      .update('\0');
  return h.digest('hex').slice(0, 16);
}

/**
 * The id of the bundle the current sources make, and its folder (which may not exist yet).
 * `write: false` leaves dist/current.json alone (a read-only installation).
 */
export async function currentBundle(root, { write = true } = {}) {
  const distDir = path.join(root, 'dist');
  const files = bundleInputs(root);
  const listing = files
    .map((f) => {
      const s = fs.statSync(path.join(root, f));
      return `${f}:${s.mtimeMs}:${s.size}`;
    })
    .join('\n');
  let id;
  try {
    const known = JSON.parse(fs.readFileSync(path.join(distDir, CURRENT), 'utf8'));
    if (known.listing === listing && typeof known.id === 'string') id = known.id;
  } catch {
    // no record yet (or a torn one): hash the contents
  }
  if (id === undefined) {
    id = await contentId(root, files);
    if (write) {
      try {
        fs.mkdirSync(distDir, { recursive: true });
        const tmp = path.join(distDir, `${CURRENT}.tmp-${process.pid}`);
        fs.writeFileSync(tmp, JSON.stringify({ listing, id }) + '\n');
        fs.renameSync(tmp, path.join(distDir, CURRENT));
      } catch {
        // not writable: the next start hashes again
      }
    }
  }
  const dir = path.join(distDir, id);
  return { id, dir, files, ready: fs.existsSync(path.join(dir, 'cli.js')) };
}
