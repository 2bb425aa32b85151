/**
 * `nvcc train --init STAGE[.PATH]=FILE`: a stage starts from an official ConvNeXt-V2 checkpoint on
 * either engine (test/cli/fixtures/init-small.nvc: the official-layout fixture's network as the
 * `net` of a classifier whose encoder and norm are frozen, so they end as they started).
 * Fixtures: test/fixtures/torch/import_small_dense.safetensors (an ImageNet-style dense state dict
 * under `module.`, five classes) and import_small_fcmae_me.safetensors (the same encoder as an
 * FCMAE checkpoint in the official code's sparse MinkowskiEngine names, with its decoder), made
 * by test/fixtures/generators/make_torch_fixtures.py under torch 1.13.
 * - the dense checkpoint: the frozen weights equal the checkpoint's values moved into the tfjs
 *   layout (checked element by element for a depthwise kernel and a GRN gamma here), the same on
 *   the tfjs and the torch engine; the five-class head is dropped and the model's own kept;
 * - the FCMAE checkpoint gives the same encoder weights as the dense one, on both engines;
 * - a checkpoint of another network is refused with the missing / mis-shaped lists and nothing
 *   is written; a module path the model lacks and a pickle file are refused with the fix.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostTensor, parseSafetensors } from '../../runtime/io/safetensors.js';
import { REPO, runCli } from '../support/cli-process.js';
import { PYTHON } from '../support/python.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-train-init-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const env = { OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' };
const DENSE = path.join(REPO, 'test/fixtures/torch/import_small_dense.safetensors');
const FCMAE = path.join(REPO, 'test/fixtures/torch/import_small_fcmae_me.safetensors');
const TORCH = ['--engine', 'torch', '--device', 'cpu', '--python', PYTHON];

function train(out: string, init: string, extra: readonly string[]): { stdout: string } {
  const r = runCli(['train', 'init-small.nvc', '--init', init, ...extra, '--quiet', '--out', out], { cwd: tmp, env });
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

function tensors(file: string): Map<string, HostTensor> {
  const parsed = parseSafetensors(fs.readFileSync(file), file);
  return new Map([...parsed.tensors].map(([k, e]) => [k, e.tensor] as const));
}

function finalWeights(run: string): Map<string, HostTensor> {
  return tensors(path.join(tmp, run, 'stages/fit/weights.safetensors'));
}

/** The encoder's and norm's tensors (the frozen ones) of a weights map. */
function frozen(weights: Map<string, HostTensor>, prefixes = ['net.downsample_layers.', 'net.stages.', 'net.norm.']) {
  return new Map([...weights].filter(([k]) => prefixes.some((p) => k.startsWith(p))));
}

function expectSameTensors(a: Map<string, HostTensor>, b: Map<string, HostTensor>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, t] of a) {
    expect(t.shape, k).toEqual(b.get(k)!.shape);
    expect(Array.from(t.data as Float32Array), k).toEqual(Array.from(b.get(k)!.data as Float32Array));
  }
}

describe('nvcc train --init with official ConvNeXt-V2 checkpoints', () => {
  beforeAll(() => {
    fs.copyFileSync(path.join(REPO, 'test/cli/fixtures/init-small.nvc'), path.join(tmp, 'init-small.nvc'));
  });

  it('starts a stage from a dense checkpoint on the tfjs and the torch engine alike', () => {
    const tf = train('dense-tfjs', `fit.net=${DENSE}`, ['--backend', 'cpu']);
    expect(tf.stdout).toContain('stage fit (net) starts from');
    expect(tf.stdout).toContain("2 checkpoint tensors dropped (the classifier head's shape differs from the model's)");
    expect(tf.stdout).toContain('initial values kept for net.head.weight, net.head.bias');
    train('dense-torch', `fit.net=${DENSE}`, TORCH);
    const official = tensors(DENSE);
    const weights = finalWeights('dense-tfjs');
    // Depthwise (C, 1, k, k) in PyTorch is [k, k, C, 1] here; GRN gamma (1, 1, 1, C) is [C].
    const dw = official.get('module.stages.0.0.dwconv.weight')!;
    const dwHere = weights.get('net.stages.0.0.dwconv.weight')!;
    expect(dw.shape).toEqual([8, 1, 7, 7]);
    expect(dwHere.shape).toEqual([7, 7, 8, 1]);
    for (const [c, i, j] of [
      [0, 0, 0],
      [3, 2, 5],
      [7, 6, 1],
    ] as const)
      expect(dwHere.data[(i * 7 + j) * 8 + c]).toBe(dw.data[c * 49 + i * 7 + j]);
    expect(Array.from(weights.get('net.stages.3.0.grn.gamma')!.data)).toEqual(
      Array.from(official.get('module.stages.3.0.grn.gamma')!.data),
    );
    expect(frozen(weights).size).toBe(68);
    expectSameTensors(frozen(finalWeights('dense-torch')), frozen(weights));
    // The head kept the model's own shape (two classes) and trained.
    expect(weights.get('net.head.weight')!.shape).toEqual([32, 2]);
  }, 600_000);

  it("maps an FCMAE checkpoint's sparse names to the same encoder on both engines", () => {
    train('fcmae-tfjs', `fit.net=${FCMAE}`, ['--backend', 'cpu']);
    train('fcmae-torch', `fit.net=${FCMAE}`, TORCH);
    const encoder = ['net.downsample_layers.', 'net.stages.'];
    const dense = frozen(finalWeights('dense-tfjs'), encoder);
    expect(dense.size).toBe(66);
    expectSameTensors(frozen(finalWeights('fcmae-tfjs'), encoder), dense);
    expectSameTensors(frozen(finalWeights('fcmae-torch'), encoder), dense);
  }, 600_000);

  it('refuses a checkpoint that does not fit, a module the model lacks and a pickle, writing nothing', () => {
    const other = path.join(REPO, 'test/fixtures/torch/fcmae_official.safetensors');
    for (const engine of [['--backend', 'cpu'], TORCH]) {
      const r = runCli(['train', 'init-small.nvc', '--init', `fit.net=${other}`, ...engine, '--out', 'refused'], {
        cwd: tmp,
        env,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/missing|mis-shaped/);
      expect(r.stderr).toContain('fcmae_official.safetensors');
      expect(fs.existsSync(path.join(tmp, 'refused'))).toBe(false);
    }
    const noModule = runCli(['train', 'init-small.nvc', '--init', `fit.enc=${DENSE}`, '--out', 'refused'], {
      cwd: tmp,
      env,
    });
    expect(noModule.code).toBe(1);
    expect(noModule.stderr).toContain("the model of stage 'fit' has no module 'enc' (it has: net)");
    fs.writeFileSync(path.join(tmp, 'ckpt.pt'), 'not read');
    const pickle = runCli(['train', 'init-small.nvc', '--init', 'fit.net=ckpt.pt', '--out', 'refused'], {
      cwd: tmp,
      env,
    });
    expect(pickle.code).toBe(1);
    expect(pickle.stderr).toContain('PyTorch pickle checkpoints are not read');
    expect(fs.existsSync(path.join(tmp, 'refused'))).toBe(false);
  }, 600_000);
});
