/**
 * Resampling and broadcasting with PyTorch's semantics, NHWC.
 * In: NHWC maps (bilinear upsampling, transposed convolution) or any tensor (expand). Out:
 *  - upsampleBilinear: [N, H', W', C] (H s, floor(H scale_factor) or a size), F.interpolate(mode='bilinear',
 *    align_corners) values;
 *  - convTranspose2d: nn.ConvTranspose2d's output [N, (H-1)s - 2p + d(k-1) + 1 + output_padding, ..., out]
 *    (channel groups, dilation);
 *  - expand: x broadcast to a shape (Tensor.expand).
 * Holds: built from matMul, conv2dTranspose, slice/pad and add, whose gradients exist on cpu and
 * wasm (no ResizeBilinearGrad, no tile).
 */
import * as tf from '@tensorflow/tfjs';
import { applyAlongAxis } from './pool.js';

/**
 * The [out, in] matrix of PyTorch's 1-D linear interpolation: align_corners maps the corner cells
 * onto each other (src = dst (in - 1) / (out - 1)); otherwise cell centres (src = (dst + 0.5) r
 * - 0.5, clamped at 0), with r = 1 / scale_factor when one was given (PyTorch uses it as given,
 * not in / out), else in / out.
 */
export function linearInterpolationMatrix(
  size: number,
  out: number,
  alignCorners: boolean,
  scaleFactor?: number,
): Float32Array {
  const m = new Float32Array(out * size);
  for (let i = 0; i < out; i++) {
    let src = alignCorners
      ? out > 1
        ? (i * (size - 1)) / (out - 1)
        : 0
      : scaleFactor !== undefined
        ? (i + 0.5) / scaleFactor - 0.5
        : ((i + 0.5) * size) / out - 0.5;
    if (src < 0) src = 0;
    const i0 = Math.min(Math.floor(src), size - 1);
    const i1 = Math.min(i0 + 1, size - 1);
    const t = src - i0;
    m[i * size + i0] += 1 - t;
    m[i * size + i1] += t;
  }
  return m;
}

/** How upsampleBilinear sizes its output: an integer scale, PyTorch's scale_factor, or the size itself. */
export type UpsampleSize =
  | number
  | { readonly scaleFactor: number; readonly size?: undefined }
  | { readonly size: readonly [number, number]; readonly scaleFactor?: undefined };

/**
 * F.interpolate(x, mode = 'bilinear', align_corners) on NHWC, with `scale_factor = scale` (an
 * integer), `scale_factor` (H' = floor(H scale_factor)) or `size`.
 */
export function upsampleBilinear(x: tf.Tensor, scale: UpsampleSize, alignCorners = false): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`upsampleBilinear: expected NHWC input, got [${x.shape.join(', ')}]`);
  const [, h, w] = x.shape as [number, number, number, number];
  const factor = typeof scale === 'number' ? undefined : scale.scaleFactor;
  const [oh, ow] =
    typeof scale === 'number'
      ? [h * scale, w * scale]
      : scale.size
        ? scale.size
        : [Math.floor(h * scale.scaleFactor), Math.floor(w * scale.scaleFactor)];
  if (!(oh >= 1 && ow >= 1))
    throw new Error(`upsampleBilinear: [${x.shape.join(', ')}] resized to ${oh} x ${ow} leaves no cells`);
  return tf.tidy(() => {
    const rows = tf.tensor2d(linearInterpolationMatrix(h, oh, alignCorners, factor), [oh, h]);
    const cols = tf.tensor2d(linearInterpolationMatrix(w, ow, alignCorners, factor), [ow, w]);
    return applyAlongAxis(applyAlongAxis(x as tf.Tensor4D, rows, 1), cols, 2);
  });
}

export interface ConvTransposeOptions {
  readonly stride?: number;
  readonly padding?: number;
  readonly outputPadding?: number;
  /** Channel groups: input channels g (in / groups) meet only output channels g (out / groups). Default 1. */
  readonly groups?: number;
  /** Spacing between the kernel's taps. Default 1. */
  readonly dilation?: number;
}

/**
 * A [k, k, o, i] kernel with d - 1 zero rows and columns between its taps: [d (k - 1) + 1, ..., o, i]
 * (by pad and reshape, so its gradient is the taps' own).
 */
function dilateKernel(weight: tf.Tensor4D, d: number): tf.Tensor4D {
  if (d === 1) return weight;
  const [kh, kw, o, i] = weight.shape;
  const spread = tf.pad(tf.reshape(weight, [kh, 1, kw, 1, o, i]), [
    [0, 0],
    [0, d - 1],
    [0, 0],
    [0, d - 1],
    [0, 0],
    [0, 0],
  ]);
  const grid = tf.reshape<tf.Rank.R4>(spread, [kh * d, kw * d, o, i]);
  return tf.slice(grid, [0, 0, 0, 0], [d * (kh - 1) + 1, d * (kw - 1) + 1, o, i]);
}

/**
 * nn.ConvTranspose2d on NHWC with weight [k, k, out / groups, in] (PyTorch: [in, out / groups, k, k]):
 * the full transposed convolution ((H - 1) s + d (k - 1) + 1 rows, the kernel dilated by d) of each
 * channel group, with `padding` rows cut at the top and `padding - output_padding` at the bottom
 * (zero rows added when output_padding exceeds padding).
 */
export function convTranspose2d(
  x: tf.Tensor,
  weight: tf.Tensor,
  bias: tf.Tensor | undefined,
  options: ConvTransposeOptions = {},
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`convTranspose2d: expected NHWC input, got [${x.shape.join(', ')}]`);
  const groups = options.groups ?? 1;
  const dilation = options.dilation ?? 1;
  const [kh, kw, coutPerGroup, cin] = weight.shape as [number, number, number, number];
  const cout = coutPerGroup * groups;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (c !== cin) throw new Error(`convTranspose2d: input has ${c} channels, the filter expects ${cin}`);
  if (cin % groups !== 0) throw new Error(`convTranspose2d: groups ${groups} do not divide ${cin} input channels`);
  const s = options.stride ?? 1;
  const p = options.padding ?? 0;
  const op = options.outputPadding ?? 0;
  const fullH = (h - 1) * s + dilation * (kh - 1) + 1;
  const fullW = (w - 1) * s + dilation * (kw - 1) + 1;
  const outH = fullH - 2 * p + op;
  const outW = fullW - 2 * p + op;
  return tf.tidy(() => {
    const kernel = dilateKernel(weight as tf.Tensor4D, dilation);
    const transposed = (xs: tf.Tensor4D, ks: tf.Tensor4D) =>
      tf.conv2dTranspose(xs, ks, [n, fullH, fullW, coutPerGroup], s, 'valid');
    let y: tf.Tensor4D;
    if (groups === 1) y = transposed(x as tf.Tensor4D, kernel);
    else {
      // Each group's input channels against its slice of the kernel's input axis; outputs side by side.
      const kernels = tf.split<tf.Tensor4D>(kernel, groups, 3);
      y = tf.concat(
        tf.split<tf.Tensor4D>(x as tf.Tensor4D, groups, 3).map((xg, g) => transposed(xg, kernels[g]!)),
        3,
      );
    }
    const extraH = Math.max(0, p + outH - fullH);
    const extraW = Math.max(0, p + outW - fullW);
    if (extraH || extraW)
      y = tf.pad(y, [
        [0, 0],
        [0, extraH],
        [0, extraW],
        [0, 0],
      ]);
    if (p || outH !== y.shape[1] || outW !== y.shape[2]) y = tf.slice(y, [0, p, p, 0], [n, outH, outW, cout]);
    return bias ? (tf.add(y, bias) as tf.Tensor4D) : y;
  });
}

/** x broadcast to `shape` (Tensor.expand; -1 keeps the axis), as x + zeros(shape). */
export function expand(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const offset = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - offset]! : d));
  return tf.tidy(() => tf.add(x, tf.zeros(target)));
}
