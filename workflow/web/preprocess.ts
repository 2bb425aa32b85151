/**
 * What the exported web page does to a reader's input before the model sees it: the same steps
 * as the training data path, on values typed into a form and pixels a browser decoded.
 * In: the run's dataset declaration (lab groups, image settings), its training statistics
 * (data-stats.json), the form's texts per field, and decoded RGBA pixels of each dropped image.
 * Out: one encoded Float32Array per lab group (or the fields that are refused, with why), and
 * per image the model's input: Uint8 HWC at the declared size, then normalised floats.
 * Holds: lab texts are read by the table reader's own cell parser (runtime/data/cells.ts), filled
 * and transformed by its encoder with the run's statistics (runtime/data/encode.ts), pixels are
 * normalised by the training renderer (runtime/data/augment.ts, no augmentation), so a value or
 * an image at the declared size gives exactly what `nvcc predict` gives. Resizing follows
 * sharp's steps (box shrink by the integer part, then Lanczos-3; `cover` crops the centre) but is
 * this module's own arithmetic: an image of another size can differ from `nvcc predict`'s by a
 * grey level here and there (test/workflow/web-preprocess.test.ts measures it). No DOM, no Node:
 * the page bundles it and the tests import it.
 */
import { isMissingCell, parseFieldCell, type RawValue } from '../../runtime/data/cells.js';
import { encodeGroup, implausibleValue, type FieldStats } from '../../runtime/data/encode.js';
import { IDENTITY_DRAW, renderSample } from '../../runtime/data/augment.js';
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

/** sRGB code value to linear light, and back (IEC 61966-2-1). */
function toLinear(v: number): number {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}
function fromLinear(l: number): number {
  const c = l <= 0.0031308 ? l * 12.92 : 1.055 * l ** (1 / 2.4) - 0.055;
  return Math.min(255, Math.max(0, Math.round(c * 255)));
}

/**
 * The image's own bands before resizing, as sharp sees the file: one band when every pixel is
 * grey (a greyscale PNG or JPEG, which a browser hands over as R = G = B), else three; alpha is
 * dropped, not composited (sharp's removeAlpha).
 */
function ownBands(image: RgbaImage): { bands: 1 | 3; pixels: Float64Array } {
  const n = image.width * image.height;
  const d = image.data;
  let grey = true;
  for (let i = 0; i < n && grey; i++) grey = d[4 * i] === d[4 * i + 1] && d[4 * i] === d[4 * i + 2];
  const bands = grey ? 1 : 3;
  const pixels = new Float64Array(n * bands);
  for (let i = 0; i < n; i++) for (let c = 0; c < bands; c++) pixels[i * bands + c] = d[4 * i + c]!;
  return { bands, pixels };
}

/** Lanczos-3 weight at distance x (in kernel units). */
function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/** Box-averages `factor` x 1 (horizontal) input pixels per output pixel; a last partial box averages what it has. */
function boxShrink(
  src: Float64Array,
  width: number,
  height: number,
  bands: number,
  factor: number,
  horizontal: boolean,
): { pixels: Float64Array; width: number; height: number } {
  const ow = horizontal ? Math.ceil(width / factor) : width;
  const oh = horizontal ? height : Math.ceil(height / factor);
  const out = new Float64Array(ow * oh * bands);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++)
      for (let c = 0; c < bands; c++) {
        let sum = 0;
        let count = 0;
        for (let k = 0; k < factor; k++) {
          const sx = horizontal ? x * factor + k : x;
          const sy = horizontal ? y : y * factor + k;
          if (sx >= width || sy >= height) break;
          sum += src[(sy * width + sx) * bands + c]!;
          count++;
        }
        out[(y * ow + x) * bands + c] = sum / count;
      }
  return { pixels: out, width: ow, height: oh };
}

/** Lanczos-3 resampling along one axis from `size` to `target` samples (centres aligned). */
function lanczosAxis(
  src: Float64Array,
  width: number,
  height: number,
  bands: number,
  target: number,
  horizontal: boolean,
): Float64Array {
  const size = horizontal ? width : height;
  const scale = size / target;
  // Downsampling widens the kernel so that it still low-passes at the new sample rate.
  const stretch = Math.max(1, scale);
  const support = 3 * stretch;
  const ow = horizontal ? target : width;
  const oh = horizontal ? height : target;
  const out = new Float64Array(ow * oh * bands);
  for (let o = 0; o < target; o++) {
    const centre = (o + 0.5) * scale - 0.5;
    const first = Math.ceil(centre - support);
    const last = Math.floor(centre + support);
    const taps: { index: number; weight: number }[] = [];
    let total = 0;
    for (let i = first; i <= last; i++) {
      const weight = lanczos3((i - centre) / stretch);
      if (weight === 0) continue;
      taps.push({ index: Math.min(size - 1, Math.max(0, i)), weight });
      total += weight;
    }
    const lines = horizontal ? height : width;
    for (let line = 0; line < lines; line++)
      for (let c = 0; c < bands; c++) {
        let sum = 0;
        for (const t of taps) {
          const at = horizontal ? line * width + t.index : t.index * width + line;
          sum += src[at * bands + c]! * t.weight;
        }
        const to = horizontal ? line * ow + o : o * ow + line;
        out[to * bands + c] = sum / total;
      }
  }
  return out;
}

/** Resizes along one axis as sharp does: an integer box shrink while the factor is 2 or more, then Lanczos-3. */
function resizeAxis(
  image: { pixels: Float64Array; width: number; height: number },
  bands: number,
  target: number,
  horizontal: boolean,
): { pixels: Float64Array; width: number; height: number } {
  const size = horizontal ? image.width : image.height;
  if (size === target) return image;
  let current = image;
  const box = Math.floor(size / target / 2);
  if (box > 1) current = boxShrink(current.pixels, current.width, current.height, bands, box, horizontal);
  const pixels = lanczosAxis(current.pixels, current.width, current.height, bands, target, horizontal);
  return horizontal
    ? { pixels, width: target, height: current.height }
    : { pixels, width: current.width, height: target };
}

/**
 * A decoded image as the model's stored input: Uint8 HWC at the declared size and channels, as
 * runtime/data/images.ts makes it with sharp (`fill` stretches, `cover` scales to cover and
 * crops the centre; colour becomes grey as luminance of linear light, grey becomes colour by
 * repeating the band).
 */
export function imageForModel(image: RgbaImage, spec: Pick<ImageSpec, 'size' | 'channels' | 'fit'>): Uint8Array {
  const [h, w] = spec.size;
  const { bands, pixels } = ownBands(image);
  let resized = { pixels, width: image.width, height: image.height };
  let crop = { left: 0, top: 0 };
  if (spec.fit === 'cover') {
    const factor = Math.min(image.width / w, image.height / h);
    const cw = Math.max(w, Math.round(image.width / factor));
    const ch = Math.max(h, Math.round(image.height / factor));
    resized = resizeAxis(resizeAxis(resized, bands, cw, true), bands, ch, false);
    crop = { left: Math.floor((cw - w + 1) / 2), top: Math.floor((ch - h + 1) / 2) };
  } else resized = resizeAxis(resizeAxis(resized, bands, w, true), bands, h, false);
  const out = new Uint8Array(w * h * spec.channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const at = ((y + crop.top) * resized.width + x + crop.left) * bands;
      const band = (c: number) => Math.min(255, Math.max(0, Math.round(resized.pixels[at + c]!)));
      const o = (y * w + x) * spec.channels;
      if (spec.channels === bands) for (let c = 0; c < bands; c++) out[o + c] = band(c);
      else if (spec.channels === 3) out[o] = out[o + 1] = out[o + 2] = band(0);
      else out[o] = fromLinear(0.2126 * toLinear(band(0)) + 0.7152 * toLinear(band(1)) + 0.0722 * toLinear(band(2)));
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
