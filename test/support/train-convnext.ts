/**
 * A miniature MED-NVC built from the runtime's layers, standing in for compiler-generated code:
 * a two-level ConvNeXt-V2 encoder (stem, one sparse-capable block per level, downsampling) used
 * by an FCMAE (encoder + FcmaeDecoder) for masked pretraining, and by a classifier that fuses
 * lab values into the level-1 features with cross-attention before the head. Parameter paths
 * follow the official ConvNeXt-V2 names (`downsample_layers.i.j`, `stages.i.j.{dwconv, norm,
 * pwconv1, grn, pwconv2}`), so `encoder` -> `enc` hands over key for key.
 */
import * as tf from '@tensorflow/tfjs';
import { Module, type ForwardContext } from '../../runtime/module.js';
import {
  Conv2d,
  CrossAttention,
  FcmaeDecoder,
  type Layer,
  LayerNorm,
  Linear,
  ModuleList,
  Sequential,
  Sparse,
} from '../../runtime/layers/index.js';
import { keepFor } from '../../runtime/ops/index.js';
import type { ModelFactory, TrainableModel } from '../../runtime/train/spec.js';
import { Block } from './convnextv2.js';

/** The ConvNeXt-V2 block of test/support/convnextv2.ts, miniature: 3x3 depthwise, 2x bottleneck. */
function miniBlock(dim: number): Block {
  return new Block(dim, { kernel: 3, mlpRatio: 2 });
}

export interface MiniConfig {
  readonly channels: number;
  readonly dims: readonly [number, number];
  readonly labs: number;
}

/** Stem (4x4, stride 4) + block at dims[0]; LN + 2x2 stride-2 conv + block at dims[1]: stride 8. */
export class MiniEncoder extends Module {
  readonly downsample_layers: ModuleList;
  readonly stages: ModuleList;
  constructor(readonly config: MiniConfig) {
    super();
    const [d0, d1] = config.dims;
    this.downsample_layers = this.child(
      'downsample_layers',
      new ModuleList([
        new Sequential<Layer>(new Conv2d(config.channels, d0, { kernel: 4, stride: 4 }), new LayerNorm(d0)),
        new Sequential<Layer>(new LayerNorm(d0), new Conv2d(d0, d1, { kernel: 2, stride: 2 })),
      ]),
    );
    this.stages = this.child(
      'stages',
      new ModuleList([new ModuleList([miniBlock(d0)]), new ModuleList([miniBlock(d1)])]),
    );
  }
  level(ctx: ForwardContext, i: number, x: tf.Tensor): tf.Tensor {
    let y = (this.downsample_layers.at(i) as Sequential).forward(ctx, x);
    if (ctx.mask) y = tf.mul(y, keepFor(y, ctx)!);
    for (const b of (this.stages.at(i) as ModuleList<Block>).items) y = b.forward(ctx, y);
    return y;
  }
}

export class MiniFCMAE extends Module implements TrainableModel {
  readonly encoder: MiniEncoder;
  readonly decoder: FcmaeDecoder;
  constructor(config: MiniConfig) {
    super();
    this.encoder = this.child('encoder', Sparse(new MiniEncoder(config)));
    this.decoder = this.child(
      'decoder',
      new FcmaeDecoder(config.dims[1], {
        embedDim: 8,
        depth: 1,
        patchSize: 8,
        inChans: config.channels,
        makeBlock: miniBlock,
      }),
    );
  }
  forward(ctx: ForwardContext, inputs: Readonly<Record<string, tf.Tensor>>): Record<string, tf.Tensor> {
    const x = this.encoder.level(ctx, 1, this.encoder.level(ctx, 0, inputs.xray!));
    return { pred: this.decoder.forward(ctx, x) };
  }
}

export class MiniMEDNVC extends Module implements TrainableModel {
  readonly enc: MiniEncoder;
  readonly lab_proj: Linear;
  readonly fusion: CrossAttention;
  readonly head: Sequential;
  constructor(readonly config: MiniConfig) {
    super();
    this.enc = this.child('enc', new MiniEncoder(config));
    this.lab_proj = this.child('lab_proj', new Linear(config.labs, config.dims[0]));
    this.fusion = this.child(
      'fusion',
      new CrossAttention(config.dims[0], config.dims[0], { heads: 2, residual: true }),
    );
    this.head = this.child('head', new Sequential<Layer>(new LayerNorm(config.dims[1]), new Linear(config.dims[1], 2)));
  }
  forward(ctx: ForwardContext, inputs: Readonly<Record<string, tf.Tensor>>): tf.Tensor {
    const v = this.enc.level(ctx, 0, inputs.xray!);
    const n = tf.reshape(this.lab_proj.forward(ctx, inputs.labs!), [-1, 1, this.config.dims[0]]);
    const q = this.fusion.forward(ctx, v, n);
    return this.head.forward(ctx, tf.mean(this.enc.level(ctx, 1, q), [1, 2]));
  }
}

export function miniFactories(config: MiniConfig): Record<string, ModelFactory> {
  return { pretrain: { create: () => new MiniFCMAE(config) }, finetune: { create: () => new MiniMEDNVC(config) } };
}
