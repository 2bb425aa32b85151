/**
 * The torch engine's trainer (compiler/emit/torch/python/nvcc_train.py) on a tiny hand-written
 * model (test/torch/tiny_model.py) and shards of the built-in synthetic cohort, two stages as
 * MED-NVC lowers them (masked pre-training with Lion, then fine-tuning with AdamW, hand-over of the
 * encoder, random throw, augmentation, micro-batches, freezing, keep-best):
 * - the run folder is the tfjs engine's: log records, config, metrics, predictions, weights in
 *   the tfjs layout under the same keys, checkpoints the TS runtime parses;
 * - DDP: 2 processes (torchrun, gloo, CPU) on batches of 4 end with the weights of 1 process
 *   (rtol 1e-5);
 * - a run killed mid-epoch (the process dies after step 3, no cleanup) and resumed ends with the
 *   same weights as the uninterrupted run, bit for bit.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AugmentSpec, DatasetSpec } from '../../runtime/data/spec.js';
import { pjiDatasetSpec } from '../../runtime/data/synthetic-pji.js';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { parseJsonl } from '../../runtime/run/jsonl.js';
import { latestCheckpoint, readCheckpointFile, STATE_FILE } from '../../runtime/train/checkpoint.js';
import { loadTrainingData } from '../../runtime/train/dataset-adapter.js';
import { writeDataShards } from '../../runtime/train/shards.js';
import type { TrainSpec } from '../../runtime/train/spec.js';
import { parseCheckpointState } from '../../runtime/train/state.js';
import { finetuneStage, pretrainStage } from '../support/train-specs.js';
import { runPython, TORCH_TEST_DIR } from '../support/python.js';

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

function train(args: string[], nproc = 1): { status: number | null; stderr: string } {
  const script = join(TORCH_TEST_DIR, 'tiny_train.py');
  const argv =
    nproc === 1
      ? [script, ...args]
      : [
          '-m',
          'torch.distributed.run',
          '--standalone',
          '--nnodes',
          '1',
          '--nproc_per_node',
          String(nproc),
          // Debian's torch 1.13 under Python 3.11 cannot parse the default "0" of these two (its
          // Std IntFlag lookup misses the zero member), so name non-zero values explicitly.
          '--redirects',
          '1',
          '--tee',
          '2',
          script,
          ...args,
        ];
  const r = runPython(argv, { NVCC_TEST: '1' }, 600_000);
  return { status: r.status, stderr: r.stderr };
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
  const data = await loadTrainingData(spec(true), dataset);
  await writeDataShards(data.dataset, ['xray'], join(dir, 'data'));
  single = join(dir, 'single');
  const r = train(['--run', single, '--data', join(dir, 'data'), '--spec', specFile('spec.json', spec(true))]);
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

  it(
    'a run killed mid-epoch resumes to the same weights, bit for bit',
    () => {
      const run = join(dir, 'killed');
      const args = ['--run', run, '--data', join(dir, 'data'), '--spec', join(dir, 'spec.json')];
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
      const a = train(['--run', one, '--data', join(dir, 'data'), '--spec', plainSpec]);
      expect(a.status, a.stderr).toBe(0);
      const b = train(['--run', two, '--data', join(dir, 'data'), '--spec', plainSpec], 2);
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
});
