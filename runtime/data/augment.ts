/**
 * Per-sample image augmentation and normalisation, on the CPU before batching.
 * In: a stored Uint8 HWC image, an AugmentSpec, the sample's own Rng, normalisation mean/std.
 * Out: normalised float32 pixels written into a batch buffer.
 * Holds afterwards: flip, rotation and random resized crop are composed into one inverse
 * affine map and sampled bilinearly once (edges take the nearest pixel), so augmenting costs
 * one pass; the draws come only from the given Rng, in a fixed order, so an (epoch, position)
 * always yields the same augmented pixels.
 */
import type { Rng } from '../module.js';
import type { AugmentSpec } from './spec.js';

/** The sampled parameters of one augmentation. */
export interface AugmentDraw {
  readonly flip: boolean;
  /** Radians. */
  readonly angle: number;
  /** Crop window in unit coordinates of the source: centre and size. */
  readonly crop: { readonly cx: number; readonly cy: number; readonly w: number; readonly h: number };
}

export const IDENTITY_DRAW: AugmentDraw = { flip: false, angle: 0, crop: { cx: 0.5, cy: 0.5, w: 1, h: 1 } };

export function drawAugment(spec: AugmentSpec | undefined, rng: Rng): AugmentDraw {
  if (!spec) return IDENTITY_DRAW;
  const flip = spec.hflip !== undefined && spec.hflip > 0 ? rng.uniform() < spec.hflip : false;
  const angle = spec.rotateDegrees ? (2 * rng.uniform() - 1) * spec.rotateDegrees * (Math.PI / 180) : 0;
  let crop = IDENTITY_DRAW.crop;
  if (spec.randomResizedCrop) {
    const [smin, smax] = spec.randomResizedCrop.scale;
    const [rmin, rmax] = spec.randomResizedCrop.ratio;
    const area = smin + (smax - smin) * rng.uniform();
    const ratio = Math.exp(Math.log(rmin) + (Math.log(rmax) - Math.log(rmin)) * rng.uniform());
    const w = Math.min(1, Math.sqrt(area * ratio));
    const h = Math.min(1, Math.sqrt(area / ratio));
    crop = { cx: w / 2 + (1 - w) * rng.uniform(), cy: h / 2 + (1 - h) * rng.uniform(), w, h };
  }
  return { flip, angle, crop };
}

export function isIdentity(d: AugmentDraw): boolean {
  return !d.flip && d.angle === 0 && d.crop.w === 1 && d.crop.h === 1;
}

/**
 * Writes the augmented, normalised image into `out` at `offset`:
 * out = (pixel / 255 - mean[c]) / std[c].
 */
export function renderSample(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  draw: AugmentDraw,
  mean: readonly number[],
  std: readonly number[],
  out: Float32Array,
  offset: number,
): void {
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = 1 / (255 * std[c]!);
    shift[c] = -mean[c]! / std[c]!;
  }
  if (isIdentity(draw)) {
    for (let i = 0; i < height * width * channels; i++) {
      const c = i % channels;
      out[offset + i] = src[i]! * scale[c]! + shift[c]!;
    }
    return;
  }
  const cos = Math.cos(draw.angle);
  const sin = Math.sin(draw.angle);
  const { cx, cy, w: cw, h: ch } = draw.crop;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Output pixel -> unit coords in the crop window, rotated about its centre, flipped.
      let u = ((x + 0.5) / width - 0.5) * cw;
      const v = ((y + 0.5) / height - 0.5) * ch;
      if (draw.flip) u = -u;
      const ru = cos * u - sin * v;
      const rv = sin * u + cos * v;
      const sx = Math.min(width - 1, Math.max(0, (cx + ru) * width - 0.5));
      const sy = Math.min(height - 1, Math.max(0, (cy + rv) * height - 0.5));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(width - 1, x0 + 1);
      const y1 = Math.min(height - 1, y0 + 1);
      const fx = sx - x0;
      const fy = sy - y0;
      const o = offset + (y * width + x) * channels;
      for (let c = 0; c < channels; c++) {
        const p00 = src[(y0 * width + x0) * channels + c]!;
        const p01 = src[(y0 * width + x1) * channels + c]!;
        const p10 = src[(y1 * width + x0) * channels + c]!;
        const p11 = src[(y1 * width + x1) * channels + c]!;
        const p = (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy;
        out[o + c] = p * scale[c]! + shift[c]!;
      }
    }
  }
}
