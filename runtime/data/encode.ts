/**
 * Encoding lab fields to numbers: missing-value fill, transforms and one-hot.
 * In: typed raw values (table.ts) of every patient, the training patients, the group specs.
 * Out: `FieldStats` (JSON, stored with a run for eval/predict) and per-patient encoded
 * Float32Arrays of width `encodedWidth`.
 * Holds afterwards: every statistic (fill values, means, deviations, minima, maxima) comes
 * from the training patients only, so validation and test patients cannot leak into the
 * encoding; encoding with given stats reproduces the training-time encoding exactly;
 * `implausibleValue` names a value whose encoding would leave the range a model can take.
 */
import type { RawValue } from './cells.js';
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

/**
 * Bounds on an encoded lab value. A standardised training value lies within sqrt(n - 1) standard
 * deviations of the training mean, so the z-score bound only refuses a training value with over a
 * million training patients; beyond it a value is a typo or a unit error (1e200 for a CRP), and
 * its square overflows float32 in any normalisation layer. Unscaled values get an absolute bound
 * for the same reason.
 */
export const PLAUSIBLE = { maxStandardScore: 1000, maxMinmaxRanges: 1000, maxUnscaled: 1e6 } as const;

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Why a raw value of a number or binary field cannot be fed to a model after encoding with
 * `stats`, or undefined when it can: it must be finite in float32 and inside the field's plausible
 * range (PLAUSIBLE), measured in the units of the field's last scaling transform.
 */
export function implausibleValue(field: FieldSpec, stats: OneFieldStats, raw: RawValue): string | undefined {
  if (field.type.kind === 'category') return undefined;
  const x = raw === null ? Number(stats.fill ?? 0) : (raw as number);
  const shown = raw === null ? `the fill value ${x} of a missing cell` : `${x}`;
  let v = x;
  let scaled: string | undefined;
  let score = 0;
  for (const t of stats.transforms) {
    if (t.kind === 'log1p') v = Math.log1p(v);
    else if (t.kind === 'standardize') {
      v = (v - t.mean) / t.std;
      scaled = 'standardize';
      score = Math.abs(v);
    } else {
      const span = t.max - t.min > 1e-12 ? t.max - t.min : 1;
      v = (v - t.min) / span;
      scaled = 'minmax';
      score = v < 0 ? -v : v - 1;
    }
    // Once a value has overflowed, later steps only hide it (Infinity - Infinity = NaN).
    if (!Number.isFinite(v)) break;
  }
  const after = field.transforms.length ? ` after ${field.transforms.join(', ')}` : '';
  if (!Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX)
    return `${shown} is not a finite 32-bit number${after}; it would turn into infinity or NaN in the model`;
  if (scaled === 'standardize' && score > PLAUSIBLE.maxStandardScore)
    return (
      `${shown} lies ${score.toPrecision(3)} standard deviations from the training mean${after} ` +
      `(more than ${PLAUSIBLE.maxStandardScore} is taken for a typo or a unit error)`
    );
  if (scaled === 'minmax' && score > PLAUSIBLE.maxMinmaxRanges)
    return (
      `${shown} lies ${score.toPrecision(3)} training ranges outside the training minimum and maximum${after} ` +
      `(more than ${PLAUSIBLE.maxMinmaxRanges} is taken for a typo or a unit error)`
    );
  if (scaled === undefined && Math.abs(v) > PLAUSIBLE.maxUnscaled)
    return (
      `${shown} encodes to ${v.toPrecision(3)}${after}, beyond +-${PLAUSIBLE.maxUnscaled} for an unscaled column ` +
      '(add standardize, minmax or log1p to the field, or check the unit)'
    );
  return undefined;
}

/**
 * Why a field's fitted statistics cannot encode anything, or undefined: a training value so large
 * that its mean, deviation or range is not finite (1e200 squared is infinity), which would encode
 * every patient to 0 or NaN.
 */
export function implausibleStats(stats: OneFieldStats): string | undefined {
  const numbers = [
    ...(typeof stats.fill === 'number' ? [stats.fill] : []),
    ...stats.transforms.flatMap((t) =>
      t.kind === 'standardize' ? [t.mean, t.std] : t.kind === 'minmax' ? [t.min, t.max, t.max - t.min] : [],
    ),
  ];
  if (numbers.every((n) => Number.isFinite(n) && Math.abs(n) <= FLOAT32_MAX)) return undefined;
  return 'the training values are too large to encode (their mean, deviation or range is not a finite number)';
}
