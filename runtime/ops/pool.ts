/**
 * Pooling. In: NHWC [N,H,W,C]. Out: [N,C] for the global pools (or [N,1,1,C] with keepDims),
 * [N,H',W',C] for the windowed and adaptive pools, with PyTorch's geometry:
 * H' = floor((H + 2p - k) / s) + 1 (ceil_mode false), adaptive bins [floor(iH/o), ceil((i+1)H/o)).
 * Holds: every pool is built from ops with gradients on cpu and wasm (pad, maxPool/avgPool
 * 'valid', matMul); max pooling pads with -Infinity (PyTorch ignores the padding), average
 * pooling with zeros (count_include_pad true) or divides by the count of real cells (false).
 */
import * as tf from '@tensorflow/tfjs';

/** Mean over H and W (ConvNeXt-V2 head: x.mean([-2,-1]) in NCHW). */
export function globalAvgPool(x: tf.Tensor, keepDims = false): tf.Tensor {
  if (x.rank !== 4) throw new Error(`globalAvgPool: expected NHWC input, got [${x.shape.join(', ')}]`);
  return tf.mean(x, [1, 2], keepDims);
}

/**
 * Mean over the positions where keep = 1 ([N,H,W,1]); a sample with no visible position gives 0.
 */
export function maskedAvgPool(x: tf.Tensor, keep: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const total = tf.sum(tf.mul(x, keep), [1, 2]);
    const count = tf.sum(keep, [1, 2]);
    return tf.divNoNan(total, count);
  });
}

export interface PoolOptions {
  readonly kernel: number;
  /** Default: the kernel (PyTorch's default). */
  readonly stride?: number;
  /** Cells added on every side; at most half the kernel. Default 0. */
  readonly padding?: number;
}

/** PyTorch's output size of a window of `kernel` cells sliding by `stride` over `size + 2 * padding` cells. */
export function pooledSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

function poolGeometry(name: string, x: tf.Tensor, o: PoolOptions) {
  if (x.rank !== 4) throw new Error(`${name}: expected NHWC input, got [${x.shape.join(', ')}]`);
  const k = o.kernel;
  const s = o.stride && o.stride > 0 ? o.stride : k;
  const p = o.padding ?? 0;
  if (p < 0 || 2 * p > k) throw new Error(`${name}: padding ${p} must be between 0 and half the kernel ${k}`);
  const [, h, w] = x.shape as [number, number, number, number];
  const oh = pooledSize(h, k, s, p);
  const ow = pooledSize(w, k, s, p);
  if (oh < 1 || ow < 1)
    throw new Error(`${name}: a ${k}x${k} window does not fit [${x.shape.join(', ')}] padded by ${p}`);
  return { k, s, p, oh, ow };
}

/** Pads H and W by p on every side with `value`, then crops to the cells the windows read. */
function padForWindows(x: tf.Tensor4D, p: number, k: number, s: number, oh: number, ow: number, value: number) {
  const padded =
    p > 0
      ? tf.pad(
          x,
          [
            [0, 0],
            [p, p],
            [p, p],
            [0, 0],
          ],
          value,
        )
      : x;
  const needH = (oh - 1) * s + k;
  const needW = (ow - 1) * s + k;
  const [n, hp, wp, c] = padded.shape;
  return needH === hp && needW === wp ? padded : tf.slice(padded, [0, 0, 0, 0], [n, needH, needW, c]);
}

/** nn.MaxPool2d(kernel, stride, padding) on NHWC. */
export function maxPool2d(x: tf.Tensor, options: PoolOptions): tf.Tensor4D {
  const { k, s, p, oh, ow } = poolGeometry('maxPool2d', x, options);
  return tf.tidy(() => {
    const xp = padForWindows(x as tf.Tensor4D, p, k, s, oh, ow, Number.NEGATIVE_INFINITY);
    return tf.maxPool(xp, [k, k], [s, s], 'valid');
  });
}

export interface AvgPoolOptions extends PoolOptions {
  /** PyTorch's count_include_pad: padded zeros count in the divisor. Default true. */
  readonly countIncludePad?: boolean;
}

/** How many real (unpadded) cells each window along one axis covers. */
function realCells(size: number, out: number, k: number, s: number, p: number): number[] {
  const counts: number[] = [];
  for (let i = 0; i < out; i++) {
    const start = i * s - p;
    counts.push(Math.min(start + k, size) - Math.max(start, 0));
  }
  return counts;
}

/** nn.AvgPool2d(kernel, stride, padding, count_include_pad) on NHWC (ceil_mode false). */
export function avgPool2d(x: tf.Tensor, options: AvgPoolOptions): tf.Tensor4D {
  const { k, s, p, oh, ow } = poolGeometry('avgPool2d', x, options);
  const [, h, w] = x.shape as [number, number, number, number];
  return tf.tidy(() => {
    const xp = padForWindows(x as tf.Tensor4D, p, k, s, oh, ow, 0);
    const y = tf.avgPool(xp, [k, k], [s, s], 'valid');
    if (p === 0 || (options.countIncludePad ?? true)) return y;
    // The divisor per window is (real rows) x (real columns): rescale k*k to it.
    const rows = realCells(h, oh, k, s, p);
    const cols = realCells(w, ow, k, s, p);
    const scale = new Float32Array(oh * ow);
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) scale[i * ow + j] = (k * k) / (rows[i]! * cols[j]!);
    return tf.mul(y, tf.tensor4d(scale, [1, oh, ow, 1]));
  });
}

/** PyTorch's adaptive pooling bins along one axis: [floor(i * size / out), ceil((i + 1) * size / out)). */
export function adaptiveBins(size: number, out: number): Array<[number, number]> {
  const bins: Array<[number, number]> = [];
  for (let i = 0; i < out; i++) bins.push([Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)]);
  return bins;
}

/**
 * Applies a [out, in] matrix along axis 1 (rows) or 2 (columns) of an NHWC tensor, as one 2-D
 * matMul between transposes (differentiable on every backend).
 */
export function applyAlongAxis(x: tf.Tensor4D, matrix: tf.Tensor2D, axis: 1 | 2): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const out = matrix.shape[0];
    if (axis === 1) {
      const moved = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]);
      return tf.transpose(tf.reshape(tf.matMul(matrix, moved), [out, n, w, c]), [1, 0, 2, 3]);
    }
    const moved = tf.reshape(tf.transpose(x, [2, 0, 1, 3]), [w, n * h * c]);
    return tf.transpose(tf.reshape(tf.matMul(matrix, moved), [out, n, h, c]), [1, 2, 0, 3]);
  });
}

function binMatrix(size: number, out: number): tf.Tensor2D {
  const m = new Float32Array(out * size);
  adaptiveBins(size, out).forEach(([a, b], i) => {
    for (let j = a; j < b; j++) m[i * size + j] = 1 / (b - a);
  });
  return tf.tensor2d(m, [out, size]);
}

/** nn.AdaptiveAvgPool2d((oh, ow)) on NHWC. */
export function adaptiveAvgPool2d(x: tf.Tensor, outHeight: number, outWidth: number): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`adaptiveAvgPool2d: expected NHWC input, got [${x.shape.join(', ')}]`);
  const [, h, w] = x.shape as [number, number, number, number];
  return tf.tidy(() => {
    if (outHeight === 1 && outWidth === 1) return tf.mean(x, [1, 2], true) as tf.Tensor4D;
    if (h % outHeight === 0 && w % outWidth === 0 && h / outHeight === w / outWidth)
      // Equal bins: a plain average pool (the bins of the rule above are exactly these windows).
      return tf.avgPool(x as tf.Tensor4D, h / outHeight, h / outHeight, 'valid');
    let y = x as tf.Tensor4D;
    if (outHeight !== h) y = applyAlongAxis(y, binMatrix(h, outHeight), 1);
    if (outWidth !== w) y = applyAlongAxis(y, binMatrix(w, outWidth), 2);
    return y;
  });
}
