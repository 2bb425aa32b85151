/**
 * Patient-level evaluation of one run: the threshold chosen on validation, applied to every split.
 * In: pooled per-patient labels and scores for the validation split and any others (test), a
 * threshold rule, and a seeded Rng for the bootstrap. Out: per split AUC with a 95% CI,
 * accuracy, sensitivity, specificity, PPV, NPV (each with a bootstrap CI at the fixed
 * threshold), the confusion matrix and the ROC curve. Holds
 * afterwards: nothing here throws on a degenerate split (one class only, no patients): the
 * undefined numbers are NaN and `warnings` says why, so a per-epoch evaluation never kills a run.
 */
import type { Rng } from '../module.js';
import {
  confusionMatrix,
  degenerateReason,
  ratesFromConfusion,
  type ConfusionMatrix,
  checkBinaryInputs,
} from './binary.js';
import { bootstrapAucCi, bootstrapRateCis, type ConfidenceInterval, type RateName } from './bootstrap.js';
import { delongCi, rocAuc, rocCurve, type RocPoint } from './roc.js';
import { describeRule, selectThreshold, type ThresholdChoice, type ThresholdRule } from './threshold.js';

export interface SplitScores {
  readonly labels: ArrayLike<number>;
  readonly scores: ArrayLike<number>;
  /** Images pooled per patient, if pooling happened (for the report's n images). */
  readonly imageCounts?: ArrayLike<number>;
}

export interface SplitEvaluation {
  readonly split: string;
  readonly nPatients: number;
  readonly nPositive: number;
  readonly nNegative: number;
  readonly nImages?: number;
  readonly auc: number;
  readonly aucCi: ConfidenceInterval;
  readonly aucDelong?: ConfidenceInterval;
  readonly threshold: number;
  readonly accuracy: number;
  readonly sensitivity: number;
  readonly specificity: number;
  readonly ppv: number;
  readonly npv: number;
  readonly confusion: ConfusionMatrix;
  /** Bootstrap CIs of the threshold rates at the fixed threshold (absent when resamples = 0). */
  readonly rateCis?: Readonly<Record<RateName, ConfidenceInterval>>;
  /** Empty when a class is missing. */
  readonly roc: RocPoint[];
  readonly warnings: string[];
}

export interface EvaluationOptions {
  readonly rng: Rng;
  /** Bootstrap resamples; default 1000. 0 skips the bootstrap (NaN bounds with a reason). */
  readonly resamples?: number;
  readonly level?: number;
  /** Also compute DeLong's asymptotic CI. */
  readonly delong?: boolean;
}

export function evaluateSplit(
  split: string,
  data: SplitScores,
  threshold: number,
  options: EvaluationOptions,
): SplitEvaluation {
  const counts = checkBinaryInputs(data.labels, data.scores);
  const level = options.level ?? 0.95;
  const warnings: string[] = [];
  const reason = degenerateReason(counts.positives, counts.negatives);
  if (reason) warnings.push(`${split}: AUC and ROC undefined: ${reason}`);
  const auc = rocAuc(data.labels, data.scores);
  const resamples = options.resamples ?? 1000;
  const aucCi: ConfidenceInterval =
    resamples === 0
      ? {
          estimate: auc,
          lower: Number.NaN,
          upper: Number.NaN,
          level,
          method: 'bootstrap-percentile',
          resamples: 0,
          reason: 'bootstrap disabled',
        }
      : bootstrapAucCi(data.labels, data.scores, { rng: options.rng, resamples, level });
  let aucDelong: ConfidenceInterval | undefined;
  if (options.delong) {
    const d = delongCi(data.labels, data.scores, level);
    aucDelong = {
      estimate: d.auc,
      lower: d.lower,
      upper: d.upper,
      level,
      method: 'delong',
      resamples: 0,
      ...(Number.isNaN(d.lower) ? { reason: 'DeLong needs at least two cases of each class' } : {}),
    };
  }
  const rateCis =
    resamples === 0
      ? undefined
      : bootstrapRateCis(data.labels, data.scores, threshold, { rng: options.rng.fork('rates'), resamples, level });
  const confusion = confusionMatrix(data.labels, data.scores, threshold);
  const rates = ratesFromConfusion(confusion);
  let nImages: number | undefined;
  if (data.imageCounts) {
    nImages = 0;
    for (let i = 0; i < data.imageCounts.length; i++) nImages += data.imageCounts[i] as number;
  }
  return {
    split,
    nPatients: data.labels.length,
    nPositive: counts.positives,
    nNegative: counts.negatives,
    ...(nImages !== undefined ? { nImages } : {}),
    auc,
    aucCi,
    ...(aucDelong ? { aucDelong } : {}),
    threshold,
    ...rates,
    confusion,
    ...(rateCis ? { rateCis } : {}),
    roc: reason ? [] : rocCurve(data.labels, data.scores),
    warnings,
  };
}

export interface RunEvaluation {
  /** Undefined when the threshold fell back to 0.5 (see warnings). */
  readonly thresholdChoice?: ThresholdChoice;
  readonly threshold: number;
  readonly thresholdRule: string;
  readonly splits: SplitEvaluation[];
  readonly warnings: string[];
}

/**
 * Chooses the threshold on `validation` by `rule` (default Youden's J) and evaluates validation
 * and every other split at it. If the rule cannot be applied on validation (one class only,
 * or an unreachable target) the threshold is 0.5 and a warning says so.
 */
export function evaluateRun(
  splits: { readonly validation: SplitScores } & Readonly<Record<string, SplitScores>>,
  options: EvaluationOptions & { readonly rule?: ThresholdRule },
): RunEvaluation {
  const rule = options.rule ?? { kind: 'youden' };
  const warnings: string[] = [];
  let thresholdChoice: ThresholdChoice | undefined;
  try {
    thresholdChoice = selectThreshold(splits.validation.labels, splits.validation.scores, rule);
  } catch (error) {
    warnings.push(
      `threshold rule ${describeRule(rule)} not applicable on validation (${(error as Error).message}); using 0.5`,
    );
  }
  const threshold = thresholdChoice?.threshold ?? 0.5;
  const evaluated: SplitEvaluation[] = [];
  const names = ['validation', ...Object.keys(splits).filter((k) => k !== 'validation')];
  for (const name of names) {
    const data = splits[name]!;
    const e = evaluateSplit(name, data, threshold, { ...options, rng: options.rng.fork(`bootstrap:${name}`) });
    evaluated.push(e);
    warnings.push(...e.warnings);
  }
  return {
    ...(thresholdChoice ? { thresholdChoice } : {}),
    threshold,
    thresholdRule: thresholdChoice ? describeRule(rule) : 'fixed 0.5 (fallback)',
    splits: evaluated,
    warnings,
  };
}
