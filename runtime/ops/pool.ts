/**
 * Pooling. In: NHWC [N,H,W,C]. Out: [N,C] (or [N,1,1,C] with keepDims).
 */
import * as tf from '@tensorflow/tfjs';

/** Mean over H and W (ConvNeXt-V2 head: x.mean([-2,-1]) in NCHW). */
export function globalAvgPool(x: tf.Tensor, keepDims = false): tf.Tensor {
  if (x.rank !== 4) throw new Error(`globalAvgPool: expected NHWC input, got [${x.shape.join(', ')}]`);
  return tf.mean(x, [1, 2], keepDims);
}

/**
 * Mean over the positions where keep = 1 ([N,H,W,1]); a sample with no visible position gives 0.
 */
export function maskedAvgPool(x: tf.Tensor, keep: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const total = tf.sum(tf.mul(x, keep), [1, 2]);
    const count = tf.sum(keep, [1, 2]);
    return tf.divNoNan(total, count);
  });
}
