/**
 * UnsortedSegmentSum for the wasm backend (the gradient of tf.gather), via ScatterNd, which sums
 * duplicate indices. In: x, segmentIds (a prefix of x's shape), numSegments. Out:
 * [numSegments, ...x.shape after the ids' rank]. Holds afterwards: ids outside [0, numSegments)
 * are rejected with a clear error (TensorFlow would drop them silently).
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, UnsupportedKernelCase } from './util.js';

const NAME = 'UnsortedSegmentSum';

export function unsortedSegmentSum(x: tf.Tensor, ids: tf.Tensor, numSegments: number): tf.Tensor {
  const idRank = ids.rank;
  if (ids.shape.some((d, i) => d !== x.shape[i])) {
    throw new UnsupportedKernelCase(NAME, `segmentIds shape ${ids.shape} is not a prefix of x shape ${x.shape}`);
  }
  const rest = x.shape.slice(idRank);
  const count = ids.size;
  const values = ids.dataSync();
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v < numSegments) || !Number.isInteger(v)) {
      throw new UnsupportedKernelCase(NAME, `segment id ${v} at position ${i} is outside [0, ${numSegments})`);
    }
  }
  return tf.tidy(() => {
    const idx = tf.reshape(tf.cast(ids, 'int32'), [count, 1]);
    const upd = tf.reshape(x, [count, ...rest]);
    return tf.scatterND(idx, upd, [numSegments, ...rest]);
  });
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = asTensor(NAME, 'x', inputs.x);
    const ids = asTensor(NAME, 'segmentIds', inputs.segmentIds);
    return unsortedSegmentSum(x, ids, (attrs as unknown as { numSegments: number }).numSegments);
  },
};
