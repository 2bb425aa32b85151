/**
 * Per-patient pooling of per-image probabilities.
 * In: one row per image (patient id, label, probability of the positive class) and a pooling
 * method. Out: one row per patient, in order of first appearance. Holds afterwards: every
 * patient metric (AUC, accuracy, threshold, bootstrap) is computed on these rows, so a patient
 * with four radiographs counts once; a patient whose images disagree on the label is an error
 * naming the patient.
 */
import { MetricInputError } from './binary.js';

/** `max` is what the paper's baselines use (max over a patient's images). */
export type PoolingMethod =
  | 'mean'
  | 'max'
  | 'min'
  | 'median'
  | 'noisy-or'
  | ((probabilities: readonly number[]) => number);

export interface PatientScores {
  readonly patientIds: string[];
  readonly labels: number[];
  readonly scores: number[];
  /** Number of images pooled for each patient. */
  readonly imageCounts: number[];
}

function poolValues(values: number[], method: PoolingMethod): number {
  if (typeof method === 'function') return method(values);
  switch (method) {
    case 'mean':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'max':
      return Math.max(...values);
    case 'min':
      return Math.min(...values);
    case 'median': {
      const s = [...values].sort((a, b) => a - b);
      const mid = s.length >> 1;
      return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    }
    case 'noisy-or':
      // The patient is positive unless every image is negative, images taken as independent.
      return 1 - values.reduce((acc, p) => acc * (1 - p), 1);
  }
}

export function poolByPatient(
  patientIds: readonly string[],
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  method: PoolingMethod = 'mean',
): PatientScores {
  if (patientIds.length !== labels.length || labels.length !== probabilities.length) {
    throw new MetricInputError(
      `patient ids, labels and probabilities differ in length (${patientIds.length}, ${labels.length}, ` +
        `${probabilities.length})`,
    );
  }
  const groups = new Map<string, { label: number; values: number[] }>();
  for (let i = 0; i < patientIds.length; i++) {
    const id = patientIds[i]!;
    const label = labels[i] as number;
    const p = probabilities[i] as number;
    if (!Number.isFinite(p)) throw new MetricInputError(`probability for patient '${id}' (row ${i}) is ${p}`);
    const g = groups.get(id);
    if (!g) groups.set(id, { label, values: [p] });
    else {
      if (g.label !== label)
        throw new MetricInputError(`patient '${id}' has images with different labels (${g.label} and ${label})`);
      g.values.push(p);
    }
  }
  const out: PatientScores = { patientIds: [], labels: [], scores: [], imageCounts: [] };
  for (const [id, g] of groups) {
    const pooled = poolValues(g.values, method);
    if (!Number.isFinite(pooled)) throw new MetricInputError(`pooling gave ${pooled} for patient '${id}'`);
    out.patientIds.push(id);
    out.labels.push(g.label);
    out.scores.push(pooled);
    out.imageCounts.push(g.values.length);
  }
  return out;
}
