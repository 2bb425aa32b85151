/**
 * The two engines train the same program to the same weights. test/fixtures/emit/mini-mednvc.nvc
 * (FCMAE pre-training of a ConvNeXt-V2 encoder with Lion, masks and augmentation, then MED-NVC
 * fine-tuning with cross-attention, hand-over of the encoder and random throw; one epoch each,
 * no keep-best) is built for both targets; both start from the tfjs engine's initial weights (the
 * torch trainer takes them with --init), read the same data (tfjs: the data runtime; torch: the
 * shards) and draw the same order, augmentations, masks and random throws. At the end of both
 * stages the weights agree within 1e-4 normwise per tensor (on this machine they are identical:
 * Lion's update is a sign, and no sign differs), every step's loss agrees within 1e-5 (observed
 * 1.2e-7), and the distance the training moved the weights is over 50x the engines' distance.
 * The same holds with drop path up to 0.1 in every ConvNeXt-V2 block (the program copied with
 * `drop_path_rate = 0.1`): the torch trainer draws the per-sample masks from the stage's `dropout`
 * stream through the RNG port, as the tfjs runner draws them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { buildTorchPackage } from '../../compiler/emit/torch/build.js';
import { pjiDatasetSpec } from '../../runtime/data/synthetic-pji.js';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { saveWeights } from '../../runtime/io/weights.js';
import { setInitRng } from '../../runtime/module.js';
import { parseJsonl } from '../../runtime/run/jsonl.js';
import { stageRoot } from '../../runtime/train/common.js';
import { runTraining } from '../../runtime/train/runner.js';
import type { TrainSpec } from '../../runtime/train/spec.js';
import { prepareTorchRun, torchLaunchCommand } from '../../runtime/train/torch-engine.js';
import { PYTHON } from '../support/python.js';

const FILE = 'test/fixtures/emit/mini-mednvc.nvc';
const ENCODER = 'ConvNeXtV2Encoder(depths = [1, 1, 2, 1], dims = [8, 16, 32, 64])';

interface Trained {
  readonly dir: string;
  readonly spec: TrainSpec;
}

function tensors(file: string): Map<string, Float32Array> {
  return new Map([...readSafetensors(file).tensors].map(([k, e]) => [k, e.tensor.data as Float32Array]));
}

function norm(a: Float32Array): number {
  return Math.sqrt(a.reduce((s, x) => s + x * x, 0));
}

function distance(a: Float32Array, b: Float32Array): number {
  return Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0));
}

function losses(run: string, stage: string): number[] {
  return parseJsonl(readFileSync(join(run, 'log.jsonl'), 'utf8'))
    .records.filter((r) => r.type === 'step' && r.stage === stage)
    .map((r) => r.loss as number);
}

/** Trains `file` on both engines from the tfjs engine's initial weights. */
async function trainBoth(file: string): Promise<Trained> {
  const dir = mkdtempSync(join(tmpdir(), 'nvcc-engines-'));
  const loaded = await loadBuiltProgram(file, { outDir: join(dir, 'tfjs') });
  const built = await buildTorchPackage(file, { outDir: join(dir, 'torch') });
  expect(built.ok).toBe(true);
  const spec: TrainSpec = {
    ...loaded.trainSpec!,
    stages: loaded.trainSpec!.stages.map((s) => ({ ...s, epochs: 1, keepBest: undefined })),
  };
  // The fixture's lab fields are not the synthetic cohort's columns: read the cohort's own 14.
  const cohort = pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 40, seed: 7, imageSize: 64 });
  const dataset = { ...loaded.datasetSpec!, groups: cohort.groups };
  const init: string[] = [];
  for (const stage of spec.stages) {
    setInitRng(stageRoot(spec.seed, stage).fork('init'));
    const model = loaded.factories[stage.model.factory]!.create();
    const weights = join(dir, `init-${stage.name}.safetensors`);
    await saveWeights(model, weights);
    model.dispose();
    init.push('--init', `${stage.name}=${weights}`);
  }
  await runTraining({
    spec,
    dataset,
    models: loaded.factories,
    runDir: join(dir, 'tfjs-run'),
    backend: 'cpu',
    report: false,
    bootstrapResamples: 0,
  });
  await prepareTorchRun({ spec, dataset, packageDir: join(dir, 'torch') });
  const { command, args, cwd } = torchLaunchCommand({
    packageDir: join(dir, 'torch'),
    runDir: join(dir, 'torch-run'),
    python: PYTHON,
    device: 'cpu',
    trainerArgs: ['--quiet', ...init],
  });
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  expect(r.status, r.stderr).toBe(0);
  return { dir, spec };
}

function expectSameTraining({ dir, spec }: Trained): void {
  for (const stage of spec.stages) {
    const a = tensors(join(dir, 'tfjs-run', 'stages', stage.name, 'weights.safetensors'));
    const b = tensors(join(dir, 'torch-run', 'stages', stage.name, 'weights.safetensors'));
    const start = tensors(join(dir, `init-${stage.name}.safetensors`));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    let worst = 0;
    let moved = 0;
    let apart = 0;
    for (const [k, x] of a) {
      const y = b.get(k)!;
      worst = Math.max(worst, distance(x, y) / Math.max(norm(x), 1e-12));
      moved += distance(x, start.get(k)!) ** 2;
      apart += distance(x, y) ** 2;
    }
    expect(worst, stage.name).toBeLessThanOrEqual(1e-4);
    expect(Math.sqrt(moved), stage.name).toBeGreaterThan(50 * Math.sqrt(apart));
  }
  for (const stage of spec.stages) {
    const ta = losses(join(dir, 'tfjs-run'), stage.name);
    const tb = losses(join(dir, 'torch-run'), stage.name);
    expect(ta.length).toBeGreaterThan(3);
    expect(tb.length).toBe(ta.length);
    ta.forEach((l, i) => expect(Math.abs(l - tb[i]!), `${stage.name} step ${i + 1}`).toBeLessThanOrEqual(1e-5));
  }
}

let plain: Trained;
let dropPath: Trained;

beforeAll(async () => {
  await tf.setBackend('cpu');
  plain = await trainBoth(FILE);
  // The same program with drop path up to 0.1 in every ConvNeXt-V2 block of both stages.
  const source = readFileSync(FILE, 'utf8');
  expect(source).toContain(ENCODER);
  const copy = join(mkdtempSync(join(tmpdir(), 'nvcc-engines-src-')), 'mini-mednvc-drop-path.nvc');
  writeFileSync(copy, source.replace(ENCODER, `${ENCODER.slice(0, -1)}, drop_path_rate = 0.1)`));
  dropPath = await trainBoth(copy);
}, 1_800_000);

describe('tfjs engine vs torch engine on mini MED-NVC', () => {
  it('end each stage with the same weights and take the same losses', () => {
    expectSameTraining(plain);
  });

  it('agree as well with drop path 0.1: the torch trainer draws its masks from the RNG port', () => {
    expectSameTraining(dropPath);
    // The drop path draws did change the training: the weights differ from the rate-0 run's.
    const a = tensors(join(plain.dir, 'tfjs-run', 'stages', 'finetune', 'weights.safetensors'));
    const b = tensors(join(dropPath.dir, 'tfjs-run', 'stages', 'finetune', 'weights.safetensors'));
    expect([...a].some(([k, x]) => distance(x, b.get(k)!) > 1e-3 * norm(x))).toBe(true);
  });
});
