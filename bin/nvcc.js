#!/usr/bin/env node
// Entry point for `nvcc` / `nvc`. Runs the precompiled bundle of the current sources,
// dist/<id>/cli.js (scripts/dist.mjs names it; `npm install` makes it, and it is made here when
// the sources changed since, ~1 s). When it cannot be made (read-only installation, no esbuild)
// the TypeScript sources run through tsx instead, as they do with NVCC_BUNDLE=0: either way the
// code that runs is the code in the tree, never an older bundle.
import * as fs from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// `nvcc build --emit ts | head` closes the pipe early; the reader has what it wanted, so stop
// quietly as other command-line tools do instead of dying with Node's unhandled-error trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const debug = (line) => {
  if (process.env.NVCC_DEBUG) process.stderr.write(`nvcc: ${line}\n`);
};

async function bundledCli() {
  const { currentBundle } = await import('../scripts/dist.mjs');
  let target = await currentBundle(root);
  if (!target.ready) {
    const { bundle } = await import('../scripts/bundle.mjs');
    target = await bundle(root);
    debug(`bundled ${relative(root, target.dir)} in ${Math.round(target.ms)} ms`);
  }
  // Mark the bundle in use while this process runs: scripts/bundle.mjs removes only bundles no
  // live process runs (chunks are imported lazily, a training may import one hours later).
  const mark = join(target.dir, 'users', String(process.pid));
  try {
    fs.mkdirSync(dirname(mark), { recursive: true });
    fs.writeFileSync(mark, '');
    process.on('exit', () => fs.rmSync(mark, { force: true }));
  } catch {
    // read-only installation: nothing prunes it either
  }
  return import(pathToFileURL(join(target.dir, 'cli.js')).href);
}

async function sourceCli() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../cli/main.ts');
}

let cli;
if (process.env.NVCC_BUNDLE !== '0') {
  try {
    cli = await bundledCli();
    if (process.env.NVCC_DEBUG) process.setSourceMapsEnabled(true);
  } catch (err) {
    debug(`running the TypeScript sources: no bundle (${err instanceof Error ? err.message : String(err)})`);
  }
}
cli ??= await sourceCli();
process.exitCode = await cli.main(process.argv.slice(2));
