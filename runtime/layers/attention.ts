/**
 * Multi-head attention and cross-attention (queries from `x`, keys/values from `kv`).
 * In: x [B,Lq,D] or an NHWC map [B,H,W,D] (viewed as H*W tokens and returned in NHWC);
 * kv [B,Lk,Dkv], [B,Dkv] (one token, e.g. a lab-value vector) or NHWC.
 * Out: same layout as x, width `outDim` (default D).
 * Children: `q` (D->D), `k` (Dkv->D), `v` (Dkv->D), `out` (D->outDim) Linear layers; with
 * preNorm also `norm` (LayerNorm on x) and, for cross-attention, `norm_kv` (LayerNorm on kv).
 *
 * Defaults: preNorm = false and residual = false, i.e. exactly softmax(QK^T/sqrt(dk))V followed
 * by the output projection, the MED-NVC equation (1); set `preNorm: true, residual: true` for a
 * pre-LN transformer sub-block y = x + out(attn(LN(x), LN(kv))).
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../module.js';
import { mergeHeads, scaledDotProductAttention, splitHeads } from '../ops/attention.js';
import { asTokens } from '../ops/elementwise.js';
import { Layer, type InitOptions } from './base.js';
import { Linear } from './linear.js';
import { LayerNorm } from './norm.js';

export interface AttentionLayerOptions extends InitOptions {
  /** Default 1. Must divide dim. */
  readonly heads?: number;
  /** Bias on q/k/v projections. Default true. */
  readonly qkvBias?: boolean;
  /** Output width. Default dim. */
  readonly outDim?: number;
  /** LayerNorm (eps 1e-6) on the inputs before projecting. Default false. */
  readonly preNorm?: boolean;
  /** Add x to the output (needs outDim == dim). Default false. */
  readonly residual?: boolean;
  /** PyTorch default Linear init instead of trunc_normal(.02). */
  readonly torchDefaultInit?: boolean;
}

export class MultiHeadAttention extends Layer {
  readonly heads: number;
  readonly outDim: number;
  readonly preNorm: boolean;
  readonly residual: boolean;
  readonly norm?: LayerNorm;
  readonly normKv?: LayerNorm;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;

  constructor(
    readonly dim: number,
    options: AttentionLayerOptions = {},
    /** Width of kv; undefined for self-attention (kv = x). */
    readonly kvDim?: number,
  ) {
    super();
    this.heads = options.heads ?? 1;
    this.outDim = options.outDim ?? dim;
    this.preNorm = options.preNorm ?? false;
    this.residual = options.residual ?? false;
    if (dim % this.heads !== 0) throw new Error(`attention: dim ${dim} is not divisible by ${this.heads} heads`);
    if (this.residual && this.outDim !== dim)
      throw new Error(`attention: a residual needs outDim (${this.outDim}) == dim (${dim})`);
    const lin = {
      bias: options.qkvBias ?? true,
      weightInit: options.weightInit,
      biasInit: options.biasInit,
      torchDefaultInit: options.torchDefaultInit,
    };
    const kvIn = kvDim ?? dim;
    if (this.preNorm) {
      this.norm = this.child('norm', new LayerNorm(dim));
      if (kvDim !== undefined) this.normKv = this.child('norm_kv', new LayerNorm(kvDim));
    }
    this.q = this.child('q', new Linear(dim, dim, lin));
    this.k = this.child('k', new Linear(kvIn, dim, lin));
    this.v = this.child('v', new Linear(kvIn, dim, lin));
    this.out = this.child(
      'out',
      new Linear(dim, this.outDim, {
        weightInit: options.weightInit,
        biasInit: options.biasInit,
        torchDefaultInit: options.torchDefaultInit,
      }),
    );
  }

  forward(ctx: ForwardContext, x: tf.Tensor, kv?: tf.Tensor): tf.Tensor {
    if (this.kvDim !== undefined && !kv) throw new Error('cross-attention needs a key/value input');
    return tf.tidy(() => {
      const xTokens = asTokens(x);
      const b = xTokens.shape[0];
      let qIn: tf.Tensor = xTokens;
      if (this.norm) qIn = this.norm.forward(ctx, xTokens);
      let kvIn: tf.Tensor;
      if (kv) {
        kvIn = asTokens(kv);
        if (kvIn.shape[0] !== b) throw new Error(`attention: batch ${b} for queries, ${kvIn.shape[0]} for keys/values`);
        if (this.normKv) kvIn = this.normKv.forward(ctx, kvIn);
      } else {
        kvIn = qIn;
      }
      const q = splitHeads(this.q.forward(ctx, qIn), this.heads);
      const k = splitHeads(this.k.forward(ctx, kvIn), this.heads);
      const v = splitHeads(this.v.forward(ctx, kvIn), this.heads);
      const attended = mergeHeads(scaledDotProductAttention(q, k, v), this.heads);
      let y = this.out.forward(ctx, attended);
      if (this.residual) y = tf.add(y, xTokens);
      if (x.rank === 4) return tf.reshape(y, [b, x.shape[1]!, x.shape[2]!, this.outDim]);
      if (x.rank === 2) return tf.reshape(y, [b, this.outDim]);
      return y;
    });
  }
}

export class CrossAttention extends MultiHeadAttention {
  constructor(dim: number, kvDim: number, options: AttentionLayerOptions = {}) {
    super(dim, options, kvDim);
  }

  override forward(ctx: ForwardContext, x: tf.Tensor, kv?: tf.Tensor): tf.Tensor {
    if (!kv) throw new Error('CrossAttention.forward(ctx, x, kv): kv is required');
    return super.forward(ctx, x, kv);
  }
}
