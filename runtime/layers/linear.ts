/**
 * Linear layer: matmul over the last axis of any-rank input (also the 1x1 "pwconv" of
 * ConvNeXt-V2 on NHWC). Parameters `weight` [in, out] (transposed vs PyTorch), `bias` [out].
 * Default init: trunc_normal(std .02) weight, zero bias; pass `torchDefaultInit: true` for
 * PyTorch's nn.Linear default (kaiming_uniform a=sqrt 5, bias U(+-1/sqrt in)).
 * Per-position, so it needs no sparse mode: masked positions stay wherever they were.
 * In: [..., in]. Out: [..., out], the leading axes unchanged. Holds afterwards: only the output
 * outlives the call.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { kaimingUniform, torchDefaultBias, truncNormal, zeros } from '../init.js';
import { linear } from '../ops/linear.js';
import { Layer, type InitOptions } from './base.js';

export interface LinearOptions extends InitOptions {
  readonly bias?: boolean;
  readonly torchDefaultInit?: boolean;
}

export class Linear extends Layer {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    const torch = options.torchDefaultInit ?? false;
    const weightInit = options.weightInit ?? (torch ? kaimingUniform(Math.sqrt(5)) : truncNormal({ std: 0.02 }));
    this.weight = this.param('weight', [inFeatures, outFeatures], weightInit);
    if (options.bias ?? true) {
      const biasInit = options.biasInit ?? (torch ? torchDefaultBias(inFeatures) : zeros());
      this.bias = this.param('bias', [outFeatures], biasInit, { noDecay: true });
    }
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight, this.bias);
  }
}
