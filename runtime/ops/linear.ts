/**
 * Parametric primitives: linear (matmul over the last axis), conv2d and depthwise conv2d, NHWC.
 * In: activations and weights in the layouts of docs/CONVENTIONS.md (Linear [in,out],
 * Conv2d [kh,kw,in,out], depthwise [k,k,C,1]). Out: activations.
 * Holds: 1x1 stride-1 convs are a matMul, and kernel == stride 'valid' convs (stem 4x4/4,
 * downsample 2x2/2) use patchifyConv2d of runtime/kernels/fast-ops.ts (patches + GEMM with a
 * forward-op gradient); both give tf.conv2d's values to float32 rounding and need no
 * Conv2DBackpropFilter kernel. Other convs call tf.conv2d.
 */
import * as tf from '@tensorflow/tfjs';
import { patchifyConv2d } from '../kernels/fast-ops.js';

/** y = x @ weight + bias over the last axis of x (any rank >= 1). */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = weight.shape[0]!;
  const outDim = weight.shape[1]!;
  if (x.shape[x.rank - 1] !== inDim)
    throw new Error(`linear: input last dim ${x.shape[x.rank - 1]} does not match weight [${weight.shape.join(', ')}]`);
  return tf.tidy(() => {
    const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inDim]);
    let y: tf.Tensor = tf.matMul(flat as tf.Tensor2D, weight as tf.Tensor2D);
    if (bias) y = tf.add(y, bias);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

export type Padding = 'same' | 'valid';

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
    return bias ? (tf.add(y, bias) as tf.Tensor4D) : y;
  });
}

/** NHWC depthwise conv, filter [k,k,C,1], stride 1, optional bias [C]. */
export function depthwiseConv2d(
  x: tf.Tensor,
  weight: tf.Tensor,
  bias: tf.Tensor | undefined,
  padding: Padding = 'same',
): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`depthwiseConv2d: expected NHWC input, got [${x.shape.join(', ')}]`);
  if (x.shape[3] !== weight.shape[2])
    throw new Error(`depthwiseConv2d: input has ${x.shape[3]} channels, filter expects ${weight.shape[2]}`);
  return tf.tidy(() => {
    const y = tf.depthwiseConv2d(x as tf.Tensor4D, weight as tf.Tensor4D, 1, padding);
    return bias ? (tf.add(y, bias) as tf.Tensor4D) : y;
  });
}
