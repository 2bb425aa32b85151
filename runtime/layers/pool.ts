/**
 * Pooling layers, NHWC, with PyTorch's semantics: MaxPool2d and AvgPool2d (kernel, stride
 * defaulting to the kernel, padding on every side, ceil_mode; MaxPool2d's dilation;
 * AvgPool2d's count_include_pad default true) and AdaptiveAvgPool2d (PyTorch's bins).
 * In: NHWC [N,H,W,C]. Out: NHWC [N,H',W',C] (runtime/ops/pool.ts). Holds afterwards: no
 * parameters, so a pool never changes a model's parameter paths.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from '../ops/pool.js';
import { Layer } from './base.js';

export interface Pool2dOptions {
  readonly kernel: number;
  /** 0 or absent: the kernel size. */
  readonly stride?: number;
  readonly padding?: number;
  /** PyTorch's ceil_mode. Default false. */
  readonly ceilMode?: boolean;
}

export interface MaxPool2dOptions extends Pool2dOptions {
  /** Spacing between a window's taps. Default 1. */
  readonly dilation?: number;
}

export class MaxPool2d extends Layer {
  constructor(readonly options: MaxPool2dOptions) {
    super();
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return maxPool2d(x, this.options);
  }
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Default true (PyTorch). */
  readonly countIncludePad?: boolean;
}

export class AvgPool2d extends Layer {
  constructor(readonly options: AvgPool2dOptions) {
    super();
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    return avgPool2d(x, this.options);
  }
}

export class AdaptiveAvgPool2d extends Layer {
  /** `outputSize`: n for n x n, or [height, width]. */
  constructor(readonly outputSize: number | readonly [number, number]) {
    super();
  }

  forward(_ctx: ForwardContext, x: tf.Tensor): tf.Tensor {
    const [h, w] = typeof this.outputSize === 'number' ? [this.outputSize, this.outputSize] : this.outputSize;
    return adaptiveAvgPool2d(x, h, w);
  }
}
