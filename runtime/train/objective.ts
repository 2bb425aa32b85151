/**
 * What a stage optimises, given a model's outputs.
 * In: the stage spec, the model, a ForwardContext and a batch's inputs and labels. Out: the
 * scalar loss of the declared `loss` (masked stages: FCMAE masked MSE on the (normalised) patches
 * of the target input over removed patches; supervised stages: softmax cross-entropy with label
 * smoothing), plus, for evaluation, the probability of the positive class per sample. Holds
 * afterwards: the loss formulas are those of runtime/ops/loss.ts; this file only adapts the
 * model's output shapes (see TrainableModel in spec.ts) and draws masks from the stage's stream.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext, Rng } from '../module.js';
import { fcmaeLoss, randomPatchMask, softmaxCrossEntropy } from '../ops/index.js';
import type { MaskPolicy, StageSpec, TrainableModel } from './spec.js';

/** A fresh random patch mask [N, H/p, W/p, 1] for an image batch [N, H, W, C]. */
export function drawMask(policy: MaskPolicy, image: tf.Tensor, rng: Rng): tf.Tensor4D {
  if (image.rank !== 4)
    throw new Error(`mask = random_patches needs an image input [N, H, W, C], got [${image.shape.join(', ')}]`);
  const [n, h, w] = image.shape as [number, number, number, number];
  return randomPatchMask(n, h, w, policy.patch, policy.ratio, rng, policy.kept);
}

function logitsOf(out: tf.Tensor | Record<string, tf.Tensor>): tf.Tensor {
  if (out instanceof tf.Tensor) return out;
  const logits = out.logits;
  if (!logits)
    throw new Error(`a supervised stage needs logits from forward; it returned {${Object.keys(out).join(', ')}}`);
  return logits;
}

/** The model's reconstruction as [N, L, p*p*C]. */
function predOf(out: tf.Tensor | Record<string, tf.Tensor>): tf.Tensor {
  const pred = out instanceof tf.Tensor ? out : out.pred;
  if (!pred)
    throw new Error(
      `a masked stage needs 'pred' (or 'loss') from forward; it returned {${Object.keys(out).join(', ')}}`,
    );
  if (pred.rank === 4) {
    const [n, gh, gw, d] = pred.shape as [number, number, number, number];
    return tf.reshape(pred, [n, gh * gw, d]);
  }
  if (pred.rank !== 3) throw new Error(`'pred' must be [N, gh, gw, D] or [N, L, D], got [${pred.shape.join(', ')}]`);
  return pred;
}

/** The declared loss of one forward pass (call inside tf.variableGrads / tf.tidy). */
export function stageLoss(
  stage: StageSpec,
  model: TrainableModel,
  ctx: ForwardContext,
  inputs: Readonly<Record<string, tf.Tensor>>,
  labels: tf.Tensor1D | undefined,
): tf.Scalar {
  const out = model.forward(ctx, inputs);
  const loss = stage.loss;
  if (loss.kind === 'masked_mse') {
    if (!(out instanceof tf.Tensor) && out.loss) return out.loss as tf.Scalar;
    if (!ctx.mask) throw new Error(`stage '${stage.name}': masked_mse needs a mask policy`);
    const target = inputs[loss.input];
    if (!target) throw new Error(`stage '${stage.name}': the loss target '${loss.input}' is not among the inputs`);
    return fcmaeLoss(target, predOf(out), ctx.mask, {
      patchSize: stage.mask!.patch,
      normPix: loss.target === 'patch_normalized',
    });
  }
  if (!labels) throw new Error(`stage '${stage.name}': cross_entropy needs labels`);
  return softmaxCrossEntropy(logitsOf(out), labels, { labelSmoothing: loss.labelSmoothing });
}

/**
 * Evaluation outputs of one batch: the loss, and for supervised stages the probability of class
 * 1 (binary) per sample, computed with softmax.
 */
export function evaluationOutputs(
  stage: StageSpec,
  model: TrainableModel,
  ctx: ForwardContext,
  inputs: Readonly<Record<string, tf.Tensor>>,
  labels: tf.Tensor1D | undefined,
): { loss: tf.Scalar; positive?: tf.Tensor1D } {
  if (stage.kind === 'masked') return { loss: stageLoss(stage, model, ctx, inputs, labels) };
  const logits = logitsOf(model.forward(ctx, inputs));
  if (logits.shape[1] !== 2)
    throw new Error(`stage '${stage.name}': metrics need 2 classes, the model gives ${logits.shape[1]}`);
  const loss = labels ? softmaxCrossEntropy(logits, labels) : tf.scalar(Number.NaN);
  const positive = tf.squeeze(tf.slice(tf.softmax(logits), [0, 1], [-1, 1]), [1]) as tf.Tensor1D;
  return { loss, positive };
}
