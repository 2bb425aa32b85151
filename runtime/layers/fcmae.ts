/**
 * FCMAE decoder (ConvNeXt-V2 masked pre-training): encoder features [N,h,w,Cenc] (zeros at
 * removed cells) and the patch mask [N,h,w,1] (1 = removed) in; per-patch pixel predictions
 * [N, h*w, p*p*inChans] in patchify order out.
 *   proj: 1x1 conv Cenc -> embedDim;  x = x*(1-mask) + mask_token*mask;
 *   decoder: `depth` DENSE blocks (built by the caller, e.g. the std ConvNeXt-V2 Block);
 *   pred: 1x1 conv embedDim -> p*p*inChans (no activation).
 * Parameter paths follow the official FCMAE: `proj.*`, `mask_token` ([embedDim]; official
 * (1,embedDim,1,1)), `decoder.<i>.*`, `pred.*`.
 * Init: proj/pred trunc_normal(.02) weights and zero biases, mask_token normal(.02). The
 * official FCMAE re-initialises these with std 1.0 (reference §3.7, a known source of NaNs);
 * pass `weightInit` to copy that deliberately.
 * Holds afterwards: visible cells go through `proj`, removed cells are the mask token, so the
 * prediction depends on removed cells only through their positions.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext, Initializer } from '../module.js';
import { normal } from '../init.js';
import { replaceWhere } from '../ops/elementwise.js';
import { Layer, type Callable } from './base.js';
import { Conv2d } from './conv.js';
import { Sequential } from './container.js';
import type { Module } from '../module.js';

export interface FcmaeDecoderOptions {
  /** Default 512. */
  readonly embedDim?: number;
  /** Default 1. */
  readonly depth?: number;
  /** Must equal the encoder's total stride. Default 32. */
  readonly patchSize?: number;
  /** Default 3. */
  readonly inChans?: number;
  /** Builds decoder block i of width `dim` (must be dense: it is run without the mask). */
  readonly makeBlock: (dim: number, index: number) => Module & Callable;
  readonly weightInit?: Initializer;
  readonly maskTokenInit?: Initializer;
}

export class FcmaeDecoder extends Layer {
  readonly proj: Conv2d;
  readonly maskToken: tf.Variable;
  readonly decoder: Sequential;
  readonly pred: Conv2d;
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;

  constructor(
    readonly inDim: number,
    options: FcmaeDecoderOptions,
  ) {
    super();
    this.embedDim = options.embedDim ?? 512;
    this.patchSize = options.patchSize ?? 32;
    this.inChans = options.inChans ?? 3;
    const depth = options.depth ?? 1;
    this.proj = this.child('proj', new Conv2d(inDim, this.embedDim, { kernel: 1, weightInit: options.weightInit }));
    this.maskToken = this.param('mask_token', [this.embedDim], options.maskTokenInit ?? normal(0.02));
    const blocks = Array.from({ length: depth }, (_, i) => options.makeBlock(this.embedDim, i));
    this.decoder = this.child('decoder', new Sequential(...blocks));
    const outDim = this.patchSize * this.patchSize * this.inChans;
    this.pred = this.child('pred', new Conv2d(this.embedDim, outDim, { kernel: 1, weightInit: options.weightInit }));
  }

  /** mask: explicit [N,h,w,1], else ctx.mask; without either, no cell is replaced. */
  forward(ctx: ForwardContext, x: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
    const m = mask ?? ctx.mask;
    return tf.tidy(() => {
      let y = this.proj.forward(ctx, x);
      if (m) {
        if (m.shape[1] !== y.shape[1] || m.shape[2] !== y.shape[2])
          throw new Error(
            `FcmaeDecoder: mask grid ${m.shape[1]}x${m.shape[2]} != feature grid ${y.shape[1]}x${y.shape[2]} ` +
              `(patch size must equal the encoder stride)`,
          );
        y = replaceWhere(y, m, this.maskToken);
      }
      const { mask: _removed, ...dense } = ctx;
      void _removed;
      y = this.decoder.forward(dense, y);
      const p = this.pred.forward(dense, y);
      const [n, h, w, d] = p.shape as [number, number, number, number];
      return tf.reshape(p, [n, h * w, d]);
    });
  }
}
