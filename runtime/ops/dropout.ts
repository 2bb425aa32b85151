/**
 * Stochastic regularisers driven by ctx.rng.
 * In: activations and the forward context. Out: same shape.
 * Holds: identity (the input tensor itself) when not training or rate 0; in training the
 * expected value equals the input; draws come from ctx.rng in sample order, so a fixed rng state
 * gives a fixed result.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';

/**
 * Stochastic depth, per sample: x / keep * floor(keep + U), keep = 1 - rate, U ~ U[0,1) drawn
 * from ctx.rng once per sample (timm drop_path).
 */
export function dropPath(x: tf.Tensor, rate: number, ctx: ForwardContext): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropPath: rate must be in [0, 1), got ${rate}`);
  if (!ctx.training || rate === 0) return x;
  const keep = 1 - rate;
  const n = x.shape[0]!;
  const scales = new Float32Array(n);
  for (let i = 0; i < n; i++) scales[i] = Math.floor(keep + ctx.rng.uniform()) / keep;
  return tf.tidy(() => tf.mul(x, tf.tensor(scales, [n, ...new Array<number>(x.rank - 1).fill(1)])));
}

/** Elementwise inverted dropout: x * bernoulli(keep) / keep, from ctx.rng. */
export function dropout(x: tf.Tensor, rate: number, ctx: ForwardContext): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (!ctx.training || rate === 0) return x;
  const keep = 1 - rate;
  const scales = new Float32Array(x.size);
  for (let i = 0; i < scales.length; i++) scales[i] = ctx.rng.uniform() < keep ? 1 / keep : 0;
  return tf.tidy(() => tf.mul(x, tf.tensor(scales, x.shape)));
}
