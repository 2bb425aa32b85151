/**
 * Small TrainSpecs for trainer tests: a masked pretraining stage on a TinyMAE and a supervised
 * fine-tuning stage on a TinyClassifier taking `encoder` -> `enc`, as MED-NVC lowers.
 */
import type { DatasetSpec } from '../../runtime/data/spec.js';
import type { StageSpec, TrainSpec } from '../../runtime/train/spec.js';

export function pretrainStage(overrides: Partial<StageSpec> = {}): StageSpec {
  return {
    name: 'pretrain',
    kind: 'masked',
    model: { factory: 'pretrain', className: 'TinyMAE', args: { patch: 4, dim: 6 } },
    inputs: ['xray'],
    mask: { kind: 'random_patches', ratio: 0.5, patch: 4 },
    loss: { kind: 'masked_mse', target: 'patch_normalized', input: 'xray' },
    optimizer: { kind: 'lion', lr: 3e-3, betas: [0.9, 0.99], weightDecay: 0.05, noDecay: [{ kind: 'flagged' }] },
    schedule: [
      { kind: 'warmup', epochs: 1 },
      { kind: 'cosine', to: 1e-4 },
    ],
    epochs: 2,
    batchSize: 4,
    augment: { hflip: 0.5 },
    metrics: [],
    handover: [],
    freeze: [],
    ...overrides,
  };
}

export function finetuneStage(overrides: Partial<StageSpec> = {}): StageSpec {
  return {
    name: 'finetune',
    kind: 'supervised',
    model: { factory: 'finetune', className: 'TinyClassifier', args: { enc: 'pretrain.encoder' } },
    inputs: ['xray', 'labs'],
    loss: { kind: 'cross_entropy', labelSmoothing: 0.1 },
    optimizer: {
      kind: 'adamw',
      lr: 1e-2,
      betas: [0.9, 0.999],
      weightDecay: 0.01,
      noDecay: [{ kind: 'flagged' }, { kind: 'rank1' }],
    },
    schedule: [
      { kind: 'warmup', epochs: 1 },
      { kind: 'cosine', to: 1e-4 },
    ],
    epochs: 3,
    batchSize: 4,
    augment: { hflip: 0.5 },
    metrics: ['accuracy', 'auc', 'sensitivity', 'specificity'],
    keepBest: { metric: 'val.auc', mode: 'max' },
    handover: [{ from: 'pretrain', modules: [{ source: 'encoder', target: 'enc' }] }],
    freeze: [],
    modalityDropout: { kind: 'random_throw', p: 0.2, fill: -10, modalities: ['xray', 'labs'] },
    ...overrides,
  };
}

export function twoStageSpec(overrides: Partial<TrainSpec> = {}): TrainSpec {
  return {
    name: 'Tiny_on_Toy',
    dataset: 'Toy',
    seed: 11,
    stages: [pretrainStage(), finetuneStage()],
    checkpointEverySteps: 2,
    pooling: 'max',
    ...overrides,
  };
}

/** The DatasetSpec recorded in the run's configuration (the data itself comes from TinyData). */
export const toyDataset: DatasetSpec = {
  name: 'Toy',
  source: { kind: 'synthetic', name: 'pji', patients: 24, seed: 1, imageSize: 8 },
  id: 'patient_id',
  label: {
    column: 'infected',
    classes: [
      { name: 'negative', code: 0 },
      { name: 'positive', code: 1 },
    ],
  },
  images: {
    per: 'patient_id',
    pattern: '{id}_*',
    size: [8, 8],
    channels: 1,
    fit: 'cover',
    normalize: 'none',
    dicom: { window: 'auto', invertMonochrome1: true },
  },
  groups: [{ name: 'labs', fields: [] }],
  split: { by: 'patient_id', train: 0.6, val: 0.2, test: 0.2, stratified: true, seed: 1 },
  pool: 'max',
};
