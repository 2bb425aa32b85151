/**
 * Elementwise and layout helpers the code generator emits for `.nvc` expressions.
 * In/out: tensors; broadcasting follows numpy rules. Holds: none of them uses tf.tile,
 * einsum or stridedSlice, so all are differentiable on cpu and wasm.
 *
 *   add(a, b)            a + b (residual `x + f(x)`)
 *   sub(a, b), mul(a, b), div(a, b)
 *   scale(x, s)          x * s for a number s
 *   concat(xs, axis)     concatenation (default last axis: channel/feature concat)
 *   flatten(x)           [N, ...] -> [N, prod(...)]
 *   reshape(x, shape)    plain reshape (-1 allowed once)
 *   permute(x, perm)     transpose
 *   unsqueeze(x, axis)   insert a size-1 axis
 *   squeeze(x, axis)     remove a size-1 axis
 *   asTokens(x)          [N,D] -> [N,1,D]; [N,L,D] unchanged; [N,H,W,C] -> [N,H*W,C]
 *   broadcastLike(x, t)  x broadcast to t's shape by multiplying with ones (not tile)
 *   where(c, a, b)       select
 *   replaceWhere(x, m, v) x where m = 0, v where m = 1 (mask-token fill); m broadcasts
 *   meanOver(x, axes)    mean over axes
 *   signExact(x)         torch.sign on every backend: +-1 for any non-zero x (tiny and subnormal
 *                        too), 0 for +-0, NaN for NaN (the wasm backend's tf.sign returns 0 for
 *                        |x| < ~1.2e-7)
 */
import * as tf from '@tensorflow/tfjs';
import { addKeepingShapes, subKeepingShapes } from '../kernels/fast-ops.js';

/** Their backward passes keep neither operand alive (kernels/fast-ops.ts addKeepingShapes). */
export const add = (a: tf.Tensor, b: tf.Tensor | number): tf.Tensor => addKeepingShapes(a, b);
export const sub = (a: tf.Tensor, b: tf.Tensor | number): tf.Tensor => subKeepingShapes(a, b);
export const mul = (a: tf.Tensor, b: tf.Tensor | number): tf.Tensor => tf.mul(a, b);
export const div = (a: tf.Tensor, b: tf.Tensor | number): tf.Tensor => tf.div(a, b);
export const scale = (x: tf.Tensor, s: number): tf.Tensor => tf.mul(x, s);

export function concat(xs: readonly tf.Tensor[], axis = -1): tf.Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  return tf.concat([...xs], axis);
}

export function flatten(x: tf.Tensor): tf.Tensor2D {
  const n = x.shape[0]!;
  return tf.reshape(x, [n, x.size / n]) as tf.Tensor2D;
}

export const reshape = (x: tf.Tensor, shape: readonly number[]): tf.Tensor => tf.reshape(x, [...shape]);
export const permute = (x: tf.Tensor, perm: readonly number[]): tf.Tensor => tf.transpose(x, [...perm]);
export const unsqueeze = (x: tf.Tensor, axis: number): tf.Tensor => tf.expandDims(x, axis);
export const squeeze = (x: tf.Tensor, axis: number): tf.Tensor => tf.squeeze(x, [axis]);

export function asTokens(x: tf.Tensor): tf.Tensor3D {
  if (x.rank === 2) return tf.expandDims(x, 1) as tf.Tensor3D;
  if (x.rank === 3) return x as tf.Tensor3D;
  if (x.rank === 4) {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    return tf.reshape(x, [n, h * w, c]);
  }
  throw new Error(`asTokens: cannot view a rank-${x.rank} tensor as tokens`);
}

export function broadcastLike(x: tf.Tensor, like: tf.Tensor | readonly number[]): tf.Tensor {
  const shape = Array.isArray(like) ? [...(like as readonly number[])] : (like as tf.Tensor).shape;
  return tf.tidy(() => tf.mul(x, tf.ones(shape)));
}

export const where = (c: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.where(c, a, b);

/** x * (1 - m) + v * m: m is 0/1 and broadcasts to x; v broadcasts to x (e.g. a token [C]). */
export function replaceWhere(x: tf.Tensor, m: tf.Tensor, v: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(v, m)));
}

export const meanOver = (x: tf.Tensor, axes: number | readonly number[], keepDims = false): tf.Tensor =>
  tf.mean(x, typeof axes === 'number' ? axes : [...axes], keepDims);

/**
 * sign(x) as torch.sign computes it, on every backend: step(x) - step(-x), two comparisons with
 * zero, exact for any non-zero float (tf.sign on wasm rounds |x| < ~1.2e-7 to 0).
 */
export function signExact(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.step(x), tf.step(tf.neg(x))));
}
