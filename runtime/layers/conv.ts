/**
 * Convolution layers, NHWC: Conv2d (stem 4x4/4, downsample 2x2/2, 1x1, any k/stride, PyTorch's
 * padding, dilation and groups) and DepthwiseConv2d (7x7 'same'; any stride, padding, dilation).
 * Parameters `weight` [kh,kw,in/groups,out] / [k,k,C,1] and `bias`.
 * Default init: trunc_normal(std .02, +-2 absolute) weights and zero bias (ConvNeXt-V2
 * _init_weights). Sparse mode (ctx.mask set): input zeroed at removed positions before the conv
 * and output re-zeroed at removed positions of the output resolution (dense emulation, §3.4).
 * In: NHWC [N,H,W,in]. Out: NHWC [N,H',W',out] (H' from kernel, stride, padding).
 * Holds afterwards: in sparse mode removed output positions are exactly 0; only the output
 * outlives the call.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { truncNormal, zeros } from '../init.js';
import { type ConvPadding, convolve, depthwiseConv2d } from '../ops/linear.js';
import { convTranspose2d } from '../ops/resample.js';
import { visible } from '../ops/mask.js';
import { Layer, type InitOptions, type SparseCapable } from './base.js';

export interface Conv2dOptions extends InitOptions {
  readonly kernel: number;
  readonly stride?: number;
  /** Default 'valid' (PyTorch padding=0); p, [ph, pw] or [top, bottom, left, right] cells of zeros. */
  readonly padding?: ConvPadding;
  /** Default 1. */
  readonly dilation?: number;
  /** Channel groups (PyTorch's); default 1. The weight is [k, k, in / groups, out]. */
  readonly groups?: number;
  readonly bias?: boolean;
  readonly sparse?: boolean;
}

export class Conv2d extends Layer implements SparseCapable {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly stride: number;
  readonly padding: ConvPadding;
  readonly dilation: number;
  readonly groups: number;
  sparse: boolean;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: Conv2dOptions,
  ) {
    super();
    const k = options.kernel;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 'valid';
    this.dilation = options.dilation ?? 1;
    this.groups = options.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0)
      throw new Error(`Conv2d: groups ${this.groups} must divide in ${inChannels} and out ${outChannels}`);
    this.sparse = options.sparse ?? false;
    this.weight = this.param(
      'weight',
      [k, k, inChannels / this.groups, outChannels],
      options.weightInit ?? truncNormal({ std: 0.02 }),
    );
    if (options.bias ?? true)
      this.bias = this.param('bias', [outChannels], options.biasInit ?? zeros(), { noDecay: true });
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    const options = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    if (this.sparse && ctx.mask)
      return tf.tidy(() => visible(convolve(visible(x, ctx), this.weight, this.bias, options), ctx));
    return convolve(x, this.weight, this.bias, options);
  }
}

export interface DepthwiseConv2dOptions extends InitOptions {
  /** Default 7. */
  readonly kernel?: number;
  /** Default 1. */
  readonly stride?: number;
  /** Default 'same'; also p, [ph, pw] or [top, bottom, left, right] cells of zeros. */
  readonly padding?: ConvPadding;
  /** Default 1. */
  readonly dilation?: number;
  readonly bias?: boolean;
  readonly sparse?: boolean;
}

export class DepthwiseConv2d extends Layer implements SparseCapable {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly stride: number;
  readonly padding: ConvPadding;
  readonly dilation: number;
  sparse: boolean;

  constructor(
    readonly channels: number,
    options: DepthwiseConv2dOptions = {},
  ) {
    super();
    const k = options.kernel ?? 7;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 'same';
    this.dilation = options.dilation ?? 1;
    this.sparse = options.sparse ?? false;
    this.weight = this.param('weight', [k, k, channels, 1], options.weightInit ?? truncNormal({ std: 0.02 }));
    if (options.bias ?? true)
      this.bias = this.param('bias', [channels], options.biasInit ?? zeros(), { noDecay: true });
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    const options = { stride: this.stride, dilation: this.dilation };
    if (this.sparse && ctx.mask)
      return tf.tidy(() =>
        visible(depthwiseConv2d(visible(x, ctx), this.weight, this.bias, this.padding, options), ctx),
      );
    return depthwiseConv2d(x, this.weight, this.bias, this.padding, options);
  }
}

export interface ConvTranspose2dOptions extends InitOptions {
  readonly kernel: number;
  readonly stride?: number;
  /** Rows and columns cut from every side of the full output (PyTorch's padding). Default 0. */
  readonly padding?: number;
  /** Rows and columns added at the bottom and right (PyTorch's output_padding, < stride or dilation). Default 0. */
  readonly outputPadding?: number;
  /** Channel groups (divide in and out). Default 1. */
  readonly groups?: number;
  /** Spacing between kernel taps. Default 1. */
  readonly dilation?: number;
  readonly bias?: boolean;
}

/**
 * nn.ConvTranspose2d on NHWC; `weight` [k, k, out / groups, in] (PyTorch [in, out / groups, k, k]),
 * `bias` [out].
 */
export class ConvTranspose2d extends Layer {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly stride: number;
  readonly padding: number;
  readonly outputPadding: number;
  readonly groups: number;
  readonly dilation: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: ConvTranspose2dOptions,
  ) {
    super();
    const k = options.kernel;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.outputPadding = options.outputPadding ?? 0;
    this.groups = options.groups ?? 1;
    this.dilation = options.dilation ?? 1;
    this.weight = this.param(
      'weight',
      [k, k, outChannels / this.groups, inChannels],
      options.weightInit ?? truncNormal({ std: 0.02 }),
    );
    if (options.bias ?? true)
      this.bias = this.param('bias', [outChannels], options.biasInit ?? zeros(), { noDecay: true });
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      groups: this.groups,
      dilation: this.dilation,
    });
  }
}
