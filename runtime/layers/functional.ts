/**
 * Parameterless layers that wrap functional ops, so `.nvc` chains such as
 * `pool >> norm >> head` or `linear >> gelu >> linear` compose in a Sequential with the same
 * forward(ctx, ...inputs) contract as parametric layers.
 * In: the forward inputs. Out: the wrapped op's output. Holds afterwards: no parameters are
 * registered, so these layers never change a model's parameter paths.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { gelu, relu, sigmoid, silu, tanh } from '../ops/activation.js';
import { flatten } from '../ops/elementwise.js';
import { globalAvgPool } from '../ops/pool.js';
import { Layer } from './base.js';

/** Wraps any function of (ctx, ...inputs); `name` is for error messages and printing only. */
export class Lambda extends Layer {
  constructor(
    readonly fn: (ctx: ForwardContext, ...inputs: tf.Tensor[]) => tf.Tensor,
    readonly name = 'lambda',
  ) {
    super();
  }

  forward(ctx: ForwardContext, ...inputs: tf.Tensor[]): tf.Tensor {
    return this.fn(ctx, ...inputs);
  }
}

export type ActivationName = 'gelu' | 'relu' | 'sigmoid' | 'tanh' | 'silu';

const ACTIVATIONS: Record<ActivationName, (x: tf.Tensor) => tf.Tensor> = { gelu, relu, sigmoid, tanh, silu };

/** Elementwise activation by name; 'gelu' is the exact erf form. */
export class Activation extends Layer {
  private readonly fn: (x: tf.Tensor) => tf.Tensor;

  constructor(readonly kind: ActivationName) {
    super();
    const fn = ACTIVATIONS[kind];
    if (!fn) throw new Error(`unknown activation '${kind}' (known: ${Object.keys(ACTIVATIONS).join(', ')})`);
    this.fn = fn;
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return this.fn(x);
  }
}

export class GELU extends Activation {
  constructor() {
    super('gelu');
  }
}

/** [N,H,W,C] -> [N,C] mean over H, W. */
export class GlobalAvgPool extends Layer {
  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return globalAvgPool(x);
  }
}

/** [N, ...] -> [N, prod(...)]. */
export class Flatten extends Layer {
  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return flatten(x);
  }
}
