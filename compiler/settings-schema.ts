/**
 * Schemas of dataset, train and stage settings and of the settings constructors they use, as
 * plain data.
 * In: nothing. Out: `STAGE_SETTINGS`, `TRAIN_SETTINGS`, `DATASET_SETTINGS` and their types.
 * Holds afterwards: the tables depend on nothing from the elaborator, so the override schema
 * (compiler/schema/overrides.ts) reads them without it; compiler/settings.ts checks values
 * against them.
 */
/** What a setting value must look like. */
export type SettingType =
  | {
      readonly t: 'int' | 'float' | 'bool' | 'string' | 'word' | 'any';
      readonly range?: NumRange;
      readonly words?: readonly string[];
    }
  | { readonly t: 'list'; readonly of: SettingType; readonly length?: number }
  | {
      readonly t: 'config';
      readonly kinds: Readonly<Record<string, ConfigSchema>>;
      readonly bare?: boolean;
      readonly chain?: boolean;
    }
  | { readonly t: 'record' };

export interface NumRange {
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  readonly below?: number;
}

/** Arguments of a settings constructor such as `lion(lr = 5e-5)`. */
export interface ConfigSchema {
  readonly args: Readonly<Record<string, SettingType>>;
  readonly required?: readonly string[];
  /** Names of positional arguments in order. */
  readonly positional?: readonly string[];
}

const int = (range?: NumRange): SettingType => ({ t: 'int', range });
const float = (range?: NumRange): SettingType => ({ t: 'float', range });
const word = (words?: readonly string[]): SettingType => ({ t: 'word', words });
const str: SettingType = { t: 'string' };
const any: SettingType = { t: 'any' };
const list = (of: SettingType, length?: number): SettingType => ({ t: 'list', of, length });
const config = (kinds: Record<string, ConfigSchema>, bare = false, chain = false): SettingType => ({
  t: 'config',
  kinds,
  bare,
  chain,
});

const prob = float({ min: 0, below: 1 });
/**
 * Epochs of one stage or schedule phase: a fixed limit far above any real training (the paper's
 * longest stage has 800), low enough that epoch counts, step counts and schedule previews stay
 * exact small integers.
 */
export const MAX_EPOCHS = 1_000_000;
const target: SettingType = config({
  patch_normalized: { args: { input: word() }, positional: ['input'] },
  pixels: { args: { input: word() }, positional: ['input'] },
});

export const OPTIMIZERS = {
  lion: {
    args: {
      lr: float({ above: 0 }),
      betas: list(prob, 2),
      weight_decay: float({ min: 0 }),
      no_decay: any,
      clip_grad_norm: float({ above: 0 }),
    },
    required: ['lr'],
  },
  adamw: {
    args: {
      lr: float({ above: 0 }),
      betas: list(prob, 2),
      weight_decay: float({ min: 0 }),
      eps: float({ above: 0 }),
      no_decay: any,
      clip_grad_norm: float({ above: 0 }),
    },
    required: ['lr'],
  },
} satisfies Record<string, ConfigSchema>;

export const SCHEDULES = {
  warmup: { args: { epochs: int({ min: 0, max: MAX_EPOCHS }), from: float({ min: 0 }) }, required: ['epochs'] },
  cosine: { args: { to: float({ min: 0 }), epochs: int({ min: 1, max: MAX_EPOCHS }) } },
  constant: { args: { epochs: int({ min: 1, max: MAX_EPOCHS }) } },
  linear: { args: { to: float({ min: 0 }), epochs: int({ min: 1, max: MAX_EPOCHS }) } },
} satisfies Record<string, ConfigSchema>;

/** What a stage's `metrics` may list; `keep_best` names one as `val.<metric>`. */
export const VALIDATION_METRICS = ['accuracy', 'auc', 'sensitivity', 'specificity', 'loss'] as const;

export const STAGE_SETTINGS: Readonly<Record<string, SettingType>> = {
  model: any,
  inputs: list(word()),
  mask: config({
    random_patches: {
      args: { ratio: prob, patch: int({ min: 1 }), input: word(), kept: word(['official', 'decimal']) },
      required: ['ratio', 'patch'],
    },
  }),
  loss: config(
    {
      cross_entropy: { args: { label_smoothing: prob } },
      masked_mse: { args: { target }, required: ['target'] },
    },
    true,
  ),
  optimizer: config(OPTIMIZERS),
  schedule: config(SCHEDULES, true, true),
  epochs: int({ min: 1, max: MAX_EPOCHS }),
  batch: int({ min: 1 }),
  micro_batch: int({ min: 1 }),
  augment: list(
    config(
      {
        hflip: { args: { p: prob } },
        vflip: { args: { p: prob } },
        rotate: { args: { degrees: float({ min: 0, max: 180 }) }, required: ['degrees'] },
        random_resized_crop: {
          args: { scale: list(float({ above: 0, max: 1 }), 2), ratio: list(float({ above: 0 }), 2) },
        },
      },
      true,
    ),
  ),
  metrics: list(word(VALIDATION_METRICS)),
  keep_best: any,
  freeze: list(word()),
  init: { t: 'record' },
  modality_dropout: config({
    random_throw: { args: { p: prob, fill: float(), modalities: list(word()) }, required: ['p'] },
  }),
  seed: int({ min: 0 }),
  pooling: word(['mean', 'max']),
};

export const TRAIN_SETTINGS: Readonly<Record<string, SettingType>> = {
  seed: int({ min: 0 }),
  checkpoint_every: int({ min: 1 }),
  pooling: word(['mean', 'max']),
};

export const DATASET_SETTINGS: Readonly<Record<string, SettingType>> = {
  source: config(
    {
      synthetic_pji: { args: { patients: int({ min: 2 }), seed: int({ min: 0 }), size: int({ min: 8 }) } },
      files: { args: {} },
    },
    true,
  ),
  table: str,
  id: word(),
  label: word(),
  classes: { t: 'record' },
  images: config({
    folder: {
      args: {
        dir: str,
        per: word(),
        pattern: str,
        size: list(int({ min: 1 }), 2),
        channels: int({ min: 1, max: 3 }),
        fit: word(['cover', 'fill']),
      },
      positional: ['dir'],
    },
  }),
  normalize: word(['imagenet', 'dataset', 'none']),
  dicom: any,
  pool: word(['mean', 'max']),
  cache: str,
  split: config({
    by_patient: {
      args: { train: prob, val: prob, test: prob, stratified: { t: 'bool' }, seed: int({ min: 0 }), by: word() },
    },
    kfold: {
      args: {
        k: int({ min: 2 }),
        fold: int({ min: 0 }),
        val: prob,
        stratified: { t: 'bool' },
        seed: int({ min: 0 }),
        by: word(),
      },
      required: ['k'],
    },
  }),
};
