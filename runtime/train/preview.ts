/**
 * The first training batch of a masked stage, as the trainer draws it, for `nvcc preview-mask`.
 * In: the run seed, a stage with a mask policy, the training data and how many samples to show.
 * Out: those samples as the model receives them (augmented and normalised, [n, H, W, C]), the
 * patch mask drawn for them ([n, H/p, W/p, 1], 1 = removed) and their patient ids.
 * Holds afterwards: the streams, the epoch order, the augmentation and the mask come from the
 * same functions and stream names the runner uses for step 1 of the stage (runner.ts,
 * freshStreams(stageRoot(...))), and masks and augmentations are drawn sample by sample, so
 * the first n samples shown are exactly the first n of the stage's first batch.
 */
import type * as tf from '@tensorflow/tfjs';
import { imageInputOf, stageRoot, TrainingError } from './common.js';
import { batchIndices, epochOrder, type TrainingData } from './data.js';
import { drawMask } from './objective.js';
import { freshStreams } from './runner.js';
import type { StageSpec } from './spec.js';

export interface MaskedBatchPreview {
  readonly images: tf.Tensor4D;
  readonly mask: tf.Tensor4D;
  readonly patientIds: readonly string[];
  readonly input: string;
}

export function firstMaskedBatch(
  runSeed: number,
  stage: StageSpec,
  data: TrainingData,
  count: number,
): MaskedBatchPreview {
  if (!stage.mask)
    throw new TrainingError(
      `stage '${stage.name}' has no mask policy (mask = random_patches(...)), so there is nothing to preview`,
    );
  const size = data.size('train');
  if (size === 0) throw new TrainingError(`stage '${stage.name}': the train split is empty`);
  const streams = freshStreams(stageRoot(runSeed, stage));
  const order = epochOrder(streams.data, size);
  const indices = batchIndices(order, 0, stage.batchSize).slice(0, count);
  const augment =
    stage.augment && Object.keys(stage.augment).length > 0 ? { spec: stage.augment, rng: streams.augment } : undefined;
  const batch = data.load('train', indices, augment);
  const input = imageInputOf(stage);
  const images = batch.inputs[input];
  for (const [name, t] of Object.entries(batch.inputs)) if (name !== input) t.dispose();
  batch.labels?.dispose();
  if (images?.rank !== 4) {
    images?.dispose();
    throw new TrainingError(`stage '${stage.name}': the masked input '${input}' is not an image batch`);
  }
  return {
    images: images as tf.Tensor4D,
    mask: drawMask(stage.mask, images, streams.mask),
    patientIds: batch.patientIds,
    input,
  };
}
