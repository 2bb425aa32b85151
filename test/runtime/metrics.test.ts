import { describe, expect, it } from 'vitest';
import type { Rng } from '../../runtime/module.js';
import { createRng } from '../../runtime/rng.js';
import {
  accuracy,
  aucUndefinedReason,
  bootstrapAucCi,
  bootstrapCi,
  bootstrapRateCis,
  confusionMatrix,
  delongCi,
  evaluateRun,
  MetricInputError,
  normalQuantile,
  poolByPatient,
  quantileSorted,
  rocAuc,
  rocCurve,
  selectThreshold,
  thresholdRates,
  trapezoidArea,
} from '../../runtime/metrics/index.js';
import { naiveAuc } from '../support/naive-auc.js';

function randomData(rng: Rng, n: number, levels?: number): { labels: number[]; scores: number[] } {
  const labels: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.uniform() < 0.45 ? 1 : 0;
    let s = 1 / (1 + Math.exp(-(rng.normal() + (y ? 1.2 : 0))));
    if (levels) s = Math.round(s * levels) / levels;
    labels.push(y);
    scores.push(s);
  }
  return { labels, scores };
}

describe('ROC AUC', () => {
  it('equals the naive pairwise count to 1e-12 on a fixture with many ties', () => {
    const labels = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0];
    const scores = [0.9, 0.9, 0.5, 0.5, 0.5, 0.1, 0.7, 0.7, 0.3, 0.3, 0.3, 0.9, 0.1, 0.1];
    expect(Math.abs(rocAuc(labels, scores) - naiveAuc(labels, scores))).toBeLessThan(1e-12);
  });

  it('matches a hand count: 3 positives, 2 negatives with one tie', () => {
    // pairs: (0.8>0.4)(0.8>0.2)(0.4=0.4 -> .5)(0.4>0.2)(0.1<0.4)(0.1<0.2) => 3.5/6
    expect(rocAuc([1, 1, 1, 0, 0], [0.8, 0.4, 0.1, 0.4, 0.2])).toBeCloseTo(3.5 / 6, 15);
  });

  it('equals the naive count on random data, continuous and heavily quantised', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 30; trial++) {
      const { labels, scores } = randomData(
        rng,
        20 + Math.floor(rng.uniform() * 300),
        trial % 2 === 0 ? 10 : undefined,
      );
      if (aucUndefinedReason(labels)) continue;
      expect(Math.abs(rocAuc(labels, scores) - naiveAuc(labels, scores))).toBeLessThan(1e-12);
    }
  });

  it('is 1 for perfect separation, 0 for inverted, 0.5 when all scores tie', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).toBe(1);
    expect(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])).toBe(0);
    expect(rocAuc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });

  it('gives NaN with a reason for one class only, and clear errors for bad input', () => {
    expect(rocAuc([1, 1, 1], [0.2, 0.3, 0.4])).toBeNaN();
    expect(aucUndefinedReason([1, 1, 1])).toMatch(/only positive/);
    expect(aucUndefinedReason([0, 0])).toMatch(/only negative/);
    expect(rocAuc([], [])).toBeNaN();
    expect(() => rocAuc([1, 0], [0.5])).toThrow(MetricInputError);
    expect(() => rocAuc([1, 2], [0.5, 0.4])).toThrow(/must be 0 or 1/);
    expect(() => rocAuc([1, 0], [0.5, Number.NaN])).toThrow(/finite/);
  });
});

describe('ROC curve', () => {
  it('runs from (0,0) to (1,1), monotone, with trapezoid area equal to the AUC', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 10; trial++) {
      const { labels, scores } = randomData(rng, 200, trial % 2 ? 8 : undefined);
      const pts = rocCurve(labels, scores);
      expect(pts[0]).toMatchObject({ fpr: 0, tpr: 0 });
      expect(pts[pts.length - 1]).toMatchObject({ fpr: 1, tpr: 1 });
      for (let i = 1; i < pts.length; i++) {
        expect(pts[i]!.fpr).toBeGreaterThanOrEqual(pts[i - 1]!.fpr);
        expect(pts[i]!.tpr).toBeGreaterThanOrEqual(pts[i - 1]!.tpr);
        expect(pts[i]!.threshold).toBeLessThan(pts[i - 1]!.threshold);
      }
      expect(Math.abs(trapezoidArea(pts) - rocAuc(labels, scores))).toBeLessThan(1e-12);
    }
  });

  it('makes one diagonal step for tied scores', () => {
    const pts = rocCurve([1, 0, 1, 0], [0.9, 0.5, 0.5, 0.1]);
    expect(pts.map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
    expect(() => rocCurve([0, 0], [0.1, 0.2])).toThrow(/only negative/);
  });
});

describe('threshold metrics', () => {
  const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
  const scores = [0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.35, 0.2, 0.1, 0.05];

  it('confusion matrix and rates at a threshold (score >= t is positive)', () => {
    const cm = confusionMatrix(labels, scores, 0.6);
    expect(cm).toEqual({ tp: 3, fn: 1, fp: 1, tn: 5 });
    const r = thresholdRates(labels, scores, 0.6);
    expect(r.sensitivity).toBeCloseTo(3 / 4, 15);
    expect(r.specificity).toBeCloseTo(5 / 6, 15);
    expect(r.ppv).toBeCloseTo(3 / 4, 15);
    expect(r.npv).toBeCloseTo(5 / 6, 15);
    expect(accuracy(labels, scores, 0.6)).toBeCloseTo(0.8, 15);
    expect(accuracy(labels, scores)).toBeCloseTo(0.8, 15); // default 0.5: same calls as 0.6
    // 0.32: tp 3, fn 1 (0.3), fp 3 (0.7, 0.4, 0.35), tn 3 -> 6/10
    expect(accuracy(labels, scores, 0.32)).toBeCloseTo(0.6, 15);
  });

  it('rates with zero denominators are NaN, not Infinity', () => {
    const r = thresholdRates([0, 0], [0.1, 0.2], 0.5);
    expect(r.sensitivity).toBeNaN();
    expect(r.ppv).toBeNaN();
    expect(r.specificity).toBe(1);
  });

  it("Youden's J on a hand-checked example", () => {
    // Candidates (t: sens, spec, J): 0.9: .25,1,.25  0.8: .5,1,.5  0.7: .5,5/6,.333  0.6: .75,5/6,.583
    // 0.4: .75,4/6,.417  0.35: .75,.5,.25  0.3: 1,.5,.5  ... => best t = 0.6, J = 7/12
    const c = selectThreshold(labels, scores);
    expect(c.threshold).toBe(0.6);
    expect(c.j).toBeCloseTo(7 / 12, 12);
    expect(c.sensitivity).toBeCloseTo(0.75, 12);
    expect(c.specificity).toBeCloseTo(5 / 6, 12);
  });

  it('sensitivity >= x picks the highest threshold reaching it; fixed reports its rates', () => {
    const c = selectThreshold(labels, scores, { kind: 'sensitivity', min: 1 });
    expect(c.threshold).toBe(0.3);
    expect(c.specificity).toBeCloseTo(0.5, 12);
    const s = selectThreshold(labels, scores, { kind: 'specificity', min: 1 });
    expect(s.threshold).toBe(0.8);
    const f = selectThreshold(labels, scores, { kind: 'fixed', value: 0.5 });
    expect(f.threshold).toBe(0.5);
    expect(f.sensitivity).toBeCloseTo(0.75, 12);
    expect(f.specificity).toBeCloseTo(5 / 6, 12);
    expect(() => selectThreshold([0, 0], [0.1, 0.2])).toThrow(MetricInputError);
    expect(() => selectThreshold(labels, scores, { kind: 'sensitivity', min: 1.5 })).toThrow(/\[0, 1\]/);
  });
});

describe('per-patient pooling', () => {
  const ids = ['a', 'b', 'a', 'c', 'b', 'a'];
  const labels = [1, 0, 1, 1, 0, 1];
  const probs = [0.2, 0.4, 0.8, 0.5, 0.1, 0.5];

  it('pools mean, max and a declared function per patient, in first-appearance order', () => {
    const mean = poolByPatient(ids, labels, probs, 'mean');
    expect(mean.patientIds).toEqual(['a', 'b', 'c']);
    expect(mean.labels).toEqual([1, 0, 1]);
    expect(mean.imageCounts).toEqual([3, 2, 1]);
    expect(mean.scores[0]).toBeCloseTo(0.5, 15);
    expect(mean.scores[1]).toBeCloseTo(0.25, 15);
    expect(poolByPatient(ids, labels, probs, 'max').scores).toEqual([0.8, 0.4, 0.5]);
    expect(poolByPatient(ids, labels, probs, 'median').scores).toEqual([0.5, 0.25, 0.5]);
    expect(poolByPatient(ids, labels, probs, (v) => v.length).scores).toEqual([3, 2, 1]);
    expect(poolByPatient(ids, labels, probs, 'noisy-or').scores[1]).toBeCloseTo(1 - 0.6 * 0.9, 15);
  });

  it('rejects a patient whose images disagree on the label, naming the patient', () => {
    expect(() => poolByPatient(['p1', 'p1'], [1, 0], [0.5, 0.5])).toThrow(/patient 'p1'/);
  });
});

describe('bootstrap CI', () => {
  const data = randomData(createRng(3), 300);

  it('is reproducible by seed, changes with the seed, and brackets the estimate', () => {
    const a = bootstrapAucCi(data.labels, data.scores, { rng: createRng(42), resamples: 500 });
    const b = bootstrapAucCi(data.labels, data.scores, { rng: createRng(42), resamples: 500 });
    const c = bootstrapAucCi(data.labels, data.scores, { rng: createRng(43), resamples: 500 });
    expect(b).toEqual(a);
    expect(c.lower === a.lower && c.upper === a.upper).toBe(false);
    expect(a.estimate).toBe(rocAuc(data.labels, data.scores));
    expect(a.lower).toBeLessThan(a.estimate);
    expect(a.upper).toBeGreaterThan(a.estimate);
    expect(a.resamples).toBe(500);
    expect(a.level).toBe(0.95);
  });

  it('fast path agrees with the generic bootstrap of rocAuc given the same draws', () => {
    const fast = bootstrapAucCi(data.labels, data.scores, { rng: createRng(5), resamples: 200 });
    const generic = bootstrapCi(data.labels, data.scores, (y, s) => rocAuc(y, s), {
      rng: createRng(5),
      resamples: 200,
    });
    expect(Math.abs(fast.lower - generic.lower)).toBeLessThan(1e-12);
    expect(Math.abs(fast.upper - generic.upper)).toBeLessThan(1e-12);
  });

  it('width agrees with DeLong within 25% and both contain the estimate', () => {
    const boot = bootstrapAucCi(data.labels, data.scores, { rng: createRng(9), resamples: 2000 });
    const dl = delongCi(data.labels, data.scores);
    const ratio = (boot.upper - boot.lower) / (dl.upper - dl.lower);
    expect(ratio).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1.25);
    expect(dl.lower).toBeLessThan(dl.auc);
    expect(dl.upper).toBeGreaterThan(dl.auc);
  });

  it('rate CIs at a fixed threshold bracket the estimates and match the generic bootstrap', () => {
    const cis = bootstrapRateCis(data.labels, data.scores, 0.6, { rng: createRng(8), resamples: 400 });
    const r = thresholdRates(data.labels, data.scores, 0.6);
    for (const name of ['accuracy', 'sensitivity', 'specificity', 'ppv', 'npv'] as const) {
      expect(cis[name].estimate).toBeCloseTo(r[name], 14);
      expect(cis[name].lower).toBeLessThan(r[name]);
      expect(cis[name].upper).toBeGreaterThan(r[name]);
    }
    // Same draw order (positives then negatives) as bootstrapCi, so sensitivity bounds agree exactly.
    const generic = bootstrapCi(data.labels, data.scores, (y, s) => thresholdRates(y, s, 0.6).sensitivity, {
      rng: createRng(8),
      resamples: 400,
    });
    expect(Math.abs(cis.sensitivity.lower - generic.lower)).toBeLessThan(1e-12);
    expect(Math.abs(cis.sensitivity.upper - generic.upper)).toBeLessThan(1e-12);
    expect(bootstrapRateCis([0, 0], [0.1, 0.9], 0.5, { rng: createRng(1) }).accuracy.reason).toMatch(/only negative/);
  });

  it('gives NaN bounds with a reason for one class, never a crash', () => {
    const ci = bootstrapAucCi([1, 1, 1], [0.1, 0.5, 0.9], { rng: createRng(1) });
    expect(ci.lower).toBeNaN();
    expect(ci.reason).toMatch(/only positive/);
    expect(() => bootstrapAucCi(data.labels, data.scores, { rng: createRng(1), resamples: 0 })).toThrow(
      /positive integer/,
    );
  });

  it('percentile quantile interpolates linearly', () => {
    expect(quantileSorted([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantileSorted([0, 10], 0.025)).toBeCloseTo(0.25, 12);
  });
});

describe('DeLong', () => {
  it('variance equals the naive structural-component formula on tied data', () => {
    const { labels, scores } = randomData(createRng(21), 120, 6);
    const pos = scores.filter((_, i) => labels[i] === 1);
    const neg = scores.filter((_, i) => labels[i] === 0);
    const psi = (x: number, y: number): number => (x > y ? 1 : x === y ? 0.5 : 0);
    const v10 = pos.map((x) => neg.reduce((a, y) => a + psi(x, y), 0) / neg.length);
    const v01 = neg.map((y) => pos.reduce((a, x) => a + psi(x, y), 0) / pos.length);
    const auc = v10.reduce((a, b) => a + b, 0) / pos.length;
    const s10 = v10.reduce((a, v) => a + (v - auc) ** 2, 0) / (pos.length - 1);
    const s01 = v01.reduce((a, v) => a + (v - auc) ** 2, 0) / (neg.length - 1);
    const d = delongCi(labels, scores);
    expect(Math.abs(d.auc - auc)).toBeLessThan(1e-12);
    expect(Math.abs(d.variance - (s10 / pos.length + s01 / neg.length))).toBeLessThan(1e-12);
  });

  it('normal quantile matches known values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 7);
  });
});

describe('evaluateRun', () => {
  it('chooses the threshold on validation and applies it to test', () => {
    const val = randomData(createRng(100), 150);
    const test = randomData(createRng(101), 150);
    const r = evaluateRun({ validation: val, test }, { rng: createRng(1), resamples: 200, delong: true });
    const chosen = selectThreshold(val.labels, val.scores);
    expect(r.threshold).toBe(chosen.threshold);
    const t = r.splits.find((s) => s.split === 'test')!;
    expect(t.confusion).toEqual(confusionMatrix(test.labels, test.scores, chosen.threshold));
    expect(t.auc).toBe(rocAuc(test.labels, test.scores));
    expect(t.aucCi.lower).toBeLessThan(t.auc);
    expect(t.aucDelong!.upper).toBeGreaterThan(t.auc);
    expect(t.nPatients).toBe(150);
    expect(t.rateCis!.specificity.lower).toBeLessThanOrEqual(t.specificity);
    expect(t.rateCis!.specificity.upper).toBeGreaterThanOrEqual(t.specificity);
    expect(r.warnings).toEqual([]);
  });

  it('a one-class validation split falls back to 0.5 with warnings instead of throwing', () => {
    const r = evaluateRun(
      { validation: { labels: [0, 0, 0], scores: [0.2, 0.6, 0.4] }, test: { labels: [1, 0], scores: [0.7, 0.3] } },
      { rng: createRng(2), resamples: 50 },
    );
    expect(r.threshold).toBe(0.5);
    expect(r.thresholdRule).toMatch(/fallback/);
    expect(r.warnings.join('\n')).toMatch(/only negative/);
    expect(r.splits[0]!.auc).toBeNaN();
    expect(r.splits[0]!.roc).toEqual([]);
    expect(r.splits[1]!.auc).toBe(1);
  });
});
