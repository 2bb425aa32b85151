/**
 * Scaled dot-product attention and head reshaping, built on matMul(q, k, false, true) + softmax
 * (no einsum: it has no gradient in tfjs). In: q [B,Lq,D], k [B,Lk,D], v [B,Lk,Dv] (any number of
 * leading batch dims). Out: [B,Lq,Dv]. Holds: rows of the attention weights sum to 1.
 */
import * as tf from '@tensorflow/tfjs';

export interface AttentionOptions {
  /** Multiplier of q.k; default 1/sqrt(D). */
  readonly scale?: number;
  /**
   * Additive bias broadcastable to the scores [..., Lq, Lk] (e.g. -1e9 at keys to ignore).
   */
  readonly bias?: tf.Tensor;
}

/** softmax(q k^T * scale + bias) v. */
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  options: AttentionOptions = {},
): tf.Tensor {
  const d = q.shape[q.rank - 1]!;
  if (k.shape[k.rank - 1] !== d) throw new Error(`attention: q has depth ${d}, k has ${k.shape[k.rank - 1]}`);
  if (k.shape[k.rank - 2] !== v.shape[v.rank - 2])
    throw new Error(`attention: k has ${k.shape[k.rank - 2]} positions, v has ${v.shape[v.rank - 2]}`);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  return tf.tidy(() => {
    let scores: tf.Tensor = tf.mul(tf.matMul(q, k, false, true), scale);
    if (options.bias) scores = tf.add(scores, options.bias);
    return tf.matMul(tf.softmax(scores), v);
  });
}

/** [B, L, H*dh] -> [B*H, L, dh] (head-major within each sample). */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [b, l, d] = x.shape as [number, number, number];
  if (d % heads !== 0) throw new Error(`splitHeads: width ${d} is not divisible by ${heads} heads`);
  return tf.tidy(() =>
    tf.reshape(tf.transpose(tf.reshape(x, [b, l, heads, d / heads]), [0, 2, 1, 3]), [b * heads, l, d / heads]),
  );
}

/** [B*H, L, dh] -> [B, L, H*dh]; inverse of splitHeads. */
export function mergeHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [bh, l, dh] = x.shape as [number, number, number];
  if (bh % heads !== 0) throw new Error(`mergeHeads: leading dim ${bh} is not divisible by ${heads} heads`);
  const b = bh / heads;
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [b, heads, l, dh]), [0, 2, 1, 3]), [b, l, heads * dh]));
}
