import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../runtime/data/dataset.js';
import { encodedColumnNames, encodedWidth, type DatasetSpec, type FieldGroupSpec } from '../../runtime/data/spec.js';
import { filesSpec, grayPng, tempDir } from '../fixtures/data/folder.js';

const GROUP: FieldGroupSpec = {
  name: 'labs',
  fields: [
    { name: 'crp', type: { kind: 'number' }, transforms: ['log1p', 'standardize'], missing: { kind: 'error' } },
    { name: 'esr', type: { kind: 'number' }, transforms: ['minmax'], missing: { kind: 'median' } },
    { name: 'age', type: { kind: 'number' }, transforms: ['standardize'], missing: { kind: 'indicator' } },
    { name: 'joint', type: { kind: 'binary', levels: ['hip', 'knee'] }, transforms: [], missing: { kind: 'error' } },
    {
      name: 'side',
      type: { kind: 'category', levels: ['left', 'right', 'both'] },
      transforms: [],
      missing: { kind: 'mode' },
    },
    { name: 'dm', type: { kind: 'binary' }, transforms: [], missing: { kind: 'constant', value: 0 } },
  ],
};

// 20 patients; the images are 4x4 gray with a per-patient level so image stats are checkable.
function rows(): string[][] {
  return Array.from({ length: 20 }, (_, i) => [
    `P${i}`,
    String(i % 2),
    String(1 + i * 3),
    i % 5 === 0 ? '' : String(10 + i),
    i % 4 === 1 ? 'NA' : String(40 + i),
    i % 3 ? 'knee' : 'HIP',
    i % 7 === 3 ? '' : ['left', 'right', 'right', 'both'][i % 4]!,
    i % 6 === 2 ? '' : i % 2 ? 'yes' : '0',
  ]);
}

let dir: string;
let spec: DatasetSpec;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await tempDir();
  await mkdir(join(dir, 'images'));
  const header = 'patient_id,infected,crp,esr,age,joint,side,dm';
  await writeFile(join(dir, 'labs.csv'), [header, ...rows().map((r) => r.join(','))].join('\n'));
  for (let i = 0; i < 20; i++) await writeFile(join(dir, 'images', `P${i}_0.png`), await grayPng(4, 4, () => 10 * i));
  spec = filesSpec(dir, {
    groups: [GROUP],
    images: { ...filesSpec(dir).images, size: [4, 4], normalize: 'dataset' },
    split: { by: 'patient_id', train: 0.5, val: 0.25, test: 0.25, stratified: true, seed: 3 },
  });
});

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]): number => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

describe('lab encoding', () => {
  it('encodedWidth counts binary 1, number 1 (+1 indicator), category k', () => {
    expect(encodedWidth(spec, 'labs')).toBe(1 + 1 + 2 + 1 + 3 + 1);
    expect(encodedColumnNames(GROUP)).toEqual([
      'crp',
      'esr',
      'age',
      'age.missing',
      'joint',
      'side=left',
      'side=right',
      'side=both',
      'dm',
    ]);
    expect(() => encodedWidth(spec, 'vitals')).toThrow(/no field group 'vitals'/);
  });

  it('fits every statistic on the training split only and applies it to all splits', async () => {
    const ds = await loadDataset(spec);
    const raw = rows();
    const train = ds.splits.train.map((p) => raw[Number(ds.patients[p]!.id.slice(1))]!);
    expect(train).toHaveLength(10);
    const crpT = train.map((r) => Math.log1p(Number(r[2])));
    const st = ds.stats.fields.labs!;
    expect(st.crp!.transforms).toEqual([
      { kind: 'log1p' },
      { kind: 'standardize', mean: expect.closeTo(mean(crpT), 12), std: expect.closeTo(std(crpT), 12) },
    ]);
    // The statistic over all patients differs, so this really distinguishes "train only".
    const crpAll = raw.map((r) => Math.log1p(Number(r[2])));
    expect(Math.abs(mean(crpAll) - mean(crpT))).toBeGreaterThan(1e-3);

    const esrT = train
      .map((r) => r[3]!)
      .filter((v) => v !== '')
      .map(Number)
      .sort((a, b) => a - b);
    const esrMedian =
      esrT.length % 2 ? esrT[esrT.length >> 1]! : (esrT[esrT.length / 2 - 1]! + esrT[esrT.length / 2]!) / 2;
    expect(st.esr!.fill).toBeCloseTo(esrMedian, 12);
    const ageT = train
      .map((r) => r[4]!)
      .filter((v) => v !== 'NA')
      .map(Number);
    expect(st.age!.fill).toBeCloseTo(mean(ageT), 12);

    // A test-split patient is encoded with the training statistics.
    const p = ds.splits.test[0]!;
    const r = raw[Number(ds.patients[p]!.id.slice(1))]!;
    const v = Array.from(ds.labs('labs', p));
    const sd = st.crp!.transforms[1] as { mean: number; std: number };
    expect(v[0]).toBeCloseTo((Math.log1p(Number(r[2])) - sd.mean) / sd.std, 5);
    const mm = st.esr!.transforms[0] as { min: number; max: number };
    const esr = r[3] === '' ? esrMedian : Number(r[3]);
    expect(v[1]).toBeCloseTo((esr - mm.min) / (mm.max - mm.min), 5);
    expect(v[3]).toBe(r[4] === 'NA' ? 1 : 0);
    expect(v[4]).toBe(r[5] === 'knee' ? 1 : 0);
    expect(v[5]! + v[6]! + v[7]!).toBe(1);
  });

  it('fills missing values per policy: indicator column, mode, constant', async () => {
    const ds = await loadDataset(spec);
    const byId = (id: string): number => ds.patients.findIndex((p) => p.id === id);
    const p1 = ds.labs('labs', byId('P1')); // age NA, side right, dm yes
    expect(p1[3]).toBe(1);
    const ageStats = ds.stats.fields.labs!.age!.transforms[0] as { mean: number; std: number };
    expect(p1[2]).toBeCloseTo((Number(ds.stats.fields.labs!.age!.fill) - ageStats.mean) / ageStats.std, 5);
    const p2 = ds.labs('labs', byId('P2')); // dm missing -> constant 0
    expect(p2[8]).toBe(0);
    const p3 = ds.labs('labs', byId('P3')); // side missing -> training mode
    const mode = ds.stats.fields.labs!.side!.fill;
    expect(['left', 'right', 'both']).toContain(mode);
    expect(Array.from(p3.subarray(5, 8))).toEqual(['left', 'right', 'both'].map((l) => (l === mode ? 1 : 0)));
  });

  it('image mean/std come from the training images; saved stats reproduce the encoding', async () => {
    const ds = await loadDataset(spec);
    const levels = ds.splits.train.map((p) => (10 * Number(ds.patients[p]!.id.slice(1))) / 255);
    expect(ds.stats.image.mean[0]).toBeCloseTo(mean(levels), 6);
    expect(ds.stats.image.std[0]).toBeCloseTo(std(levels), 6);
    const other = await loadDataset(
      { ...spec, split: { ...spec.split, seed: 99 } },
      { stats: JSON.parse(JSON.stringify(ds.stats)) },
    );
    expect(other.splits.train).not.toEqual(ds.splits.train);
    expect(other.stats).toEqual(ds.stats);
    for (let p = 0; p < 20; p++) expect(Array.from(other.labs('labs', p))).toEqual(Array.from(ds.labs('labs', p)));
    const batch = [...other.batches('all', { batchSize: 20 })][0]!;
    const first = (await batch.images.data())[0]!;
    expect(first).toBeCloseTo((0 - ds.stats.image.mean[0]!) / ds.stats.image.std[0]!, 5);
    tf.dispose([batch.images, batch.labels, ...Object.values(batch.labs)]);
  });

  it('reads unlabelled tables for prediction', async () => {
    const ds = await loadDataset(
      { ...spec, label: { ...spec.label, column: 'no_such_column' } },
      { labels: false, stats: (await loadDataset(spec)).stats },
    );
    expect(ds.patients.every((p) => p.label === -1)).toBe(true);
    expect(ds.samples('all')).toHaveLength(20);
  });
});
