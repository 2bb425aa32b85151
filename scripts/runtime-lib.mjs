/**
 * Compiles the runtime that generated code imports (`nvcc/runtime`, package.json `exports`) to
 * JavaScript with declarations, so that a project depending on nvcc type-checks and runs a
 * build folder without tsx or nvcc's TypeScript sources.
 * In: the runtime sources reachable from the entries below. Out: `dist/lib/runtime/**` (`.js` and
 * `.d.ts` per module, the same layout as the sources) and `dist/lib/id` (a hash of the inputs).
 * With `--package DIR`, also a standalone package in DIR: nvcc's runtime alone (package.json named
 * `nvcc` with the same `./runtime` exports and only the runtime's npm dependency), which a
 * project can install from a tarball (`npm pack DIR`) without the compiler and its dependencies.
 * Holds afterwards:
 *  - dist/lib is rebuilt only when its inputs changed (the id), and replaced whole (built beside it,
 *    then renamed into place), so a reader sees the old or the new tree, never a mix;
 *  - the compile has zero diagnostics, or the script fails listing them.
 * Usage: node scripts/runtime-lib.mjs [--package DIR]   (run by `npm install` / `npm ci`: prepare)
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The entry points of the `./runtime` exports (package.json), relative to the package root. */
export const RUNTIME_ENTRIES = ['runtime/index.ts', 'runtime/browser.ts'];
/** npm packages the runtime entries import (checked against the emitted files). */
const RUNTIME_DEPENDENCIES = ['@tensorflow/tfjs'];

function runtimeSources(root) {
  const files = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (e.name.endsWith('.ts')) files.push(child);
    }
  };
  walk('runtime');
  return files.sort();
}

function inputsId(root) {
  const h = createHash('sha256');
  for (const f of [...runtimeSources(root), 'package.json', 'scripts/runtime-lib.mjs'])
    h.update(f)
      .update('\0')
      .update(fs.readFileSync(path.join(root, f)))
      .update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Builds dist/lib unless it is up to date. Returns its folder and whether this call built it. */
export async function buildRuntimeLib(root) {
  const libDir = path.join(root, 'dist', 'lib');
  const id = inputsId(root);
  try {
    if (fs.readFileSync(path.join(libDir, 'id'), 'utf8').trim() === id) return { dir: libDir, id, built: false };
  } catch {
    // not built yet
  }
  const ts = (await import('typescript')).default;
  const tmp = `${libDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const program = ts.createProgram(
    RUNTIME_ENTRIES.map((e) => path.join(root, e)),
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noImplicitOverride: true,
      esModuleInterop: true,
      skipLibCheck: true,
      declaration: true,
      rootDir: root,
      outDir: tmp,
      types: ['node'],
      typeRoots: [path.join(root, 'node_modules', '@types')],
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    },
  );
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const text = ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    });
    throw new Error(`the runtime does not compile:\n${text}`);
  }
  fs.writeFileSync(path.join(tmp, 'id'), `${id}\n`);
  const old = `${libDir}.old-${process.pid}`;
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(libDir)) fs.renameSync(libDir, old);
  fs.renameSync(tmp, libDir);
  fs.rmSync(old, { recursive: true, force: true });
  return { dir: libDir, id, built: true };
}

/** Writes nvcc's runtime alone as a package in outDir (dist/lib must be built). */
export function writeRuntimePackage(root, outDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const dependencies = Object.fromEntries(RUNTIME_DEPENDENCIES.map((d) => [d, pkg.dependencies[d]]));
  const runtimeExports = Object.fromEntries(Object.entries(pkg.exports).filter(([k]) => k.startsWith('./runtime')));
  fs.mkdirSync(outDir, { recursive: true });
  fs.cpSync(path.join(root, 'dist', 'lib'), path.join(outDir, 'dist', 'lib'), { recursive: true });
  const standalone = {
    name: pkg.name,
    version: pkg.version,
    description: `${pkg.description} (the runtime alone)`,
    license: pkg.license,
    type: 'module',
    engines: pkg.engines,
    exports: { ...runtimeExports, './package.json': './package.json' },
    dependencies,
  };
  fs.writeFileSync(path.join(outDir, 'package.json'), JSON.stringify(standalone, null, 2) + '\n');
  return outDir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const started = performance.now();
  const r = await buildRuntimeLib(root);
  const rel = path.relative(root, r.dir);
  console.log(
    r.built
      ? `nvcc: compiled ${rel} in ${((performance.now() - started) / 1000).toFixed(1)} s`
      : `nvcc: ${rel} is up to date`,
  );
  const at = process.argv.indexOf('--package');
  if (at >= 0) {
    const out = process.argv[at + 1];
    if (!out) throw new Error('--package needs a folder');
    console.log(`nvcc: runtime package in ${writeRuntimePackage(root, path.resolve(out))}`);
  }
}
