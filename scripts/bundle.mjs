/**
 * Precompiles the CLI and the runtime into `dist/<id>/` with esbuild, so `nvcc` starts from
 * plain JavaScript instead of transforming ~150 TypeScript modules through tsx on every run.
 * In: the TypeScript sources (id: scripts/dist.mjs). Out: `dist/<id>/cli.js` (exports `main`),
 * `dist/<id>/runtime/index.js` (the runtime generated model code imports in bundled mode) and
 * their shared chunks under `dist/<id>/chunks/`. Run by `npm install` / `npm ci` (`prepare`),
 * and by bin/nvcc.js when the sources changed since.
 * `dist/<id>/meta.json` lists the sources in each output file.
 * Holds afterwards:
 *  - the folder appears complete or not at all (built beside it, then renamed into place);
 *  - each source module is in exactly one output file, so the CLI's trainer and generated code
 *    importing the runtime entry share one runtime instance (splitting, two entry points);
 *  - npm packages stay external (loaded from node_modules as before) except chevrotain with
 *    lodash-es (~600 small ESM files, cheaper bundled than loaded one by one), ajv and yaml
 *    (~150 small CommonJS files, ~100 ms to load, on every compile) and commander (every
 *    command loads it; bundled it starts ~9 ms sooner). The CommonJS ones call require() for
 *    Node built-ins: the banner gives every chunk a `require`;
 *  - every bundled local file is one of the id's inputs (checked), so the id covers the bundle;
 *  - other bundles are removed when no live process runs them and their last use is older
 *    than BUNDLE_TTL_HOURS (never the one just built).
 * Usage: node scripts/bundle.mjs
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentBundle } from './dist.mjs';

/** Packages compiled into the bundle; every other dependency stays an external import. */
export const BUNDLED_PACKAGES = ['chevrotain', 'lodash-es', 'commander', 'ajv', 'yaml'];
/**
 * Large CommonJS packages that ES code imports. Node's ES-to-CommonJS interop scans a package's
 * source for its export names (cjs-module-lexer, following re-exports): ~260 ms for ts-morph,
 * which re-exports the TypeScript compiler, ~400 ms for tfjs. The bundle loads them with
 * require() instead, through a small CommonJS module per package, and esbuild's own interop
 * provides the named imports: same module instance (the require cache), no scan.
 */
export const REQUIRED_PACKAGES = ['ts-morph', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'];
/** A bundle no live process uses is removed this long after its last use. */
const BUNDLE_TTL_HOURS = 1;

/** esbuild plugin: `import ... from P` (P in REQUIRED_PACKAGES) becomes `require(P)`. */
const requirePackages = {
  name: 'nvcc-require-packages',
  setup(build) {
    const filter = new RegExp(`^(${REQUIRED_PACKAGES.map((p) => p.replace(/[/.]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) =>
      args.kind === 'require-call'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'nvcc-require' },
    );
    build.onLoad({ filter: /.*/, namespace: 'nvcc-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

function externals(root) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const names = Object.keys({
    ...pkg.dependencies,
    ...pkg.devDependencies,
    ...pkg.optionalDependencies,
    ...pkg.peerDependencies,
  });
  return names.filter((n) => !BUNDLED_PACKAGES.includes(n)).flatMap((n) => [n, `${n}/*`]);
}

/**
 * For each output file (relative to the bundle folder): the sources in it, local files as
 * package-relative paths and npm packages by name. Tests read it to tell which source modules a
 * run loaded from which chunks were loaded.
 */
function outputSources(metafile, outDir, root) {
  const out = {};
  for (const [file, o] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    const rel = path.relative(outDir, path.resolve(root, file)).split(path.sep).join('/');
    const sources = Object.keys(o.inputs).map((i) => {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i) ?? /^nvcc-require:(.*)$/.exec(i);
      return m ? m[1] : i;
    });
    out[rel] = [...new Set(sources)].sort();
  }
  return out;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Removes the other bundles that no live process runs (bin/nvcc.js keeps `users/<pid>` in the
 * bundle it runs, so a long training keeps the chunks it imports late) and that were last used
 * more than the TTL ago; and temporaries of interrupted bundlings.
 */
function prune(distDir, keep) {
  const now = Date.now();
  for (const e of fs.readdirSync(distDir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === keep) continue;
    const p = path.join(distDir, e.name);
    const users = path.join(p, 'users');
    const pids = fs.existsSync(users) ? fs.readdirSync(users).map(Number) : [];
    if (pids.some(alive)) continue;
    const lastUse = fs.statSync(fs.existsSync(users) ? users : p).mtimeMs;
    if ((now - lastUse) / 3_600_000 > BUNDLE_TTL_HOURS) fs.rmSync(p, { recursive: true, force: true });
  }
}

/** Builds the bundle of the current sources unless it exists. Returns its folder and whether this call built it. */
export async function bundle(root) {
  const started = performance.now();
  const target = await currentBundle(root);
  if (target.ready) return { ...target, built: false, ms: 0 };
  const { build } = await import('esbuild');
  const distDir = path.dirname(target.dir);
  fs.mkdirSync(distDir, { recursive: true });
  const tmp = path.join(distDir, `${target.id}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const inputs = new Set(target.files);
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: { cli: 'cli/main.ts', 'runtime/index': 'runtime/index.ts' },
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      chunkNames: 'chunks/[name]-[hash]',
      external: externals(root),
      // Error classes and layers are named in messages (`constructor.name`): keep the names
      // even where bundling renames a binding to avoid a clash.
      keepNames: true,
      define: { NVCC_BUNDLE_DIR: JSON.stringify(`dist/${target.id}`) },
      sourcemap: 'linked',
      sourcesContent: false,
      metafile: true,
      plugins: [requirePackages],
      logLevel: 'silent',
      banner: {
        js:
          "import { createRequire as __nvccCreateRequire } from 'node:module';\nconst require = " +
          '__nvccCreateRequire(import.meta.url);',
      },
    });
    const stray = Object.keys(result.metafile.inputs).filter(
      (f) => !f.includes('node_modules/') && !f.startsWith('nvcc-require:') && !inputs.has(f),
    );
    if (stray.length)
      throw new Error(
        `bundled files outside the bundle id's inputs (add them to scripts/dist.mjs): ${stray.join(', ')}`,
      );
    fs.writeFileSync(
      path.join(tmp, 'meta.json'),
      JSON.stringify({ id: target.id, outputs: outputSources(result.metafile, tmp, root) }, null, 1) + '\n',
    );
    try {
      fs.renameSync(tmp, target.dir);
    } catch (err) {
      // Another process finished the same bundle first: use theirs.
      if (!fs.existsSync(path.join(target.dir, 'cli.js'))) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  try {
    prune(distDir, target.id);
  } catch {
    // pruning is housekeeping; a concurrent prune may have removed the same folder
  }
  return { ...target, ready: true, built: true, ms: performance.now() - started };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const r = await bundle(root);
  const rel = path.relative(root, r.dir);
  console.log(r.built ? `nvcc: bundled ${rel} in ${(r.ms / 1000).toFixed(1)} s` : `nvcc: ${rel} is up to date`);
}
