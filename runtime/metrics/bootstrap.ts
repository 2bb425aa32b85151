/**
 * Bootstrap confidence intervals for patient-level metrics.
 * In: per-patient labels and scores, a statistic, a seeded Rng, a resample count and level.
 * Out: percentile-method bounds. Holds afterwards: each resample draws, with replacement, as
 * many positives as there are positives and as many negatives as negatives (stratified), so
 * every resample has both classes and AUC is always defined; the result is a pure function of
 * the inputs and the Rng's state, so one seed gives one interval.
 */
import type { Rng } from '../module.js';
import { checkBinaryInputs, degenerateReason, MetricInputError } from './binary.js';
import { aucFromGroupCounts, groupScores } from './roc.js';

export interface BootstrapOptions {
  /** Seeded random source, e.g. `createRng(seed).fork('bootstrap')`. */
  readonly rng: Rng;
  /** Number of resamples; default 1000. */
  readonly resamples?: number;
  /** Confidence level; default 0.95. */
  readonly level?: number;
}

export interface ConfidenceInterval {
  /** The statistic on the original sample. */
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  readonly level: number;
  readonly method: 'bootstrap-percentile' | 'delong';
  /** Resamples whose statistic was finite and used for the bounds. */
  readonly resamples: number;
  /** Set when the interval is NaN: why it could not be computed. */
  readonly reason?: string;
}

/** Linear-interpolation quantile of sorted values (the "type 7" definition). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return (sorted[lo] as number) + (h - lo) * ((sorted[hi] as number) - (sorted[lo] as number));
}

function checkOptions(options: BootstrapOptions): { resamples: number; level: number } {
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new MetricInputError(`bootstrap resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new MetricInputError(`confidence level must be in (0, 1), got ${level}`);
  return { resamples, level };
}

function classIndices(labels: ArrayLike<number>): { pos: Int32Array; neg: Int32Array } {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i] === 1 ? pos : neg).push(i);
  return { pos: Int32Array.from(pos), neg: Int32Array.from(neg) };
}

function draw(rng: Rng, n: number): number {
  // uniform() < 1, so the index is < n; the min guards a generator that returns exactly 1.
  return Math.min(n - 1, Math.floor(rng.uniform() * n));
}

function percentileInterval(estimate: number, values: Float64Array, level: number): ConfidenceInterval {
  const finite = values.filter((v) => Number.isFinite(v)).sort();
  const alpha = 1 - level;
  if (finite.length === 0) {
    return {
      estimate,
      lower: Number.NaN,
      upper: Number.NaN,
      level,
      method: 'bootstrap-percentile',
      resamples: 0,
      reason: 'no resample gave a finite value',
    };
  }
  return {
    estimate,
    lower: quantileSorted(finite, alpha / 2),
    upper: quantileSorted(finite, 1 - alpha / 2),
    level,
    method: 'bootstrap-percentile',
    resamples: finite.length,
  };
}

function degenerate(estimate: number, level: number, reason: string): ConfidenceInterval {
  return {
    estimate,
    lower: Number.NaN,
    upper: Number.NaN,
    level,
    method: 'bootstrap-percentile',
    resamples: 0,
    reason,
  };
}

/**
 * Percentile bootstrap CI of the ROC AUC, resampling patients stratified by class. Each
 * resample is O(n) (weights on pre-sorted score groups), so 1000 resamples of 500 patients
 * take milliseconds.
 */
export function bootstrapAucCi(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  options: BootstrapOptions,
): ConfidenceInterval {
  const { resamples, level } = checkOptions(options);
  const groups = groupScores(labels, scores);
  const estimate = aucFromGroupCounts(groups.positives, groups.negatives);
  const reason = degenerateReason(groups.totalPositives, groups.totalNegatives);
  if (reason) return degenerate(estimate, level, reason);
  const { pos, neg } = classIndices(labels);
  const G = groups.scores.length;
  const posW = new Float64Array(G);
  const negW = new Float64Array(G);
  const values = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    posW.fill(0);
    negW.fill(0);
    for (let k = 0; k < pos.length; k++) posW[groups.groupOf[pos[draw(options.rng, pos.length)]!]!]! += 1;
    for (let k = 0; k < neg.length; k++) negW[groups.groupOf[neg[draw(options.rng, neg.length)]!]!]! += 1;
    values[r] = aucFromGroupCounts(posW, negW);
  }
  return percentileInterval(estimate, values, level);
}

/**
 * Percentile bootstrap CI of any statistic of (labels, scores), e.g. accuracy or sensitivity at
 * a fixed threshold, with the same stratified patient resampling as `bootstrapAucCi`.
 * Resamples where the statistic is NaN are left out and counted in `resamples`.
 */
export function bootstrapCi(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  statistic: (labels: Float64Array, scores: Float64Array) => number,
  options: BootstrapOptions,
): ConfidenceInterval {
  const { resamples, level } = checkOptions(options);
  const counts = checkBinaryInputs(labels, scores);
  const estimate = statistic(
    Float64Array.from(labels as ArrayLike<number>),
    Float64Array.from(scores as ArrayLike<number>),
  );
  const reason = degenerateReason(counts.positives, counts.negatives);
  if (reason) return degenerate(estimate, level, reason);
  const { pos, neg } = classIndices(labels);
  const n = labels.length;
  const ys = new Float64Array(n);
  const ss = new Float64Array(n);
  const values = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let k = 0;
    for (let j = 0; j < pos.length; j++, k++) {
      const i = pos[draw(options.rng, pos.length)]!;
      ys[k] = 1;
      ss[k] = scores[i] as number;
    }
    for (let j = 0; j < neg.length; j++, k++) {
      const i = neg[draw(options.rng, neg.length)]!;
      ys[k] = 0;
      ss[k] = scores[i] as number;
    }
    values[r] = statistic(ys, ss);
  }
  return percentileInterval(estimate, values, level);
}

export type RateName = 'accuracy' | 'sensitivity' | 'specificity' | 'ppv' | 'npv';

/**
 * Percentile bootstrap CIs of accuracy, sensitivity, specificity, PPV and NPV at a fixed
 * threshold (chosen beforehand on validation, so not re-tuned per resample), all from one
 * stratified patient resampling pass. A rate undefined in a resample (PPV with no positive
 * calls) leaves that resample out of its interval.
 */
export function bootstrapRateCis(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
  options: BootstrapOptions,
): Record<RateName, ConfidenceInterval> {
  const { resamples, level } = checkOptions(options);
  const counts = checkBinaryInputs(labels, scores);
  const { pos, neg } = classIndices(labels);
  const called = (i: number): boolean => (scores[i] as number) >= threshold;
  const rates = (tp: number, fp: number, tn: number, fn: number): Record<RateName, number> => {
    const r = (a: number, b: number): number => (b === 0 ? Number.NaN : a / b);
    return {
      accuracy: r(tp + tn, tp + fp + tn + fn),
      sensitivity: r(tp, tp + fn),
      specificity: r(tn, tn + fp),
      ppv: r(tp, tp + fp),
      npv: r(tn, tn + fn),
    };
  };
  const posCalled = Array.from(pos, called);
  const negCalled = Array.from(neg, called);
  const tp0 = posCalled.filter(Boolean).length;
  const fp0 = negCalled.filter(Boolean).length;
  const estimate = rates(tp0, fp0, neg.length - fp0, pos.length - tp0);
  const names: RateName[] = ['accuracy', 'sensitivity', 'specificity', 'ppv', 'npv'];
  const reason = degenerateReason(counts.positives, counts.negatives);
  if (reason)
    return Object.fromEntries(names.map((n) => [n, degenerate(estimate[n], level, reason)])) as Record<
      RateName,
      ConfidenceInterval
    >;
  const values = Object.fromEntries(names.map((n) => [n, new Float64Array(resamples)])) as Record<
    RateName,
    Float64Array
  >;
  for (let r = 0; r < resamples; r++) {
    let tp = 0;
    let fp = 0;
    for (let k = 0; k < pos.length; k++) tp += posCalled[draw(options.rng, pos.length)] ? 1 : 0;
    for (let k = 0; k < neg.length; k++) fp += negCalled[draw(options.rng, neg.length)] ? 1 : 0;
    const rr = rates(tp, fp, neg.length - fp, pos.length - tp);
    for (const n of names) values[n][r] = rr[n];
  }
  return Object.fromEntries(names.map((n) => [n, percentileInterval(estimate[n], values[n], level)])) as Record<
    RateName,
    ConfidenceInterval
  >;
}

/** A paired comparison of two models' AUCs on the same patients. */
export interface PairedAucDifference {
  /** AUC of model A and of model B on the original sample. */
  readonly aucA: number;
  readonly aucB: number;
  /** CI of AUC(A) - AUC(B); `estimate` = aucA - aucB. */
  readonly difference: ConfidenceInterval;
  /**
   * Two-sided bootstrap p-value of "no difference": twice the smaller share of resamples on
   * either side of 0 (ties count half), at least 1 / resamples.
   */
  readonly pValue: number;
}

/**
 * Percentile bootstrap CI of AUC(A) - AUC(B) for two models scored on the same patients:
 * each resample draws patients (stratified by class, as `bootstrapAucCi`) and evaluates both
 * models on that same draw, so the patients' shared difficulty cancels and the interval is
 * much narrower than the two separate intervals suggest.
 */
export function pairedBootstrapAucDifference(
  labels: ArrayLike<number>,
  scoresA: ArrayLike<number>,
  scoresB: ArrayLike<number>,
  options: BootstrapOptions,
): PairedAucDifference {
  const { resamples, level } = checkOptions(options);
  if (scoresA.length !== labels.length || scoresB.length !== labels.length) {
    throw new MetricInputError(
      `paired scores need one score per patient from each model: ${labels.length} labels, ${scoresA.length} ` +
        `and ${scoresB.length} scores`,
    );
  }
  const a = groupScores(labels, scoresA);
  const b = groupScores(labels, scoresB);
  const aucA = aucFromGroupCounts(a.positives, a.negatives);
  const aucB = aucFromGroupCounts(b.positives, b.negatives);
  const estimate = aucA - aucB;
  const reason = degenerateReason(a.totalPositives, a.totalNegatives);
  if (reason) return { aucA, aucB, difference: degenerate(estimate, level, reason), pValue: Number.NaN };
  const { pos, neg } = classIndices(labels);
  const posA = new Float64Array(a.scores.length);
  const negA = new Float64Array(a.scores.length);
  const posB = new Float64Array(b.scores.length);
  const negB = new Float64Array(b.scores.length);
  const values = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    posA.fill(0);
    negA.fill(0);
    posB.fill(0);
    negB.fill(0);
    for (let k = 0; k < pos.length; k++) {
      const i = pos[draw(options.rng, pos.length)]!;
      posA[a.groupOf[i]!]! += 1;
      posB[b.groupOf[i]!]! += 1;
    }
    for (let k = 0; k < neg.length; k++) {
      const i = neg[draw(options.rng, neg.length)]!;
      negA[a.groupOf[i]!]! += 1;
      negB[b.groupOf[i]!]! += 1;
    }
    values[r] = aucFromGroupCounts(posA, negA) - aucFromGroupCounts(posB, negB);
  }
  let below = 0;
  let above = 0;
  for (const v of values) {
    if (v < 0) below += 1;
    else if (v > 0) above += 1;
    else {
      below += 0.5;
      above += 0.5;
    }
  }
  const pValue = Math.min(1, Math.max(1 / resamples, (2 * Math.min(below, above)) / resamples));
  return { aucA, aucB, difference: percentileInterval(estimate, values, level), pValue };
}
