/**
 * Small helpers shared by the runner and by evaluation/prediction.
 * In: stage specs, batches, safetensors bytes. Out: stage RNG roots, input selections, host
 * tensor maps. Holds afterwards: a stage's RNG root depends only on the run seed and the stage
 * (its own `seed`, else its name), so evaluation outside the run draws the same fixed masks.
 */
import { NvccError } from '../errors.js';
import type * as tf from '@tensorflow/tfjs';
import { parseSafetensors, type HostTensor } from '../io/safetensors.js';
import type { Rng } from '../module.js';
import { createRng } from '../rng.js';
import type { Batch } from './data.js';
import type { PoolingKind, StageSpec, TrainSpec } from './spec.js';
import type { DatasetSpec } from '../data/spec.js';

/** A refusal the CLI reports as a message (bad spec, missing model factory, nothing to resume). */
export class TrainingError extends NvccError {
  constructor(message: string) {
    super('user', message);
    this.name = 'TrainingError';
  }
}

/** The root RNG of a stage: its own `seed` if declared, else a fork of the run seed by name. */
export function stageRoot(runSeed: number, stage: StageSpec): Rng {
  return stage.seed !== undefined ? createRng(stage.seed) : createRng(runSeed).fork(`stage:${stage.name}`);
}

/** The image input a stage's mask is drawn for. */
export function imageInputOf(stage: StageSpec): string {
  return stage.mask?.input ?? (stage.loss.kind === 'masked_mse' ? stage.loss.input : stage.inputs[0]!);
}

export function poolingOf(stage: StageSpec, spec: TrainSpec, dataset: DatasetSpec): PoolingKind {
  return stage.pooling ?? spec.pooling ?? dataset.pool;
}

export function pick(inputs: Readonly<Record<string, tf.Tensor>>, names: readonly string[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const name of names) {
    const t = inputs[name];
    if (!t) throw new TrainingError(`the data has no input '${name}' (it has: ${Object.keys(inputs).join(', ')})`);
    out[name] = t;
  }
  return out;
}

export function disposeBatch(batch: Batch): void {
  for (const t of Object.values(batch.inputs)) t.dispose();
  batch.labels?.dispose();
}

export function hostToMap(bytes: Uint8Array, source: string): Map<string, HostTensor> {
  const file = parseSafetensors(bytes, source);
  return new Map([...file.tensors].map(([k, e]) => [k, e.tensor] as const));
}

/** JSON cannot hold NaN/Infinity; write them as null explicitly. */
export function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
