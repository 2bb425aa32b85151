/**
 * DatasetSpec: the plain-JSON description of a dataset that the compiler lowers a `dataset`
 * declaration to, and that the data runtime (runtime/data/) loads, validates, splits and batches.
 * In: a `DatasetDecl` (dsl/ast.ts): `key = value` settings and field groups. Out: a
 * `DatasetSpec` (no functions, no class instances; JSON.stringify round-trips it).
 * Holds afterwards: every field the runtime needs is explicit (the compiler fills in the
 * defaults named below), so a spec written into a run folder fully describes a run's data.
 *
 * The `.nvc` surface each field comes from (setting names chosen by the data runtime; the
 * parser supports `key = value` settings and field groups, and these only use plain
 * expressions: names, strings, numbers, lists, records and calls):
 *
 * ```nvc
 * dataset PJI {
 *   source    = synthetic_pji(patients = 489, seed = 7, size = 64)   // or: source = files
 *   table     = "labs.csv"                        // files only: the lab table (CSV, header row)
 *   id        = patient_id                        // patient id column
 *   label     = infected                          // label column ...
 *   classes   = { negative = 0, positive = 1 }    // ... class names = their codes in the file
 *   images    = folder("xrays", per = patient_id, pattern = "{id}_*",
 *                      size = [224, 224], channels = 3, fit = cover)
 *   normalize = imagenet                          // imagenet | dataset | none
 *   dicom     = dicom(window = auto, invert_monochrome1 = true)   // or window = [40, 400] | none
 *   pool      = max                               // mean | max: images of one patient, at eval
 *   cache     = ".nvcc-cache"                     // on-disk decoded-image cache (optional)
 *   labs {
 *     crp: number log1p standardize missing(median)
 *     esr: number standardize
 *     joint: binary [hip, knee]                   // hip = 0, knee = 1 (one column)
 *     sex: binary
 *     age: number standardize missing(indicator)  // +1 column: 1 where age was missing
 *     side: category [left, right, both]          // one-hot, 3 columns
 *     hypertension, diabetes, rheumatoid_arthritis, anemia, osteoporosis,
 *     cerebral_infarction, hypoalbuminemia, hypothyroidism, liver_disease: binary
 *   }
 *   split = by_patient(train = 0.7, val = 0.1, test = 0.2, stratified = true, seed = 7)
 *   // or: split = kfold(k = 5, fold = 0, val = 0.1, stratified = true, seed = 7)
 * }
 * ```
 *
 * Field modifiers: `log1p`, `standardize`, `minmax` (applied in order; statistics from the
 * training split only), `missing(error | mean | median | mode | indicator)`,
 * `missing(constant = v)`. A list after `binary` or `category` gives its levels as written in
 * the table (`binary [hip, knee]`); `binary` without a list accepts 0/1, true/false, yes/no.
 *
 * Augmentation is declared per training stage (`augment [hflip, rotate(degrees = 15),
 * random_resized_crop(scale = [0.8, 1])]`) and lowered to `AugmentSpec`, which the trainer
 * passes to `batches(...)`.
 */

/** The built-in synthetic PJI cohort (runtime/data/synthetic-pji.ts), generated on demand. */
export interface SyntheticSource {
  readonly kind: 'synthetic';
  readonly name: 'pji';
  readonly patients: number;
  readonly seed: number;
  /** Side length of the square generated radiographs, in pixels. */
  readonly imageSize: number;
}

/** A lab table and an image folder on disk. Relative paths resolve against the .nvc file. */
export interface FilesSource {
  readonly kind: 'files';
  /** CSV with a header row. */
  readonly table: string;
  /** Folder holding the images (searched recursively). */
  readonly images: string;
}

export type DatasetSource = SyntheticSource | FilesSource;

/** One class: its name in the program and its code as written in the label column. */
export interface ClassSpec {
  readonly name: string;
  /** Matched against the cell text; numbers also match numerically (`1` matches `1.0`). */
  readonly code: string | number;
}

export interface LabelSpec {
  readonly column: string;
  /** In class-index order: the label tensor holds the index into this list. */
  readonly classes: readonly ClassSpec[];
}

/**
 * Image normalisation after scaling pixels to [0, 1]:
 * `imagenet` uses the ImageNet mean/std (grayscale images use their mean: 0.449 / 0.226),
 * `dataset` the per-channel mean/std of the training split's images, `none` leaves [0, 1].
 */
export type ImageNormalization = 'imagenet' | 'dataset' | 'none';

/** DICOM pixel handling. */
export interface DicomOptions {
  /**
   * `auto`: the file's first Window Center/Width, else the min-max of the rescaled pixels;
   * `{ center, width }`: a fixed window in rescaled units (e.g. HU); `none`: min-max.
   */
  readonly window: 'auto' | 'none' | { readonly center: number; readonly width: number };
  /** Invert MONOCHROME1 images so that bright always means dense. Default true. */
  readonly invertMonochrome1: boolean;
}

export interface ImageSpec {
  /** Column of the table whose value links an image to its row (usually the id column). */
  readonly per: string;
  /**
   * File name pattern relative to the image folder: `{id}` is the linking value, `*` any run
   * of characters without `/`. Default `{id}_*` (`P0001_0.png`); `{id}/*` for a folder per
   * patient. Only .png, .jpg, .jpeg, .dcm files are considered.
   */
  readonly pattern: string;
  /** [height, width] after resizing. */
  readonly size: readonly [number, number];
  readonly channels: 1 | 3;
  /** `cover`: scale then centre-crop to the size (keeps aspect); `fill`: stretch. */
  readonly fit: 'cover' | 'fill';
  readonly normalize: ImageNormalization;
  readonly dicom: DicomOptions;
}

export type FieldType =
  | { readonly kind: 'number' }
  /** Two levels: `levels[0]` encodes as 0, `levels[1]` as 1. Absent: 0/1, false/true, no/yes. */
  | { readonly kind: 'binary'; readonly levels?: readonly [string, string] }
  /** One-hot over `levels`, in this order. */
  | { readonly kind: 'category'; readonly levels: readonly string[] };

export type FieldTransform = 'log1p' | 'standardize' | 'minmax';

/**
 * What to do with an empty or NA cell. `error` refuses the dataset. `mean`/`median`/`mode`
 * fill with the training split's statistic (of the raw value; `mode` is the most frequent
 * level, and the only fill besides `constant` allowed for categories). `constant` fills with
 * `value` (a number; for a category, the level's name). `indicator` fills like `mean` (for a
 * category: an all-zero one-hot) and, for number and binary fields, adds one column that is 1
 * where the value was missing.
 */
export type MissingPolicy =
  | { readonly kind: 'error' }
  | { readonly kind: 'mean' }
  | { readonly kind: 'median' }
  | { readonly kind: 'mode' }
  | { readonly kind: 'constant'; readonly value: number | string }
  | { readonly kind: 'indicator' };

export interface FieldSpec {
  /** Column name in the table; also the field's name in the program. */
  readonly name: string;
  readonly type: FieldType;
  readonly transforms: readonly FieldTransform[];
  readonly missing: MissingPolicy;
}

/** `labs { ... }`: an ordered group of fields, encoded to one [B, encodedWidth] tensor. */
export interface FieldGroupSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
}

export interface SplitSpec {
  /** Column the split groups by; every row of one value lands in one split. */
  readonly by: string;
  readonly train: number;
  readonly val: number;
  readonly test: number;
  /** Keep the class ratio of each split equal to the whole (within one patient). */
  readonly stratified: boolean;
  readonly seed: number;
  /**
   * k-fold cross-validation: patients are dealt into k folds (stratified when asked); fold
   * `fold` is the test split; `val` (a fraction of the rest, `val / (train + val)`) is drawn
   * from the remaining folds; the rest is train. `test` is then ignored.
   */
  readonly kfold?: { readonly k: number; readonly fold: number };
}

/** Pooling of a patient's per-image predictions at evaluation. */
export type Pooling = 'mean' | 'max';

export interface DatasetSpec {
  /** The declaration's name (`PJI`), used in messages. */
  readonly name: string;
  readonly source: DatasetSource;
  readonly id: string;
  readonly label: LabelSpec;
  readonly images: ImageSpec;
  readonly groups: readonly FieldGroupSpec[];
  readonly split: SplitSpec;
  readonly pool: Pooling;
  /** Folder for the on-disk decoded-image cache (content-hash keyed); absent: memory only. */
  readonly cache?: string;
}

/** Per-sample augmentation, declared in a training stage and applied by `batches(...)`. */
export interface AugmentSpec {
  /** Probability of a horizontal flip (the `.nvc` word `hflip` means 0.5). */
  readonly hflip?: number;
  /** Uniform rotation in [-degrees, +degrees], edges filled with the nearest pixel. */
  readonly rotateDegrees?: number;
  /**
   * Crop a random area fraction in `scale` with aspect ratio in `ratio` (log-uniform) and
   * resize it back to the image size.
   */
  readonly randomResizedCrop?: { readonly scale: readonly [number, number]; readonly ratio: readonly [number, number] };
}

/** Columns a field occupies in its group's tensor. */
export function fieldWidth(field: FieldSpec): number {
  switch (field.type.kind) {
    case 'number':
    case 'binary':
      return 1 + (field.missing.kind === 'indicator' ? 1 : 0);
    case 'category':
      return field.type.levels.length;
  }
}

/**
 * Width of a group's encoded tensor: binary 1, number 1 (+1 with a missing indicator),
 * category k (one-hot). The compiler checks it against the model's declared lab width.
 */
export function encodedWidth(spec: DatasetSpec, group: string): number {
  const g = spec.groups.find((x) => x.name === group);
  if (!g) throw new RangeError(`dataset ${spec.name} has no field group '${group}'`);
  return g.fields.reduce((n, f) => n + fieldWidth(f), 0);
}

/** Names of the encoded columns of a group, in order (`age`, `age.missing`, `side=left`...). */
export function encodedColumnNames(group: FieldGroupSpec): string[] {
  const out: string[] = [];
  for (const f of group.fields) {
    if (f.type.kind === 'category') for (const level of f.type.levels) out.push(`${f.name}=${level}`);
    else {
      out.push(f.name);
      if (f.missing.kind === 'indicator') out.push(`${f.name}.missing`);
    }
  }
  return out;
}

export const DEFAULT_DICOM: DicomOptions = { window: 'auto', invertMonochrome1: true };
