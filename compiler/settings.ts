/**
 * Schemas of dataset, train and stage settings and of the settings constructors they use.
 * In: evaluated setting values (compiler/values.ts) from compiler/program.ts. Out: NVC5006
 * (unknown key, with did-you-mean), NVC5007 (wrong type) and NVC5008 (out of range)
 * diagnostics. Holds afterwards: a setting that passed is of the documented shape, so the
 * lowering to runtime specs (compiler/lower-specs.ts) can read it without re-checking.
 */
import type { Span } from '../dsl/span.js';
import { didYouMean, type Reporter } from './report.js';
import { formatValue, isNumber, typeOfValue, type Value } from './values.js';

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

export const STAGE_SETTINGS: Readonly<Record<string, SettingType>> = {
  model: any,
  inputs: list(word()),
  mask: config({
    random_patches: { args: { ratio: prob, patch: int({ min: 1 }), input: word() }, required: ['ratio', 'patch'] },
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
  metrics: list(word(['accuracy', 'auc', 'sensitivity', 'specificity', 'loss'])),
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

/** Checks a value against a setting type; reports at `span` and returns false on mismatch. */
export function checkSetting(name: string, v: Value, t: SettingType, span: Span, reporter: Reporter): boolean {
  if (v.kind === 'error') return false;
  const wrong = (expected: string) => {
    reporter.error('WrongSettingType', span, {
      name,
      expected,
      found: v.kind === 'word' ? `\`${v.name}\`` : typeOfValue(v),
    });
    return false;
  };
  const range = (n: number, r?: NumRange) => {
    if (!r) return true;
    const ok =
      (r.min === undefined || n >= r.min) &&
      (r.above === undefined || n > r.above) &&
      (r.max === undefined || n <= r.max) &&
      (r.below === undefined || n < r.below);
    if (!ok) {
      const parts = [
        r.min !== undefined ? `>= ${r.min}` : '',
        r.above !== undefined ? `> ${r.above}` : '',
        r.max !== undefined ? `<= ${r.max}` : '',
        r.below !== undefined ? `< ${r.below}` : '',
      ].filter(Boolean);
      reporter.error('SettingOutOfRange', span, { name, range: parts.join(' and '), value: formatValue(v) });
    }
    return ok;
  };
  switch (t.t) {
    case 'any':
    case 'record':
      return t.t === 'record' && v.kind !== 'record' ? wrong('a record `{ key = value }`') : true;
    case 'int':
      if (v.kind !== 'int') return wrong('int');
      return range(v.value, t.range);
    case 'float':
      if (!isNumber(v)) return wrong('a number');
      return range(v.value, t.range);
    case 'bool':
      return v.kind === 'bool' ? true : wrong('bool');
    case 'string':
      return v.kind === 'string' ? true : wrong('a string');
    case 'word':
      if (v.kind !== 'word') return wrong(t.words ? t.words.map((w) => `\`${w}\``).join(' | ') : 'a name');
      if (t.words && !t.words.includes(v.name)) {
        reporter.error(
          'WrongSettingType',
          span,
          { name, expected: t.words.map((w) => `\`${w}\``).join(' | '), found: `\`${v.name}\`` },
          { help: [didYouMean(v.name, t.words)] },
        );
        return false;
      }
      return true;
    case 'list': {
      if (v.kind !== 'list') return wrong('a list');
      if (t.length !== undefined && v.items.length !== t.length) return wrong(`a list of ${t.length}`);
      let ok = true;
      for (const item of v.items)
        ok =
          checkSetting(
            name,
            item,
            t.of,
            item.kind === 'config' || item.kind === 'word' ? (item as { span: Span }).span : span,
            reporter,
          ) && ok;
      return ok;
    }
    case 'config': {
      const kinds = Object.keys(t.kinds);
      if (v.kind === 'config' && v.name === 'then') {
        if (!t.chain) return wrong(kinds.map((k) => `\`${k}(...)\``).join(' | '));
        return v.positional.every((p) =>
          checkSetting(name, p, { ...t, chain: false }, (p as { span?: Span }).span ?? span, reporter),
        );
      }
      const kind = v.kind === 'config' ? v.name : v.kind === 'word' ? v.name : undefined;
      if (kind === undefined) return wrong(kinds.map((k) => `\`${k}(...)\``).join(' | '));
      const schema = t.kinds[kind];
      const at = v.kind === 'config' || v.kind === 'word' ? v.span : span;
      if (!schema) {
        reporter.error(
          'WrongSettingType',
          at,
          { name, expected: kinds.map((k) => `\`${k}\``).join(' | '), found: `\`${kind}\`` },
          { help: [didYouMean(kind, kinds)] },
        );
        return false;
      }
      if (v.kind === 'word') {
        if (schema.required?.length) {
          reporter.error(
            'MissingSetting',
            at,
            { where: `\`${kind}\``, name: schema.required[0]! },
            { help: [`write \`${kind}(${schema.required[0]} = ...)\``] },
          );
          return false;
        }
        return true;
      }
      let ok = true;
      const cfg = v as Value & { kind: 'config' };
      const given = new Map(cfg.args);
      cfg.positional.forEach((p, i) => {
        const pname = schema.positional?.[i];
        if (!pname) {
          reporter.error('WrongSettingType', cfg.span, {
            name: `${name}.${kind}`,
            expected: 'named arguments (`key = value`)',
            found: 'a positional argument',
          });
          ok = false;
        } else if (!given.has(pname)) given.set(pname, p); // a named value set by a variant wins
      });
      for (const [k, x] of given) {
        const at2 = x.kind === 'config' || x.kind === 'word' ? x.span : cfg.span;
        const st = schema.args[k];
        if (!st) {
          reporter.error(
            'UnknownSetting',
            cfg.span,
            { where: `\`${kind}\``, name: k },
            {
              help: [
                didYouMean(k, Object.keys(schema.args)),
                `\`${kind}\` takes: ${Object.keys(schema.args).join(', ') || '(nothing)'}`,
              ],
            },
          );
          ok = false;
          continue;
        }
        ok = checkSetting(`${kind}.${k}`, x, st, at2, reporter) && ok;
      }
      for (const r of schema.required ?? [])
        if (!given.has(r)) {
          reporter.error('MissingSetting', cfg.span, { where: `\`${kind}\``, name: r });
          ok = false;
        }
      return ok;
    }
  }
}
