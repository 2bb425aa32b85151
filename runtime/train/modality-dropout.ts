/**
 * "Random throw" modality dropout (MED-NVC): during training, each sample independently, with
 * probability p, has one whole modality (chosen uniformly among the declared ones) replaced by a
 * constant fill value, so the fused model learns to cope with a missing X-ray or lab panel.
 * In: a batch of named input tensors (first axis = sample), the ModalityDropout settings and the
 * stage's `modality_dropout` RNG stream. Out: new input tensors and the per-sample choice
 * (-1 = kept, else the index of the thrown modality). Holds afterwards: exactly two RNG draws
 * per sample when p > 0 is reached (one uniform, one choice), so the stream's position depends
 * only on the batch size and the draws, never on tensor values; inputs are not disposed.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../module.js';
import { randInt } from '../rng.js';
import type { ModalityDropout } from './spec.js';

export interface ThrowResult {
  readonly inputs: Record<string, tf.Tensor>;
  readonly thrown: Int32Array;
}

export function randomThrow(
  inputs: Readonly<Record<string, tf.Tensor>>,
  settings: ModalityDropout,
  rng: Rng,
): ThrowResult {
  const names = settings.modalities;
  for (const name of names)
    if (!inputs[name])
      throw new Error(`modality_dropout: the batch has no input '${name}' (inputs: ${Object.keys(inputs).join(', ')})`);
  const first = inputs[names[0] ?? ''];
  const n = first ? first.shape[0]! : 0;
  const thrown = new Int32Array(n).fill(-1);
  if (settings.p <= 0 || names.length === 0) return { inputs: { ...inputs }, thrown };
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    const k = randInt(rng, 0, names.length);
    if (u < settings.p) thrown[i] = k;
  }
  const out: Record<string, tf.Tensor> = { ...inputs };
  names.forEach((name, k) => {
    const x = inputs[name]!;
    if (x.shape[0] !== n) throw new Error(`modality_dropout: input '${name}' has ${x.shape[0]} samples, expected ${n}`);
    const keep = new Float32Array(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      keep[i] = thrown[i] === k ? 0 : 1;
      if (thrown[i] === k) any = true;
    }
    if (!any) return;
    out[name] = tf.tidy(() => {
      const shape = [n, ...x.shape.slice(1).map(() => 1)];
      const keepT = tf.tensor(keep, shape);
      return tf.add(tf.mul(x, keepT), tf.mul(tf.sub(1, keepT), settings.fill));
    });
  });
  return { inputs: out, thrown };
}
