/**
 * A build folder is a package another TypeScript project can depend on: `nvcc build` of the
 * MED-NVC demo, packed with `npm pack`, installed with nvcc's runtime package (also packed:
 * scripts/runtime-lib.mjs) into a fresh project by `npm ci --offline` (no network; registry
 * packages from npm's cache by the integrity hashes of package-lock.json). There `tsc --strict`
 * (no skipLibCheck) passes on the build's own TypeScript and on a program that imports its
 * classes, and that program, run by Node, gives the same probabilities as the generated code
 * loaded in-process by nvcc with the same weights and inputs (within 1e-5).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, loadBuiltProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { buildRuntimeLib, writeRuntimePackage } from '../../scripts/runtime-lib.mjs';
import { installOffline, npmPack } from '../support/offline-install.js';
import { cpuSeeded, freshDir } from './helpers.js';

const REPO = process.cwd();
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const root = freshDir('nvcc-package-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** The demo's input sizes (mednvc.nvc: IMAGE and LABS under the demo variant). */
const BATCH = 3;
const IMAGE = 64;
const LABS = 14;

/** The consumer's program: typed imports of the build package and the runtime, no Node types. */
const MAIN_TS = `import * as nv from 'nvcc/runtime';
import { MEDNVC, type MEDNVC$Inputs } from 'mednvc-demo';
import { trainSpec } from 'mednvc-demo/train';

nv.seed(0); // initial values, replaced by the weights below
const model = new MEDNVC();
const report = await nv.loadWeights(model, 'weights.safetensors');
const xray = nv.tf.tensor4d(
  Float32Array.from({ length: ${BATCH} * ${IMAGE} * ${IMAGE} }, (_, i) => Math.sin(i * 0.37)),
  [${BATCH}, ${IMAGE}, ${IMAGE}, 1],
);
const labs = nv.tf.tensor2d(Float32Array.from({ length: ${BATCH} * ${LABS} }, (_, i) => Math.cos(i * 0.91)), [
  ${BATCH},
  ${LABS},
]);
const inputs: MEDNVC$Inputs = { xray, labs };
const logits: nv.tf.Tensor2D = model.forward({ training: false, rng: nv.createRng(0) }, inputs);
const probabilities: number[][] = nv.tf.softmax(logits).arraySync();
const stages: string[] = trainSpec ? trainSpec.stages.map((s) => s.name) : [];
console.log(JSON.stringify({ loaded: report.loaded.length, stages, probabilities }));
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM'],
    types: [],
    outDir: 'out',
  },
  files: ['main.ts'],
};

/**
 * Runs tsc in cwd; returns its error messages, except those inside TensorFlow.js's own
 * declaration files: tfjs 4.22's .d.ts do not pass strict checking themselves (TS2411 in
 * tfjs-layers' keras_format, found here), which is why projects set skipLibCheck. The check
 * runs without it so that nvcc's runtime declarations and the build's files are checked.
 */
function tscErrors(cwd: string, args: string[]): string[] {
  let output: string;
  try {
    output = execFileSync(process.execPath, [TSC, ...args], { cwd, encoding: 'utf8' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  const errors: string[] = [];
  for (const line of output.split('\n')) {
    if (/^\s/.test(line) || line.trim() === '') {
      if (errors.length) errors[errors.length - 1] += `\n${line}`;
      continue;
    }
    errors.push(line);
  }
  return errors.filter((e) => !e.startsWith('node_modules/@tensorflow/'));
}

describe('a build folder as a package', () => {
  it('installs offline into a fresh project, type-checks strictly there and runs inference', async () => {
    const buildDir = path.join(root, 'build', 'mednvc-demo');
    const built = await buildProgram('examples/mednvc.nvc', { variant: 'demo', outDir: buildDir });
    expect(built.ok, JSON.stringify(built.problems)).toBe(true);
    const pkg = JSON.parse(fs.readFileSync(path.join(buildDir, 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './model.d.ts', default: './model.js' });
    expect(pkg.peerDependencies).toEqual({ nvcc: expect.stringMatching(/^\^\d+\.\d+\.\d+$/) });
    expect(fs.readFileSync(path.join(buildDir, 'model.ts'), 'utf8')).toContain('import * as nv from "nvcc/runtime";');

    await buildRuntimeLib(REPO);
    const runtimePackage = writeRuntimePackage(REPO, path.join(root, 'runtime-package'));
    const packs = path.join(root, 'packs');
    fs.mkdirSync(packs);
    const tarballs = [npmPack(buildDir, packs), npmPack(runtimePackage, packs)];
    expect(tarballs.map((t) => t.name)).toEqual(['mednvc-demo', 'nvcc']);

    const project = path.join(root, 'consumer');
    fs.mkdirSync(project);
    installOffline(project, tarballs, path.join(REPO, 'package-lock.json'));
    expect(JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')).dependencies).toEqual({
      'mednvc-demo': 'file:../packs/mednvc-demo-0.0.0.tgz',
      nvcc: expect.stringMatching(/^file:\.\.\/packs\/nvcc-[\d.]+\.tgz$/),
    });
    // Installed copies, not links to this repository.
    const installed = path.join(project, 'node_modules', 'mednvc-demo');
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(fs.lstatSync(path.join(project, 'node_modules', 'nvcc')).isSymbolicLink()).toBe(false);

    // The build's own TypeScript, alone, against the installed runtime declarations.
    const standaloneConfig = {
      compilerOptions: { ...TSCONFIG.compilerOptions, noEmit: true },
      files: ['node_modules/mednvc-demo/model.ts', 'node_modules/mednvc-demo/train.ts'],
    };
    fs.writeFileSync(path.join(project, 'tsconfig.build-folder.json'), JSON.stringify(standaloneConfig, null, 2));
    expect(tscErrors(project, ['-p', 'tsconfig.build-folder.json'])).toEqual([]);

    // A program importing the package, compiled strictly and run by plain Node.
    fs.writeFileSync(path.join(project, 'main.ts'), MAIN_TS);
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    expect(tscErrors(project, ['-p', '.'])).toEqual([]);
    expect(fs.existsSync(path.join(project, 'out', 'main.js'))).toBe(true);

    // The same model, weights and inputs in this process, through nvcc's own loading.
    const loaded = await loadBuiltProgram('examples/mednvc.nvc', { variant: 'demo', outDir: buildDir });
    expect(loaded.cached).toBe(true);
    await cpuSeeded(7);
    const model = loaded.factories.finetune!.create();
    await nv.saveWeights(model, path.join(project, 'weights.safetensors'));
    const expected = nv.tf.tidy(() => {
      const xray = nv.tf.tensor4d(
        Float32Array.from({ length: BATCH * IMAGE * IMAGE }, (_, i) => Math.sin(i * 0.37)),
        [BATCH, IMAGE, IMAGE, 1],
      );
      const labs = nv.tf.tensor2d(
        Float32Array.from({ length: BATCH * LABS }, (_, i) => Math.cos(i * 0.91)),
        [BATCH, LABS],
      );
      const out = model.forward({ training: false, rng: nv.createRng(0) }, { xray, labs }) as nv.tf.Tensor2D;
      return nv.tf.softmax(out).arraySync();
    });
    model.dispose();

    const stdout = execFileSync(process.execPath, ['out/main.js'], { cwd: project, encoding: 'utf8' });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      loaded: number;
      stages: string[];
      probabilities: number[][];
    };
    expect(result.stages).toEqual(['pretrain', 'images', 'finetune']);
    const tensors = loaded.factories.finetune!.create();
    expect(result.loaded).toBe(tensors.namedParameters().length);
    tensors.dispose();
    expect(result.probabilities).toHaveLength(BATCH);
    result.probabilities.forEach((row, i) =>
      row.forEach((p, j) => expect(Math.abs(p - expected[i]![j]!), `[${i}][${j}]`).toBeLessThan(1e-5)),
    );
  }, 900_000);
});
