/**
 * The torch engine's trainer (compiler/emit/torch/python/nvcc_train.py) on a tiny hand-written
 * model (test/torch/tiny_model.py) and shards of the built-in synthetic cohort, two stages as
 * MED-NVC lowers them (masked pre-training with Lion, then fine-tuning with AdamW, hand-over of the
 * encoder, random throw, augmentation, micro-batches, freezing, keep-best):
 * - started as nvcc starts it (prepareTorchRun writes train_spec.json and the shards into a
 *   package folder laid out as the torch build lays it out; torchLaunchCommand gives
 *   `python <pkg>/train.py`, or torchrun through `<pkg>/nvcc_torchrun.py`);
 * - the run folder is the tfjs engine's: log records, config, metrics, predictions, weights in
 *   the tfjs layout under the same keys, checkpoints the TS runtime parses; finishTorchRun adds
 *   the bootstrap evaluation and report.html, agreeing with the trainer's own metrics;
 * - DDP: 2 processes (torchrun, gloo, CPU) on batches of 4 end with the weights of 1 process
 *   (rtol 1e-5);
 * - a run killed mid-epoch (the process dies after step 3, no cleanup) and resumed ends with the
 *   same weights as the uninterrupted run, bit for bit; so does a 2-process torchrun run.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AugmentSpec, DatasetSpec } from '../../runtime/data/spec.js';
import { pjiDatasetSpec } from '../../runtime/data/synthetic-pji.js';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { parseJsonl } from '../../runtime/run/jsonl.js';
import { latestCheckpoint, readCheckpointFile, STATE_FILE } from '../../runtime/train/checkpoint.js';
import { finishTorchRun, prepareTorchRun, torchLaunchCommand } from '../../runtime/train/torch-engine.js';
import type { TrainSpec } from '../../runtime/train/spec.js';
import { parseCheckpointState } from '../../runtime/train/state.js';
import { finetuneStage, pretrainStage } from '../support/train-specs.js';
import { PYTHON, TORCH_PYTHON_DIR, TORCH_TEST_DIR } from '../support/python.js';

const augment: AugmentSpec = { hflip: 0.5, rotateDegrees: 10 };

function spec(keepBest: boolean): TrainSpec {
  return {
    name: 'tiny',
    dataset: 'PJI',
    seed: 3,
    checkpointEverySteps: 2,
    stages: [
      pretrainStage({ epochs: 1, augment, mask: { kind: 'random_patches', ratio: 0.5, patch: 4 } }),
      finetuneStage({
        epochs: 2,
        augment,
        microBatch: 1,
        freeze: ['enc.stem'],
        ...(keepBest ? {} : { keepBest: undefined }),
      }),
    ],
  };
}

let dir: string;
let dataset: DatasetSpec;
let pkg: string;

/** Starts the trainer as nvcc does (torchLaunchCommand), on the package folder `pkg`. */
function train(args: string[], nproc = 1): { status: number | null; stderr: string } {
  const exitAfter = args.indexOf('--exit-after-steps');
  const {
    command,
    args: argv,
    cwd,
  } = torchLaunchCommand({
    packageDir: pkg,
    runDir: args[args.indexOf('--run') + 1]!,
    python: PYTHON,
    device: 'cpu',
    nproc,
    resume: args.includes('--resume'),
    trainerArgs: [
      '--quiet',
      ...(args.includes('--spec') ? ['--spec', args[args.indexOf('--spec') + 1]!] : []),
      ...(exitAfter >= 0 ? ['--exit-after-steps', args[exitAfter + 1]!] : []),
    ],
  });
  const r = spawnSync(command, argv, {
    cwd,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  return { status: r.status, stderr: `${r.stderr}${r.error ? String(r.error) : ''}` };
}

function weights(run: string, stage: string): Map<string, Float32Array> {
  const file = readSafetensors(join(run, 'stages', stage, 'weights.safetensors'));
  return new Map([...file.tensors].map(([k, e]) => [k, e.tensor.data as Float32Array]));
}

function specFile(name: string, s: TrainSpec): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ train: s, dataset }));
  return path;
}

let single: string;
/** Each test starts several Python processes (torch import, torchrun) on a loaded machine. */
const SLOW = 600_000;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'nvcc-torch-train-'));
  dataset = pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 24, seed: 3, imageSize: 16 });
  // A package folder as the torch build lays it out, with the tiny model as model.py.
  pkg = join(dir, 'tinypkg');
  mkdirSync(pkg);
  for (const f of readdirSync(TORCH_PYTHON_DIR))
    if (f.endsWith('.py')) copyFileSync(join(TORCH_PYTHON_DIR, f), join(pkg, f));
  copyFileSync(join(TORCH_TEST_DIR, 'tiny_model.py'), join(pkg, 'model.py'));
  writeFileSync(join(pkg, '__init__.py'), '');
  await prepareTorchRun({ spec: spec(true), dataset, packageDir: pkg });
  single = join(dir, 'single');
  const r = train(['--run', single]);
  expect(r.status, r.stderr).toBe(0);
}, SLOW);

describe('torch engine trainer', () => {
  it('writes the tfjs engine run folder, weights in the tfjs layout', () => {
    const log = parseJsonl(readFileSync(join(single, 'log.jsonl'), 'utf8')).records;
    const types = log.map((r) => r.type);
    expect(types[0]).toBe('run');
    expect(types.filter((t) => t === 'stage-end')).toHaveLength(2);
    const stageRecords = log.filter((r) => r.type === 'stage') as Array<Record<string, unknown>>;
    const steps = log.filter((r) => r.type === 'step' && r.stage === 'finetune');
    expect(steps).toHaveLength(2 * (stageRecords[1]!.stepsPerEpoch as number));
    expect(stageRecords[1]!.frozen).toEqual(['enc.stem.weight', 'enc.stem.bias']);
    const groups = stageRecords[1]!.groups as Record<string, string[]>;
    // finetuneStage's rules: flagged or rank 1 in the tfjs layout (GRN gamma [C] there).
    expect(groups.noDecay).toContain('enc.grn.gamma');
    expect(groups.decay).toEqual([
      'enc.dwconv.weight',
      'enc.pwconv1.weight',
      'enc.pwconv2.weight',
      'lab.weight',
      'head.weight',
    ]);
    const epochs = log.filter((r) => r.type === 'epoch' && r.stage === 'finetune') as unknown as Array<{
      metrics: Record<string, number>;
    }>;
    expect(Object.keys(epochs[0]!.metrics).sort()).toEqual(
      ['accuracy', 'auc', 'loss', 'sensitivity', 'specificity', 'threshold'].sort(),
    );
    const w = weights(single, 'finetune');
    const shapes = Object.fromEntries(
      [...readSafetensors(join(single, 'stages', 'finetune', 'weights.safetensors')).tensors].map(([k, e]) => [
        k,
        e.tensor.shape,
      ]),
    );
    expect(shapes['enc.stem.weight']).toEqual([4, 4, 1, 6]);
    expect(shapes['enc.dwconv.weight']).toEqual([3, 3, 6, 1]);
    expect(shapes['enc.pwconv1.weight']).toEqual([6, 12]);
    expect(shapes['enc.grn.gamma']).toEqual([12]);
    expect(w.size).toBe(16);
    // The hand-over copied the pre-trained encoder, and the frozen stem stayed as handed over.
    const pre = weights(single, 'pretrain');
    expect(w.get('enc.stem.weight')).toEqual(pre.get('encoder.stem.weight'));
    expect(w.get('enc.pwconv1.weight')).not.toEqual(pre.get('encoder.pwconv1.weight'));
    expect(readFileSync(join(single, 'stages', 'finetune', 'predictions.csv'), 'utf8').split('\n')[0]).toBe(
      'split,patient_id,label,images,score',
    );
    expect(existsSync(join(single, 'stages', 'finetune', 'best.safetensors'))).toBe(true);
    const metrics = JSON.parse(readFileSync(join(single, 'metrics.json'), 'utf8'));
    expect(metrics.stages.map((s: { name: string }) => s.name)).toEqual(['pretrain', 'finetune']);
    const latest = latestCheckpoint(single)!;
    const state = parseCheckpointState(readCheckpointFile(latest.path, STATE_FILE).toString('utf8'), latest.path);
    expect(state.stageIndex).toBe(2);
  });

  it('finishes the run as the tfjs engine does: bootstrap evaluation from predictions.csv, report.html', async () => {
    type Split = { split: string; auc: number; threshold: number; accuracy: number; aucCi?: { resamples: number } };
    type Evaluation = { kind: string; thresholdRule: string; splits: Split[]; loss: Record<string, number> };
    const read = () =>
      JSON.parse(readFileSync(join(single, 'metrics.json'), 'utf8')).stages[1].evaluation as Evaluation;
    const fromPython = read();
    const report = await finishTorchRun(single, 50);
    expect(existsSync(report!)).toBe(true);
    const finished = read();
    expect(finished.kind).toBe('supervised');
    expect(finished.splits.map((s) => s.split)).toEqual(['validation', 'test']);
    expect(finished.splits[1]!.aucCi!.resamples).toBe(50);
    expect(finished.loss).toEqual(fromPython.loss);
    // The trainer's own metrics (Python) agree with runtime/metrics on the same pooled scores.
    finished.splits.forEach((s, i) => {
      const p = fromPython.splits[i]!;
      for (const key of ['auc', 'threshold', 'accuracy'] as const)
        if (Number.isFinite(s[key])) expect(Math.abs(p[key] - s[key]), `${s.split} ${key}`).toBeLessThan(1e-12);
    });
    expect(readFileSync(report!, 'utf8')).toContain('<html');
  });

  it(
    'a run killed mid-epoch resumes to the same weights, bit for bit',
    () => {
      const run = join(dir, 'killed');
      const args = ['--run', run];
      // Dies after 3 steps of this process: step 3 of the pre-training epoch, one past the checkpoint at 2.
      const killed = train([...args, '--exit-after-steps', '3']);
      expect(killed.status).toBe(137);
      expect(latestCheckpoint(run)).toBeDefined();
      // And once more mid-epoch in the fine-tuning stage (10 steps per epoch: the resumed process
      // takes pre-training steps 3..10, then dies after fine-tuning step 5, one past checkpoint 4).
      const killedAgain = train([...args, '--resume', '--exit-after-steps', '13']);
      expect(killedAgain.status).toBe(137);
      const state = parseCheckpointState(
        readCheckpointFile(latestCheckpoint(run)!.path, STATE_FILE).toString('utf8'),
        latestCheckpoint(run)!.path,
      );
      expect([state.stage, state.epoch, state.step]).toEqual(['finetune', 0, 4]);
      const r = train([...args, '--resume']);
      expect(r.status, r.stderr).toBe(0);
      for (const stage of ['pretrain', 'finetune']) expect(weights(run, stage)).toEqual(weights(single, stage));
      const losses = (p: string) =>
        parseJsonl(readFileSync(join(p, 'log.jsonl'), 'utf8'))
          .records.filter((x) => x.type === 'step')
          .map((x) => x.loss);
      expect(losses(run)).toEqual(losses(single));
    },
    SLOW,
  );

  it(
    '2 DDP processes (gloo, CPU) on batches of 4 give the weights of 1 process (rtol 1e-5)',
    () => {
      const plainSpec = specFile('spec-plain.json', spec(false));
      const one = join(dir, 'one');
      const two = join(dir, 'two');
      const a = train(['--run', one, '--spec', plainSpec]);
      expect(a.status, a.stderr).toBe(0);
      const b = train(['--run', two, '--spec', plainSpec], 2);
      expect(b.status, b.stderr).toBe(0);
      for (const stage of ['pretrain', 'finetune']) {
        const w1 = weights(one, stage);
        const w2 = weights(two, stage);
        expect([...w2.keys()].sort()).toEqual([...w1.keys()].sort());
        for (const [k, v] of w1) {
          const u = w2.get(k)!;
          v.forEach((x, i) =>
            expect(Math.abs(u[i]! - x), `${stage} ${k}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.abs(x) + 1e-7),
          );
        }
      }
      const log = parseJsonl(readFileSync(join(two, 'log.jsonl'), 'utf8')).records;
      expect(log[0]!.processes).toBe(2);
    },
    SLOW,
  );

  it(
    'a torchrun run (2 processes) killed mid-epoch resumes to the weights of the uninterrupted one',
    () => {
      const plainSpec = join(dir, 'spec-plain.json');
      const run = join(dir, 'two-killed');
      // Both processes die after step 3 of pre-training (one past the checkpoint at 2); torchrun fails.
      const killed = train(['--run', run, '--spec', plainSpec, '--exit-after-steps', '3'], 2);
      expect(killed.status).not.toBe(0);
      const state = parseCheckpointState(
        readCheckpointFile(latestCheckpoint(run)!.path, STATE_FILE).toString('utf8'),
        latestCheckpoint(run)!.path,
      );
      expect([state.stage, state.step]).toEqual(['pretrain', 2]);
      const r = train(['--run', run, '--spec', plainSpec, '--resume'], 2);
      expect(r.status, r.stderr).toBe(0);
      for (const stage of ['pretrain', 'finetune'])
        expect(weights(run, stage)).toEqual(weights(join(dir, 'two'), stage));
    },
    SLOW,
  );
});
