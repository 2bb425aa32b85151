/**
 * Data prepared once by nvcc for the torch engine: the TS side writes shards of the built-in
 * synthetic cohort (several shards per split), the Python reader verifies their hashes and its
 * batches equal the tfjs pipeline's (DatasetTrainingData.load) on the same indices and the same
 * augment RNG stream: exactly without augmentation, within 1e-5 with flip + rotation + random
 * resized crop (float64 sampling in both; only libm's cos/sin may differ in the last bit).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { pjiDatasetSpec } from '../../runtime/data/synthetic-pji.js';
import type { AugmentSpec } from '../../runtime/data/spec.js';
import { writeSafetensors, type HostTensor } from '../../runtime/io/safetensors.js';
import { createRng } from '../../runtime/rng.js';
import { loadTrainingData, type DatasetTrainingData } from '../../runtime/train/dataset-adapter.js';
import { writeDataShards, type ShardManifest } from '../../runtime/train/shards.js';
import type { TrainSpec } from '../../runtime/train/spec.js';
import { finetuneStage } from '../support/train-specs.js';
import { pythonJson, runPython, TORCH_TEST_DIR } from '../support/python.js';

const augment: AugmentSpec = {
  hflip: 0.5,
  rotateDegrees: 15,
  randomResizedCrop: { scale: [0.6, 1], ratio: [0.75, 1.333] },
};
const cases = [
  { split: 'train', indices: [3, 0, 7, 1, 5], seed: 11, augment },
  { split: 'train', indices: [2, 4, 6], seed: 12 },
  { split: 'val', indices: [1, 0], seed: 13 },
] as const;

let dir: string;
let data: DatasetTrainingData;
let manifest: ShardManifest;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'nvcc-shards-'));
  const dataset = pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 24, seed: 3, imageSize: 16 });
  const spec: TrainSpec = { name: 't', dataset: 'PJI', seed: 1, stages: [finetuneStage({ inputs: ['xray', 'labs'] })] };
  data = await loadTrainingData(spec, dataset);
  manifest = await writeDataShards(data.dataset, ['xray'], join(dir, 'data'), { samplesPerShard: 5 });
  const tensors = new Map<string, HostTensor>();
  cases.forEach((c, i) => {
    const rng = createRng(c.seed);
    const batch = data.load(c.split, c.indices, 'augment' in c ? { spec: c.augment, rng } : undefined);
    for (const [name, t] of Object.entries(batch.inputs))
      tensors.set(`${i}.${name}`, { dtype: 'float32', shape: t.shape, data: t.dataSync() as Float32Array });
    tf.dispose(Object.values(batch.inputs));
    batch.labels?.dispose();
  });
  writeSafetensors(join(dir, 'expected.safetensors'), tensors);
  writeFileSync(join(dir, 'expected.json'), JSON.stringify(cases));
});

interface Checked {
  sizes: Record<string, number>;
  cases: Array<Record<string, { shape: number[]; maxAbs: number; equal: boolean }> & { patients: string[] }>;
}

describe('data shards for the torch engine', () => {
  it('writes several hashed shards per split with the split sizes of the loaded dataset', () => {
    for (const split of ['train', 'val', 'test'] as const) {
      expect(manifest.splits[split].samples).toBe(data.size(split));
      expect(manifest.splits[split].shards.reduce((n, s) => n + s.samples, 0)).toBe(data.size(split));
      for (const s of manifest.splits[split].shards) expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(manifest.splits.train.shards.length).toBeGreaterThan(1);
    expect(manifest.image.mean).toEqual(data.dataset.stats.image.mean);
  });

  it('reads back in Python batches equal to the tfjs pipeline, augmented ones within 1e-5', () => {
    const out = pythonJson<Checked>([
      join(TORCH_TEST_DIR, 'check_shards.py'),
      join(dir, 'data'),
      join(dir, 'expected'),
    ]);
    expect(out.sizes).toEqual({ train: data.size('train'), val: data.size('val'), test: data.size('test') });
    cases.forEach((c, i) => {
      const got = out.cases[i]!;
      const ref = data.load(c.split, c.indices);
      expect(got.patients).toEqual(ref.patientIds);
      tf.dispose(Object.values(ref.inputs));
      ref.labels?.dispose();
      expect(got.xray!.shape).toEqual([c.indices.length, 16, 16, manifest.image.channels]);
      expect(got.labs!.equal).toBe(true);
      if ('augment' in c) expect(got.xray!.maxAbs).toBeLessThan(1e-5);
      else expect(got.xray!.equal).toBe(true);
    });
    // The augmented case really augmented: the identity render differs from it.
    const plain = data.load('train', cases[0].indices);
    const aug = data.load('train', cases[0].indices, { spec: augment, rng: createRng(11) });
    expect(tf.max(tf.abs(tf.sub(plain.inputs.xray!, aug.inputs.xray!))).dataSync()[0]).toBeGreaterThan(0.1);
  });

  it('refuses a shard whose bytes no longer match the manifest, naming the file', () => {
    const file = join(dir, 'data', manifest.splits.val.shards[0]!.file);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(file, bytes);
    const r = runPython(['-c', `import nvcc_data; nvcc_data.ShardData(${JSON.stringify(join(dir, 'data'))})`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${file}: SHA-256 differs`);
  });
});
