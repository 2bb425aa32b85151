/**
 * Normalisation layers: LayerNorm (last axis, eps 1e-6, weight ones / bias zeros, noDecay) and
 * GRN (gamma/beta [C] zeros, noDecay). Sparse mode (ctx.mask set):
 *  - LayerNorm on NHWC re-zeroes removed positions after normalising (LN(0) = bias != 0); this
 *    is the "mask after the stem LN" rule, harmless elsewhere.
 *  - GRN takes its statistics over visible positions only, per sample by default or over the
 *    whole batch (`maskedStatistics: 'batch'`, MinkowskiGRN behaviour).
 * In: [..., C] (NHWC for the sparse rules). Out: the same shape. Holds afterwards: removed
 * positions do not influence the statistics of visible ones; only the output outlives the call.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { ones, zeros } from '../init.js';
import { groupNorm, grn, instanceNorm, layerNorm, type GrnStatistics } from '../ops/norm.js';
import { keepFor, visible } from '../ops/mask.js';
import { Layer, type SparseCapable } from './base.js';

export interface LayerNormOptions {
  /** Default 1e-6 (every LayerNorm of ConvNeXt-V2; not PyTorch's 1e-5). */
  readonly eps?: number;
  readonly sparse?: boolean;
}

export class LayerNorm extends Layer implements SparseCapable {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly eps: number;
  sparse: boolean;

  constructor(
    readonly channels: number,
    options: LayerNormOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-6;
    this.sparse = options.sparse ?? false;
    this.weight = this.param('weight', [channels], ones(), { noDecay: true });
    this.bias = this.param('bias', [channels], zeros(), { noDecay: true });
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    if (this.sparse && ctx.mask && x.rank === 4)
      return tf.tidy(() => visible(layerNorm(x, this.weight, this.bias, this.eps), ctx));
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export interface GrnLayerOptions {
  readonly sparse?: boolean;
  /** Statistics in masked mode. Default 'sample' (per sample, JAX FCMAE); 'batch' = MinkowskiGRN. */
  readonly maskedStatistics?: GrnStatistics;
  /** eps inside the sqrt (JAX variant). Default 0 (PyTorch). */
  readonly sqrtEps?: number;
}

export class GRN extends Layer implements SparseCapable {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly maskedStatistics: GrnStatistics;
  readonly sqrtEps: number;
  sparse: boolean;

  constructor(
    readonly channels: number,
    options: GrnLayerOptions = {},
  ) {
    super();
    this.sparse = options.sparse ?? false;
    this.maskedStatistics = options.maskedStatistics ?? 'sample';
    this.sqrtEps = options.sqrtEps ?? 0;
    this.gamma = this.param('gamma', [channels], zeros(), { noDecay: true });
    this.beta = this.param('beta', [channels], zeros(), { noDecay: true });
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    if (this.sparse && ctx.mask) {
      return tf.tidy(() =>
        grn(x, this.gamma, this.beta, {
          keep: keepFor(x, ctx)!,
          statistics: this.maskedStatistics,
          sqrtEps: this.sqrtEps,
        }),
      );
    }
    return grn(x, this.gamma, this.beta, { sqrtEps: this.sqrtEps });
  }
}

export interface AffineNormOptions {
  /** Default 1e-5 (PyTorch). */
  readonly eps?: number;
  /** Learn a per-channel `weight` (ones) and `bias` (zeros). */
  readonly affine?: boolean;
}

/** nn.GroupNorm(groups, channels) on channels-last input; affine by default (PyTorch). */
export class GroupNorm extends Layer {
  readonly weight?: tf.Variable;
  readonly bias?: tf.Variable;
  readonly eps: number;

  constructor(
    readonly groups: number,
    readonly channels: number,
    options: AffineNormOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-5;
    if (options.affine ?? true) {
      this.weight = this.param('weight', [channels], ones(), { noDecay: true });
      this.bias = this.param('bias', [channels], zeros(), { noDecay: true });
    }
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return groupNorm(x, this.groups, this.weight, this.bias, this.eps);
  }
}

/** nn.InstanceNorm2d(channels) on NHWC; not affine by default and no running statistics (PyTorch). */
export class InstanceNorm2d extends Layer {
  readonly weight?: tf.Variable;
  readonly bias?: tf.Variable;
  readonly eps: number;

  constructor(
    readonly channels: number,
    options: AffineNormOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-5;
    if (options.affine ?? false) {
      this.weight = this.param('weight', [channels], ones(), { noDecay: true });
      this.bias = this.param('bias', [channels], zeros(), { noDecay: true });
    }
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return instanceNorm(x, this.weight, this.bias, this.eps);
  }
}
