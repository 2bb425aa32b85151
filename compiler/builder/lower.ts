/**
 * Lowering of checked `train` and `dataset` declarations to the runtime's JSON specs.
 * In: a TrainIR / DatasetIR whose settings passed compiler/settings.ts, and the generated class
 * name of each stage model. Out: a TrainSpec (runtime/train/spec.ts) and a DatasetSpec
 * (runtime/data/spec.ts). Holds afterwards: every field the runtime reads is explicit (the
 * documented defaults are filled in here), the result is plain JSON, and the key order is
 * fixed by this code (not by input order), so its serialisation is stable.
 */
import type { DatasetSpec, FieldSpec, MissingPolicy } from '../../runtime/data/spec.js';
import type {
  AugmentSpec,
  Handover,
  JsonValue,
  LossSpec,
  MetricName,
  ModalityDropout,
  NoDecayRule,
  OptimizerSpec,
  SchedulePhase,
  StageSpec,
  TrainSpec,
} from '../../runtime/train/spec.js';
import type { DatasetIR, FieldIR, StageIR, TrainIR } from '../ir/ir.js';

/** A setting the runtime cannot express (reported as a build error naming the setting). */
export class LowerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LowerError';
  }
}

type Json = Readonly<Record<string, unknown>>;

function cfg(v: unknown): { type: string; args: unknown[]; named: Json } | undefined {
  if (typeof v === 'string') return { type: v, args: [], named: {} };
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as Json).type === 'string') {
    const { type, args, ...named } = v as Json & { type: string; args?: unknown[] };
    return { type, args: Array.isArray(args) ? args : [], named };
  }
  return undefined;
}

const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);

function lowerOptimizer(v: unknown, where: string): OptimizerSpec {
  const c = cfg(v);
  if (!c || (c.type !== 'lion' && c.type !== 'adamw'))
    throw new LowerError(`${where}.optimizer: expected lion(...) or adamw(...)`);
  const betas = Array.isArray(c.named.betas)
    ? (c.named.betas as number[])
    : c.type === 'lion'
      ? [0.9, 0.99]
      : [0.9, 0.999];
  return {
    kind: c.type,
    lr: num(c.named.lr, NaN),
    betas: [betas[0]!, betas[1]!],
    weightDecay: num(c.named.weight_decay, 0),
    ...(c.type === 'adamw' && c.named.eps !== undefined ? { eps: num(c.named.eps, 1e-8) } : {}),
    noDecay: lowerNoDecay(c.named.no_decay, where),
    ...(c.named.clip_grad_norm !== undefined ? { clipGradNorm: num(c.named.clip_grad_norm, 0) } : {}),
  };
}

function lowerNoDecay(v: unknown, where: string): NoDecayRule[] {
  if (v === undefined) return [{ kind: 'flagged' }, { kind: 'rank1' }];
  const items = Array.isArray(v) ? v : [v];
  return items.map((item) => {
    const c = cfg(item);
    if (!c) throw new LowerError(`${where}.optimizer.no_decay: unexpected ${JSON.stringify(item)}`);
    const arg = c.args[0] ?? Object.values(c.named)[0];
    switch (c.type) {
      case 'flagged':
        return { kind: 'flagged' };
      case 'rank1':
        return { kind: 'rank1' };
      case 'official':
        if (arg !== 'finetune' && arg !== 'pretrain')
          throw new LowerError(`${where}.optimizer.no_decay: official(finetune | pretrain)`);
        return { kind: 'official', rule: arg };
      case 'suffix':
        return { kind: 'suffix', suffix: String(arg) };
      case 'prefix':
        return { kind: 'prefix', prefix: String(arg) };
      default:
        throw new LowerError(
          `${where}.optimizer.no_decay: unknown rule \`${c.type}\` (flagged, rank1, official, suffix, prefix)`,
        );
    }
  });
}

function lowerSchedule(v: unknown, where: string): SchedulePhase[] {
  if (v === undefined) return [];
  const c = cfg(v);
  if (!c) throw new LowerError(`${where}.schedule: unexpected ${JSON.stringify(v)}`);
  if (c.type === 'then') return c.args.flatMap((a) => lowerSchedule(a, where));
  const epochs = c.named.epochs !== undefined ? { epochs: num(c.named.epochs, 0) } : {};
  switch (c.type) {
    case 'warmup':
      return [
        {
          kind: 'warmup',
          epochs: num(c.named.epochs, 0),
          ...(c.named.from !== undefined ? { from: num(c.named.from, 0) } : {}),
        },
      ];
    case 'cosine':
      return [{ kind: 'cosine', to: num(c.named.to, 0), ...epochs }];
    case 'linear':
      return [{ kind: 'linear', to: num(c.named.to, 0), ...epochs }];
    case 'constant':
      return [{ kind: 'constant', ...epochs }];
    default:
      throw new LowerError(`${where}.schedule: unknown phase \`${c.type}\``);
  }
}

function lowerLoss(v: unknown, where: string, inputs: readonly string[]): LossSpec {
  const c = cfg(v);
  if (!c) throw new LowerError(`${where}.loss: missing`);
  if (c.type === 'cross_entropy') return { kind: 'cross_entropy', labelSmoothing: num(c.named.label_smoothing, 0) };
  if (c.type === 'masked_mse') {
    const t = cfg(c.named.target);
    if (!t || (t.type !== 'patch_normalized' && t.type !== 'pixels'))
      throw new LowerError(`${where}.loss.target: patch_normalized(input) or pixels(input)`);
    const input = String(t.named.input ?? t.args[0] ?? inputs[0] ?? ''); // named wins, as in imagesDir
    return { kind: 'masked_mse', target: t.type, input };
  }
  throw new LowerError(`${where}.loss: unknown loss \`${c.type}\``);
}

function lowerAugment(v: unknown, where: string): AugmentSpec {
  const out: { hflip?: number; rotateDegrees?: number; randomResizedCrop?: AugmentSpec['randomResizedCrop'] } = {};
  for (const item of Array.isArray(v) ? v : []) {
    const c = cfg(item);
    if (!c) throw new LowerError(`${where}.augment: unexpected ${JSON.stringify(item)}`);
    switch (c.type) {
      case 'hflip':
        out.hflip = num(c.named.p, 0.5);
        break;
      case 'rotate':
        out.rotateDegrees = num(c.named.degrees, 0);
        break;
      case 'random_resized_crop': {
        const scale = (c.named.scale as number[] | undefined) ?? [0.08, 1];
        const ratio = (c.named.ratio as number[] | undefined) ?? [3 / 4, 4 / 3];
        out.randomResizedCrop = { scale: [scale[0]!, scale[1]!], ratio: [ratio[0]!, ratio[1]!] };
        break;
      }
      default:
        throw new LowerError(
          `${where}.augment: \`${c.type}\` is not supported by the data runtime (hflip, rotate, random_resized_crop)`,
        );
    }
  }
  return out;
}

function lowerKeepBest(v: unknown, where: string): StageSpec['keepBest'] {
  if (v === undefined) return undefined;
  const c = cfg(v);
  let metric: string;
  let mode: 'max' | 'min' | undefined;
  if (typeof v === 'string') metric = v;
  else if (c && (c.type === 'min' || c.type === 'max')) {
    metric = String(c.args[0]);
    mode = c.type;
  } else throw new LowerError(`${where}.keep_best: val.<metric> or min(val.<metric>) / max(val.<metric>)`);
  const m = /^val\.(accuracy|auc|sensitivity|specificity|loss)$/.exec(metric);
  if (!m)
    throw new LowerError(
      `${where}.keep_best: \`${metric}\` is not val.accuracy | val.auc | val.sensitivity | val.specificity | val.loss`,
    );
  return { metric: `val.${m[1] as MetricName}`, mode: mode ?? (m[1] === 'loss' ? 'min' : 'max') };
}

function lowerHandover(stage: StageIR): Handover[] {
  const byStage = new Map<string, { source: string; target: string }[]>();
  for (const h of stage.handOver) {
    const list = byStage.get(h.fromStage) ?? [];
    list.push({ source: h.fromPath, target: h.to });
    byStage.set(h.fromStage, list);
  }
  return [...byStage].map(([from, modules]) => ({ from, modules }));
}

function lowerModalityDropout(v: unknown, where: string, inputs: readonly string[]): ModalityDropout | undefined {
  if (v === undefined) return undefined;
  const c = cfg(v);
  if (c?.type !== 'random_throw') throw new LowerError(`${where}.modality_dropout: random_throw(p = ..., fill = ...)`);
  return {
    kind: 'random_throw',
    p: num(c.named.p, 0),
    fill: num(c.named.fill, 0),
    modalities: Array.isArray(c.named.modalities) ? (c.named.modalities as string[]) : [...inputs],
  };
}

export interface StageModel {
  /** Factory key (the stage name). */
  readonly factory: string;
  readonly className: string;
}

export function lowerStage(stage: StageIR, model: StageModel): StageSpec {
  const s = stage.settings as Json;
  const where = stage.name;
  const inputs = Array.isArray(s.inputs) ? (s.inputs as string[]) : [];
  const mask = stage.mask ?? (s.mask as Json | undefined);
  const maskCfg = mask ? cfg(mask) : undefined;
  const args: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(stage.model.root.params)) args[k] = v as JsonValue;
  const keepBest = lowerKeepBest(s.keep_best, where);
  const modalityDropout = lowerModalityDropout(s.modality_dropout, where, inputs);
  return {
    name: stage.name,
    kind: maskCfg ? 'masked' : 'supervised',
    model: { factory: model.factory, className: model.className, args },
    inputs,
    ...(maskCfg
      ? {
          mask: {
            kind: 'random_patches' as const,
            ratio: num(maskCfg.named.ratio, 0),
            patch: num(maskCfg.named.patch, 0),
            ...(maskCfg.named.input !== undefined ? { input: String(maskCfg.named.input) } : {}),
            ...(maskCfg.named.kept === 'decimal' ? { kept: 'decimal' as const } : {}),
          },
        }
      : {}),
    loss: lowerLoss(s.loss, where, inputs),
    optimizer: lowerOptimizer(s.optimizer, where),
    schedule: lowerSchedule(s.schedule, where),
    epochs: num(s.epochs, 1),
    batchSize: num(s.batch, 1),
    // A micro-batch at least the batch is the batch itself: no chunking.
    ...(typeof s.micro_batch === 'number' && s.micro_batch < num(s.batch, 1) ? { microBatch: s.micro_batch } : {}),
    augment: lowerAugment(s.augment, where),
    metrics: Array.isArray(s.metrics) ? (s.metrics as MetricName[]) : [],
    ...(keepBest ? { keepBest } : {}),
    handover: lowerHandover(stage),
    freeze: [...stage.frozen],
    ...(modalityDropout ? { modalityDropout } : {}),
    ...(typeof s.seed === 'number' ? { seed: s.seed } : {}),
    ...(s.pooling === 'mean' || s.pooling === 'max' ? { pooling: s.pooling } : {}),
  };
}

export function lowerTrain(train: TrainIR, models: ReadonlyMap<string, StageModel>): TrainSpec {
  const s = train.settings as Json;
  return {
    name: train.name,
    dataset: train.dataset,
    seed: num(s.seed, 0),
    stages: train.stages.map((st) => lowerStage(st, models.get(st.name)!)),
    ...(typeof s.checkpoint_every === 'number' ? { checkpointEverySteps: s.checkpoint_every } : {}),
    ...(s.pooling === 'mean' || s.pooling === 'max' ? { pooling: s.pooling } : {}),
  };
}

function lowerField(f: FieldIR, where: string): FieldSpec {
  const transforms: FieldSpec['transforms'][number][] = [];
  let missing: MissingPolicy = { kind: 'error' };
  for (const m of f.modifiers) {
    const c = cfg(m);
    if (!c) throw new LowerError(`${where}.${f.name}: unexpected modifier ${JSON.stringify(m)}`);
    if (c.type === 'log1p' || c.type === 'standardize' || c.type === 'minmax') transforms.push(c.type);
    else if (c.type === 'missing') {
      const a = c.args[0];
      if (a === 'error' || a === 'mean' || a === 'median' || a === 'mode' || a === 'indicator') missing = { kind: a };
      else if (c.named.constant !== undefined)
        missing = { kind: 'constant', value: c.named.constant as number | string };
      else throw new LowerError(`${where}.${f.name}: missing(error | mean | median | mode | indicator | constant = v)`);
    } else throw new LowerError(`${where}.${f.name}: unknown modifier \`${c.type}\``);
  }
  const type: FieldSpec['type'] =
    f.type === 'number'
      ? { kind: 'number' }
      : f.type === 'binary'
        ? f.levels && f.levels.length === 2
          ? { kind: 'binary', levels: [f.levels[0]!, f.levels[1]!] }
          : { kind: 'binary' }
        : { kind: 'category', levels: [...(f.levels ?? [])] };
  return { name: f.name, type, transforms, missing };
}

/**
 * The images folder of `folder(...)`. A named `dir` wins over the positional one: the named form
 * only sits beside a positional folder when a variant or override set it afterwards
 * (`PJI.images.dir = "data/images"` on `folder("images", ...)`), so it is the newer value.
 */
function imagesDir(images: ReturnType<typeof cfg>): string {
  return String(images?.named.dir ?? images?.args[0] ?? '');
}

export function lowerDataset(d: DatasetIR): DatasetSpec {
  const s = d.settings as Json;
  const where = d.name;
  const source = cfg(s.source);
  const images = cfg(s.images);
  const split = cfg(s.split);
  const classes = (s.classes ?? {}) as Record<string, string | number>;
  const dicom = cfg(s.dicom);
  const windowArg = dicom?.named.window;
  const dicomSpec: DatasetSpec['images']['dicom'] = {
    window: Array.isArray(windowArg)
      ? { center: Number(windowArg[0]), width: Number(windowArg[1]) }
      : windowArg === 'none'
        ? 'none'
        : 'auto',
    invertMonochrome1: dicom?.named.invert_monochrome1 !== false,
  };
  const size = (images?.named.size as number[] | undefined) ?? [224, 224];
  const channels = num(images?.named.channels, 3);
  if (channels !== 1 && channels !== 3) throw new LowerError(`${where}.images.channels: 1 or 3`);
  const groups = Object.entries(d.fieldGroups).map(([name, fields]) => ({
    name,
    fields: fields.map((f) => lowerField(f, `${where}.${name}`)),
  }));
  const splitArgs = split?.named ?? {};
  return {
    name: d.name,
    source:
      source?.type === 'synthetic_pji'
        ? {
            kind: 'synthetic',
            name: 'pji',
            patients: num(source.named.patients, 489),
            seed: num(source.named.seed, 0),
            imageSize: num(source.named.size, 224),
          }
        : { kind: 'files', table: String(s.table ?? ''), images: imagesDir(images) },
    id: String(s.id ?? 'id'),
    label: {
      column: String(s.label ?? 'label'),
      classes: Object.entries(classes).map(([name, code]) => ({ name, code })),
    },
    images: {
      per: String(images?.named.per ?? s.id ?? 'id'),
      pattern: String(images?.named.pattern ?? '{id}_*'),
      size: [size[0]!, size[1]!],
      channels,
      fit: images?.named.fit === 'fill' ? 'fill' : 'cover',
      normalize: s.normalize === 'dataset' || s.normalize === 'none' ? s.normalize : 'imagenet',
      dicom: dicomSpec,
    },
    groups,
    split: {
      by: String(splitArgs.by ?? s.id ?? 'id'),
      train: num(splitArgs.train, 0.7),
      val: num(splitArgs.val, 0.1),
      test: num(splitArgs.test, 0.2),
      stratified: splitArgs.stratified !== false,
      seed: num(splitArgs.seed, 0),
      ...(split?.type === 'kfold' ? { kfold: { k: num(splitArgs.k, 5), fold: num(splitArgs.fold, 0) } } : {}),
    },
    pool: s.pool === 'mean' ? 'mean' : 'max',
    ...(typeof s.cache === 'string' ? { cache: s.cache } : {}),
  };
}
