import { describe, expect, it } from 'vitest';
import { createRng } from '../../runtime/rng.js';
import {
  bootstrapAucCi,
  MetricInputError,
  normalQuantile,
  pairedBootstrapAucDifference,
} from '../../runtime/metrics/index.js';
import { parsePredictionsCsv, predictionsCsv } from '../../runtime/train/evaluate.js';
import { naiveAuc } from '../support/naive-auc.js';

/**
 * Independent reference for correlated AUCs (DeLong, DeLong and Clarke-Pearson 1988): the
 * variance of AUC_A - AUC_B from the per-case structural components, computed pair by pair.
 */
function delongDifferenceVariance(labels: number[], a: number[], b: number[]): number {
  const pos = labels.flatMap((l, i) => (l === 1 ? [i] : []));
  const neg = labels.flatMap((l, i) => (l === 0 ? [i] : []));
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = (s: number[]) => pos.map((i) => neg.reduce((t, j) => t + psi(s[i]!, s[j]!), 0) / neg.length);
  const v01 = (s: number[]) => neg.map((j) => pos.reduce((t, i) => t + psi(s[i]!, s[j]!), 0) / pos.length);
  const cov = (x: number[], y: number[]) => {
    const mx = x.reduce((t, v) => t + v, 0) / x.length;
    const my = y.reduce((t, v) => t + v, 0) / y.length;
    return x.reduce((t, v, k) => t + (v - mx) * (y[k]! - my), 0) / (x.length - 1);
  };
  const [a10, b10, a01, b01] = [v10(a), v10(b), v01(a), v01(b)];
  const s10 = cov(a10, a10) + cov(b10, b10) - 2 * cov(a10, b10);
  const s01 = cov(a01, a01) + cov(b01, b01) - 2 * cov(a01, b01);
  return s10 / pos.length + s01 / neg.length;
}

/** Two correlated scorers of the same patients: a shared latent plus each model's own noise. */
function cohort(n: number, seed: number, strengthA: number, strengthB: number) {
  const rng = createRng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform());
  const labels: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = i % 5 < 2 ? 1 : 0;
    const shared = normal();
    labels.push(y);
    a.push(strengthA * y + shared + 0.6 * normal());
    b.push(strengthB * y + shared + 0.6 * normal());
  }
  return { labels, a, b };
}

describe('paired bootstrap of an AUC difference', () => {
  it('estimates AUC(A) - AUC(B) exactly and is a pure function of the seed', () => {
    const { labels, a, b } = cohort(150, 3, 1.2, 0.6);
    const r1 = pairedBootstrapAucDifference(labels, a, b, { rng: createRng(9), resamples: 500 });
    const r2 = pairedBootstrapAucDifference(labels, a, b, { rng: createRng(9), resamples: 500 });
    expect(r1.aucA).toBeCloseTo(naiveAuc(labels, a), 12);
    expect(r1.aucB).toBeCloseTo(naiveAuc(labels, b), 12);
    expect(r1.difference.estimate).toBeCloseTo(naiveAuc(labels, a) - naiveAuc(labels, b), 12);
    expect(r2).toEqual(r1);
  });

  it('gives a zero-width interval at 0 and p = 1 for identical scores', () => {
    const { labels, a } = cohort(80, 4, 1, 1);
    const r = pairedBootstrapAucDifference(labels, a, a, { rng: createRng(1), resamples: 300 });
    expect(r.difference.estimate).toBe(0);
    expect(r.difference.lower).toBe(0);
    expect(r.difference.upper).toBe(0);
    expect(r.pValue).toBe(1);
  });

  it('agrees with the DeLong interval for correlated AUCs (400 patients, within 0.012)', () => {
    const { labels, a, b } = cohort(400, 5, 1.0, 0.7);
    const r = pairedBootstrapAucDifference(labels, a, b, { rng: createRng(2), resamples: 4000 });
    const sd = Math.sqrt(delongDifferenceVariance(labels, a, b));
    const z = normalQuantile(0.975);
    const d = naiveAuc(labels, a) - naiveAuc(labels, b);
    // Bootstrap percentiles vs the normal approximation: Monte Carlo error of the 2.5% and
    // 97.5% quantiles at 4000 resamples is about 0.003 here; the rest is the two methods.
    expect(Math.abs(r.difference.lower - (d - z * sd))).toBeLessThan(0.012);
    expect(Math.abs(r.difference.upper - (d + z * sd))).toBeLessThan(0.012);
    expect(r.difference.lower).toBeGreaterThan(0);
    expect(r.pValue).toBeLessThan(0.01);
  });

  it("is narrower than the separate intervals when the models share the patients' difficulty", () => {
    const { labels, a, b } = cohort(200, 6, 1.0, 0.8);
    const paired = pairedBootstrapAucDifference(labels, a, b, { rng: createRng(3), resamples: 2000 });
    const ciA = bootstrapAucCi(labels, a, { rng: createRng(4), resamples: 2000 });
    const ciB = bootstrapAucCi(labels, b, { rng: createRng(5), resamples: 2000 });
    // Half-widths: independent samples would combine as sqrt(hA^2 + hB^2).
    const unpaired = Math.hypot((ciA.upper - ciA.lower) / 2, (ciB.upper - ciB.lower) / 2);
    expect((paired.difference.upper - paired.difference.lower) / 2).toBeLessThan(0.75 * unpaired);
  });

  it('refuses scores that do not pair up with the labels, and reports one class as undefined', () => {
    expect(() => pairedBootstrapAucDifference([1, 0, 1], [0.1, 0.2, 0.3], [0.1, 0.2], { rng: createRng(1) })).toThrow(
      MetricInputError,
    );
    const r = pairedBootstrapAucDifference([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1], {
      rng: createRng(1),
      resamples: 10,
    });
    expect(Number.isNaN(r.difference.lower)).toBe(true);
    expect(r.difference.reason).toBe('only positive cases (3); AUC needs both classes');
  });
});

describe('predictions.csv', () => {
  const classes = ['negative', 'positive'];
  it('round-trips per-patient scores of each split, quoting ids that hold commas or quotes', () => {
    const text = predictionsCsv(
      [
        { split: 'val', patientIds: ['P1', 'P2'], labels: [0, 1], scores: [0.25, 0.75], imageCounts: [1, 3] },
        {
          split: 'test',
          patientIds: ['P,3', 'P"4'],
          labels: [1, 0],
          scores: [0.123456789123, 1e-7],
          imageCounts: [2, 4],
        },
      ],
      classes,
    );
    expect(text.split('\n')[0]).toBe('split,patient_id,label,images,score');
    expect(text).toContain('test,"P,3",positive,2,0.123456789123\n');
    const test = parsePredictionsCsv(text, classes, 'test', 'predictions.csv');
    expect(test.patientIds).toEqual(['P,3', 'P"4']);
    expect(test.labels).toEqual([1, 0]);
    expect(test.scores).toEqual([0.123456789123, 1e-7]);
    expect(test.imageCounts).toEqual([2, 4]);
    expect(parsePredictionsCsv(text, classes, 'val', 'predictions.csv').patientIds).toEqual(['P1', 'P2']);
  });

  it('writes scores that read back exactly, so a score at the threshold stays on its side', () => {
    // float32 probabilities widened to doubles, the values the evaluator pools and thresholds
    const scores = Array.from(new Float32Array([0.1234567891, 0.9999999, 0.5000001, 1 / 3, 2 / 3, 1e-8]));
    const labels = scores.map((_, i) => i % 2);
    const patientIds = scores.map((_, i) => `P${i}`);
    const text = predictionsCsv([{ split: 'val', patientIds, labels, scores }], classes);
    const back = parsePredictionsCsv(text, classes, 'val', 'predictions.csv').scores;
    expect(back).toEqual(scores);
    // the threshold is one of the scores (Youden's cut): recomputed predictions agree with the originals
    for (const threshold of scores)
      expect(Array.from(back, (s) => s >= threshold)).toEqual(scores.map((s) => s >= threshold));
  });

  it('names the file, line and column of a bad row', () => {
    const bad = 'split,patient_id,label,images,score\ntest,P1,positive,1,0.5\ntest,P2,maybe,1,0.5\n';
    expect(() => parsePredictionsCsv(bad, classes, 'test', 'runs/x/predictions.csv')).toThrow(
      'runs/x/predictions.csv:3, column label: `maybe` is not a class (negative, positive)',
    );
    const nan = 'split,patient_id,label,images,score\ntest,P1,positive,1,\n';
    expect(() => parsePredictionsCsv(nan, classes, 'test', 'p.csv')).toThrow('p.csv:2, column score');
    expect(() => parsePredictionsCsv('a,b\n1,2\n', classes, 'test', 'p.csv')).toThrow('p.csv: not a predictions file');
  });
});
