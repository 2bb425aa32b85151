/**
 * Patient-level splits: train/val/test by fractions, or k-fold cross-validation.
 * In: each patient's class index and a SplitSpec. Out: three disjoint, sorted lists of
 * patient indices that together cover every patient.
 * Holds afterwards: a patient is in exactly one split; with `stratified`, every class is
 * divided on its own, so each split's count of a class is the class size times the split's
 * fraction, rounded (within one patient); the result is a pure function of (labels, spec):
 * shuffles come from createRng(seed).fork('split/...').
 */
import { createRng, shuffle } from '../rng.js';
import type { SplitSpec } from './spec.js';

export type SplitName = 'train' | 'val' | 'test';

export interface Splits {
  readonly train: readonly number[];
  readonly val: readonly number[];
  readonly test: readonly number[];
}

/** Cuts `n` items into counts proportional to `fractions`, by largest remainder. */
function apportion(n: number, fractions: readonly number[]): number[] {
  const total = fractions.reduce((a, b) => a + b, 0);
  const exact = fractions.map((f) => (total > 0 ? (n * f) / total : 0));
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  return counts;
}

/** Patient indices grouped by class (or one group when not stratified), each shuffled. */
function groups(labels: readonly number[], spec: SplitSpec, purpose: string): number[][] {
  const rng = createRng(spec.seed).fork(`split/${purpose}`);
  const byClass = new Map<number, number[]>();
  labels.forEach((c, i) => {
    const key = spec.stratified ? c : 0;
    if (!byClass.has(key)) byClass.set(key, []);
    byClass.get(key)!.push(i);
  });
  return [...byClass.keys()].sort((a, b) => a - b).map((k) => shuffle(rng.fork(`class/${k}`), byClass.get(k)!));
}

export function validateSplitSpec(spec: SplitSpec): string[] {
  const problems: string[] = [];
  for (const k of ['train', 'val', 'test'] as const)
    if (!(spec[k] >= 0) || !Number.isFinite(spec[k]))
      problems.push(`split fraction ${k} must be a number >= 0, got ${spec[k]}`);
  if (spec.kfold) {
    const { k, fold } = spec.kfold;
    if (!Number.isInteger(k) || k < 2) problems.push(`kfold k must be an integer >= 2, got ${k}`);
    if (!Number.isInteger(fold) || fold < 0 || fold >= k)
      problems.push(`kfold fold must be an integer in 0..${k - 1}, got ${fold}`);
    if (!(spec.train > 0))
      problems.push('kfold needs a train fraction > 0 (val is drawn as val / (train + val) of the non-test folds)');
  } else if (!(spec.train + spec.val + spec.test > 0)) problems.push('split fractions must not all be zero');
  return problems;
}

export function splitPatients(labels: readonly number[], spec: SplitSpec): Splits {
  const problems = validateSplitSpec(spec);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const train: number[] = [];
  const val: number[] = [];
  const test: number[] = [];
  if (!spec.kfold) {
    for (const members of groups(labels, spec, 'holdout')) {
      const [nTrain, nVal] = apportion(members.length, [spec.train, spec.val, spec.test]);
      train.push(...members.slice(0, nTrain));
      val.push(...members.slice(nTrain, nTrain + nVal!));
      test.push(...members.slice(nTrain + nVal!));
    }
  } else {
    const { k, fold } = spec.kfold;
    // Deal every class round-robin into k folds, continuing the turn across classes so the
    // folds' sizes differ by at most one.
    let turn = 0;
    const rest: number[][] = [];
    for (const members of groups(labels, spec, `kfold/${k}`)) {
      const kept: number[] = [];
      for (const p of members) {
        if (turn % k === fold) test.push(p);
        else kept.push(p);
        turn++;
      }
      rest.push(kept);
    }
    const valRng = createRng(spec.seed).fork(`split/kfold/${k}/val/${fold}`);
    rest.forEach((kept, c) => {
      const order = shuffle(valRng.fork(`class/${c}`), kept);
      const [nTrain] = apportion(order.length, [spec.train, spec.val]);
      train.push(...order.slice(0, nTrain));
      val.push(...order.slice(nTrain));
    });
  }
  const byIndex = (a: number, b: number): number => a - b;
  return { train: train.sort(byIndex), val: val.sort(byIndex), test: test.sort(byIndex) };
}
