/**
 * Loading, validating and batching a dataset.
 * In: a DatasetSpec (from the compiler, or `pjiDatasetSpec`) and where relative paths start.
 * Out: `validateDataset` -> every DataError at once; `loadDataset` -> a `Dataset` with typed
 * patients, decoded images, patient-level splits, training-split statistics and a batch
 * iterator; it throws `DataRefusedError` (all errors) instead when the data are bad.
 * Holds afterwards: each patient is in one split; lab and image normalisation statistics come
 * from the training split only (or from `options.stats`, for eval/predict); images are
 * decoded once (and cached on disk when `spec.cache` is set); a batch stream is a pure
 * function of (dataset, split, options), and restarting it at a saved `position()` yields
 * exactly the remaining batches of that epoch.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../module.js';
import { permutation } from '../rng.js';
import { drawAugment, IDENTITY_DRAW, renderSample } from './augment.js';
import { encodeGroup, fitGroup, implausibleStats, implausibleValue, type FieldStats } from './encode.js';
import { DataRefusedError, type DataError } from './errors.js';
import { decodeImage, ImageDecodeError, listImages, type ImageRef } from './images.js';
import { encodedWidth, type AugmentSpec, type DatasetSpec, type SyntheticSource } from './spec.js';
import { splitPatients, validateSplitSpec, type SplitName, type Splits } from './split.js';
import {
  generatePjiCohort,
  pjiCohortDescription,
  PJI_TABLE_HEADER,
  pjiTableRow,
  writePjiCohort,
  type PjiCohort,
} from './synthetic-pji.js';
import { parseCsv, readPatients, type PatientRow, type RawTable } from './table.js';

export interface LoadOptions {
  /** Folder that relative table, image and cache paths start from. Default: the cwd. */
  readonly baseDir?: string;
  /** Statistics saved by a training run: used instead of fitting (eval, predict). */
  readonly stats?: DatasetStats;
  /** Read the label column (default true). `false` for prediction on unlabelled patients. */
  readonly labels?: boolean;
}

export interface DatasetStats {
  readonly fields: FieldStats;
  /** Per-channel mean and std of pixel / 255 used to normalise images. */
  readonly image: { readonly mean: readonly number[]; readonly std: readonly number[] };
}

export interface PatientRecord {
  readonly id: string;
  /** Row in the table (header = 1). */
  readonly row: number;
  /** Class index, or -1 when read without labels. */
  readonly label: number;
  /** Indices into `Dataset.images`. */
  readonly images: readonly number[];
}

export interface StoredImage {
  readonly file: string;
  readonly patient: number;
  /** HWC uint8 at the declared size and channels. */
  readonly pixels: Uint8Array;
}

export interface Sample {
  readonly patient: number;
  readonly image: number;
}

/** One batch, one row per image. The caller owns (and disposes) the tensors. */
export interface Batch {
  readonly images: tf.Tensor4D;
  readonly labs: Readonly<Record<string, tf.Tensor2D>>;
  readonly labels: tf.Tensor1D;
  readonly patientIds: readonly string[];
  readonly imageFiles: readonly string[];
}

export interface BatchOptions {
  readonly batchSize: number;
  readonly shuffle?: boolean;
  /** Required for shuffle and augment; the stream only forks it, never advances it. */
  readonly rng?: Rng;
  readonly augment?: AugmentSpec;
  /** Drop a last batch smaller than batchSize. */
  readonly dropLast?: boolean;
  /** Epoch number: selects the shuffle order and augmentation draws. Default 0. */
  readonly epoch?: number;
  /** Samples of this epoch already consumed (a saved `position().index`). Default 0. */
  readonly start?: number;
}

export interface BatchPosition {
  readonly epoch: number;
  /** Samples of the epoch consumed so far. */
  readonly index: number;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** ImageNet statistics for a single gray channel (the means of the three). */
export const IMAGENET_GRAY = { mean: 0.449, std: 0.226 } as const;

// ---------------------------------------------------------------------------------------------
// Reading the source

interface RawSource {
  readonly table?: RawTable;
  readonly images: readonly ImageRef[];
  /** Image files whose name does not fit the pattern. */
  readonly unmatched: readonly string[];
  readonly imageFolder: string;
  readonly errors: DataError[];
  /** Writes to do once the data are accepted (the synthetic cohort's disk cache). */
  readonly persist?: () => Promise<void>;
}

const cohorts = new Map<string, PjiCohort>();

function cohortKey(s: SyntheticSource): string {
  return `${s.patients}/${s.seed}/${s.imageSize}`;
}

function syntheticSource(cohort: PjiCohort, s: SyntheticSource): RawSource {
  const name = `synthetic_pji(patients = ${s.patients}, seed = ${s.seed})`;
  const table: RawTable = {
    file: `${name}/labs.csv`,
    header: [...PJI_TABLE_HEADER],
    rows: cohort.patients.map((p, i) => ({ row: i + 2, cells: pjiTableRow(p) })),
  };
  const images: ImageRef[] = cohort.images.map((img) => ({
    kind: 'raw',
    display: `${name}/images/${img.file}`,
    key: img.patientId,
    width: img.size,
    height: img.size,
    pixels: img.pixels,
  }));
  return { table, images, unmatched: [], imageFolder: `${name}/images`, errors: [] };
}

async function readFiles(
  tablePath: string,
  tableShown: string,
  imageDir: string,
  imageShown: string,
  pattern: string,
): Promise<RawSource> {
  const errors: DataError[] = [];
  let table: RawTable | undefined;
  try {
    const parsed = parseCsv(await readFile(tablePath, 'utf8'), tableShown);
    table = parsed.table;
    errors.push(...parsed.errors);
  } catch (e) {
    errors.push({
      file: tableShown,
      message: `cannot read the table (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    });
  }
  let images: ImageRef[] = [];
  let unmatched: string[] = [];
  try {
    const listed = await listImages(imageDir, imageShown, pattern);
    ({ refs: images, unmatched } = listed);
    errors.push(...listed.refused);
  } catch (e) {
    errors.push({
      file: imageShown,
      message: `cannot read the image folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    });
  }
  return { table, images, unmatched, imageFolder: imageShown, errors };
}

async function readSource(spec: DatasetSpec, baseDir: string): Promise<RawSource> {
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  if (spec.source.kind === 'files') {
    const { table, images } = spec.source;
    return readFiles(at(table), table, at(images), images, spec.images.pattern);
  }
  const s = spec.source;
  if (s.name !== 'pji')
    return {
      images: [],
      unmatched: [],
      imageFolder: '',
      errors: [{ file: `synthetic_${s.name}`, message: `unknown built-in dataset '${s.name}' (known: pji)` }],
    };
  if (spec.cache) {
    // A generated cohort is written once and read back as files on later runs.
    const dir = join(at(spec.cache), `synthetic-pji-n${s.patients}-seed${s.seed}-px${s.imageSize}`);
    const description =
      JSON.stringify(pjiCohortDescription({ patients: s.patients, seed: s.seed, imageSize: s.imageSize }), null, 2) +
      '\n';
    const stored = await readFile(join(dir, 'cohort.json'), 'utf8').catch(() => undefined);
    if (stored === description)
      return readFiles(
        join(dir, 'labs.csv'),
        join(dir, 'labs.csv'),
        join(dir, 'images'),
        join(dir, 'images'),
        '{id}_*',
      );
    const cohort = cachedCohort(s);
    return { ...syntheticSource(cohort, s), persist: () => writePjiCohort(cohort, dir) };
  }
  return syntheticSource(cachedCohort(s), s);
}

function cachedCohort(s: SyntheticSource): PjiCohort {
  const key = cohortKey(s);
  let cohort = cohorts.get(key);
  if (!cohort) {
    cohort = generatePjiCohort({ patients: s.patients, seed: s.seed, imageSize: s.imageSize });
    cohorts.set(key, cohort);
  }
  return cohort;
}

// ---------------------------------------------------------------------------------------------
// Checking

interface Checked {
  /** The table's name in messages. */
  readonly tableFile: string;
  readonly patients: PatientRow[];
  /** Image refs per patient (same order as `patients`). */
  readonly imagesOf: ImageRef[][];
  /** Decoded pixels per image ref, when decoding succeeded. */
  /** Decoded pictures per image file: one, or one per frame of a multi-frame DICOM file. */
  readonly pixels: Map<ImageRef, readonly Uint8Array[]>;
  readonly errors: DataError[];
  /** Cache writes to run only if the dataset is accepted. */
  readonly persist: Array<() => Promise<void>>;
}

async function mapLimit<T>(items: readonly T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function specProblems(spec: DatasetSpec): DataError[] {
  const where = `dataset ${spec.name}`;
  const out: DataError[] = validateSplitSpec(spec.split).map((message) => ({ file: where, message }));
  const [h, w] = spec.images.size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0))
    out.push({ file: where, message: `image size must be two positive integers, got [${h}, ${w}]` });
  if (spec.images.channels !== 1 && spec.images.channels !== 3)
    out.push({ file: where, message: `image channels must be 1 or 3, got ${spec.images.channels}` });
  if (spec.label.classes.length < 2) out.push({ file: where, message: 'a label needs at least two classes' });
  if (spec.split.by !== spec.id)
    out.push({ file: where, message: `the split must group by the id column '${spec.id}', not '${spec.split.by}'` });
  if (!spec.images.pattern.includes('{id}'))
    out.push({ file: where, message: `image pattern '${spec.images.pattern}' must contain {id}` });
  for (const g of spec.groups)
    for (const f of g.fields)
      if (
        f.type.kind === 'category' &&
        f.missing.kind === 'constant' &&
        !f.type.levels.includes(String(f.missing.value))
      )
        out.push({
          file: where,
          message: `field ${g.name}.${f.name}: missing(constant = ${f.missing.value}) is not one of its levels`,
        });
  return out;
}

async function check(spec: DatasetSpec, options: LoadOptions): Promise<Checked> {
  const checked = await checkUnsorted(spec, options);
  checked.errors.sort(errorOrder);
  return checked;
}

async function checkUnsorted(spec: DatasetSpec, options: LoadOptions): Promise<Checked> {
  const errors = specProblems(spec);
  const empty: Checked = { tableFile: '', patients: [], imagesOf: [], pixels: new Map(), errors, persist: [] };
  if (errors.length > 0) return empty;
  const baseDir = options.baseDir ?? process.cwd();
  const source = await readSource(spec, baseDir);
  errors.push(...source.errors);
  if (!source.table) return empty;
  const table = source.table;
  const { patients, errors: tableErrors } = readPatients(table, spec, options.labels ?? true);
  errors.push(...tableErrors);

  // Link images to rows. Keys of every row (valid or not) count as known, so a row that was
  // refused for another reason does not also make its images "orphans".
  const perCol = table.header.indexOf(spec.images.per);
  const knownKeys = new Set(perCol >= 0 ? table.rows.map((r) => (r.cells[perCol] ?? '').trim()) : []);
  const byKey = new Map<string, ImageRef[]>();
  for (const ref of source.images) {
    if (perCol >= 0 && !knownKeys.has(ref.key)) {
      errors.push({ file: ref.display, message: `no row with ${spec.images.per} = '${ref.key}' in ${table.file}` });
      continue;
    }
    if (!byKey.has(ref.key)) byKey.set(ref.key, []);
    byKey.get(ref.key)!.push(ref);
  }
  for (const file of source.unmatched)
    errors.push({
      file,
      message: `the file name does not match the image pattern '${spec.images.pattern}', so it belongs to no patient`,
    });
  const imagesOf = patients.map((p) => byKey.get(p.imageKey) ?? []);
  patients.forEach((p, i) => {
    if (imagesOf[i]!.length === 0)
      errors.push({
        file: table.file,
        row: p.row,
        column: spec.images.per,
        message:
          `patient '${p.id}' has no images in ${source.imageFolder} (pattern ` +
          `'${spec.images.pattern.replace('{id}', p.imageKey)}')`,
      });
  });

  // Decode every linked image once: unreadable and truncated files are data errors too.
  const pixels = new Map<ImageRef, readonly Uint8Array[]>();
  const persist: Array<() => Promise<void>> = source.persist ? [source.persist] : [];
  const cacheDir = spec.cache ? resolve(baseDir, spec.cache, 'images') : undefined;
  const work = patients.flatMap((p, i) => imagesOf[i]!.map((ref) => ({ p, ref })));
  await mapLimit(work, 4, async ({ p, ref }) => {
    try {
      const decoded = await decodeImage(ref, spec.images, cacheDir);
      pixels.set(ref, decoded.frames);
      if (decoded.persist) persist.push(decoded.persist);
    } catch (e) {
      const reason = e instanceof ImageDecodeError ? e.message : String(e);
      errors.push({
        file: ref.display,
        message: `unreadable image for patient '${p.id}' (${table.file} row ${p.row}): ${reason}`,
      });
    }
  });
  return { tableFile: table.file, patients, imagesOf, pixels, errors, persist };
}

function errorOrder(a: DataError, b: DataError): number {
  return (
    a.file.localeCompare(b.file) ||
    (a.row ?? 0) - (b.row ?? 0) ||
    (a.column ?? '').localeCompare(b.column ?? '') ||
    a.message.localeCompare(b.message)
  );
}

/**
 * Checks that need the split and the fitted statistics, on a dataset whose table and images
 * passed: a training split holding a single class (nothing to learn, AUC undefined), and lab
 * values whose encoding leaves the plausible range (encode.ts `implausibleValue`; 1e200 would
 * reach the model as infinity and end in NaN probabilities).
 */
function encodingProblems(spec: DatasetSpec, checked: Checked, dataset: Dataset, training: boolean): DataError[] {
  const errors: DataError[] = [];
  const file = checked.tableFile;
  if (training) {
    const present = new Set(dataset.splits.train.map((p) => dataset.patients[p]!.label));
    if (present.size < 2 && dataset.splits.train.length > 0) {
      const only = spec.label.classes[[...present][0] ?? 0]?.name ?? '?';
      errors.push({
        file,
        column: spec.label.column,
        message:
          `the training split holds only class '${only}' (${dataset.splits.train.length} patients): ` +
          'a classifier needs examples of at least two classes to learn from',
      });
    }
  }
  for (const g of spec.groups) {
    const stats = dataset.stats.fields[g.name] ?? {};
    g.fields.forEach((f, j) => {
      const s = stats[f.name];
      if (!s) return;
      const broken = implausibleStats(s);
      if (broken) {
        errors.push({ file, column: f.name, message: `field ${g.name}.${f.name}: ${broken}` });
        return;
      }
      for (const p of checked.patients) {
        const why = implausibleValue(f, s, p.values[g.name]![j] ?? null);
        if (why) errors.push({ file, row: p.row, column: f.name, message: `field ${g.name}.${f.name}: ${why}` });
      }
    });
  }
  return errors;
}

/**
 * What a training run should hear about its evaluation splits (they do not stop it): a validation
 * or test split that is empty or holds a single class has no AUC, and on validation the decision
 * threshold falls back to 0.5. A tiny cohort can give such splits by chance, so this warns (before
 * anything is written) rather than refuses; the training split is refused (encodingProblems).
 */
function evaluationSplitWarnings(spec: DatasetSpec, dataset: Dataset): string[] {
  const warnings: string[] = [];
  const { train, val, test } = spec.split;
  const cohort = `${dataset.patients.length} patients split ${train}/${val}/${test}`;
  for (const [split, name] of [
    ['val', 'validation'],
    ['test', 'test'],
  ] as const) {
    const members = dataset.splits[split];
    const present = new Set(members.map((p) => dataset.patients[p]!.label));
    const patients = `${members.length} patient${members.length === 1 ? '' : 's'}`;
    const consequence =
      split === 'val'
        ? 'AUC is undefined on it and the decision threshold falls back to 0.5'
        : 'AUC is undefined on it';
    if (members.length === 0 && spec.split[split] > 0)
      warnings.push(`the ${name} split is empty (${cohort}): ${consequence}; add patients or change the fractions`);
    else if (members.length > 0 && present.size < 2) {
      const only = spec.label.classes[[...present][0] ?? 0]?.name ?? '?';
      warnings.push(
        `the ${name} split holds only class '${only}' (${patients}): ${consequence}; add patients of the ` +
          'other class, or change the split (fractions, seed, stratified = true)',
      );
    }
  }
  return warnings;
}

/** The whole data check: every problem, and the dataset when there is none. Writes nothing. */
async function checkAndBuild(
  spec: DatasetSpec,
  options: LoadOptions,
): Promise<{ errors: DataError[]; dataset?: Dataset; persist: Array<() => Promise<void>> }> {
  const checked = await check(spec, options);
  if (checked.errors.length > 0) return { errors: checked.errors, persist: [] };
  const images: StoredImage[] = [];
  const patients: PatientRecord[] = checked.patients.map((p, i) => {
    // Each frame of a multi-frame DICOM file is one image of its patient, named by its frame.
    const ids = checked.imagesOf[i]!.flatMap((ref) => {
      const frames = checked.pixels.get(ref)!;
      return frames.map((pixels, k) => {
        const file = frames.length > 1 ? `${ref.display} [frame ${k + 1}/${frames.length}]` : ref.display;
        images.push({ file, patient: i, pixels });
        return images.length - 1;
      });
    });
    return { id: p.id, row: p.row, label: p.label, images: ids };
  });
  const labels = options.labels ?? true;
  const splits: Splits = labels
    ? splitPatients(
        patients.map((p) => p.label),
        spec.split,
      )
    : { train: [], val: [], test: patients.map((_, i) => i) };
  const dataset = new Dataset(spec, patients, images, splits, checked.patients, options.stats);
  const training = labels && !options.stats;
  const errors = encodingProblems(spec, checked, dataset, training).sort(errorOrder);
  if (training && errors.length === 0) dataset.warnings.push(...evaluationSplitWarnings(spec, dataset));
  return errors.length > 0 ? { errors, persist: [] } : { errors, dataset, persist: checked.persist };
}

/**
 * Every problem with the data, all at once; empty when the dataset can be loaded. Problems of the
 * split and the encoding are looked for once the table and images pass.
 */
export async function validateDataset(spec: DatasetSpec, options: LoadOptions = {}): Promise<DataError[]> {
  return (await checkAndBuild(spec, options)).errors;
}

/** `validateDataset`, with the warnings a training run on these data would print (Dataset.warnings). */
export async function checkDataset(
  spec: DatasetSpec,
  options: LoadOptions = {},
): Promise<{ readonly errors: DataError[]; readonly warnings: readonly string[] }> {
  const { errors, dataset } = await checkAndBuild(spec, options);
  return { errors, warnings: dataset?.warnings ?? [] };
}

/** Loads the dataset, or throws DataRefusedError listing every problem. Writes nothing then. */
export async function loadDataset(spec: DatasetSpec, options: LoadOptions = {}): Promise<Dataset> {
  const { errors, dataset, persist } = await checkAndBuild(spec, options);
  if (!dataset) throw new DataRefusedError(spec.name, errors);
  for (const write of persist) await write();
  return dataset;
}

// ---------------------------------------------------------------------------------------------
// The loaded dataset

export class Dataset {
  readonly spec: DatasetSpec;
  readonly patients: readonly PatientRecord[];
  readonly images: readonly StoredImage[];
  readonly splits: Splits;
  readonly stats: DatasetStats;
  /**
   * What a training run should print before it writes anything: an evaluation split with one
   * class or none (AUC undefined). Empty when loaded with a run's statistics or without labels.
   */
  readonly warnings: string[] = [];
  /** Encoded lab values per group: [patient][column], flattened. */
  private readonly encoded: Readonly<Record<string, Float32Array>>;
  readonly widths: Readonly<Record<string, number>>;

  constructor(
    spec: DatasetSpec,
    patients: PatientRecord[],
    images: StoredImage[],
    splits: Splits,
    rows: readonly PatientRow[],
    stats?: DatasetStats,
  ) {
    this.spec = spec;
    this.patients = patients;
    this.images = images;
    this.splits = splits;
    const train = splits.train;
    const fields: Record<string, ReturnType<typeof fitGroup>> = {};
    for (const g of spec.groups)
      fields[g.name] =
        stats?.fields[g.name] ??
        fitGroup(
          g,
          train.map((i) => rows[i]!.values[g.name]!),
        );
    this.stats = { fields, image: stats?.image ?? this.imageStats(train) };
    const encoded: Record<string, Float32Array> = {};
    const widths: Record<string, number> = {};
    for (const g of spec.groups) {
      const width = encodedWidth(spec, g.name);
      widths[g.name] = width;
      const all = new Float32Array(patients.length * width);
      rows.forEach((r, i) =>
        encodeGroup(g, fields[g.name]!, r.values[g.name]!, all.subarray(i * width, (i + 1) * width)),
      );
      encoded[g.name] = all;
    }
    this.encoded = encoded;
    this.widths = widths;
  }

  private imageStats(train: readonly number[]): DatasetStats['image'] {
    const c = this.spec.images.channels;
    if (this.spec.images.normalize === 'imagenet')
      return c === 3
        ? { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] }
        : { mean: [IMAGENET_GRAY.mean], std: [IMAGENET_GRAY.std] };
    if (this.spec.images.normalize === 'none') return { mean: Array(c).fill(0), std: Array(c).fill(1) };
    const sum = new Float64Array(c);
    const sq = new Float64Array(c);
    let n = 0;
    for (const p of train)
      for (const k of this.patients[p]!.images) {
        const px = this.images[k]!.pixels;
        for (let i = 0; i < px.length; i++) {
          const v = px[i]! / 255;
          sum[i % c] += v;
          sq[i % c] += v * v;
        }
        n += px.length / c;
      }
    const mean = Array.from(sum, (s) => (n ? s / n : 0));
    const std = Array.from(sq, (s, j) => {
      const variance = n ? s / n - mean[j]! ** 2 : 1;
      return variance > 1e-12 ? Math.sqrt(variance) : 1;
    });
    return { mean, std };
  }

  /** Encoded lab values of one patient for a group (a view; do not modify). */
  labs(group: string, patient: number): Float32Array {
    const all = this.encoded[group];
    if (!all) throw new RangeError(`dataset ${this.spec.name} has no field group '${group}'`);
    const w = this.widths[group]!;
    return all.subarray(patient * w, (patient + 1) * w);
  }

  /** Patient indices of a split ('all' = every patient). */
  patientsOf(split: SplitName | 'all'): readonly number[] {
    return split === 'all' ? this.patients.map((_, i) => i) : this.splits[split];
  }

  /** One sample per image of the split's patients, in patient then image order. */
  samples(split: SplitName | 'all'): Sample[] {
    return this.patientsOf(split).flatMap((p) => this.patients[p]!.images.map((image) => ({ patient: p, image })));
  }

  /** Batches of one epoch of a split; see BatchOptions for shuffling, augmenting, resuming. */
  batches(split: SplitName | 'all', options: BatchOptions): BatchStream {
    return new BatchStream(this, this.samples(split), options);
  }

  /** Counts per split and class, for reports. */
  summary(): Record<SplitName, { patients: number; images: number; perClass: number[] }> {
    const out = {} as Record<SplitName, { patients: number; images: number; perClass: number[] }>;
    for (const s of ['train', 'val', 'test'] as const) {
      const ps = this.splits[s];
      const perClass = this.spec.label.classes.map((_, c) => ps.filter((p) => this.patients[p]!.label === c).length);
      out[s] = { patients: ps.length, images: ps.reduce((n, p) => n + this.patients[p]!.images.length, 0), perClass };
    }
    return out;
  }
}

export class BatchStream implements Iterable<Batch> {
  private readonly order: readonly Sample[];
  private index: number;
  readonly epoch: number;
  /** Batches in the whole epoch (not only those left). */
  readonly steps: number;

  constructor(
    private readonly dataset: Dataset,
    samples: readonly Sample[],
    private readonly options: BatchOptions,
  ) {
    if (!(Number.isInteger(options.batchSize) && options.batchSize > 0))
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    if ((options.shuffle || options.augment) && !options.rng)
      throw new RangeError('batches: shuffle and augment need an rng');
    this.epoch = options.epoch ?? 0;
    const perm = options.shuffle
      ? permutation(options.rng!.fork(`shuffle/${this.epoch}`), samples.length)
      : samples.map((_, i) => i);
    this.order = perm.map((i) => samples[i]!);
    this.index = options.start ?? 0;
    const b = options.batchSize;
    this.steps = options.dropLast ? Math.floor(samples.length / b) : Math.ceil(samples.length / b);
    if (this.index < 0 || this.index > samples.length)
      throw new RangeError(`start ${this.index} is outside 0..${samples.length}`);
  }

  /** Where the stream stands: pass it back as { epoch, start } to resume exactly. */
  position(): BatchPosition {
    return { epoch: this.epoch, index: this.index };
  }

  *[Symbol.iterator](): Iterator<Batch> {
    const { batchSize, dropLast } = this.options;
    while (this.index < this.order.length) {
      const n = Math.min(batchSize, this.order.length - this.index);
      if (dropLast && n < batchSize) return;
      const batch = this.make(this.index, n);
      this.index += n;
      yield batch;
    }
  }

  private make(start: number, n: number): Batch {
    const ds = this.dataset;
    const [h, w] = ds.spec.images.size;
    const c = ds.spec.images.channels;
    const pixels = new Float32Array(n * h * w * c);
    const labels = new Int32Array(n);
    const patientIds: string[] = [];
    const imageFiles: string[] = [];
    const labs: Record<string, Float32Array> = {};
    for (const g of ds.spec.groups) labs[g.name] = new Float32Array(n * ds.widths[g.name]!);
    const { mean, std } = ds.stats.image;
    for (let b = 0; b < n; b++) {
      const pos = start + b;
      const s = this.order[pos]!;
      const patient = ds.patients[s.patient]!;
      const img = ds.images[s.image]!;
      const draw = this.options.augment
        ? drawAugment(this.options.augment, this.options.rng!.fork(`augment/${this.epoch}/${pos}`))
        : IDENTITY_DRAW;
      renderSample(img.pixels, h, w, c, draw, mean, std, pixels, b * h * w * c);
      labels[b] = patient.label;
      patientIds.push(patient.id);
      imageFiles.push(img.file);
      for (const g of ds.spec.groups) labs[g.name]!.set(ds.labs(g.name, s.patient), b * ds.widths[g.name]!);
    }
    const labTensors: Record<string, tf.Tensor2D> = {};
    for (const g of ds.spec.groups) labTensors[g.name] = tf.tensor2d(labs[g.name]!, [n, ds.widths[g.name]!], 'float32');
    return {
      images: tf.tensor4d(pixels, [n, h, w, c], 'float32'),
      labs: labTensors,
      labels: tf.tensor1d(labels, 'int32'),
      patientIds,
      imageFiles,
    };
  }
}
