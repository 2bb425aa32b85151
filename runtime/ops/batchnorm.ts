/**
 * Batch normalisation over every axis but the last (channels-last: NHWC for BatchNorm2d,
 * [N, C] or [N, L, C] for BatchNorm1d), with PyTorch's semantics.
 * In: x [..., C], running statistics [C], optional affine weight and bias [C], eps, momentum.
 * Out: the normalised x, and in training mode the batch statistics the running ones move to.
 * Holds: training normalises with the batch mean and the biased variance (divides by n, the
 * values per channel); the running variance moves towards the unbiased one (n / (n - 1)), as
 * torch.nn.BatchNorm2d does; evaluation uses the running statistics only. Only autodiff-able
 * tf ops are used, so the gradient is the same on the cpu and wasm backends.
 */
import * as tf from '@tensorflow/tfjs';

/** The batch statistics of one training forward pass, per channel. */
export interface BatchStatistics {
  readonly mean: tf.Tensor1D;
  /** Unbiased (divides by n - 1): what the running variance moves towards. */
  readonly unbiasedVariance: tf.Tensor1D;
}

/** Values per channel of x (every axis but the last). */
export function valuesPerChannel(x: tf.Tensor): number {
  return x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
}

/** (x - mean) * rsqrt(var + eps) * weight + bias over the batch statistics of x. */
export function batchNormTrain(
  x: tf.Tensor,
  weight: tf.Tensor | undefined,
  bias: tf.Tensor | undefined,
  eps: number,
): { y: tf.Tensor; stats: BatchStatistics } {
  const n = valuesPerChannel(x);
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes, false);
  const y = affine(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight, bias);
  const unbiasedVariance = tf.mul(variance, n / (n - 1)) as tf.Tensor1D;
  return { y, stats: { mean: mean as tf.Tensor1D, unbiasedVariance } };
}

/** (x - running mean) * rsqrt(running var + eps) * weight + bias. */
export function batchNormEval(
  x: tf.Tensor,
  runningMean: tf.Tensor,
  runningVar: tf.Tensor,
  weight: tf.Tensor | undefined,
  bias: tf.Tensor | undefined,
  eps: number,
): tf.Tensor {
  return tf.tidy(() => affine(tf.mul(tf.sub(x, runningMean), tf.rsqrt(tf.add(runningVar, eps))), weight, bias));
}

function affine(y: tf.Tensor, weight: tf.Tensor | undefined, bias: tf.Tensor | undefined): tf.Tensor {
  let out = y;
  if (weight) out = tf.mul(out, weight);
  if (bias) out = tf.add(out, bias);
  return out;
}

/** running <- (1 - momentum) * running + momentum * batch (PyTorch's convention for momentum). */
export function movingAverage(running: tf.Tensor, batch: tf.Tensor, momentum: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(running, 1 - momentum), tf.mul(batch, momentum)));
}
