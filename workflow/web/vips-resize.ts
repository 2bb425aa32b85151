/**
 * The resize the training data path gets from sharp, redone in plain JavaScript for the page.
 * In: 8-bit pixels (1 or 3 bands, HWC), a target size and sharp's `fit` (`fill` stretches,
 * `cover` scales both axes alike and crops the centre). Out: 8-bit pixels at the target size;
 * `srgbToGrey` turns 3 bands into 1 as sharp's `toColourspace('b-w')` does.
 * Holds: the integer arithmetic of the libvips that sharp 0.35 bundles (8.18) is followed:
 * `vips_resize` with the Lanczos-3 kernel runs `reducev` then `reduceh`; each first box-shrinks by
 * the integer part of the factor over 2 (`shrinkv`/`shrinkh` with `ceil`, fixed-point averages),
 * then filters with 12-bit coefficients taken from a table of 65 sub-pixel positions, the edges
 * repeated; grey from colour is the luminance of linearised sRGB through libvips's 8-bit tables,
 * in 32-bit floats; enlarging is `vips_affine` with the bicubic (Catmull-Rom) interpolator's 12-bit
 * tables, rows first. So a decoded image gives sharp's pixels, downsized, enlarged or both
 * (test/workflow/web-preprocess.test.ts compares them).
 */

/** 8-bit pixels, row-major, `bands` interleaved. */
export interface Pixels {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly bands: number;
}

/** libvips: VIPS_INTERPOLATE_SHIFT and VIPS_TRANSFORM_SCALE (sub-pixel positions per pixel). */
const COEFFICIENT_SHIFT = 12;
const POSITIONS = 64;
/** libvips passes `gap = 2.0` to reduce: box-shrink by floor(factor / 2) first. */
const GAP = 2;

/** C's rint (round half to even), as libvips's point count uses it. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** VIPS_ROUND_UINT: round half up. */
function roundUint(x: number): number {
  return Math.floor(x + 0.5);
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczos3(x: number): number {
  return x >= -3 && x <= 3 ? sinc(x) * sinc(x / 3) : 0;
}

/** One pixel line along the axis: index of sample `i` of line `line`, so both axes share the filters. */
type Index = (line: number, i: number, band: number) => number;

function axis(image: Pixels, vertical: boolean) {
  const { width, height, bands } = image;
  const size = vertical ? height : width;
  const lines = vertical ? width : height;
  const at: Index = vertical
    ? (line, i, band) => (i * width + line) * bands + band
    : (line, i, band) => (line * width + i) * bands + band;
  const make = (newSize: number) => {
    const w = vertical ? width : newSize;
    const h = vertical ? newSize : height;
    const out: Pixels = { data: new Uint8Array(w * h * bands), width: w, height: h, bands };
    const to: Index = vertical
      ? (line, i, band) => (i * w + line) * bands + band
      : (line, i, band) => (line * w + i) * bands + band;
    return { out, to };
  };
  return { size, lines, at, make };
}

/** libvips shrinkv/shrinkh with `ceil`: fixed-point box averages, the last box padded with the edge. */
function boxShrink(image: Pixels, factor: number, vertical: boolean): Pixels {
  const { size, lines, at, make } = axis(image, vertical);
  const outSize = Math.ceil(size / factor);
  const { out, to } = make(outSize);
  const multiplier = Math.floor(2 ** 32 / (256 * factor));
  const amend = Math.floor(factor / 2);
  for (let line = 0; line < lines; line++)
    for (let o = 0; o < outSize; o++)
      for (let b = 0; b < image.bands; b++) {
        let sum = amend;
        for (let k = 0; k < factor; k++) sum += image.data[at(line, Math.min(size - 1, o * factor + k), b)]!;
        out.data[to(line, o, b)] = Math.floor((sum * multiplier) / 2 ** 24);
      }
  return out;
}

/** libvips reducev/reduceh (Lanczos-3, gap 2) by `factor` >= 1 along one axis. */
function reduce(image: Pixels, factor: number, vertical: boolean): Pixels {
  const size = vertical ? image.height : image.width;
  const outSize = roundUint(size / factor);
  let extra = outSize * factor - size;
  let residual = factor;
  let source = image;
  const integer = Math.max(1, Math.floor(size / outSize / GAP));
  if (integer > 1) {
    source = boxShrink(image, integer, vertical);
    extra /= integer;
    residual /= integer;
  }
  if (residual === 1) return source;
  const points = 2 * rint(3 * residual) + 1;
  const offset = (1 + extra) / 2 - 1;
  const pad = Math.ceil(points / 2) - 1;
  const tables: Int16Array[] = [];
  for (let t = 0; t <= POSITIONS; t++) {
    const half = t / POSITIONS + points / 2 - 1;
    const weights = Array.from({ length: points }, (_, i) => lanczos3((i - half) / residual));
    const total = weights.reduce((a, b) => a + b, 0);
    // (short)(c * VIPS_INTERPOLATE_SCALE): truncation toward zero.
    tables.push(Int16Array.from(weights, (w) => Math.trunc((w / total) * 2 ** COEFFICIENT_SHIFT)));
  }
  const { size: inSize, lines, at, make } = axis(source, vertical);
  const { out, to } = make(outSize);
  for (let o = 0; o < outSize; o++) {
    const position = (o + 0.5) * residual - 0.5 - offset;
    const first = Math.trunc(position) - pad;
    const sub = Math.trunc(position * POSITIONS * 2) & (POSITIONS * 2 - 1);
    const k = tables[(sub + 1) >> 1]!;
    for (let line = 0; line < lines; line++)
      for (let b = 0; b < source.bands; b++) {
        let sum = 1 << (COEFFICIENT_SHIFT - 1);
        for (let i = 0; i < points; i++)
          sum += source.data[at(line, Math.min(inSize - 1, Math.max(0, first + i)), b)]! * k[i]!;
        out.data[to(line, o, b)] = Math.min(255, Math.max(0, sum >> COEFFICIENT_SHIFT));
      }
  }
  return out;
}

/** libvips's Catmull-Rom coefficients at fraction `x` (calculate_coefficients_catmull). */
function catmullRom(x: number): [number, number, number, number] {
  const cr1 = 1 - x;
  const cr2 = -0.5 * x;
  const cr3 = cr1 * cr2;
  const cone = cr1 * cr3;
  const cfou = x * cr3;
  const cr4 = cfou - cone;
  return [cone, cr1 - cone + cr4, x - cfou - cr4, cfou];
}

/** The bicubic interpolator's 12-bit tables, one per sub-pixel position: (int)(c * 4096). */
const BICUBIC = Array.from({ length: POSITIONS + 1 }, (_, t) =>
  catmullRom(Math.fround(t / POSITIONS)).map((c) => Math.trunc(c * 2 ** COEFFICIENT_SHIFT)),
);

/**
 * Where output pixel `o` samples the input along an axis enlarged by `scale` (>= 1) in vips_affine
 * as vips_resize calls it: input position o / scale - 0.5 (the displacement of 0.5 with the output
 * area starting at 0; this is what sharp's pixels show, for both axes and for an axis passed
 * through at scale 1), here in the coordinates of the input padded by 2: whole part, table index.
 */
function affineSample(o: number, scale: number): { whole: number; table: number } {
  const position = o * (1 / scale) - 0.5 + 2;
  const sub = Math.trunc(position * POSITIONS * 2) & (POSITIONS * 2 - 1);
  return { whole: Math.trunc(position), table: (sub + 1) >> 1 };
}

/**
 * vips_affine(hscale, 0, 0, vscale) with the bicubic interpolator on 8-bit pixels, as vips_resize
 * enlarges (an axis not enlarged goes through with scale 1): each output pixel from the 4x4
 * neighbourhood, rows combined first, each sum rounded in 12-bit fixed point, edges repeated.
 */
function enlarge(image: Pixels, hscale: number, vscale: number): Pixels {
  const { width, height, bands } = image;
  const outWidth = roundUint(width * hscale);
  const outHeight = roundUint(height * vscale);
  const out = new Uint8Array(outWidth * outHeight * bands);
  const half = 1 << (COEFFICIENT_SHIFT - 1);
  const columns = Array.from({ length: outWidth }, (_, x) => affineSample(x, hscale));
  const pixel = (x: number, y: number, b: number) =>
    image.data[(Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))) * bands + b]!;
  for (let y = 0; y < outHeight; y++) {
    const row = affineSample(y, vscale);
    const cy = BICUBIC[row.table]!;
    // Padded by 2: the 4x4 stencil of padded pixel p starts at p - 1, which is p - 3 unpadded.
    const top = row.whole - 3;
    for (let x = 0; x < outWidth; x++) {
      const column = columns[x]!;
      const cx = BICUBIC[column.table]!;
      const left = column.whole - 3;
      for (let b = 0; b < bands; b++) {
        let sum = half;
        for (let j = 0; j < 4; j++) {
          let line = half;
          for (let i = 0; i < 4; i++) line += cx[i]! * pixel(left + i, top + j, b);
          sum += cy[j]! * (line >> COEFFICIENT_SHIFT);
        }
        out[(y * outWidth + x) * bands + b] = Math.min(255, Math.max(0, sum >> COEFFICIENT_SHIFT));
      }
    }
  }
  return { data: out, width: outWidth, height: outHeight, bands };
}

/** vips_resize(image, hscale, vscale) with the Lanczos-3 kernel, as sharp calls it. */
function vipsResize(image: Pixels, hscale: number, vscale: number): Pixels {
  const h = Math.max(hscale, 1 / image.width);
  const v = Math.max(vscale, 1 / image.height);
  let current = image;
  if (v < 1) current = reduce(current, 1 / v, true);
  if (h < 1) current = reduce(current, 1 / h, false);
  if (h > 1 || v > 1) current = enlarge(current, Math.max(h, 1), Math.max(v, 1));
  return current;
}

/**
 * sharp's `resize(width, height, { fit, position: 'centre' })`: `fill` scales each axis to its
 * size; `cover` scales both by the smaller factor and takes the centre (sharp's CalculateCrop).
 */
export function resizeLikeSharp(image: Pixels, width: number, height: number, fit: 'fill' | 'cover'): Pixels {
  let hshrink = image.width / width;
  let vshrink = image.height / height;
  if (fit === 'cover') hshrink = vshrink = Math.min(hshrink, vshrink);
  hshrink = Math.min(hshrink, image.width);
  vshrink = Math.min(vshrink, image.height);
  const resized = hshrink === 1 && vshrink === 1 ? image : vipsResize(image, 1 / hshrink, 1 / vshrink);
  if (resized.width === width && resized.height === height) return resized;
  const left = Math.floor((resized.width - width + 1) / 2);
  const top = Math.floor((resized.height - height + 1) / 2);
  const out = new Uint8Array(width * height * image.bands);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * resized.width + left) * image.bands;
    out.set(resized.data.subarray(from, from + width * image.bands), y * width * image.bands);
  }
  return { data: out, width, height, bands: image.bands };
}

const f32 = Math.fround;

/** libvips's 8-bit tables: code value to linear light (v2Y), linear light to code value (Y2v). */
const tables = (() => {
  const v2Y = new Float32Array(256);
  const Y2v = new Int32Array(257);
  const exponent = f32(1 / 2.4);
  for (let i = 0; i < 256; i++) {
    const f = f32(i / 255);
    const v = f <= 0.0031308 ? f32(12.92 * f) : f32(f32(f32(1.055) * f32(f ** exponent)) - f32(0.055));
    Y2v[i] = rint(f32(255 * v));
    v2Y[i] = f <= 0.04045 ? f32(f / f32(12.92)) : f32(f32(f32(f + f32(0.055)) / f32(1.055)) ** f32(2.4));
  }
  Y2v[256] = Y2v[255]!;
  return { v2Y, Y2v };
})();

/** sharp's `toColourspace('b-w')` of 8-bit sRGB: libvips's sRGB -> scRGB -> B_W in 32-bit floats. */
export function srgbToGrey(r: number, g: number, b: number): number {
  const { v2Y, Y2v } = tables;
  const y = f32(f32(f32(f32(0.2126) * v2Y[r]!) + f32(f32(0.7152) * v2Y[g]!)) + f32(f32(0.0722) * v2Y[b]!));
  const scaled = Math.min(255, Math.max(0, f32(y * 255)));
  const index = Math.trunc(scaled);
  const value = f32(Y2v[index]! + f32(f32(Y2v[index + 1]! - Y2v[index]!) * f32(scaled - index)));
  return rint(value);
}
