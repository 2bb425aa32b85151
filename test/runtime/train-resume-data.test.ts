/**
 * Exact resume through the real data runtime (DatasetTrainingData): flip, rotation and random
 * resized crop drawn from the augment stream, random throw, masks; interrupted mid-epoch in the
 * fine-tuning stage; cpu backend; the final weights equal the uninterrupted run's bit for bit.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generatePjiCohort, pjiDatasetSpec, writePjiCohort } from '../../runtime/data/synthetic-pji.js';
import type { DatasetSpec } from '../../runtime/data/spec.js';
import { loadTrainingData } from '../../runtime/train/dataset-adapter.js';
import { resume, runTraining } from '../../runtime/train/runner.js';
import type { StageSpec, TrainSpec } from '../../runtime/train/spec.js';
import { miniFactories, type MiniConfig } from '../support/train-convnext.js';

const mini: MiniConfig = { channels: 1, dims: [4, 8], labs: 14 };
const augment = {
  hflip: 0.5,
  rotateDegrees: 15,
  randomResizedCrop: { scale: [0.6, 1], ratio: [0.75, 1.333] },
} as const;

const base: Omit<StageSpec, 'name' | 'kind' | 'model' | 'inputs' | 'loss' | 'metrics' | 'handover'> = {
  optimizer: { kind: 'adamw', lr: 2e-3, betas: [0.9, 0.999], weightDecay: 0.05, noDecay: [{ kind: 'flagged' }] },
  schedule: [
    { kind: 'warmup', epochs: 1 },
    { kind: 'cosine', to: 1e-5 },
  ],
  epochs: 2,
  batchSize: 8,
  augment,
  freeze: [],
};

const spec: TrainSpec = {
  name: 'resume_on_files',
  dataset: 'PJI',
  seed: 5,
  checkpointEverySteps: 3,
  stages: [
    {
      ...base,
      name: 'pretrain',
      kind: 'masked',
      epochs: 1,
      model: { factory: 'pretrain', className: 'MiniFCMAE', args: {} },
      inputs: ['xray'],
      mask: { kind: 'random_patches', ratio: 0.5, patch: 8 },
      loss: { kind: 'masked_mse', target: 'patch_normalized', input: 'xray' },
      metrics: [],
      handover: [],
    },
    {
      ...base,
      name: 'finetune',
      kind: 'supervised',
      model: { factory: 'finetune', className: 'MiniMEDNVC', args: {} },
      inputs: ['xray', 'labs'],
      loss: { kind: 'cross_entropy', labelSmoothing: 0.1 },
      metrics: ['auc'],
      keepBest: { metric: 'val.auc', mode: 'max' },
      handover: [{ from: 'pretrain', modules: [{ source: 'encoder', target: 'enc' }] }],
      modalityDropout: { kind: 'random_throw', p: 0.3, fill: -10, modalities: ['xray', 'labs'] },
    },
  ],
};

let root: string;
let dataset: DatasetSpec;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'nvcc-resume-data-'));
  await writePjiCohort(generatePjiCohort({ patients: 20, seed: 4, imageSize: 16 }), join(root, 'cohort'));
  dataset = {
    ...pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 20, seed: 4, imageSize: 16 }),
    source: { kind: 'files', table: 'cohort/labs.csv', images: 'cohort/images' },
  };
});

describe('resume on the real data runtime', () => {
  it('ends with the same weights after an interruption mid-epoch', async () => {
    const models = miniFactories(mini);
    const common = {
      dataset,
      models,
      backend: 'cpu' as const,
      dataBaseDir: root,
      bootstrapResamples: 10,
      report: false,
    };
    const reference = join(root, 'reference');
    await runTraining({ ...common, spec, runDir: reference });

    const runDir = join(root, 'interrupted');
    const controller = new AbortController();
    const first = await runTraining({
      ...common,
      spec,
      runDir,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'step' && e.stage === 'finetune' && e.globalStep === e.stepsPerEpoch + 1) controller.abort();
      },
    });
    expect(first.status).toBe('interrupted');
    // A new process would load the data again; so does this resume.
    const data = await loadTrainingData(spec, dataset, { baseDir: root });
    const done = await resume(runDir, { models, backend: 'cpu', data, bootstrapResamples: 10, report: false });
    expect(done.status).toBe('completed');
    for (const stage of ['pretrain', 'finetune']) {
      const a = readFileSync(join(runDir, 'stages', stage, 'weights.safetensors'));
      const b = readFileSync(join(reference, 'stages', stage, 'weights.safetensors'));
      expect(a.equals(b), stage).toBe(true);
    }
  });
});
