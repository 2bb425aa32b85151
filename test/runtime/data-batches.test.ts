import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { drawAugment, IDENTITY_DRAW, renderSample } from '../../runtime/data/augment.js';
import { loadDataset, type Batch, type Dataset } from '../../runtime/data/dataset.js';
import type { AugmentSpec } from '../../runtime/data/spec.js';
import { createRng } from '../../runtime/rng.js';
import { filesSpec, grayPng, tempDir } from '../fixtures/data/folder.js';

const AUG: AugmentSpec = {
  hflip: 0.5,
  rotateDegrees: 15,
  randomResizedCrop: { scale: [0.6, 1], ratio: [0.75, 1.333] },
};

let ds: Dataset;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const dir = await tempDir();
  await mkdir(join(dir, 'images'));
  const lines = ['patient_id,infected,crp,joint,sex'];
  for (let i = 0; i < 12; i++) {
    lines.push(`Q${i},${i % 2},${i + 1},${i % 3 ? 'hip' : 'knee'},${i % 2}`);
    // 1-3 images each; a horizontal ramp plus the patient number, so flips are detectable.
    for (let k = 0; k <= i % 3; k++)
      await writeFile(join(dir, 'images', `Q${i}_${k}.png`), await grayPng(16, 16, (x) => 10 * x + i + k));
  }
  await writeFile(join(dir, 'labs.csv'), lines.join('\n'));
  ds = await loadDataset(filesSpec(dir, { images: { ...filesSpec(dir).images, size: [16, 16] } }));
});

async function snapshot(b: Batch): Promise<unknown> {
  const out = {
    images: Array.from(await b.images.data()),
    labels: Array.from(await b.labels.data()),
    labs: Array.from(await b.labs.labs!.data()),
    ids: b.patientIds,
  };
  tf.dispose([b.images, b.labels, ...Object.values(b.labs)]);
  return out;
}

async function epoch(options: Parameters<Dataset['batches']>[1]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const b of ds.batches('all', options)) out.push(await snapshot(b));
  return out;
}

describe('augmentation', () => {
  it('the identity draw reproduces the normalised image', () => {
    const src = Uint8Array.from({ length: 16 }, (_, i) => i * 16);
    const out = new Float32Array(16);
    renderSample(src, 4, 4, 1, IDENTITY_DRAW, [0.5], [0.25], out, 0);
    src.forEach((v, i) => expect(out[i]).toBeCloseTo((v / 255 - 0.5) / 0.25, 5));
    expect(out[0]).toBeCloseTo(-2, 5);
  });

  it('a flip mirrors rows exactly; a 90 degree turn moves rows to columns', () => {
    const src = Uint8Array.from({ length: 16 }, (_, i) => i);
    const flipped = new Float32Array(16);
    renderSample(src, 4, 4, 1, { ...IDENTITY_DRAW, flip: true }, [0], [1 / 255], flipped, 0);
    expect(Array.from(flipped)).toEqual([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12]);
    const turned = new Float32Array(16);
    renderSample(src, 4, 4, 1, { ...IDENTITY_DRAW, angle: Math.PI / 2 }, [0], [1 / 255], turned, 0);
    // Sampling rotated by +90 degrees: out(x, y) = src(3 - y, x), a transpose with one axis reversed.
    const grid = (a: Float32Array, x: number, y: number): number => Math.round(a[y * 4 + x]!);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expect(grid(turned, x, y)).toBe(src[x * 4 + (3 - y)]!);
  });

  it('draws are a pure function of the rng and stay within the declared ranges', () => {
    for (let i = 0; i < 200; i++) {
      const a = drawAugment(AUG, createRng(`s${i}`));
      expect(drawAugment(AUG, createRng(`s${i}`))).toEqual(a);
      expect(Math.abs(a.angle)).toBeLessThanOrEqual((15 * Math.PI) / 180);
      const area = a.crop.w * a.crop.h;
      expect(area).toBeGreaterThanOrEqual(0.6 - 1e-9);
      expect(a.crop.cx - a.crop.w / 2).toBeGreaterThanOrEqual(-1e-9);
      expect(a.crop.cx + a.crop.w / 2).toBeLessThanOrEqual(1 + 1e-9);
    }
    const flips = Array.from({ length: 400 }, (_, i) => drawAugment({ hflip: 0.5 }, createRng(i)).flip).filter(
      Boolean,
    ).length;
    expect(flips).toBeGreaterThan(150);
    expect(flips).toBeLessThan(250);
  });
});

describe('batches', () => {
  it('yields one row per image with labels, labs and ids, normalised, shaped [B,H,W,C]', async () => {
    const batches = [...ds.batches('all', { batchSize: 5 })];
    // 12 patients with 1, 2, 3, 1, 2, 3, ... images: 24 images.
    expect(batches.map((b) => b.images.shape)).toEqual([
      [5, 16, 16, 1],
      [5, 16, 16, 1],
      [5, 16, 16, 1],
      [5, 16, 16, 1],
      [4, 16, 16, 1],
    ]);
    const b0 = batches[0]!;
    expect(b0.labs.labs!.shape).toEqual([5, 4]);
    expect(b0.labels.dtype).toBe('int32');
    expect(b0.patientIds).toEqual(['Q0', 'Q1', 'Q1', 'Q2', 'Q2']);
    expect(Array.from(await b0.labels.data())).toEqual([0, 1, 1, 0, 0]);
    const px = await b0.images.data();
    expect(px[1]! - px[0]!).toBeCloseTo(10 / 255, 5); // normalize = none: pixel / 255
    for (const b of batches) tf.dispose([b.images, b.labels, ...Object.values(b.labs)]);
    expect(ds.batches('all', { batchSize: 5, dropLast: true }).steps).toBe(4);
    expect(ds.batches('all', { batchSize: 7, dropLast: true }).steps).toBe(3);
    const sizes = (dropLast: boolean): number[] =>
      [...ds.batches('all', { batchSize: 7, dropLast })].map(
        (b) => (tf.dispose([b.images, b.labels, ...Object.values(b.labs)]), b.patientIds.length),
      );
    expect(sizes(false)).toEqual([7, 7, 7, 3]);
    expect(sizes(true)).toEqual([7, 7, 7]);
  });

  it('shuffle and augmentation are deterministic by rng and change with it', async () => {
    const opts = { batchSize: 4, shuffle: true, augment: AUG, epoch: 3 };
    const a = await epoch({ ...opts, rng: createRng(11) });
    expect(await epoch({ ...opts, rng: createRng(11) })).toEqual(a);
    expect(await epoch({ ...opts, rng: createRng(12) })).not.toEqual(a);
    expect(await epoch({ ...opts, rng: createRng(11), epoch: 4 })).not.toEqual(a);
  });

  it('resuming at a saved position yields exactly the remaining batches', async () => {
    const opts = { batchSize: 3, shuffle: true, augment: AUG, epoch: 2, rng: createRng(5) };
    const whole = await epoch(opts);
    const stream = ds.batches('all', opts);
    const it = stream[Symbol.iterator]();
    await snapshot(it.next().value as Batch);
    await snapshot(it.next().value as Batch);
    const pos = stream.position();
    expect(pos).toEqual({ epoch: 2, index: 6 });
    const rest = await epoch({ ...opts, rng: createRng(5), epoch: pos.epoch, start: pos.index });
    expect(rest).toEqual(whole.slice(2));
  });

  it('refuses shuffling without an rng', () => {
    expect(() => ds.batches('all', { batchSize: 2, shuffle: true })).toThrow(/need an rng/);
  });
});
