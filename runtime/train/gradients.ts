/**
 * Gradients of one training batch, optionally accumulated over micro-batches.
 * In: the stage, the model, prepared inputs (random throw already applied), the batch's mask and
 * labels, the trainable variables, and a micro-batch size. Out: the batch loss and one gradient
 * per variable that the loss depends on, keyed by variable name; the caller owns the tensors.
 * Holds afterwards: with micro-batches the result is the full-batch loss and gradient up to
 * float rounding, because each chunk's loss is weighted by its share of the batch loss's
 * denominator (samples for cross-entropy, removed patches for masked MSE); every sample-wise
 * random choice (mask, random throw) was drawn for the whole batch before splitting, so
 * micro-batching changes no draw of those streams. Needed to fit full-resolution batches in
 * wasm's 4 GiB heap (docs/runtime-performance.md). Gradients come from leanVariableGrads
 * (runtime/train/backprop.ts): tf.variableGrads' numbers, bit for bit, in less memory.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext, Rng } from '../module.js';
import { leanVariableGrads } from './backprop.js';
import { stageLoss } from './objective.js';
import type { StageSpec, TrainableModel } from './spec.js';

export interface BatchGradients {
  readonly loss: tf.Scalar;
  readonly grads: Map<string, tf.Tensor>;
}

export function sliceRows(t: tf.Tensor, start: number, size: number): tf.Tensor {
  return tf.slice(t, [start, ...t.shape.slice(1).map(() => 0)], [size, ...t.shape.slice(1).map(() => -1)]);
}

/**
 * Each contiguous chunk's share of the batch loss's denominator: samples for cross-entropy,
 * removed patches for masked MSE. `starts` are the chunks' first rows, ascending from 0.
 */
export function lossShares(
  stage: StageSpec,
  mask: tf.Tensor4D | undefined,
  n: number,
  starts: readonly number[],
): number[] {
  const ends = [...starts.slice(1), n];
  if (stage.loss.kind === 'masked_mse' && mask) {
    const maskRows = tf.tidy(() => tf.sum(tf.reshape(mask, [n, -1]), 1)).dataSync() as Float32Array;
    const total = maskRows.reduce((a, b) => a + b, 0);
    return starts.map((start, k) => {
      let part = 0;
      for (let i = start; i < ends[k]!; i++) part += maskRows[i]!;
      return total > 0 ? part / total : 0;
    });
  }
  return starts.map((start, k) => (ends[k]! - start) / n);
}

export function batchGradients(
  stage: StageSpec,
  model: TrainableModel,
  inputs: Readonly<Record<string, tf.Tensor>>,
  labels: tf.Tensor1D | undefined,
  mask: tf.Tensor4D | undefined,
  dropout: Rng,
  varList: tf.Variable[],
  microBatch?: number,
): BatchGradients {
  const first = Object.values(inputs)[0];
  const n = first ? first.shape[0]! : 0;
  const chunk = microBatch && microBatch > 0 && microBatch < n ? microBatch : n;
  if (chunk === n) {
    const out = tf.tidy(() => {
      const ctx: ForwardContext = { training: true, rng: dropout, ...(mask ? { mask } : {}) };
      const { value, grads } = leanVariableGrads(() => stageLoss(stage, model, ctx, inputs, labels), varList);
      return { value, grads };
    }) as unknown as { value: tf.Scalar; grads: Record<string, tf.Tensor> };
    return { loss: out.value, grads: new Map(Object.entries(out.grads)) };
  }
  const starts: number[] = [];
  for (let start = 0; start < n; start += chunk) starts.push(start);
  const shares = lossShares(stage, mask, n, starts);
  const grads = new Map<string, tf.Tensor>();
  let loss: tf.Scalar = tf.scalar(0);
  for (const [c, start] of starts.entries()) {
    const size = Math.min(chunk, n - start);
    const weight = shares[c]!;
    const step = tf.tidy(() => {
      const part: Record<string, tf.Tensor> = {};
      for (const [k, t] of Object.entries(inputs)) part[k] = sliceRows(t, start, size);
      const partLabels = labels ? (sliceRows(labels, start, size) as tf.Tensor1D) : undefined;
      const partMask = mask ? (sliceRows(mask, start, size) as tf.Tensor4D) : undefined;
      const ctx: ForwardContext = { training: true, rng: dropout, ...(partMask ? { mask: partMask } : {}) };
      const { value, grads: g } = leanVariableGrads(
        () => tf.mul(stageLoss(stage, model, ctx, part, partLabels), weight) as tf.Scalar,
        varList,
      );
      return { value, g };
    }) as unknown as { value: tf.Scalar; g: Record<string, tf.Tensor> };
    const nextLoss = tf.add(loss, step.value) as tf.Scalar;
    loss.dispose();
    step.value.dispose();
    loss = nextLoss;
    for (const [name, g] of Object.entries(step.g)) {
      const acc = grads.get(name);
      if (acc) {
        grads.set(name, tf.add(acc, g));
        acc.dispose();
        g.dispose();
      } else grads.set(name, g);
    }
  }
  return { loss, grads };
}
