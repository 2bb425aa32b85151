/**
 * Parametric primitives: linear (matmul over the last axis), conv2d and depthwise conv2d, NHWC.
 * In: activations and weights in the layouts of docs/CONVENTIONS.md (Linear [in,out],
 * Conv2d [kh,kw,in,out], depthwise [k,k,C,1]). Out: activations.
 * Holds: 1x1 stride-1 convs are a matMul, and kernel == stride 'valid' convs (stem 4x4/4,
 * downsample 2x2/2) use patchifyConv2d of runtime/kernels/fast-ops.ts (patches + GEMM with a
 * forward-op gradient); both give tf.conv2d's values to float32 rounding and need no
 * Conv2DBackpropFilter kernel. Other convs call tf.conv2d. `convolve` adds PyTorch's explicit
 * padding (tf.pad), dilation (a zero-dilated filter: tfjs has no gradient of dilated convs) and
 * channel groups (depthwise, or one convolution per group) on top; all differentiable on cpu and
 * wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { addKeepingShapes, patchifyConv2d } from '../kernels/fast-ops.js';

/** y = x @ weight + bias over the last axis of x (any rank >= 1). */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = weight.shape[0]!;
  const outDim = weight.shape[1]!;
  if (x.shape[x.rank - 1] !== inDim)
    throw new Error(`linear: input last dim ${x.shape[x.rank - 1]} does not match weight [${weight.shape.join(', ')}]`);
  return tf.tidy(() => {
    const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inDim]);
    let y: tf.Tensor = tf.matMul(flat as tf.Tensor2D, weight as tf.Tensor2D);
    if (bias) y = addKeepingShapes(y, bias);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

export type Padding = 'same' | 'valid';

/**
 * A convolution's padding as .nvc and PyTorch write it: `same` (TensorFlow's: out = ceil(H / s),
 * the odd cell at the end), `valid`, p on every side, [ph, pw], or [top, bottom, left, right].
 */
export type ConvPadding = Padding | number | readonly number[];

/** Cells added [top, bottom, left, right] for an input h x w, an effective kernel and a stride. */
export function paddingCells(
  padding: ConvPadding,
  h: number,
  w: number,
  kh: number,
  kw: number,
  stride: number,
): [number, number, number, number] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const total = (size: number, k: number) => Math.max((Math.ceil(size / stride) - 1) * stride + k - size, 0);
    const th = total(h, kh);
    const tw = total(w, kw);
    return [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
  }
  if (typeof padding === 'number') return [padding, padding, padding, padding];
  if (padding.length === 1) return [padding[0]!, padding[0]!, padding[0]!, padding[0]!];
  if (padding.length === 2) return [padding[0]!, padding[0]!, padding[1]!, padding[1]!];
  if (padding.length === 4) return [padding[0]!, padding[1]!, padding[2]!, padding[3]!];
  throw new Error(`padding [${padding.join(', ')}]: expected 1, 2 or 4 numbers`);
}

/** Zero-pads H and W of an NHWC tensor by [top, bottom, left, right] (a no-op for zeros). */
export function padSpatial(x: tf.Tensor4D, [top, bottom, left, right]: readonly number[]): tf.Tensor4D {
  if (!top && !bottom && !left && !right) return x;
  return tf.pad(x, [
    [0, 0],
    [top!, bottom!],
    [left!, right!],
    [0, 0],
  ]);
}

/**
 * A [k, k, ...] filter with dilation - 1 zeros between its taps: [(k - 1) d + 1, ...]. Built from
 * pad and reshape, so the filter's gradient flows on every backend (tfjs has no gradient for
 * dilated convolutions).
 */
export function dilateFilter(weight: tf.Tensor4D, dilation: number): tf.Tensor4D {
  if (dilation === 1) return weight;
  return tf.tidy(() => {
    const [kh, kw, a, b] = weight.shape;
    const rows = tf.reshape(
      tf.pad(tf.reshape(weight, [kh, 1, kw * a * b]), [
        [0, 0],
        [0, dilation - 1],
        [0, 0],
      ]),
      [kh * dilation, kw, a, b],
    );
    const cols = tf.reshape(
      tf.pad(tf.reshape(rows, [kh * dilation * kw, 1, a * b]), [
        [0, 0],
        [0, dilation - 1],
        [0, 0],
      ]),
      [kh * dilation, kw * dilation, a, b],
    );
    return tf.slice(cols, [0, 0, 0, 0], [(kh - 1) * dilation + 1, (kw - 1) * dilation + 1, a, b]) as tf.Tensor4D;
  });
}

export interface ConvOptions {
  readonly stride?: number;
  readonly padding?: ConvPadding;
  readonly dilation?: number;
  readonly groups?: number;
}

/**
 * nn.Conv2d on NHWC: any padding, dilation and channel groups. weight [k, k, in / groups, out];
 * output channel o belongs to group floor(o / (out / groups)), as in PyTorch. Depthwise groups
 * (groups = in = out) run tf.depthwiseConv2d; other groups one convolution per group.
 */
export function convolve(
  x: tf.Tensor,
  weight: tf.Tensor,
  bias: tf.Tensor | undefined,
  options: ConvOptions = {},
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`conv2d: expected NHWC input, got [${x.shape.join(', ')}]`);
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 'valid';
  const dilation = options.dilation ?? 1;
  const groups = options.groups ?? 1;
  const [, , cinPerGroup, cout] = weight.shape as [number, number, number, number];
  const c = x.shape[3]!;
  if (c !== cinPerGroup * groups)
    throw new Error(`conv2d: input has ${c} channels, the filter expects ${cinPerGroup} x ${groups} groups`);
  if (groups === 1 && dilation === 1 && typeof padding === 'string') return conv2d(x, weight, bias, stride, padding);
  return tf.tidy(() => {
    const w = dilateFilter(weight as tf.Tensor4D, dilation);
    const [kh, kw] = w.shape;
    const [, h, wd] = x.shape as [number, number, number, number];
    const xp = padSpatial(x as tf.Tensor4D, paddingCells(padding, h, wd, kh, kw, stride));
    let y: tf.Tensor4D;
    if (groups === 1) return conv2d(xp, w, bias, stride, 'valid');
    if (groups === c && cout === c) {
      y = tf.depthwiseConv2d(xp, tf.reshape(w, [kh, kw, c, 1]) as tf.Tensor4D, stride, 'valid');
    } else {
      const xs = tf.split(xp, groups, 3);
      const ws = tf.split(w, groups, 3);
      y = tf.concat(
        xs.map((xg, g) => conv2d(xg, ws[g]!, undefined, stride, 'valid')),
        3,
      ) as tf.Tensor4D;
    }
    return bias ? (addKeepingShapes(y, bias) as tf.Tensor4D) : y;
  });
}

/** NHWC conv2d with a [kh,kw,in,out] filter, optional bias [out]. */
export function conv2d(
  x: tf.Tensor,
  weight: tf.Tensor,
  bias: tf.Tensor | undefined,
  stride: number,
  padding: Padding,
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`conv2d: expected NHWC input, got [${x.shape.join(', ')}]`);
  const [kh, kw, cin, cout] = weight.shape as [number, number, number, number];
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (c !== cin) throw new Error(`conv2d: input has ${c} channels, filter expects ${cin}`);
  return tf.tidy(() => {
    let y: tf.Tensor4D;
    if (kh === 1 && kw === 1 && stride === 1) {
      y = tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, c]), tf.reshape(weight, [cin, cout])), [n, h, w, cout]);
    } else if (kh === kw && kh === stride && padding === 'valid' && h >= kh && w >= kw) {
      return patchifyConv2d(x as tf.Tensor4D, weight as tf.Tensor4D, bias);
    } else {
      y = tf.conv2d(x as tf.Tensor4D, weight as tf.Tensor4D, stride, padding);
    }
    return bias ? (addKeepingShapes(y, bias) as tf.Tensor4D) : y;
  });
}

/**
 * NHWC depthwise conv, filter [k,k,C,1], optional bias [C]; any stride, padding and dilation
 * (options), stride 1 and the given padding by default.
 */
export function depthwiseConv2d(
  x: tf.Tensor,
  weight: tf.Tensor,
  bias: tf.Tensor | undefined,
  padding: ConvPadding = 'same',
  options: { readonly stride?: number; readonly dilation?: number } = {},
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`depthwiseConv2d: expected NHWC input, got [${x.shape.join(', ')}]`);
  if (x.shape[3] !== weight.shape[2])
    throw new Error(`depthwiseConv2d: input has ${x.shape[3]} channels, filter expects ${weight.shape[2]}`);
  const stride = options.stride ?? 1;
  const dilation = options.dilation ?? 1;
  return tf.tidy(() => {
    let y: tf.Tensor4D;
    if (typeof padding === 'string' && dilation === 1)
      y = tf.depthwiseConv2d(x as tf.Tensor4D, weight as tf.Tensor4D, stride, padding);
    else {
      const w = dilateFilter(weight as tf.Tensor4D, dilation);
      const [, h, wd] = x.shape as [number, number, number, number];
      const cells = paddingCells(padding, h, wd, w.shape[0], w.shape[1], stride);
      y = tf.depthwiseConv2d(padSpatial(x as tf.Tensor4D, cells), w, stride, 'valid');
    }
    return bias ? (addKeepingShapes(y, bias) as tf.Tensor4D) : y;
  });
}
