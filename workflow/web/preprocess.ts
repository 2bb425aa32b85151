/**
 * What the exported web page does to a reader's input before the model sees it: the same steps
 * as the training data path, on values typed into a form and pixels a browser decoded.
 * In: the run's dataset declaration (lab groups, image settings), its training statistics
 * (data-stats.json), the form's texts per field, and decoded RGBA pixels of each dropped image.
 * Out: one encoded Float32Array per lab group (or the fields that are refused, with why), and
 * per image the model's input: Uint8 HWC at the declared size, then normalised floats.
 * Holds: lab texts are read by the table reader's own cell parser (runtime/data/cells.ts), filled
 * and transformed by its encoder with the run's statistics (runtime/data/encode.ts), pixels are
 * normalised by the training renderer (runtime/data/augment.ts, no augmentation), and resized
 * and turned grey with sharp's own integer arithmetic (vips-resize.ts), so a value or a decoded
 * image gives what `nvcc predict` gives. No DOM, no Node: the page
 * bundles it and the tests import it.
 */
import { isMissingCell, parseFieldCell, type RawValue } from '../../runtime/data/cells.js';
import { encodeGroup, implausibleValue, type FieldStats } from '../../runtime/data/encode.js';
import { IDENTITY_DRAW, renderSample } from '../../runtime/data/augment.js';
import { resizeLikeSharp, srgbToGrey, type Pixels } from './vips-resize.js';

export type { Pixels } from './vips-resize.js';
import { fieldWidth, type DatasetSpec, type FieldGroupSpec, type ImageSpec } from '../../runtime/data/spec.js';

/** A field the form could not use, and why (shown next to the field). */
export interface FieldProblem {
  readonly group: string;
  readonly field: string;
  readonly message: string;
}

/**
 * The lab groups of one patient encoded as in training, from the texts typed per field name
 * (a missing key or an empty text is a missing value, handled by the field's `missing` policy).
 */
export function encodeLabForm(
  dataset: Pick<DatasetSpec, 'groups'>,
  stats: FieldStats,
  texts: Readonly<Record<string, string | undefined>>,
): { readonly encoded: Record<string, Float32Array> } | { readonly problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const raw: Record<string, RawValue[]> = {};
  for (const group of dataset.groups) {
    const groupStats = stats[group.name];
    raw[group.name] = group.fields.map((field) => {
      const text = texts[field.name];
      const problem = (message: string): null => {
        problems.push({ group: group.name, field: field.name, message });
        return null;
      };
      let value: RawValue = null;
      if (isMissingCell(text)) {
        if (field.missing.kind === 'error')
          return problem('required (the run was trained without missing values here)');
      } else {
        const parsed = parseFieldCell(field, text!);
        if ('error' in parsed) return problem(parsed.error);
        value = parsed.value;
      }
      const fieldStats = groupStats?.[field.name];
      if (!fieldStats) return problem('the run recorded no training statistics for this field');
      const why = implausibleValue(field, fieldStats, value);
      return why ? problem(why) : value;
    });
  }
  if (problems.length) return { problems };
  const encoded: Record<string, Float32Array> = {};
  for (const group of dataset.groups) {
    const out = new Float32Array(groupWidth(group));
    encodeGroup(group, stats[group.name]!, raw[group.name]!, out);
    encoded[group.name] = out;
  }
  return { encoded };
}

function groupWidth(group: FieldGroupSpec): number {
  return group.fields.reduce((n, f) => n + fieldWidth(f), 0);
}

/** Decoded pixels as a browser's canvas gives them: RGBA, row-major, 8 bits per channel. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}

/**
 * The image's own bands before resizing, as sharp sees the file: one band when every pixel is
 * grey (a greyscale PNG or JPEG, which a browser hands over as R = G = B), else three; alpha is
 * dropped, not composited (sharp's removeAlpha).
 */
export function ownBands(image: RgbaImage): Pixels {
  const n = image.width * image.height;
  const d = image.data;
  let grey = true;
  for (let i = 0; i < n && grey; i++) grey = d[4 * i] === d[4 * i + 1] && d[4 * i] === d[4 * i + 2];
  const bands = grey ? 1 : 3;
  const data = new Uint8Array(n * bands);
  for (let i = 0; i < n; i++) for (let c = 0; c < bands; c++) data[i * bands + c] = d[4 * i + c]!;
  return { data, width: image.width, height: image.height, bands };
}

/**
 * A decoded image (RGBA from a browser, or one band: a DICOM frame as runtime/data/dicom.ts
 * windows it) as the model's stored input: Uint8 HWC at the declared size and channels, as
 * runtime/data/images.ts makes it with sharp (`fill` stretches, `cover` scales to cover and
 * crops the centre; colour becomes grey as luminance of linear light, grey becomes colour by
 * repeating the band).
 */
export function imageForModel(
  image: RgbaImage | Pixels,
  spec: Pick<ImageSpec, 'size' | 'channels' | 'fit'>,
): Uint8Array {
  const [h, w] = spec.size;
  const resized = resizeLikeSharp('bands' in image ? image : ownBands(image), w, h, spec.fit);
  const { data, bands } = resized;
  if (bands === spec.channels) return data;
  const out = new Uint8Array(w * h * spec.channels);
  for (let i = 0; i < w * h; i++) {
    if (spec.channels === 3) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i]!;
    else out[i] = srgbToGrey(data[3 * i]!, data[3 * i + 1]!, data[3 * i + 2]!);
  }
  return out;
}

/** The stored input normalised as the training renderer does it (pixel / 255 - mean) / std, no augmentation. */
export function normaliseImage(
  pixels: Uint8Array,
  spec: Pick<ImageSpec, 'size' | 'channels'>,
  stats: { readonly mean: readonly number[]; readonly std: readonly number[] },
): Float32Array {
  const [h, w] = spec.size;
  const out = new Float32Array(h * w * spec.channels);
  renderSample(pixels, h, w, spec.channels, IDENTITY_DRAW, stats.mean, stats.std, out, 0);
  return out;
}
