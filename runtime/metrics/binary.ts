/**
 * Threshold metrics for binary classification.
 * In: labels (0 = negative, 1 = positive) and scores (probabilities of the positive class),
 * plus a threshold. Out: a confusion matrix and the rates derived from it. Holds afterwards: a
 * case is predicted positive exactly when `score >= threshold`; a rate whose denominator is
 * zero is NaN (never Infinity, never a throw), because a small validation split can lack a
 * class and the trainer must keep going and say why.
 */

/** Raised for inputs no metric can be computed on (length mismatch, labels not 0/1, NaN scores). */
export class MetricInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricInputError';
  }
}

export interface ConfusionMatrix {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

export interface ThresholdRates {
  readonly accuracy: number;
  /** TP / (TP + FN), also recall / true-positive rate. */
  readonly sensitivity: number;
  /** TN / (TN + FP). */
  readonly specificity: number;
  /** TP / (TP + FP), also precision. */
  readonly ppv: number;
  /** TN / (TN + FN). */
  readonly npv: number;
}

/** Checks that labels are 0/1, scores finite, and lengths agree; returns the class counts. */
export function checkBinaryInputs(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): { positives: number; negatives: number } {
  if (labels.length !== scores.length) {
    throw new MetricInputError(`labels and scores differ in length (${labels.length} vs ${scores.length})`);
  }
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new MetricInputError(`label at index ${i} is ${y}; binary labels must be 0 or 1`);
    if (!Number.isFinite(scores[i]))
      throw new MetricInputError(`score at index ${i} is ${scores[i]}; scores must be finite`);
    positives += y;
  }
  return { positives, negatives: labels.length - positives };
}

export function confusionMatrix(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
): ConfusionMatrix {
  checkBinaryInputs(labels, scores);
  if (Number.isNaN(threshold)) throw new MetricInputError('threshold is NaN');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = (scores[i] as number) >= threshold;
    if (labels[i] === 1) {
      if (predicted) tp++;
      else fn++;
    } else if (predicted) fp++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? Number.NaN : numerator / denominator;
}

export function ratesFromConfusion(cm: ConfusionMatrix): ThresholdRates {
  return {
    accuracy: ratio(cm.tp + cm.tn, cm.tp + cm.tn + cm.fp + cm.fn),
    sensitivity: ratio(cm.tp, cm.tp + cm.fn),
    specificity: ratio(cm.tn, cm.tn + cm.fp),
    ppv: ratio(cm.tp, cm.tp + cm.fp),
    npv: ratio(cm.tn, cm.tn + cm.fn),
  };
}

export function thresholdRates(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
): ThresholdRates {
  return ratesFromConfusion(confusionMatrix(labels, scores, threshold));
}

/** Fraction of cases with `(score >= threshold) === (label === 1)`; NaN for no cases. */
export function accuracy(labels: ArrayLike<number>, scores: ArrayLike<number>, threshold = 0.5): number {
  return ratesFromConfusion(confusionMatrix(labels, scores, threshold)).accuracy;
}

/** Why threshold-free metrics (AUC) are undefined for these labels, or undefined if they are defined. */
export function degenerateReason(positives: number, negatives: number): string | undefined {
  if (positives + negatives === 0) return 'no cases';
  if (positives === 0) return `only negative cases (${negatives}); AUC needs both classes`;
  if (negatives === 0) return `only positive cases (${positives}); AUC needs both classes`;
  return undefined;
}
