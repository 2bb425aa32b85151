/**
 * One optimisation step of a stage: what `nvcc train` runs for every batch, and what
 * bench/train-step.ts times.
 * In: the stage, its model and optimizer, the trainable parameters, one loaded batch, the
 * stage's random streams and the learning rate; optionally a gradient engine (default: this
 * thread, runtime/train/gradients.ts). Out: the batch loss and, with random throw, how many
 * samples had each modality thrown. Holds afterwards: the parameters and the optimizer state
 * hold the update; random throw and the mask were drawn for the whole batch from their streams
 * before any split into micro-batches or worker shards; no tensor of the step is left alive
 * (the batch's own tensors stay with the caller).
 */
import * as tf from '@tensorflow/tfjs';
import type { Parameter, Rng } from '../module.js';
import type { Optimizer } from '../optim/index.js';
import { imageInputOf, pick } from './common.js';
import type { Batch } from './data.js';
import { batchGradients, type BatchGradients } from './gradients.js';
import { randomThrow } from './modality-dropout.js';
import { drawMask } from './objective.js';
import type { StageSpec, TrainableModel } from './spec.js';

/** The streams a step draws from (a subset of the runner's Streams). */
export interface StepStreams {
  readonly modality_dropout: Rng;
  readonly mask: Rng;
  readonly dropout: Rng;
}

/** What one step needs besides the batch; built once per stage. */
export interface StepContext {
  readonly stage: StageSpec;
  readonly model: TrainableModel;
  readonly optimizer: Optimizer;
  readonly params: ReadonlyArray<readonly [string, Parameter]>;
  /** The trainable variables, in a fixed order. */
  readonly varList: tf.Variable[];
  /** Variable name -> parameter path (the optimizer's key). */
  readonly varToPath: ReadonlyMap<string, string>;
  /** Where gradients are computed; default this thread (batchGradients). */
  readonly gradients?: GradientEngine;
}

/** Computes one batch's loss and gradients (the caller owns the returned tensors). */
export interface GradientEngine {
  gradients(
    stage: StageSpec,
    model: TrainableModel,
    inputs: Readonly<Record<string, tf.Tensor>>,
    labels: tf.Tensor1D | undefined,
    mask: tf.Tensor4D | undefined,
    dropout: Rng,
    varList: tf.Variable[],
  ): Promise<BatchGradients>;
}

/** Gradients on the calling thread, over the stage's micro-batches. */
export const localGradients: GradientEngine = {
  gradients: async (stage, model, inputs, labels, mask, dropout, varList) =>
    batchGradients(stage, model, inputs, labels, mask, dropout, varList, stage.microBatch),
};

export interface StepResult {
  readonly loss: number;
  /** With random throw: `samples` and, per modality, how many samples had it thrown. */
  readonly thrown?: Record<string, number>;
}

export async function trainingStep(
  ctx: StepContext,
  batch: Batch,
  streams: StepStreams,
  lr: number,
): Promise<StepResult> {
  const { stage, model, optimizer, params, varList, varToPath } = ctx;
  let thrown: Record<string, number> | undefined;
  const prepared = tf.tidy(() => {
    let inputs: Record<string, tf.Tensor> = pick(batch.inputs, stage.inputs);
    const throwSpec = stage.modalityDropout;
    if (throwSpec && throwSpec.p > 0) {
      const modalities = throwSpec.modalities.length > 0 ? throwSpec.modalities : stage.inputs;
      const result = randomThrow(inputs, { ...throwSpec, modalities }, streams.modality_dropout);
      inputs = result.inputs;
      thrown = { samples: result.thrown.length };
      modalities.forEach((m, k) => (thrown![m] = result.thrown.filter((t) => t === k).length));
    }
    const mask = stage.mask ? drawMask(stage.mask, inputs[imageInputOf(stage)]!, streams.mask) : undefined;
    return { inputs, ...(mask ? { mask } : {}) };
  }) as unknown as { inputs: Record<string, tf.Tensor>; mask?: tf.Tensor4D };
  let lossTensor: tf.Scalar;
  try {
    const engine = ctx.gradients ?? localGradients;
    const { loss, grads } = await engine.gradients(
      stage,
      model,
      prepared.inputs,
      batch.labels,
      prepared.mask,
      streams.dropout,
      varList,
    );
    lossTensor = loss;
    try {
      const byPath = new Map<string, tf.Tensor>();
      for (const [name, g] of grads) byPath.set(varToPath.get(name)!, g);
      optimizer.step(byPath, params, lr);
    } finally {
      for (const g of grads.values()) g.dispose();
    }
  } finally {
    // Batch tensors are the caller's; these are the thrown copies and the mask.
    for (const t of Object.values(prepared.inputs)) if (!Object.values(batch.inputs).includes(t)) t.dispose();
    prepared.mask?.dispose();
  }
  try {
    return { loss: (await lossTensor.data())[0]!, ...(thrown ? { thrown } : {}) };
  } finally {
    lossTensor.dispose();
  }
}
