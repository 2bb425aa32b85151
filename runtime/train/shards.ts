/**
 * The data of a run, prepared once for the PyTorch engine: shards plus a manifest.
 * In: a loaded Dataset (runtime/data: patients split, labs encoded with training-split
 * statistics, images decoded and resized to the declared size) and the input names its image
 * modality has in the train declaration. Out: in `outDir`, per split, safetensors shards
 * `<split>-<k>.safetensors` holding, one row per sample in Dataset.samples(split) order:
 * `images` U8 [n, H, W, C] (stored pixels, before normalisation and augmentation), `labels`
 * I32 [n] (-1 when unlabelled), `patient` I32 [n] (index into the split's patient list) and
 * `labs.<group>` F32 [n, width]; and `manifest.json` naming every shard with its SHA-256, the
 * classes, the image normalisation, the lab widths, the patient ids and the statistics.
 * Holds afterwards: a sample index of a split addresses the same sample as the tfjs runner's
 * DatasetTrainingData, so both engines draw the same order, augmentations and masks from the
 * same RNG streams; the Python reader (compiler/emit/torch/python/nvcc_data.py) refuses a
 * shard whose hash differs from the manifest. Files are written atomically, manifest last.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, DatasetStats } from '../data/index.js';
import { writeFileAtomic } from '../run/atomic.js';
import type { SplitName } from './data.js';

export const SHARD_FORMAT = 'nvcc-data-shards';
export const SHARD_VERSION = 1;
export const SHARD_MANIFEST = 'manifest.json';

export interface ShardFile {
  readonly file: string;
  readonly samples: number;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ShardManifest {
  readonly format: typeof SHARD_FORMAT;
  readonly version: typeof SHARD_VERSION;
  readonly dataset: string;
  readonly classes: readonly string[];
  /** Names the image modality has among the stages' inputs (each gets the same tensor). */
  readonly imageInputs: readonly string[];
  readonly image: {
    readonly height: number;
    readonly width: number;
    readonly channels: number;
    /** Normalisation of pixel / 255, per channel (from the training split or the declared preset). */
    readonly mean: readonly number[];
    readonly std: readonly number[];
  };
  readonly groups: ReadonlyArray<{ readonly name: string; readonly width: number }>;
  readonly pool: string;
  readonly stats: DatasetStats;
  readonly splits: Readonly<
    Record<SplitName, { readonly samples: number; readonly patients: readonly string[]; readonly shards: ShardFile[] }>
  >;
}

export interface WriteShardsOptions {
  /** Samples per shard (the last shard of a split holds the rest); default 1024. */
  readonly samplesPerShard?: number;
}

interface RawTensor {
  readonly dtype: 'U8' | 'I32' | 'F32';
  readonly shape: readonly number[];
  readonly data: Uint8Array | Int32Array | Float32Array;
}

/** safetensors bytes for U8/I32/F32 tensors, names sorted, data 8-byte aligned. */
export function encodeRawSafetensors(
  tensors: ReadonlyMap<string, RawTensor>,
  metadata: Record<string, string>,
): Buffer {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`shard tensor '${name}': shape does not match its data`);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

/** Writes the shards and the manifest of every split of `dataset` into `outDir`. */
export async function writeDataShards(
  dataset: Dataset,
  imageInputs: readonly string[],
  outDir: string,
  options: WriteShardsOptions = {},
): Promise<ShardManifest> {
  const perShard = options.samplesPerShard ?? 1024;
  if (!(Number.isInteger(perShard) && perShard > 0))
    throw new RangeError(`samplesPerShard must be a positive integer, got ${perShard}`);
  mkdirSync(outDir, { recursive: true });
  const spec = dataset.spec;
  const [h, w] = spec.images.size;
  const c = spec.images.channels;
  const splits = {} as Record<SplitName, ShardManifest['splits'][SplitName]>;
  for (const split of ['train', 'val', 'test'] as const) {
    const samples = dataset.samples(split);
    const patientIndex = new Map(dataset.patientsOf(split).map((p, i) => [p, i] as const));
    const shards: ShardFile[] = [];
    for (let start = 0, k = 0; start < samples.length || (k === 0 && samples.length === 0); k++) {
      const part = samples.slice(start, start + perShard);
      const n = part.length;
      const images = new Uint8Array(n * h * w * c);
      const labels = new Int32Array(n);
      const patient = new Int32Array(n);
      const tensors = new Map<string, RawTensor>();
      const labs: Record<string, Float32Array> = {};
      for (const g of spec.groups) labs[g.name] = new Float32Array(n * dataset.widths[g.name]!);
      part.forEach((s, i) => {
        images.set(dataset.images[s.image]!.pixels, i * h * w * c);
        labels[i] = dataset.patients[s.patient]!.label;
        patient[i] = patientIndex.get(s.patient)!;
        for (const g of spec.groups) labs[g.name]!.set(dataset.labs(g.name, s.patient), i * dataset.widths[g.name]!);
      });
      tensors.set('images', { dtype: 'U8', shape: [n, h, w, c], data: images });
      tensors.set('labels', { dtype: 'I32', shape: [n], data: labels });
      tensors.set('patient', { dtype: 'I32', shape: [n], data: patient });
      for (const g of spec.groups)
        tensors.set(`labs.${g.name}`, { dtype: 'F32', shape: [n, dataset.widths[g.name]!], data: labs[g.name]! });
      const bytes = encodeRawSafetensors(tensors, { format: SHARD_FORMAT, split, first: String(start) });
      const file = `${split}-${String(k).padStart(5, '0')}.safetensors`;
      await writeFileAtomic(join(outDir, file), bytes);
      shards.push({ file, samples: n, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      start += n;
      if (n === 0) break;
    }
    splits[split] = {
      samples: samples.length,
      patients: dataset.patientsOf(split).map((p) => dataset.patients[p]!.id),
      shards,
    };
  }
  const manifest: ShardManifest = {
    format: SHARD_FORMAT,
    version: SHARD_VERSION,
    dataset: spec.name,
    classes: spec.label.classes.map((cl) => cl.name),
    imageInputs: [...imageInputs],
    image: { height: h, width: w, channels: c, mean: [...dataset.stats.image.mean], std: [...dataset.stats.image.std] },
    groups: spec.groups.map((g) => ({ name: g.name, width: dataset.widths[g.name]! })),
    pool: spec.pool,
    stats: dataset.stats,
    splits,
  };
  await writeFileAtomic(join(outDir, SHARD_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
