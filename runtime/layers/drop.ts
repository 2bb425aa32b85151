/**
 * DropPath (stochastic depth) and Dropout layers: no parameters; identity outside training or at
 * rate 0; randomness from ctx.rng (see ops/dropout.ts).
 * In: a tensor and the forward context. Out: a tensor of the same shape.
 * Holds afterwards: the expectation equals the input (kept values scaled by 1/(1-rate)); the
 * drawn pattern is a function of ctx.rng's state.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { dropout, dropPath } from '../ops/dropout.js';
import { Layer } from './base.js';

export class DropPath extends Layer {
  constructor(readonly rate: number) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`DropPath: rate must be in [0, 1), got ${rate}`);
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return dropPath(x, this.rate, ctx);
  }
}

export class Dropout extends Layer {
  constructor(readonly rate: number) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`Dropout: rate must be in [0, 1), got ${rate}`);
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return dropout(x, this.rate, ctx);
  }
}
