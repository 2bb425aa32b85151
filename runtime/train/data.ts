/**
 * What the stage runner needs from a loaded dataset, and the runner-owned sample order.
 * In: a dataset that has been read, validated and split (runtime/data), seen through
 * `TrainingData`: split sizes, and tensors for any list of sample indices of a split. Out:
 * batches in a seeded order. Holds afterwards: the order of an epoch is a pure function of the
 * `data` RNG stream at the epoch's start, and the position inside the epoch is a plain
 * number, so a checkpoint (stream state + order + position) resumes on exactly the next batch;
 * augmentation draws only from the `augment` stream passed to `load`, sample by sample in
 * batch order.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../module.js';
import { permutation } from '../rng.js';
import type { AugmentSpec } from './spec.js';

export type SplitName = 'train' | 'val' | 'test';

/** One batch: named inputs (first axis = sample), class indices, and whose images they are. */
export interface Batch {
  readonly inputs: Record<string, tf.Tensor>;
  /** Class index per sample (int32 [N]); absent for unlabelled data (predict). */
  readonly labels?: tf.Tensor1D;
  readonly patientIds: readonly string[];
}

export interface TrainingData {
  /** Class names in index order (classes[1] is "positive" for binary metrics). */
  readonly classes: readonly string[];
  /** Number of samples (images) in a split. */
  size(split: SplitName): number;
  /**
   * Tensors for samples `indices` of `split`, in that order. With `augment`, each sample is
   * augmented drawing from `augment.rng` in order. Caller owns and disposes the tensors.
   */
  load(
    split: SplitName,
    indices: readonly number[],
    augment?: { readonly spec: AugmentSpec; readonly rng: Rng },
  ): Batch;
}

/** The sample order of one training epoch. */
export function epochOrder(rng: Rng, size: number): number[] {
  return permutation(rng, size);
}

/** Batches per epoch; the last incomplete batch is dropped when there is at least one full one. */
export function stepsPerEpoch(size: number, batchSize: number): number {
  if (size === 0) return 0;
  return size >= batchSize ? Math.floor(size / batchSize) : 1;
}

export function batchIndices(order: readonly number[], step: number, batchSize: number): number[] {
  return order.slice(step * batchSize, Math.min(order.length, (step + 1) * batchSize));
}

/** In-order batches over a whole split, for evaluation. */
export function* evaluationBatches(size: number, batchSize: number): Generator<number[]> {
  for (let start = 0; start < size; start += batchSize) {
    yield Array.from({ length: Math.min(batchSize, size - start) }, (_, i) => start + i);
  }
}
