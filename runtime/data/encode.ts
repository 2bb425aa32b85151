/**
 * Encoding lab fields to numbers: missing-value fill, transforms and one-hot.
 * In: typed raw values (table.ts) of every patient, the training patients, the group specs.
 * Out: `FieldStats` (JSON, stored with a run for eval/predict) and per-patient encoded
 * Float32Arrays of width `encodedWidth`.
 * Holds afterwards: every statistic (fill values, means, deviations, minima, maxima) comes
 * from the training patients only, so validation and test patients cannot leak into the
 * encoding; encoding with given stats reproduces the training-time encoding exactly.
 */
import type { RawValue } from './table.js';
import { fieldWidth, type FieldGroupSpec, type FieldSpec } from './spec.js';

/** Statistics of one field, all computed on the training split. */
export interface OneFieldStats {
  /** Value used where the cell was missing (a number, or a level name for categories). */
  readonly fill?: number | string;
  /** Per transform, in declaration order: its parameters. */
  readonly transforms: readonly (
    | { readonly kind: 'log1p' }
    | { readonly kind: 'standardize'; readonly mean: number; readonly std: number }
    | { readonly kind: 'minmax'; readonly min: number; readonly max: number }
  )[];
}

/** Stats per group, then per field name. */
export type FieldStats = Readonly<Record<string, Readonly<Record<string, OneFieldStats>>>>;

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function mode(xs: readonly (string | number)[]): string | number {
  const counts = new Map<string | number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  let best: string | number = xs[0]!;
  for (const [k, n] of counts) if (n > counts.get(best)!) best = k;
  return best;
}

function fillValue(field: FieldSpec, observed: readonly RawValue[]): number | string | undefined {
  const present = observed.filter((v): v is number | string => v !== null);
  const policy = field.missing;
  if (policy.kind === 'error') return undefined;
  if (policy.kind === 'constant') return policy.value;
  if (present.length === 0) return field.type.kind === 'category' ? undefined : 0;
  if (field.type.kind === 'category') return policy.kind === 'indicator' ? undefined : mode(present);
  const nums = present as number[];
  switch (policy.kind) {
    case 'median':
      return median(nums);
    case 'mode':
      return mode(nums) as number;
    case 'mean':
    case 'indicator':
      return mean(nums);
  }
}

/** Fits one field's statistics on the training patients' raw values. */
export function fitField(field: FieldSpec, training: readonly RawValue[]): OneFieldStats {
  const fill = fillValue(field, training);
  const transforms: OneFieldStats['transforms'][number][] = [];
  if (field.type.kind !== 'category') {
    let xs = training
      .map((v) => (v === null ? (fill as number | undefined) : (v as number)))
      .filter((v): v is number => v !== undefined);
    for (const t of field.transforms) {
      if (t === 'log1p') {
        transforms.push({ kind: 'log1p' });
        xs = xs.map(Math.log1p);
      } else if (t === 'standardize') {
        const m = xs.length ? mean(xs) : 0;
        const sd = xs.length ? Math.sqrt(mean(xs.map((x) => (x - m) ** 2))) : 1;
        // A constant column standardises to 0 rather than dividing by zero.
        const std = sd > 1e-12 ? sd : 1;
        transforms.push({ kind: 'standardize', mean: m, std });
        xs = xs.map((x) => (x - m) / std);
      } else {
        const min = xs.length ? Math.min(...xs) : 0;
        const max = xs.length ? Math.max(...xs) : 1;
        transforms.push({ kind: 'minmax', min, max });
        const span = max - min > 1e-12 ? max - min : 1;
        xs = xs.map((x) => (x - min) / span);
      }
    }
  }
  return fill === undefined ? { transforms } : { fill, transforms };
}

export function fitGroup(
  group: FieldGroupSpec,
  trainingValues: readonly (readonly RawValue[])[],
): Record<string, OneFieldStats> {
  const out: Record<string, OneFieldStats> = {};
  group.fields.forEach((f, j) => {
    out[f.name] = fitField(
      f,
      trainingValues.map((row) => row[j]!),
    );
  });
  return out;
}

function applyTransforms(x: number, stats: OneFieldStats): number {
  for (const t of stats.transforms) {
    if (t.kind === 'log1p') x = Math.log1p(x);
    else if (t.kind === 'standardize') x = (x - t.mean) / t.std;
    else x = (x - t.min) / (t.max - t.min > 1e-12 ? t.max - t.min : 1);
  }
  return x;
}

/** Encodes one patient's raw values of a group into `out` (length = the group's width). */
export function encodeGroup(
  group: FieldGroupSpec,
  stats: Readonly<Record<string, OneFieldStats>>,
  raw: readonly RawValue[],
  out: Float32Array,
): void {
  let o = 0;
  group.fields.forEach((f, j) => {
    const s = stats[f.name];
    if (!s) throw new RangeError(`no statistics for field ${group.name}.${f.name}`);
    const v = raw[j] ?? null;
    const missing = v === null;
    if (f.type.kind === 'category') {
      const level = missing ? s.fill : v;
      f.type.levels.forEach((l, k) => {
        out[o + k] = level === l ? 1 : 0;
      });
    } else {
      const x = missing ? Number(s.fill ?? 0) : (v as number);
      out[o] = applyTransforms(x, s);
      if (f.missing.kind === 'indicator') out[o + 1] = missing ? 1 : 0;
    }
    o += fieldWidth(f);
  });
}
