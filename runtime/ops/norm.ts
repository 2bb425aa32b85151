/**
 * Normalisations: LayerNorm over the last axis and ConvNeXt-V2 GRN, dense and masked; PyTorch's
 * GroupNorm and InstanceNorm2d on channels-last maps.
 * In: NHWC (or any-rank for LayerNorm) float32 tensors plus rank-1 parameters. Out: same shape.
 * Holds: no tf.tile (rank-1 parameters broadcast), and the GRN gradient is finite everywhere,
 * including all-zero (fully masked) channels.
 */
import * as tf from '@tensorflow/tfjs';
import { layerNormLastAxis } from '../kernels/fast-ops.js';

/**
 * LayerNorm over the last axis: (x - mean) * rsqrt(var + eps) * weight + bias, with the biased
 * variance (divides by C) and eps inside the rsqrt, as PyTorch F.layer_norm and the official
 * channels_first LayerNorm. weight/bias are rank-1 [C] and broadcast.
 * With both weight and bias it runs kernels/fast-ops layerNormLastAxis (hand-written backward
 * keeping only x-hat and 1/sigma alive); `layerNormAutodiff` is the reference definition.
 */
export function layerNorm(x: tf.Tensor, weight?: tf.Tensor, bias?: tf.Tensor, eps = 1e-6): tf.Tensor {
  if (weight && bias) return layerNormLastAxis(x, weight, bias, eps);
  return layerNormAutodiff(x, weight, bias, eps);
}

export function layerNormAutodiff(x: tf.Tensor, weight?: tf.Tensor, bias?: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    let y: tf.Tensor = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    if (weight) y = tf.mul(y, weight);
    if (bias) y = tf.add(y, bias);
    return y;
  });
}

/**
 * sqrt(s) for s >= 0 whose gradient at s = 0 is 0 instead of +inf.
 *
 * Why: GRN takes G = sqrt(sum x^2). At an all-zero channel (every masked sample in FCMAE, or a
 * dead ReLU-like channel) d sqrt/ds = 1/(2 sqrt 0) = inf and d(sum x^2)/dx = 2x = 0, and the chain
 * rule produces inf * 0 = NaN. We mask arithmetically with pos = step(s) (1 where s > 0, else 0;
 * its gradient is 0): the sqrt only ever sees s + (1 - pos), which is 1 at s = 0, and its output
 * is multiplied by pos, so the cotangent reaching the zero entries is exactly 0 and no inf is
 * ever formed. The value is sqrt(s) exactly (no eps), and the gradient equals PyTorch's
 * torch.norm backward, which also defines it as 0 at a zero norm. (tf.where would need the
 * gradient of the Greater that builds its condition, which tfjs does not define.)
 */
export function safeSqrt(s: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const pos = tf.step(s);
    return tf.mul(tf.sqrt(tf.add(s, tf.sub(1, pos))), pos);
  });
}

export type GrnStatistics = 'sample' | 'batch';

export interface GrnOptions {
  /**
   * Keep mask K [N,H,W,1] (1 = visible, 0 = removed). When given, the statistics are taken on
   * K*x only (visible positions), as the dense emulation of sparse GRN requires (LN(0) = beta,
   * so masked positions are not zero at this point).
   */
  readonly keep?: tf.Tensor;
  /**
   * 'sample' (default): G[n,c] over H,W of each sample, as dense GRN and the JAX FCMAE code.
   * 'batch': G[c] over N,H,W of the whole batch, as MinkowskiGRN in the PyTorch/ME pre-training.
   */
  readonly statistics?: GrnStatistics;
  /** eps added INSIDE the sqrt (JAX snippet uses 1e-6). Default 0 = the PyTorch definition. */
  readonly sqrtEps?: number;
  /** eps added to the channel mean of G. Default 1e-6. */
  readonly eps?: number;
}

/**
 * Global Response Normalisation on NHWC x:
 *   G = sqrt(sum_{h,w} x^2)            (per sample and channel; over visible positions if keep)
 *   Nx = G / (mean_c G + 1e-6)
 *   y = gamma * (x * Nx) + beta + x     (scaling applied to the unmasked x)
 * gamma/beta are rank-1 [C] (zeros at init, so GRN starts as the identity).
 *
 * The backward pass is written by hand (tf.customGrad, forward ops only) so that it keeps only
 * x and the [N,1,1,C] statistics alive instead of ~4 activation-sized autodiff intermediates;
 * GRN runs at 4C channels, the widest activation of a ConvNeXt block. `grnAutodiff` is the
 * plain-autodiff definition it is tested against. Derivation (S = sum (Kx)^2, D = mean_c G + eps):
 *   dbeta = sum dy;  dgamma = sum dy*x*Nx;  dNx = sum_{stat axes} dy*gamma*x;
 *   dG = dNx/D - mean_c(dNx*G)/D^2;  dx = dy*(1 + gamma*Nx) + K*x*dG/G  (0 where G = 0).
 */
export function grn(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, options: GrnOptions = {}): tf.Tensor {
  if (x.rank !== 4) throw new Error(`grn: expected NHWC rank-4 input, got shape [${x.shape.join(', ')}]`);
  const statistics = options.statistics ?? 'sample';
  const eps = options.eps ?? 1e-6;
  const sqrtEps = options.sqrtEps ?? 0;
  const key = `${statistics}|${eps}|${sqrtEps}|${options.keep ? 'masked' : 'dense'}`;
  let fn = grnFns.get(key);
  if (!fn) {
    fn = makeGrn(statistics, eps, sqrtEps, options.keep !== undefined);
    grnFns.set(key, fn);
  }
  return options.keep ? fn(x, gamma, beta, options.keep) : fn(x, gamma, beta);
}

type GrnFn = (...inputs: tf.Tensor[]) => tf.Tensor;
const grnFns = new Map<string, GrnFn>();

function makeGrn(statistics: GrnStatistics, eps: number, sqrtEps: number, _masked: boolean): GrnFn {
  const axes = statistics === 'batch' ? [0, 1, 2] : [1, 2];
  const body = (...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [x, gamma, beta, keep] = args.slice(0, -1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const xs = keep ? tf.mul(x, keep) : x;
    let sq = tf.sum(tf.square(xs), axes, true);
    if (sqrtEps > 0) sq = tf.add(sq, sqrtEps);
    const g = safeSqrt(sq);
    const d = tf.add(tf.mean(g, -1, true), eps);
    const nx = tf.div(g, d);
    save(keep ? [x, gamma, nx, g, d, keep] : [x, gamma, nx, g, d]);
    return {
      value: tf.add(tf.add(tf.mul(gamma, tf.mul(x, nx)), beta), x),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sGamma, sNx, sG, sD, sKeep] = saved as [
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor | undefined,
        ];
        const all = [0, 1, 2];
        const dBeta = tf.reshape(tf.sum(dy, all), sGamma.shape);
        const dyX = tf.mul(dy, sx);
        const dGamma = tf.reshape(tf.sum(tf.mul(dyX, sNx), all), sGamma.shape);
        const dNx = tf.mul(tf.sum(dyX, axes, true), sGamma);
        const dG = tf.sub(tf.div(dNx, sD), tf.div(tf.mean(tf.mul(dNx, sG), -1, true), tf.square(sD)));
        const pos = tf.step(sG);
        const dGoverG = tf.mul(dG, tf.div(pos, tf.add(sG, tf.sub(1, pos))));
        const xStat = sKeep ? tf.mul(sx, sKeep) : sx;
        const dx = tf.add(tf.mul(dy, tf.add(tf.mul(sGamma, sNx), 1)), tf.mul(xStat, dGoverG));
        return sKeep ? [dx, dGamma, dBeta, tf.zerosLike(sKeep)] : [dx, dGamma, dBeta];
      },
    };
  };
  return tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as GrnFn;
}

/** The same GRN as plain autodiff ops (reference for tests; more memory in training). */
export function grnAutodiff(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, options: GrnOptions = {}): tf.Tensor {
  if (x.rank !== 4) throw new Error(`grn: expected NHWC rank-4 input, got shape [${x.shape.join(', ')}]`);
  const statistics = options.statistics ?? 'sample';
  const eps = options.eps ?? 1e-6;
  const sqrtEps = options.sqrtEps ?? 0;
  return tf.tidy(() => {
    const xs = options.keep ? tf.mul(x, options.keep) : x;
    const axes = statistics === 'batch' ? [0, 1, 2] : [1, 2];
    let sq = tf.sum(tf.square(xs), axes, true);
    if (sqrtEps > 0) sq = tf.add(sq, sqrtEps);
    const g = safeSqrt(sq);
    const nx = tf.div(g, tf.add(tf.mean(g, -1, true), eps));
    return tf.add(tf.add(tf.mul(gamma, tf.mul(x, nx)), beta), x);
  });
}

/**
 * nn.GroupNorm on channels-last x [N, ..., C]: the channels split into `groups` contiguous groups,
 * each normalised over every position and its channels (biased variance, eps inside the square
 * root), then the per-channel affine weight and bias when given.
 */
export function groupNorm(
  x: tf.Tensor,
  groups: number,
  weight: tf.Tensor | undefined,
  bias: tf.Tensor | undefined,
  eps: number,
): tf.Tensor {
  const c = x.shape[x.rank - 1]!;
  const n = x.shape[0]!;
  if (c % groups !== 0) throw new Error(`groupNorm: ${groups} groups do not divide ${c} channels`);
  return tf.tidy(() => {
    const g = tf.reshape(x, [n, -1, groups, c / groups]);
    const { mean, variance } = tf.moments(g, [1, 3], true);
    let y = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps))), x.shape);
    if (weight) y = tf.mul(y, weight);
    if (bias) y = tf.add(y, bias);
    return y;
  });
}

/**
 * nn.InstanceNorm2d on NHWC x: each sample's channel normalised over H and W (biased variance,
 * eps inside the square root), then the per-channel affine weight and bias when given.
 */
export function instanceNorm(
  x: tf.Tensor,
  weight: tf.Tensor | undefined,
  bias: tf.Tensor | undefined,
  eps: number,
): tf.Tensor {
  if (x.rank !== 4) throw new Error(`instanceNorm: expected NHWC input, got [${x.shape.join(', ')}]`);
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    if (weight) y = tf.mul(y, weight);
    if (bias) y = tf.add(y, bias);
    return y;
  });
}
