import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { loadDataset } from '../../runtime/data/dataset.js';
import { encodedWidth } from '../../runtime/data/spec.js';
import {
  bayesAuc,
  type COMORBIDITIES,
  generatePjiCohort,
  pjiDatasetSpec,
  renderPjiImage,
  rocAuc,
  samplePjiPatients,
  type PjiPatient,
} from '../../runtime/data/synthetic-pji.js';
import { tempDir } from '../fixtures/data/folder.js';

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('synthetic PJI cohort', () => {
  it('is deterministic: same seed, same bytes; another seed, other data', () => {
    const a = generatePjiCohort({ patients: 25, seed: 3, imageSize: 32 });
    const b = generatePjiCohort({ patients: 25, seed: 3, imageSize: 32 });
    expect(b.patients).toEqual(a.patients);
    expect(b.images.map((i) => Buffer.from(i.pixels).toString('base64'))).toEqual(
      a.images.map((i) => Buffer.from(i.pixels).toString('base64')),
    );
    const c = generatePjiCohort({ patients: 25, seed: 4, imageSize: 32 });
    expect(c.patients.map((p) => p.crp)).not.toEqual(a.patients.map((p) => p.crp));
  });

  it('has the paper shape: ~45% positive, 1-4 images (mean ~2.4), 14 lab values', () => {
    const ps = samplePjiPatients(489, 7);
    expect(ps.filter((p) => p.infected).length).toBe(221);
    const counts = ps.map((p) => p.images.length);
    expect(Math.min(...counts)).toBe(1);
    expect(Math.max(...counts)).toBe(4);
    expect(Math.abs(mean(counts) - 1170 / 489)).toBeLessThan(0.15);
    const spec = pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 489, seed: 7, imageSize: 64 });
    expect(encodedWidth(spec, 'labs')).toBe(14);
  });

  it('lab values are plausible and depend on the label', () => {
    const ps = samplePjiPatients(3000, 1);
    const pos = ps.filter((p) => p.infected === 1);
    const neg = ps.filter((p) => p.infected === 0);
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    // CRP (mg/L) and ESR (mm/h) are raised in infection, with overlap.
    expect(med(pos.map((p) => p.crp))).toBeGreaterThan(3 * med(neg.map((p) => p.crp)));
    expect(med(pos.map((p) => p.esr))).toBeGreaterThan(1.4 * med(neg.map((p) => p.esr)));
    const positiveMedian = med(pos.map((q) => q.crp));
    expect(neg.filter((p) => p.crp > positiveMedian).length).toBeGreaterThan(0.03 * neg.length);
    for (const p of ps) {
      expect(p.crp).toBeGreaterThanOrEqual(0.1);
      expect(p.crp).toBeLessThan(2000);
      expect(p.esr).toBeGreaterThanOrEqual(1);
      expect(p.esr).toBeLessThan(200);
      expect(p.age).toBeGreaterThanOrEqual(30);
      expect(p.age).toBeLessThanOrEqual(95);
    }
    const prevalence = (group: PjiPatient[], c: (typeof COMORBIDITIES)[number]): number =>
      mean(group.map((p) => p.comorbidities[c]));
    expect(prevalence(pos, 'hypoalbuminemia') - prevalence(neg, 'hypoalbuminemia')).toBeGreaterThan(0.1);
    expect(prevalence(pos, 'anemia') - prevalence(neg, 'anemia')).toBeGreaterThan(0.1);
    // Image findings: mostly in infected patients, sometimes mimicked in negatives.
    const lucency = (group: PjiPatient[]): number => mean(group.map((p) => (p.lucency.present ? 1 : 0)));
    expect(lucency(pos)).toBeGreaterThan(0.45);
    expect(lucency(neg)).toBeGreaterThan(0.05);
    expect(lucency(neg)).toBeLessThan(0.2);
  });

  it('a finding changes the film where it lies, and is visible at 64x64', () => {
    const ps = samplePjiPatients(60, 2);
    for (const joint of ['hip', 'knee'] as const) {
      const p = ps.find((q) => q.joint === joint && !q.lucency.present && !q.periosteal.present)!;
      const clean = renderPjiImage(p, 0, 64, 2);
      expect(renderPjiImage(p, 0, 64, 2)).toEqual(clean);
      const withLucency: PjiPatient = { ...p, images: p.images.map(() => ({ lucency: 0.8, periosteal: 0 })) };
      const withPeriosteal: PjiPatient = { ...p, images: p.images.map(() => ({ lucency: 0, periosteal: 0.8 })) };
      const darker = renderPjiImage(withLucency, 0, 64, 2).filter((v, i) => clean[i]! - v > 40).length;
      const brighter = renderPjiImage(withPeriosteal, 0, 64, 2).filter((v, i) => v - clean[i]! > 40).length;
      expect(darker, `${joint} lucency`).toBeGreaterThan(15);
      expect(brighter, `${joint} periosteal reaction`).toBeGreaterThan(15);
    }
  });

  it(
    'the Bayes-optimal AUCs match the documented calibration: each modality informative, fusion clearly ' + 'better',
    () => {
      const auc = bayesAuc(20000, 11);
      expect(auc.labs).toBeGreaterThan(0.8);
      expect(auc.labs).toBeLessThan(0.87);
      expect(auc.images).toBeGreaterThan(0.75);
      expect(auc.images).toBeLessThan(0.85);
      expect(auc.combined).toBeGreaterThan(0.92);
      expect(auc.combined - Math.max(auc.labs, auc.images)).toBeGreaterThan(0.07);
    },
  );

  it('rocAuc counts ties as one half (checked against all pairs)', () => {
    const scores = [0.1, 0.4, 0.4, 0.35, 0.8, 0.4, 0.1, 0.9];
    const labels = [0, 1, 0, 1, 1, 0, 1, 0] as const;
    let wins = 0;
    let pairs = 0;
    scores.forEach((s, i) =>
      scores.forEach((t, j) => {
        if (labels[i] === 1 && labels[j] === 0) {
          pairs++;
          wins += s > t ? 1 : s === t ? 0.5 : 0;
        }
      }),
    );
    expect(rocAuc(scores, [...labels])).toBeCloseTo(wins / pairs, 12);
    // Bayes log-likelihood ratios can be infinite; they rank like any other score.
    expect(rocAuc([Number.NEGATIVE_INFINITY, 0, Number.POSITIVE_INFINITY, 0], [0, 1, 1, 0])).toBe(0.875);
  });

  it('loads as a dataset from the spec alone, with patient-level splits', async () => {
    const spec = pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 60, seed: 5, imageSize: 32 });
    const ds = await loadDataset(spec);
    expect(ds.patients).toHaveLength(60);
    const owner = new Map<string, string>();
    for (const split of ['train', 'val', 'test'] as const)
      for (const p of ds.splits[split]) {
        expect(owner.has(ds.patients[p]!.id)).toBe(false);
        owner.set(ds.patients[p]!.id, split);
      }
    expect(owner.size).toBe(60);
    expect(ds.widths.labs).toBe(14);
    // With a cache folder, the cohort is written once and read back as files, identically.
    const dir = await tempDir();
    const cached = { ...spec, cache: dir };
    const first = await loadDataset(cached);
    const second = await loadDataset(cached);
    expect((await readdir(dir)).filter((f) => f.startsWith('synthetic-pji'))).toHaveLength(1);
    expect(second.images.map((i) => Array.from(i.pixels))).toEqual(first.images.map((i) => Array.from(i.pixels)));
    expect(second.images.map((i) => Array.from(i.pixels))).toEqual(ds.images.map((i) => Array.from(i.pixels)));
    expect(Array.from(second.labs('labs', 3))).toEqual(Array.from(ds.labs('labs', 3)));
  });

  it('nvcc synth pji writes labs.csv, PNGs and cohort.json, byte-identical for one seed', async () => {
    const out1 = join(await tempDir(), 'cohort');
    const out2 = join(await tempDir(), 'cohort');
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      expect(await main(['synth', 'pji', '--patients', '12', '--out', out1, '--seed', '9', '--size', '32'])).toBe(0);
      expect(await main(['synth', 'pji', '--patients', '12', '--out', out2, '--seed', '9', '--size', '32'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const csv = await readFile(join(out1, 'labs.csv'), 'utf8');
    expect(csv.split('\n')[0]).toBe(
      'patient_id,infected,crp,esr,joint,sex,age,hypertension,diabetes,rheumatoid_arthritis,anemia,osteoporosi' +
        's,cerebral_infarction,hypoalbuminemia,hypothyroidism,liver_disease',
    );
    expect(csv.trim().split('\n')).toHaveLength(13);
    const files = (await readdir(join(out1, 'images'))).sort();
    expect(files[0]).toBe('P0001_0.png');
    for (const f of files)
      expect(await readFile(join(out2, 'images', f))).toEqual(await readFile(join(out1, 'images', f)));
    expect(await readFile(join(out2, 'labs.csv'), 'utf8')).toBe(csv);
    const meta = await sharp(join(out1, 'images', files[0]!)).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([32, 32, 1]);
    const cohort = JSON.parse(await readFile(join(out1, 'cohort.json'), 'utf8'));
    expect(cohort).toMatchObject({ generator: 'pji-synth/1', patients: 12, seed: 9, imageSize: 32 });
    // A second write into a non-empty folder is refused.
    const err = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await main(['synth', 'pji', '--out', out1])).toBe(1);
      expect(await main(['synth', 'pji', '--patients', 'many', '--out', join(out1, 'x')])).toBe(1);
    } finally {
      process.stderr.write = err;
    }
  });
});
