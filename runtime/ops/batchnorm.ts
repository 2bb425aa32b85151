/**
 * Batch normalisation over every axis but the last (channels-last: NHWC for BatchNorm2d,
 * [N, C] or [N, L, C] for BatchNorm1d), with PyTorch's semantics.
 * In: x [..., C], running statistics [C], optional affine weight and bias [C], eps, momentum.
 * Out: the normalised x, and in training mode the batch statistics the running ones move to.
 * Holds: training normalises with the batch mean and the biased variance (divides by n, the
 * values per channel); the running variance moves towards the unbiased one (n / (n - 1)), as
 * torch.nn.BatchNorm2d does; evaluation uses the running statistics only.
 * Training mode is one primitive with a hand-written gradient: on the cpu and wasm backends,
 * whose tensors live in host memory, its forward and backward run in float64 over the float32
 * data (two-pass mean and variance; dx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)),
 * with the per-channel sums accumulated in float64), rounded once to float32. Why: a randomly weighted deep BatchNorm
 * network amplifies rounding in these sums by orders of magnitude on the way back; float32
 * sums (tfjs's reductions in the autodiff of tf.moments) left MobileNetV2's gradients (64 px,
 * batch 2) 6e-3 from a float64 reference (median over parameters) where PyTorch's float32 CPU
 * kernels were 8e-5 from it, and this primitive 1.2e-4. Other backends keep the composition of
 * tf ops and its autodiff: on webgl/webgpu and tfjs-node-gpu reading a tensor back would stall
 * the device, and tfjs-node's native reductions could not be measured here.
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

/** Backends whose tensors live in host memory: reading them back costs a copy, not a device sync. */
const HOST_BACKENDS = new Set(['cpu', 'wasm']);

/** (x - mean) * rsqrt(var + eps) * weight + bias over the batch statistics of x. */
export function batchNormTrain(
  x: tf.Tensor,
  weight: tf.Tensor | undefined,
  bias: tf.Tensor | undefined,
  eps: number,
): { y: tf.Tensor; stats: BatchStatistics } {
  if (HOST_BACKENDS.has(tf.getBackend())) return batchNormTrainHost(x, weight, bias, eps);
  return batchNormTrainComposed(x, weight, bias, eps);
}

/** Per-channel mean and 1 / sqrt(biased variance + eps) of channels-last data, two passes in float64. */
function channelMoments(
  xs: Float32Array,
  c: number,
  eps: number,
): { mean: Float64Array; sumSquares: Float64Array; invStd: Float64Array } {
  const n = xs.length / c;
  const mean = new Float64Array(c);
  for (let row = 0; row < xs.length; row += c) for (let k = 0; k < c; k++) mean[k]! += xs[row + k]!;
  for (let k = 0; k < c; k++) mean[k]! /= n;
  const sumSquares = new Float64Array(c);
  for (let row = 0; row < xs.length; row += c)
    for (let k = 0; k < c; k++) {
      const d = xs[row + k]! - mean[k]!;
      sumSquares[k]! += d * d;
    }
  const invStd = sumSquares.map((s) => 1 / Math.sqrt(s / n + eps));
  return { mean, sumSquares, invStd };
}

/** batchNormTrain on the host: float64 forward and backward (see the header for why). */
export function batchNormTrainHost(
  x: tf.Tensor,
  weight: tf.Tensor | undefined,
  bias: tf.Tensor | undefined,
  eps: number,
): { y: tf.Tensor; stats: BatchStatistics } {
  const c = x.shape[x.rank - 1]!;
  const n = valuesPerChannel(x);
  const xs = x.dataSync() as Float32Array;
  const { mean, sumSquares, invStd } = channelMoments(xs, c, eps);
  const w = weight ? Float64Array.from(weight.dataSync()) : new Float64Array(c).fill(1);
  const stats: BatchStatistics = {
    mean: tf.tensor1d(Float32Array.from(mean)),
    unbiasedVariance: tf.tensor1d(Float32Array.from(sumSquares, (s) => s / (n - 1))),
  };
  const b = bias ? bias.dataSync() : new Float32Array(c);
  const normalise = tf.customGrad((...args: unknown[]) => {
    const input = args[0] as tf.Tensor;
    const out = new Float32Array(xs.length);
    for (let row = 0; row < xs.length; row += c)
      for (let k = 0; k < c; k++) out[row + k] = (xs[row + k]! - mean[k]!) * invStd[k]! * w[k]! + b[k]!;
    return {
      value: tf.tensor(out, input.shape),
      gradFunc: (dy: tf.Tensor) => {
        const g = dy.dataSync() as Float32Array;
        const sumG = new Float64Array(c);
        const sumGXhat = new Float64Array(c);
        for (let row = 0; row < xs.length; row += c)
          for (let k = 0; k < c; k++) {
            const gv = g[row + k]!;
            sumG[k]! += gv;
            sumGXhat[k]! += gv * (xs[row + k]! - mean[k]!) * invStd[k]!;
          }
        const dx = new Float32Array(xs.length);
        for (let row = 0; row < xs.length; row += c)
          for (let k = 0; k < c; k++) {
            const xhat = (xs[row + k]! - mean[k]!) * invStd[k]!;
            dx[row + k] = w[k]! * invStd[k]! * (g[row + k]! - sumG[k]! / n - (xhat * sumGXhat[k]!) / n);
          }
        const grads = [tf.tensor(dx, input.shape)];
        if (weight) grads.push(tf.tensor1d(Float32Array.from(sumGXhat)));
        if (bias) grads.push(tf.tensor1d(Float32Array.from(sumG)));
        return grads;
      },
    };
  });
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return { y: normalise(...inputs), stats };
}

/** batchNormTrain from tf ops (float32 reductions, autodiff gradient): for device backends. */
export function batchNormTrainComposed(
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
