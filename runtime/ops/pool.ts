/**
 * Pooling. In: NHWC [N,H,W,C]. Out: [N,C] for the global pools (or [N,1,1,C] with keepDims),
 * [N,H',W',C] for the windowed and adaptive pools, with PyTorch's geometry:
 * H' = floor((H + 2p - d(k - 1) - 1) / s) + 1, or with ceil_mode the ceiling unless that last window
 * would start at or past H + p; adaptive bins [floor(iH/o), ceil((i+1)H/o)).
 * Holds: every pool is built from ops with gradients on cpu and wasm (pad, slice, reshape,
 * maximum, maxPool/avgPool 'valid', matMul); max pooling pads with -Infinity (PyTorch ignores the
 * padding), average pooling with zeros and divides each window by PyTorch's divisor: its cells up
 * to H + p (count_include_pad true) or its real cells (false).
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
  /** Spacing between a window's taps (max pooling only, as in PyTorch). Default 1. */
  readonly dilation?: number;
  /** PyTorch's ceil_mode: round the output size up (a last, partial window). Default false. */
  readonly ceilMode?: boolean;
}

/**
 * PyTorch's output size (pooling_output_shape) of windows spanning `dilation (kernel - 1) + 1`
 * cells sliding by `stride` over `size + 2 padding` cells; with ceilMode rounded up, less one when
 * the last window would start at or past `size + padding`.
 */
export function pooledSize(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation = 1,
  ceilMode = false,
): number {
  const room = size + 2 * padding - dilation * (kernel - 1) - 1;
  let out = (ceilMode ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  if (ceilMode && (out - 1) * stride >= size + padding) out -= 1;
  return out;
}

function poolGeometry(name: string, x: tf.Tensor, o: PoolOptions) {
  if (x.rank !== 4) throw new Error(`${name}: expected NHWC input, got [${x.shape.join(', ')}]`);
  const k = o.kernel;
  const s = o.stride && o.stride > 0 ? o.stride : k;
  const p = o.padding ?? 0;
  const dil = o.dilation ?? 1;
  if (p < 0 || 2 * p > k) throw new Error(`${name}: padding ${p} must be between 0 and half the kernel ${k}`);
  const [, h, w] = x.shape as [number, number, number, number];
  const oh = pooledSize(h, k, s, p, dil, o.ceilMode ?? false);
  const ow = pooledSize(w, k, s, p, dil, o.ceilMode ?? false);
  if (oh < 1 || ow < 1)
    throw new Error(`${name}: a ${k}x${k} window does not fit [${x.shape.join(', ')}] padded by ${p}`);
  return { k, s, p, dil, span: dil * (k - 1) + 1, oh, ow };
}

/**
 * Pads H and W with `value`: p cells before, and after as many as the windows read (p, or
 * more for ceil_mode's last window), then crops to the cells the windows read.
 */
function padForWindows(x: tf.Tensor4D, p: number, span: number, s: number, oh: number, ow: number, value: number) {
  const [n, h, w, c] = x.shape;
  const needH = (oh - 1) * s + span;
  const needW = (ow - 1) * s + span;
  const afterH = Math.max(p, needH - h - p);
  const afterW = Math.max(p, needW - w - p);
  const padded =
    p > 0 || afterH > 0 || afterW > 0
      ? tf.pad(
          x,
          [
            [0, 0],
            [p, afterH],
            [p, afterW],
            [0, 0],
          ],
          value,
        )
      : x;
  const [, hp, wp] = padded.shape;
  return needH === hp && needW === wp ? padded : tf.slice(padded, [0, 0, 0, 0], [n, needH, needW, c]);
}

/**
 * Every `s`-th row and column of x, starting at the first: [n, (oh - 1) s + 1, (ow - 1) s + 1, c]
 * -> [n, oh, ow, c], by padding to a multiple of s, reshaping and slicing (tfjs has no gradient
 * of a strided slice).
 */
function everyNth(x: tf.Tensor4D, s: number, oh: number, ow: number): tf.Tensor4D {
  if (s === 1) return x;
  const [n, h, w, c] = x.shape;
  const padded = tf.pad(x, [
    [0, 0],
    [0, oh * s - h],
    [0, ow * s - w],
    [0, 0],
  ]);
  const picked = tf.slice(tf.reshape(padded, [n, oh, s, ow, s, c]), [0, 0, 0, 0, 0, 0], [n, oh, 1, ow, 1, c]);
  return tf.reshape(picked, [n, oh, ow, c]);
}

/** nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode) on NHWC. */
export function maxPool2d(x: tf.Tensor, options: PoolOptions): tf.Tensor4D {
  const { k, s, p, dil, span, oh, ow } = poolGeometry('maxPool2d', x, options);
  return tf.tidy(() => {
    const xp = padForWindows(x as tf.Tensor4D, p, span, s, oh, ow, Number.NEGATIVE_INFINITY);
    if (dil === 1) return tf.maxPool(xp, [k, k], [s, s], 'valid');
    // Dilated windows: the maximum over the k x k taps, each tap the map shifted by (i d, j d).
    const [n, , , c] = xp.shape;
    let y: tf.Tensor4D | undefined;
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        const tap = tf.slice(xp, [0, i * dil, j * dil, 0], [n, (oh - 1) * s + 1, (ow - 1) * s + 1, c]);
        const picked = everyNth(tap, s, oh, ow);
        y = y ? tf.maximum<tf.Tensor4D>(y, picked) : picked;
      }
    return y!;
  });
}

export interface AvgPoolOptions extends PoolOptions {
  /** PyTorch's count_include_pad: padded zeros count in the divisor. Default true. */
  readonly countIncludePad?: boolean;
}

/**
 * PyTorch's divisor of each window along one axis: its cells up to size + p (padding included),
 * or its real cells alone.
 */
function windowCells(size: number, out: number, k: number, s: number, p: number, includePad: boolean): number[] {
  const counts: number[] = [];
  for (let i = 0; i < out; i++) {
    const start = i * s - p;
    counts.push(includePad ? Math.min(start + k, size + p) - start : Math.min(start + k, size) - Math.max(start, 0));
  }
  return counts;
}

/** nn.AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad) on NHWC. */
export function avgPool2d(x: tf.Tensor, options: AvgPoolOptions): tf.Tensor4D {
  if ((options.dilation ?? 1) !== 1) throw new Error('avgPool2d: average pooling has no dilation (nor in PyTorch)');
  const { k, s, p, oh, ow } = poolGeometry('avgPool2d', x, options);
  const [, h, w] = x.shape as [number, number, number, number];
  const includePad = options.countIncludePad ?? true;
  return tf.tidy(() => {
    const xp = padForWindows(x as tf.Tensor4D, p, k, s, oh, ow, 0);
    const y = tf.avgPool(xp, [k, k], [s, s], 'valid');
    const rows = windowCells(h, oh, k, s, p, includePad);
    const cols = windowCells(w, ow, k, s, p, includePad);
    if (rows.every((r) => r === k) && cols.every((c) => c === k)) return y;
    // The divisor per window is (its rows) x (its columns): rescale k*k to it.
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
