/**
 * BatchNorm (PyTorch's BatchNorm1d / BatchNorm2d on channels-last tensors).
 * In: x [..., C] (NHWC for 2-D, [N, C] or [N, L, C] for 1-D) and the ForwardContext's training
 * flag. Out: the same shape. Holds afterwards: parameters `weight` [C] (ones) and `bias` [C]
 * (zeros), both noDecay, and buffers `running_mean` [C] (zeros), `running_var` [C] (ones) and
 * `num_batches_tracked` (int32 scalar), PyTorch's state_dict names; a training pass normalises
 * with the batch statistics and moves the running ones by `momentum` (0.1) and counts the batch;
 * an evaluation pass reads the running statistics and changes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { ones, zeros } from '../init.js';
import { batchNormEval, batchNormTrain, movingAverage, valuesPerChannel } from '../ops/batchnorm.js';
import { Layer } from './base.js';

export interface BatchNormOptions {
  /** Added to the variance inside the square root. Default 1e-5 (PyTorch). */
  readonly eps?: number;
  /** Weight of the new batch in the running statistics. Default 0.1 (PyTorch). */
  readonly momentum?: number;
  /** Learned weight and bias. Default true. */
  readonly affine?: boolean;
}

export class BatchNorm extends Layer {
  readonly weight?: tf.Variable;
  readonly bias?: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly numBatchesTracked: tf.Variable;
  readonly eps: number;
  readonly momentum: number;

  constructor(
    readonly channels: number,
    options: BatchNormOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    if (options.affine ?? true) {
      this.weight = this.param('weight', [channels], ones(), { noDecay: true });
      this.bias = this.param('bias', [channels], zeros(), { noDecay: true });
    }
    this.runningMean = this.buffer('running_mean', [channels], 0);
    this.runningVar = this.buffer('running_var', [channels], 1);
    this.numBatchesTracked = this.buffer('num_batches_tracked', [], 0, 'int32');
  }

  forward(ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    if (x.shape[x.rank - 1] !== this.channels)
      throw new Error(`BatchNorm(${this.channels}) got an input of shape [${x.shape.join(', ')}]`);
    if (!ctx.training) return batchNormEval(x, this.runningMean, this.runningVar, this.weight, this.bias, this.eps);
    if (valuesPerChannel(x) < 2)
      throw new Error(
        `BatchNorm in training needs more than one value per channel, found shape [${x.shape.join(', ')}] ` +
          '(a batch of one sample without spatial axes)',
      );
    return tf.tidy(() => {
      const { y, stats } = batchNormTrain(x, this.weight, this.bias, this.eps);
      // State, not part of the graph being differentiated: nothing reaches the loss from here.
      this.runningMean.assign(movingAverage(this.runningMean, stats.mean, this.momentum));
      this.runningVar.assign(movingAverage(this.runningVar, stats.unbiasedVariance, this.momentum));
      this.numBatchesTracked.assign(tf.add(this.numBatchesTracked, tf.scalar(1, 'int32')));
      return y;
    });
  }
}
