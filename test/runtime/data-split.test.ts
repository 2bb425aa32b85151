import { describe, expect, it } from 'vitest';
import { splitPatients } from '../../runtime/data/split.js';
import type { SplitSpec } from '../../runtime/data/spec.js';

// The paper's cohort: 221 positive, 268 negative, in a scrambled order.
const LABELS: number[] = Array.from({ length: 489 }, (_, i) => ((i * 7919) % 489 < 221 ? 1 : 0));
const HOLDOUT: SplitSpec = { by: 'patient_id', train: 0.7, val: 0.1, test: 0.2, stratified: true, seed: 7 };

function positives(ids: readonly number[]): number {
  return ids.filter((i) => LABELS[i] === 1).length;
}

function expectPartition(parts: readonly (readonly number[])[], n: number): void {
  const all = parts.flat();
  expect(new Set(all).size).toBe(all.length); // no patient in two splits
  expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
}

function expectRatioKept(ids: readonly number[]): void {
  const overall = 221 / 489;
  expect(Math.abs(positives(ids) - ids.length * overall)).toBeLessThanOrEqual(1);
}

describe('patient-level splits', () => {
  it('train/val/test: disjoint, complete, sized by fraction, class ratio within one patient', () => {
    expect(LABELS.filter((y) => y === 1)).toHaveLength(221);
    for (const seed of [1, 7, 12345]) {
      const s = splitPatients(LABELS, { ...HOLDOUT, seed });
      expectPartition([s.train, s.val, s.test], 489);
      for (const part of [s.train, s.val, s.test]) expectRatioKept(part);
      expect(Math.abs(s.train.length - 0.7 * 489)).toBeLessThanOrEqual(2);
      expect(Math.abs(s.val.length - 0.1 * 489)).toBeLessThanOrEqual(2);
      expect(Math.abs(s.test.length - 0.2 * 489)).toBeLessThanOrEqual(2);
    }
  });

  it('is deterministic by seed and changes with it', () => {
    expect(splitPatients(LABELS, HOLDOUT)).toEqual(splitPatients(LABELS, HOLDOUT));
    expect(splitPatients(LABELS, { ...HOLDOUT, seed: 8 }).test).not.toEqual(splitPatients(LABELS, HOLDOUT).test);
  });

  it('unstratified splits still partition the patients', () => {
    const s = splitPatients(LABELS, { ...HOLDOUT, stratified: false });
    expectPartition([s.train, s.val, s.test], 489);
    expect(s.test.length).toBe(98);
  });

  it('k-fold: every fold partitions, test folds tile the cohort, ratios kept', () => {
    const k = 5;
    const testFolds: number[][] = [];
    for (let fold = 0; fold < k; fold++) {
      const s = splitPatients(LABELS, { ...HOLDOUT, kfold: { k, fold } });
      expectPartition([s.train, s.val, s.test], 489);
      for (const part of [s.train, s.val, s.test]) expectRatioKept(part);
      expect([97, 98]).toContain(s.test.length);
      // val is val / (train + val) = 1/8 of the non-test patients.
      expect(Math.abs(s.val.length - (489 - s.test.length) / 8)).toBeLessThanOrEqual(2);
      testFolds.push([...s.test]);
      expect(splitPatients(LABELS, { ...HOLDOUT, kfold: { k, fold } })).toEqual(s);
    }
    expectPartition(testFolds, 489);
  });

  it('refuses impossible split settings', () => {
    expect(() => splitPatients(LABELS, { ...HOLDOUT, kfold: { k: 5, fold: 5 } })).toThrow(
      /fold must be an integer in 0..4/,
    );
    expect(() => splitPatients(LABELS, { ...HOLDOUT, train: -1 })).toThrow(/train must be a number >= 0/);
  });
});
