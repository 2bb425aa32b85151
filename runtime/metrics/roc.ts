/**
 * ROC analysis: area under the curve by the rank (Mann-Whitney) statistic and the curve itself.
 * In: 0/1 labels and finite scores. Out: AUC, ROC points, and DeLong's variance. Holds
 * afterwards: AUC = P(score_pos > score_neg) + 1/2 P(score_pos = score_neg); the numerator is a
 * sum of half-integers (exact in float64 below 2^52) so the only rounding is one division,
 * and the trapezoid area under `rocCurve` equals `rocAuc` up to float summation error. With one
 * class only, AUC is NaN and `aucUndefinedReason` says why.
 */
import { checkBinaryInputs, degenerateReason, MetricInputError } from './binary.js';

/** Cases grouped by distinct score, highest score first, with class counts per group. */
export interface ScoreGroups {
  /** Distinct scores, descending. */
  readonly scores: Float64Array;
  /** Number of positive cases at each distinct score. */
  readonly positives: Float64Array;
  /** Number of negative cases at each distinct score. */
  readonly negatives: Float64Array;
  /** For each input case, the index of its group. */
  readonly groupOf: Int32Array;
  readonly totalPositives: number;
  readonly totalNegatives: number;
}

export function groupScores(labels: ArrayLike<number>, scores: ArrayLike<number>): ScoreGroups {
  const { positives, negatives } = checkBinaryInputs(labels, scores);
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  const distinct: number[] = [];
  const pos: number[] = [];
  const neg: number[] = [];
  const groupOf = new Int32Array(n);
  for (const i of order) {
    const s = scores[i] as number;
    if (distinct.length === 0 || distinct[distinct.length - 1] !== s) {
      distinct.push(s);
      pos.push(0);
      neg.push(0);
    }
    const g = distinct.length - 1;
    groupOf[i] = g;
    if (labels[i] === 1) pos[g]! += 1;
    else neg[g]! += 1;
  }
  return {
    scores: Float64Array.from(distinct),
    positives: Float64Array.from(pos),
    negatives: Float64Array.from(neg),
    groupOf,
    totalPositives: positives,
    totalNegatives: negatives,
  };
}

/**
 * AUC from grouped (optionally weighted) counts: walk groups from the lowest score up, counting
 * for each positive the negatives strictly below plus half of those tied with it.
 */
export function aucFromGroupCounts(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  let negativesBelow = 0;
  let numerator = 0;
  let totalPos = 0;
  for (let g = positives.length - 1; g >= 0; g--) {
    const p = positives[g] as number;
    const q = negatives[g] as number;
    numerator += p * negativesBelow + 0.5 * p * q;
    negativesBelow += q;
    totalPos += p;
  }
  const denominator = totalPos * negativesBelow;
  return denominator === 0 ? Number.NaN : numerator / denominator;
}

/** Why AUC is undefined for these labels (one class only), or undefined when it is defined. */
export function aucUndefinedReason(labels: ArrayLike<number>): string | undefined {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  return degenerateReason(positives, labels.length - positives);
}

/** ROC AUC with ties counted 1/2; NaN (see `aucUndefinedReason`) when a class is missing. */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const groups = groupScores(labels, scores);
  return aucFromGroupCounts(groups.positives, groups.negatives);
}

export interface RocPoint {
  /** False-positive rate, 1 - specificity. */
  readonly fpr: number;
  /** True-positive rate, sensitivity. */
  readonly tpr: number;
  /** Cases with score >= threshold are called positive; +Infinity for the (0,0) point. */
  readonly threshold: number;
}

/**
 * The ROC curve with one point per distinct score (tied scores move the curve in one diagonal
 * step), from (0,0) at threshold +Infinity to (1,1) at the lowest score. Throws
 * MetricInputError when a class is missing: the rates would divide by zero.
 */
export function rocCurve(labels: ArrayLike<number>, scores: ArrayLike<number>): RocPoint[] {
  const groups = groupScores(labels, scores);
  const reason = degenerateReason(groups.totalPositives, groups.totalNegatives);
  if (reason) throw new MetricInputError(`ROC curve undefined: ${reason}`);
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Number.POSITIVE_INFINITY }];
  let tp = 0;
  let fp = 0;
  for (let g = 0; g < groups.scores.length; g++) {
    tp += groups.positives[g] as number;
    fp += groups.negatives[g] as number;
    points.push({
      fpr: fp / groups.totalNegatives,
      tpr: tp / groups.totalPositives,
      threshold: groups.scores[g] as number,
    });
  }
  return points;
}

/** Area under a piecewise-linear curve through the points, in the order given. */
export function trapezoidArea(points: readonly { readonly fpr: number; readonly tpr: number }[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    area += (b.fpr - a.fpr) * (a.tpr + b.tpr) * 0.5;
  }
  return area;
}

export interface DelongResult {
  readonly auc: number;
  /** Estimated variance of the AUC (DeLong, DeLong & Clarke-Pearson 1988). */
  readonly variance: number;
  readonly lower: number;
  readonly upper: number;
  readonly level: number;
}

/**
 * DeLong's asymptotic CI for one AUC: the variance comes from the per-case structural
 * components V10 (each positive's share of negatives it outranks) and V01 (each negative's share
 * of positives outranking it); bounds are clipped to [0, 1]. NaN bounds when a class is missing
 * or a class has a single case (its sample variance is undefined).
 */
export function delongCi(labels: ArrayLike<number>, scores: ArrayLike<number>, level = 0.95): DelongResult {
  if (!(level > 0 && level < 1)) throw new MetricInputError(`confidence level must be in (0, 1), got ${level}`);
  const groups = groupScores(labels, scores);
  const m = groups.totalPositives;
  const n = groups.totalNegatives;
  const auc = aucFromGroupCounts(groups.positives, groups.negatives);
  if (m < 2 || n < 2) return { auc, variance: Number.NaN, lower: Number.NaN, upper: Number.NaN, level };
  // For each group: negatives strictly below it and positives strictly above it.
  const G = groups.scores.length;
  const negBelow = new Float64Array(G);
  const posAbove = new Float64Array(G);
  let acc = 0;
  for (let g = G - 1; g >= 0; g--) {
    negBelow[g] = acc;
    acc += groups.negatives[g] as number;
  }
  acc = 0;
  for (let g = 0; g < G; g++) {
    posAbove[g] = acc;
    acc += groups.positives[g] as number;
  }
  // V10 for a positive in group g = (negBelow + negTied/2)/n; identical within a group.
  let sum10 = 0;
  let sumSq10 = 0;
  let sum01 = 0;
  let sumSq01 = 0;
  for (let g = 0; g < G; g++) {
    const p = groups.positives[g] as number;
    const q = groups.negatives[g] as number;
    const v10 = ((negBelow[g] as number) + 0.5 * q) / n;
    const v01 = ((posAbove[g] as number) + 0.5 * p) / m;
    sum10 += p * v10;
    sumSq10 += p * v10 * v10;
    sum01 += q * v01;
    sumSq01 += q * v01 * v01;
  }
  const s10 = (sumSq10 - (sum10 * sum10) / m) / (m - 1);
  const s01 = (sumSq01 - (sum01 * sum01) / n) / (n - 1);
  const variance = Math.max(0, s10 / m + s01 / n);
  const z = normalQuantile(0.5 + level / 2);
  const half = z * Math.sqrt(variance);
  return { auc, variance, lower: Math.max(0, auc - half), upper: Math.min(1, auc + half), level };
}

/**
 * Inverse of the standard normal CDF by a rational approximation on three regions (central and
 * two tails); relative error below 1.2e-9, ample for confidence-interval multipliers.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY;
    if (p === 1) return Number.POSITIVE_INFINITY;
    return Number.NaN;
  }
  const a = [
    -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
    2.506628277459239,
  ];
  const b = [
    -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
  ];
  const c = [
    -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
      (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x =
      -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  return x;
}
