/**
 * The data runtime's loaded Dataset seen as the runner's TrainingData.
 * In: a `Dataset` (runtime/data: typed patients, decoded images, patient-level splits,
 * training-split statistics) and the input names the stages use for its image modality. Out:
 * batches whose inputs are the normalised images under each image input name and one
 * [N, width] tensor per lab group under the group's name, with class indices and patient ids.
 * Holds afterwards: a sample index addresses one image of a split (patient order, then image
 * order, as Dataset.samples); augmentation draws come from the runner's `augment` stream, one
 * drawAugment per sample in batch order, so the stream's saved state reproduces them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  drawAugment,
  loadDataset,
  renderSample,
  type Dataset,
  type DatasetSpec,
  type DatasetStats,
  type LoadOptions,
  type Sample,
} from '../data/index.js';
import type { Rng } from '../module.js';
import { writeFileAtomic } from '../run/atomic.js';
import { projectOf, recordedPath } from '../run/recorded.js';
import { TrainingError } from './common.js';
import type { Batch, SplitName, TrainingData } from './data.js';
import type { SampleSource } from './evaluate.js';
import type { AugmentSpec, TrainSpec } from './spec.js';

export const DATA_STATS_FILE = 'data-stats.json';
/** Where the dataset's relative paths started for this run: `{ "baseDir": "/abs/path" }`. */
export const DATA_SOURCE_FILE = 'data-source.json';

/**
 * Input names that refer to the image modality: every stage input that is not a lab group.
 * (A DatasetSpec has one image modality; the program names it in `forward(xray: ...)`.)
 */
export function imageInputNames(spec: TrainSpec, dataset: DatasetSpec): string[] {
  const groups = new Set(dataset.groups.map((g) => g.name));
  const names = new Set<string>();
  for (const s of spec.stages) for (const i of s.inputs) if (!groups.has(i)) names.add(i);
  return [...names];
}

export class DatasetTrainingData implements TrainingData {
  readonly classes: readonly string[];
  private readonly samples = new Map<SplitName, readonly Sample[]>();

  constructor(
    readonly dataset: Dataset,
    private readonly imageNames: readonly string[],
  ) {
    this.classes = dataset.spec.label.classes.map((c) => c.name);
  }

  private samplesOf(split: SplitName): readonly Sample[] {
    let s = this.samples.get(split);
    if (!s) {
      s = this.dataset.samples(split);
      this.samples.set(split, s);
    }
    return s;
  }

  size(split: SplitName): number {
    return this.samplesOf(split).length;
  }

  load(
    split: SplitName,
    indices: readonly number[],
    augment?: { readonly spec: AugmentSpec; readonly rng: Rng },
  ): Batch {
    const ds = this.dataset;
    const all = this.samplesOf(split);
    const [h, w] = ds.spec.images.size;
    const c = ds.spec.images.channels;
    const n = indices.length;
    const pixels = new Float32Array(n * h * w * c);
    const labels = new Int32Array(n);
    const patientIds: string[] = [];
    const labs: Record<string, Float32Array> = {};
    for (const g of ds.spec.groups) labs[g.name] = new Float32Array(n * ds.widths[g.name]!);
    const { mean, std } = ds.stats.image;
    indices.forEach((index, b) => {
      const s = all[index];
      if (!s) throw new RangeError(`${split} split has no sample ${index}`);
      const patient = ds.patients[s.patient]!;
      const draw = drawAugment(augment?.spec, augment?.rng as Rng);
      if (this.imageNames.length > 0)
        renderSample(ds.images[s.image]!.pixels, h, w, c, draw, mean, std, pixels, b * h * w * c);
      labels[b] = patient.label;
      patientIds.push(patient.id);
      for (const g of ds.spec.groups) labs[g.name]!.set(ds.labs(g.name, s.patient), b * ds.widths[g.name]!);
    });
    const inputs: Record<string, tf.Tensor> = {};
    // A program whose stages read only lab values (a lab-only baseline) gets no image tensor.
    if (this.imageNames.length > 0) {
      const images = tf.tensor4d(pixels, [n, h, w, c], 'float32');
      this.imageNames.forEach((name, i) => (inputs[name] = i === 0 ? images : tf.clone(images)));
    }
    for (const g of ds.spec.groups) inputs[g.name] = tf.tensor2d(labs[g.name]!, [n, ds.widths[g.name]!], 'float32');
    const labelled = [...labels].every((l) => l >= 0);
    return { inputs, ...(labelled ? { labels: tf.tensor1d(labels, 'int32') } : {}), patientIds };
  }
}

/**
 * Loads (and validates) the dataset of a train declaration; throws DataRefusedError on bad data.
 * The data's warnings (an evaluation split with one class) go to `warn`, by default stderr, before
 * the caller writes anything.
 */
export async function loadTrainingData(
  spec: TrainSpec,
  dataset: DatasetSpec,
  options: LoadOptions & { readonly warn?: (message: string) => void } = {},
): Promise<DatasetTrainingData> {
  const { warn, ...load } = options;
  const ds = await loadDataset(dataset, load);
  const say = warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  for (const w of ds.warnings) say(`dataset ${dataset.name}: ${w}`);
  return new DatasetTrainingData(ds, imageInputNames(spec, dataset));
}

/** Saves the training-split statistics so eval/predict normalise new data the same way. */
export async function saveDataStats(runDir: string, stats: DatasetStats): Promise<void> {
  await writeFileAtomic(join(runDir, DATA_STATS_FILE), `${JSON.stringify(stats, null, 2)}\n`);
}

/** Records where relative data paths start, so resume/eval/predict find the same files. */
export async function saveDataSource(runDir: string, baseDir: string): Promise<void> {
  await writeFileAtomic(join(runDir, DATA_SOURCE_FILE), `${JSON.stringify({ baseDir }, null, 2)}\n`);
}

/** A JSON file of the run folder, or undefined when absent; garbled, a TrainingError naming it. */
function readRunJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TrainingError(`${path} is not valid JSON (${(e as Error).message})`);
  }
}

/** The recorded data folder, checked like every path a run records (runtime/run/recorded.ts). */
export function readDataSource(runDir: string): { baseDir: string } | undefined {
  const path = join(runDir, DATA_SOURCE_FILE);
  const v = readRunJson(path) as { baseDir?: unknown } | undefined;
  if (v === undefined) return undefined;
  const baseDir = recordedPath(v?.baseDir, { runDir, recordedIn: path, what: 'the data folder', kind: 'folder' });
  return { baseDir };
}

/**
 * The dataset's recorded paths (table, images, cache), resolved against `baseDir` and checked:
 * eval and predict read the run's config.json, which a copied run folder could point anywhere.
 */
export function checkRecordedDataPaths(runDir: string, dataset: DatasetSpec, baseDir: string): void {
  const recordedIn = join(runDir, 'config.json');
  const o = { runDir, recordedIn, base: baseDir, roots: [process.cwd(), projectOf(runDir), baseDir] };
  if (dataset.source.kind === 'files') {
    recordedPath(dataset.source.table, { ...o, what: 'the dataset table', kind: 'file' });
    recordedPath(dataset.source.images, { ...o, what: 'the image folder', kind: 'folder' });
  }
  if (dataset.cache !== undefined)
    recordedPath(dataset.cache, { ...o, what: 'the cache folder', kind: 'folder', mayBeMissing: true });
}

export function readDataStats(runDir: string): DatasetStats | undefined {
  return readRunJson(join(runDir, DATA_STATS_FILE)) as DatasetStats | undefined;
}

/**
 * New, unlabelled patients from a lab table and an image folder, encoded with the run's
 * training statistics, as a SampleSource for `predict`.
 */
export async function loadNewPatients(
  spec: TrainSpec,
  dataset: DatasetSpec,
  files: { readonly table: string; readonly images: string },
  stats: DatasetStats,
  options: Omit<LoadOptions, 'stats' | 'labels'> = {},
): Promise<SampleSource> {
  const ds = await loadDataset(
    { ...dataset, source: { kind: 'files', table: files.table, images: files.images } },
    { ...options, stats, labels: false },
  );
  const data = new DatasetTrainingData(ds, imageInputNames(spec, dataset));
  return { size: data.size('test'), load: (indices) => data.load('test', indices) };
}
