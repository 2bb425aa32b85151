/**
 * The browser runtime entry (runtime/browser.ts, `nvcc/runtime` under the `browser` condition):
 * bundled by esbuild for the browser (where resolving a Node built-in is an error unless the
 * package that imports it maps it away in its own `browser` field, as tfjs and seedrandom do for
 * their Node code paths), nvcc's modules import no Node built-in (every specifier checked with
 * Node's own isBuiltin) and no npm package but TensorFlow.js and its dependencies; generated
 * model code (the MED-NVC demo's model.ts) bundled against it uses no runtime name the entry
 * lacks; and the bundle, run in a
 * plain V8 context with no Node globals (node:vm), builds the model, assigns weights from
 * safetensors bytes and gives the same probabilities as the Node entry within 1e-5.
 */
import * as fs from 'node:fs';
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { buildProgram, loadBuiltProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshDir } from '../builder/helpers.js';

const REPO = process.cwd();

/** Records every import specifier esbuild resolves, and the importer, without changing resolution. */
function recordImports(seen: { specifier: string; importer: string }[]): Plugin {
  return {
    name: 'record-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        seen.push({ specifier: args.path, importer: path.relative(REPO, args.importer) });
        return undefined;
      });
    },
  };
}

/** `nvcc/runtime` in generated code is the browser entry (as the package's browser condition says). */
const runtimeAlias: Plugin = {
  name: 'nvcc-runtime-browser',
  setup(b) {
    b.onResolve({ filter: /^nvcc\/runtime$/ }, () => ({ path: path.join(REPO, 'runtime', 'browser.ts') }));
  },
};

function packageOf(file: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  return m?.[1];
}

describe('the browser runtime entry', () => {
  it('reaches no Node built-in and no package but TensorFlow.js and its dependencies', async () => {
    const seen: { specifier: string; importer: string }[] = [];
    const r = await build({
      absWorkingDir: REPO,
      entryPoints: ['runtime/browser.ts'],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
      plugins: [recordImports(seen)],
    });
    expect(r.errors).toEqual([]);
    expect(seen.filter((s) => !s.importer.includes('node_modules/') && isBuiltin(s.specifier))).toEqual([]);
    const inputs = Object.keys(r.metafile.inputs);
    // Built-ins are named only in TensorFlow.js's and seedrandom's Node code paths, which reach
    // the bundle as the empty modules their own browser maps ask for (else the build fails).
    const packageBuiltins = seen.filter((s) => s.importer.includes('node_modules/') && isBuiltin(s.specifier));
    expect(packageBuiltins.filter((s) => !/node_modules\/(@tensorflow\/|seedrandom\/)/.test(s.importer))).toEqual([]);
    const local = inputs.filter((f) => !f.includes('node_modules/') && !f.startsWith('(disabled):'));
    expect(local.every((f) => f.startsWith('runtime/'))).toBe(true);
    // The modules that read files or load native code are not part of it.
    for (const nodeOnly of ['runtime/package-root.ts', 'runtime/io/weights.ts', 'runtime/run/atomic.ts'])
      expect(local).not.toContain(nodeOnly);
    expect(local).toContain('runtime/io/assign.ts');
    const packages = [...new Set(inputs.map(packageOf).filter((p): p is string => p !== undefined))].sort();
    // Besides tfjs's own packages, only their dependencies (tfjs-core: long, seedrandom and
    // node-fetch, whose browser file uses the page's fetch; tfjs-data: string_decoder).
    expect(packages.filter((p) => !p.startsWith('@tensorflow/'))).toEqual([
      'long',
      'node-fetch',
      'seedrandom',
      'string_decoder',
    ]);
    expect(packages).toContain('@tensorflow/tfjs-backend-webgl');
  });

  it('serves generated code: the demo model bundled for the browser runs without Node and matches', async () => {
    const root = freshDir('nvcc-browser-entry-');
    try {
      const outDir = path.join(root, 'build');
      const built = await buildProgram('examples/mednvc.nvc', { variant: 'demo', outDir });
      expect(built.ok).toBe(true);
      // A page script: the model class, weights from bytes, a forward pass; results on globalThis.
      const entry = path.join(root, 'page.ts');
      fs.writeFileSync(
        entry,
        [
          `import * as nv from 'nvcc/runtime';`,
          `import { MEDNVC } from ${JSON.stringify(path.join(outDir, 'model.ts'))};`,
          // Arguments come from another realm: copied into this one's typed arrays first.
          `export async function run(weights: Uint8Array, xray: number[], labs: number[], n: number) {`,
          `  await nv.tf.setBackend('cpu');`,
          `  nv.seed(0);`,
          `  const model = new MEDNVC();`,
          `  const report = nv.loadWeightsFromBytes(model, new Uint8Array(weights), 'weights.safetensors');`,
          `  const out = model.forward({ training: false, rng: nv.createRng(0) }, {`,
          `    xray: nv.tf.tensor4d(Float32Array.from(xray), [n, 64, 64, 1]),`,
          `    labs: nv.tf.tensor2d(Float32Array.from(labs), [n, 14]),`,
          `  });`,
          `  return { loaded: report.loaded.length, probabilities: nv.tf.softmax(out).arraySync() };`,
          `}`,
        ].join('\n'),
      );
      const seen: { specifier: string; importer: string }[] = [];
      const bundled = await build({
        absWorkingDir: REPO,
        entryPoints: [entry],
        bundle: true,
        write: false,
        platform: 'browser',
        format: 'iife',
        globalName: 'page',
        logLevel: 'silent',
        plugins: [runtimeAlias, recordImports(seen)],
      });
      // No `nv.X` of the generated code is missing from the browser entry (esbuild warns
      // "will always be undefined" for such a member of a namespace import).
      expect(bundled.warnings.map((w) => w.text)).toEqual([]);
      expect(seen.filter((s) => !s.importer.includes('node_modules/') && isBuiltin(s.specifier))).toEqual([]);

      // The same model in this process (Node entry): weights and expected probabilities.
      const n = 2;
      const xray = Float32Array.from({ length: n * 64 * 64 }, (_, i) => Math.sin(i * 0.11));
      const labs = Float32Array.from({ length: n * 14 }, (_, i) => Math.cos(i * 0.5));
      const loaded = await loadBuiltProgram('examples/mednvc.nvc', { variant: 'demo', outDir });
      await cpuSeeded(3);
      const model = loaded.factories.finetune!.create();
      const weightsFile = path.join(root, 'weights.safetensors');
      await nv.saveWeights(model, weightsFile);
      const weights = new Uint8Array(fs.readFileSync(weightsFile));
      const expected = nv.tf.tidy(() =>
        nv.tf
          .softmax(
            model.forward(
              { training: false, rng: nv.createRng(0) },
              { xray: nv.tf.tensor4d(xray, [n, 64, 64, 1]), labs: nv.tf.tensor2d(labs, [n, 14]) },
            ) as nv.tf.Tensor2D,
          )
          .arraySync(),
      );
      const stateCount = model.namedState().length;
      model.dispose();

      // A V8 context with the web platform's globals tfjs touches and none of Node's.
      const context = vm.createContext({
        console,
        setTimeout,
        clearTimeout,
        queueMicrotask,
        TextEncoder,
        TextDecoder,
        performance,
        navigator: { userAgent: 'nvcc-test', hardwareConcurrency: 1 },
        // What tfjs takes for a web worker (its browser platform then registers).
        WorkerGlobalScope: function WorkerGlobalScope() {},
      });
      // `self` is the global object, as in a web worker (tfjs looks for window, self or global).
      vm.runInContext(
        `globalThis.self = globalThis;\n${bundled.outputFiles[0]!.text}\nglobalThis.page = page;`,
        context,
      );
      expect(vm.runInContext('typeof process + typeof require + typeof Buffer', context)).toBe(
        'undefinedundefinedundefined',
      );
      const run = vm.runInContext('page.run', context) as (
        w: Uint8Array,
        x: number[],
        l: number[],
        n: number,
      ) => Promise<{ loaded: number; probabilities: number[][] }>;
      const result = await run(weights, Array.from(xray), Array.from(labs), n);
      expect(result.loaded).toBe(stateCount);
      result.probabilities.forEach((row, i) =>
        row.forEach((p, j) => expect(Math.abs(p - expected[i]![j]!), `[${i}][${j}]`).toBeLessThan(1e-5)),
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 600_000);
});
