/**
 * Evaluation splits without an AUC: a validation or test split that holds one class, or none,
 * gives "AUC n/a" (on validation the threshold falls back to 0.5). Only the training split was
 * checked; now the others are warned about by name, class and count before anything is written
 * (nvcc check prints the warning too). They are warnings, not refusals: a small cohort can give
 * such splits by chance, and training still works. Loaded with a run's statistics (eval,
 * predict) or without labels, nothing is said.
 */
import { describe, expect, it } from 'vitest';
import { checkDataset, loadDataset } from '../../runtime/data/dataset.js';
import { loadTrainingData } from '../../runtime/train/dataset-adapter.js';
import type { TrainSpec } from '../../runtime/train/spec.js';
import { filesSpec, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';

/** Eight patients, four of each class; which split gets whom is fixed by the seed. */
const EIGHT = [
  'patient_id,infected,crp,joint,sex',
  ...Array.from({ length: 8 }, (_, i) => `P${i + 1},${i % 2},${1 + i},${i % 3 ? 'hip' : 'knee'},${i % 2}`),
].join('\n');

async function eight(split: { train: number; val: number; test: number; stratified: boolean; seed?: number }) {
  const dir = await tempDir();
  await writeSmallDataset(dir, `${EIGHT}\n`, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`P${i + 1}`, 1])));
  return filesSpec(dir, { split: { by: 'patient_id', seed: 1, ...split } });
}

/** Unstratified 4/2/2 splits: seed 5 puts two positives in validation, seed 4 two negatives in test. */
const ONE_CLASS_VAL = { train: 0.5, val: 0.25, test: 0.25, stratified: false, seed: 5 };
const ONE_CLASS_TEST = { ...ONE_CLASS_VAL, seed: 4 };

describe('an evaluation split with one class, or none', () => {
  it('is warned about by split, class and count; the data are not refused', async () => {
    // Stratified 4/2/2: validation and test get one patient of each class.
    const balanced = await checkDataset(await eight({ train: 0.5, val: 0.25, test: 0.25, stratified: true }));
    expect(balanced).toEqual({ errors: [], warnings: [] });
    expect(await checkDataset(await eight(ONE_CLASS_VAL))).toEqual({
      errors: [],
      warnings: [
        "the validation split holds only class 'positive' (2 patients): AUC is undefined on it and the decision " +
          'threshold falls back to 0.5; add patients of the other class, or change the split (fractions, seed, ' +
          'stratified = true)',
      ],
    });
    expect(await checkDataset(await eight(ONE_CLASS_TEST))).toEqual({
      errors: [],
      warnings: [
        "the test split holds only class 'negative' (2 patients): AUC is undefined on it; add patients of the " +
          'other class, or change the split (fractions, seed, stratified = true)',
      ],
    });
  });

  it('an empty split is named with the cohort and fractions; a split asked to be empty is not', async () => {
    const spec = await eight({ train: 0.9, val: 0.05, test: 0.05, stratified: false });
    const { warnings } = await checkDataset(spec);
    expect(warnings).toContain(
      'the test split is empty (8 patients split 0.9/0.05/0.05): AUC is undefined on it; add patients or change the ' +
        'fractions',
    );
    const noTest = await checkDataset(await eight({ train: 0.75, val: 0.25, test: 0, stratified: true }));
    expect(noTest.warnings).toEqual([]);
  });

  it('training hears them before anything is written; eval with the run’s statistics does not', async () => {
    const spec = await eight(ONE_CLASS_VAL);
    const heard: string[] = [];
    const train = { stages: [] } as unknown as TrainSpec;
    await loadTrainingData(train, spec, { warn: (m) => heard.push(m) });
    expect(heard).toEqual([expect.stringMatching(/^dataset Small: the validation split holds only class 'positive'/)]);
    const trained = await loadDataset(spec);
    expect(trained.warnings).toHaveLength(1);
    expect((await loadDataset(spec, { stats: trained.stats })).warnings).toEqual([]);
    expect((await loadDataset(spec, { labels: false })).warnings).toEqual([]);
  });
});
