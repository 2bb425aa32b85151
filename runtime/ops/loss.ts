/**
 * Losses: FCMAE normalised-pixel target and masked MSE, softmax cross-entropy.
 * In: predictions, targets, masks. Out: scalar float32 losses (and the per-patch target).
 * Holds: every loss is differentiable in its prediction argument on cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { patchify } from './shape.js';
import { flattenMask } from './mask.js';

/**
 * Per-patch normalised target: (t - mean) / sqrt(var + eps) over the last axis (all p*p*3 values
 * of a patch together), var UNBIASED (divides by D-1) as torch.var. t is [N,L,D] with D >= 2.
 */
export function normPixTarget(target: tf.Tensor, eps = 1e-6): tf.Tensor {
  const d = target.shape[target.rank - 1]!;
  if (d < 2) throw new Error('normPixTarget: need at least 2 values per patch for an unbiased variance');
  return tf.tidy(() => {
    const mean = tf.mean(target, -1, true);
    const centred = tf.sub(target, mean);
    const variance = tf.div(tf.sum(tf.square(centred), -1, true), d - 1);
    return tf.div(centred, tf.sqrt(tf.add(variance, eps)));
  });
}

/**
 * Mean over removed patches of the whole batch of the per-patch MSE:
 *   loss[n,l] = mean_d (pred - target)^2;  sum(loss * mask) / sum(mask).
 * pred/target [N,L,D]; mask [N,L] or [N,gh,gw,1] with 1 = removed. A mask with no removed patch
 * gives 0 (not NaN).
 */
export function maskedMse(pred: tf.Tensor, target: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const m = mask.rank === 4 ? flattenMask(mask) : mask;
    const perPatch = tf.mean(tf.squaredDifference(pred, target), -1);
    // Not divNoNan: its zerosLike(a / b) puts Equal (no gradient in tfjs) on the tape path.
    // mask is 0/1, so sum(m) is 0 or >= 1 and max(sum, 1) changes only the all-visible case (0/1 = 0).
    return tf.div(tf.sum(tf.mul(perPatch, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
  });
}

export interface FcmaeLossOptions {
  readonly patchSize: number;
  /** Normalise each target patch (norm_pix_loss). Default true, as main_pretrain.py. */
  readonly normPix?: boolean;
}

/**
 * FCMAE reconstruction loss: imgs [N,H,W,3] (already normalised by the data pipeline), pred
 * [N,L,p*p*3] in patchify order, mask [N,gh,gw,1] or [N,L] with 1 = removed.
 */
export function fcmaeLoss(imgs: tf.Tensor, pred: tf.Tensor, mask: tf.Tensor, options: FcmaeLossOptions): tf.Scalar {
  return tf.tidy(() => {
    let target: tf.Tensor = patchify(imgs, options.patchSize);
    if (options.normPix ?? true) target = normPixTarget(target);
    return maskedMse(pred, target, mask);
  });
}

export interface CrossEntropyOptions {
  /** eps of label smoothing: target = (1 - eps) * onehot + eps / K. Default 0. */
  readonly labelSmoothing?: number;
}

/**
 * Mean softmax cross-entropy from logits [N,K]. labels: class indices ([N] int32 tensor or
 * number[]) or soft targets [N,K] (float32, rows summing to 1). With label smoothing this equals
 * timm's LabelSmoothingCrossEntropy: (1-eps)*nll + eps*mean_k(-log p_k).
 */
export function softmaxCrossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor | readonly number[],
  options: CrossEntropyOptions = {},
): tf.Scalar {
  if (logits.rank !== 2)
    throw new Error(`softmaxCrossEntropy: expected logits [N,K], got [${logits.shape.join(', ')}]`);
  const [n, k] = logits.shape as [number, number];
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new RangeError(`labelSmoothing must be in [0, 1), got ${eps}`);
  return tf.tidy(() => {
    let target: tf.Tensor;
    if (Array.isArray(labels) || (labels instanceof tf.Tensor && labels.rank === 1)) {
      const idx = Array.isArray(labels)
        ? tf.tensor1d(labels as number[], 'int32')
        : tf.cast(labels as tf.Tensor, 'int32');
      if (idx.shape[0] !== n) throw new Error(`softmaxCrossEntropy: ${idx.shape[0]} labels for ${n} rows`);
      // int32 one-hot then cast: wasm's OneHot kernel writes zeros when asked for float32 (tfjs 4.22)
      target = tf.cast(tf.oneHot(idx as tf.Tensor1D, k), 'float32');
    } else {
      const soft = labels as tf.Tensor;
      if (soft.shape[0] !== n || soft.shape[1] !== k)
        throw new Error(`softmaxCrossEntropy: soft targets [${soft.shape.join(', ')}] for logits [${n}, ${k}]`);
      target = soft;
    }
    if (eps > 0) target = tf.add(tf.mul(target, 1 - eps), eps / k);
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), -1))) as tf.Scalar;
  });
}

/** Mean squared error over all elements. */
export function mse(pred: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(pred, target)) as tf.Scalar);
}
