/**
 * Tiny hand-written TrainableModels for the trainer tests (the code generator does not exist
 * yet). In: image inputs [N, H, W, C] and lab vectors [N, F]. Out: an FCMAE-like masked
 * autoencoder (`encoder` + `decoder`, returns `pred` per patch) and a classifier whose `enc`
 * has the same structure as the autoencoder's `encoder`, so weights can be handed over.
 */
import * as tf from '@tensorflow/tfjs';
import { Module, type ForwardContext, type Initializer } from '../../runtime/module.js';
import type { ModelFactory, TrainableModel } from '../../runtime/train/spec.js';

const normalInit =
  (std: number): Initializer =>
  (shape, rng) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = std * rng.normal();
    return tf.tensor(values, [...shape]);
  };
const zerosInit: Initializer = (shape) => tf.zeros([...shape]);

export class Dense extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(inputs: number, outputs: number) {
    super();
    this.weight = this.param('weight', [inputs, outputs], normalInit(1 / Math.sqrt(inputs)));
    this.bias = this.param('bias', [outputs], zerosInit, { noDecay: true });
  }
  apply(x: tf.Tensor): tf.Tensor {
    const shape = x.shape;
    const flat = x.reshape([-1, shape[shape.length - 1]!]);
    const y = tf.add(tf.matMul(flat, this.weight), this.bias);
    return y.reshape([...shape.slice(0, -1), this.weight.shape[1]!]);
  }
}

/** [N, H, W, C] -> [N, H/p, W/p, p*p*C], patch elements ordered (row, col, channel). */
export function toPatches(x: tf.Tensor, patch: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return x
    .reshape([n, h / patch, patch, w / patch, patch, c])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([n, h / patch, w / patch, patch * patch * c]) as tf.Tensor4D;
}

/** Patch embedding: one Dense over each patch's pixels; masked patches are zeroed (sparse). */
export class PatchEncoder extends Module {
  readonly embed: Dense;
  readonly mix: Dense;
  constructor(
    readonly patch: number,
    channels: number,
    readonly dim: number,
  ) {
    super();
    this.embed = this.child('embed', new Dense(patch * patch * channels, dim));
    this.mix = this.child('mix', new Dense(dim, dim));
  }
  apply(ctx: ForwardContext, image: tf.Tensor): tf.Tensor4D {
    const patches = toPatches(image, this.patch);
    let h = tf.relu(this.embed.apply(patches));
    if (ctx.mask) h = h.mul(tf.sub(1, ctx.mask));
    h = tf.add(h, tf.tanh(this.mix.apply(h)));
    if (ctx.mask) h = h.mul(tf.sub(1, ctx.mask));
    return h as tf.Tensor4D;
  }
}

export interface TinyConfig {
  readonly patch: number;
  readonly channels: number;
  readonly dim: number;
  readonly labs: number;
  readonly classes: number;
  /** Name of the image input. */
  readonly image: string;
  /** Name of the lab input. */
  readonly labInput: string;
}

export class TinyMAE extends Module implements TrainableModel {
  readonly encoder: PatchEncoder;
  readonly decoder: Dense;
  readonly maskToken: tf.Variable;
  constructor(readonly config: TinyConfig) {
    super();
    this.encoder = this.child('encoder', new PatchEncoder(config.patch, config.channels, config.dim));
    this.decoder = this.child('decoder', new Dense(config.dim, config.patch * config.patch * config.channels));
    this.maskToken = this.param('mask_token', [config.dim], normalInit(0.02));
  }
  forward(ctx: ForwardContext, inputs: Readonly<Record<string, tf.Tensor>>): Record<string, tf.Tensor> {
    const image = inputs[this.config.image];
    if (!image) throw new Error(`TinyMAE needs input '${this.config.image}'`);
    let h: tf.Tensor = this.encoder.apply(ctx, image);
    if (ctx.mask) h = tf.add(h, tf.mul(ctx.mask, this.maskToken));
    return { pred: this.decoder.apply(h) };
  }
}

export class TinyClassifier extends Module implements TrainableModel {
  readonly enc: PatchEncoder;
  readonly labProj: Dense;
  readonly head: Dense;
  constructor(readonly config: TinyConfig) {
    super();
    this.enc = this.child('enc', new PatchEncoder(config.patch, config.channels, config.dim));
    this.labProj = this.child('lab_proj', new Dense(config.labs, config.dim));
    this.head = this.child('head', new Dense(config.dim, config.classes));
  }
  forward(ctx: ForwardContext, inputs: Readonly<Record<string, tf.Tensor>>): tf.Tensor {
    const image = inputs[this.config.image];
    const labs = inputs[this.config.labInput];
    if (!image || !labs) throw new Error('TinyClassifier needs an image and a lab input');
    const v = this.enc.apply(ctx, image).mean([1, 2]);
    const fused = tf.relu(tf.add(v, this.labProj.apply(labs)));
    return this.head.apply(fused);
  }
}

export function tinyFactories(config: TinyConfig): Record<string, ModelFactory> {
  return {
    pretrain: { create: () => new TinyMAE(config) },
    finetune: { create: () => new TinyClassifier(config) },
  };
}
