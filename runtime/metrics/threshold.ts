/**
 * Choosing the operating threshold on the validation split.
 * In: validation labels and scores and a rule. Out: a threshold (one of the distinct scores;
 * cases with score >= threshold are called positive) with the sensitivity and specificity it
 * achieves there. Holds afterwards: the same threshold is then applied unchanged to the test
 * split, so test metrics are never tuned on test data.
 */
import { MetricInputError } from './binary.js';
import { rocCurve } from './roc.js';

export type ThresholdRule =
  /** Maximise Youden's J = sensitivity + specificity - 1. */
  | { readonly kind: 'youden' }
  /** The highest threshold (so the best specificity) whose sensitivity is at least `min`. */
  | { readonly kind: 'sensitivity'; readonly min: number }
  /** The lowest threshold (so the best sensitivity) whose specificity is at least `min`. */
  | { readonly kind: 'specificity'; readonly min: number }
  /** A declared threshold, e.g. 0.5. */
  | { readonly kind: 'fixed'; readonly value: number };

export interface ThresholdChoice {
  readonly threshold: number;
  readonly rule: ThresholdRule;
  /** Sensitivity and specificity on the data the threshold was chosen on. */
  readonly sensitivity: number;
  readonly specificity: number;
  /** Youden's J at the chosen threshold. */
  readonly j: number;
}

export function describeRule(rule: ThresholdRule): string {
  switch (rule.kind) {
    case 'youden':
      return "Youden's J (max sensitivity + specificity - 1)";
    case 'sensitivity':
      return `sensitivity >= ${rule.min}`;
    case 'specificity':
      return `specificity >= ${rule.min}`;
    case 'fixed':
      return `fixed ${rule.value}`;
  }
}

/**
 * Picks a threshold on (validation) labels and scores. Candidates are the distinct scores; among
 * equally good candidates the higher threshold wins (fewer positive calls). Throws
 * MetricInputError when a class is missing or no candidate meets a constraint.
 */
export function selectThreshold(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  rule: ThresholdRule = { kind: 'youden' },
): ThresholdChoice {
  if ((rule.kind === 'sensitivity' || rule.kind === 'specificity') && !(rule.min >= 0 && rule.min <= 1)) {
    throw new MetricInputError(`${rule.kind} target must be in [0, 1], got ${rule.min}`);
  }
  const points = rocCurve(labels, scores).slice(1);
  const choose = (p: { fpr: number; tpr: number; threshold: number }): ThresholdChoice => ({
    threshold: p.threshold,
    rule,
    sensitivity: p.tpr,
    specificity: 1 - p.fpr,
    j: p.tpr - p.fpr,
  });
  switch (rule.kind) {
    case 'fixed': {
      if (!Number.isFinite(rule.value)) throw new MetricInputError(`fixed threshold must be finite, got ${rule.value}`);
      // Rates at the fixed value: the last ROC point whose threshold is >= value.
      let at = { fpr: 0, tpr: 0, threshold: rule.value };
      for (const p of points) if (p.threshold >= rule.value) at = { ...p, threshold: rule.value };
      return choose(at);
    }
    case 'youden': {
      let best = points[0]!;
      for (const p of points) if (p.tpr - p.fpr > best.tpr - best.fpr) best = p;
      return choose(best);
    }
    case 'sensitivity': {
      // Points run from high to low threshold with non-decreasing sensitivity.
      const p = points.find((q) => q.tpr >= rule.min);
      if (!p) throw new MetricInputError(`no threshold reaches sensitivity ${rule.min}`);
      return choose(p);
    }
    case 'specificity': {
      let chosen: (typeof points)[number] | undefined;
      for (const p of points) if (1 - p.fpr >= rule.min) chosen = p;
      if (!chosen) throw new MetricInputError(`no threshold reaches specificity ${rule.min}`);
      return choose(chosen);
    }
  }
}
