/**
 * MaxPoolGrad for the wasm backend, computed on the host. tfjs-backend-wasm 4.22's own kernel
 * gives no gradient to a window whose maximum is negative (it compares against 0), so nvcc
 * replaces it.
 * In: dy [N,Ho,Wo,C], the pooled input x [N,H,W,C], attrs {filterSize, strides, pad,
 * dimRoundingMode}. Out: dx [N,H,W,C]: each window's dy added at the first cell (row-major
 * within the window) holding the window's maximum, PyTorch's rule for ties.
 * Holds afterwards: windows only read cells inside x (padding never wins); nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, type PadAttr } from './util.js';

const NAME = 'MaxPoolGrad';

interface Attrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: PadAttr;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function maxPoolGrad(dy: tf.Tensor4D, x: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  const info = tf.backend_util.computePool2DInfo(
    x.shape,
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad as never,
    attrs.dimRoundingMode,
  );
  const [n, h, w, c] = x.shape;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const xs = x.dataSync();
  const g = dy.dataSync();
  const dx = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let ch = 0; ch < c; ch++) {
          let best = -1;
          let bestValue = Number.NEGATIVE_INFINITY;
          for (let i = 0; i < kh; i++) {
            const y = oy * sh - top + i;
            if (y < 0 || y >= h) continue;
            for (let j = 0; j < kw; j++) {
              const xx = ox * sw - left + j;
              if (xx < 0 || xx >= w) continue;
              const at = ((b * h + y) * w + xx) * c + ch;
              if (best < 0 || xs[at]! > bestValue) {
                best = at;
                bestValue = xs[at]!;
              }
            }
          }
          if (best >= 0) dx[best] += g[((b * ho + oy) * wo + ox) * c + ch]!;
        }
  return tf.tensor4d(dx, [n, h, w, c]);
}

export function makeMaxPoolGradConfig(): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) =>
      maxPoolGrad(
        asTensor(NAME, 'dy', inputs.dy) as tf.Tensor4D,
        asTensor(NAME, 'input', inputs.input) as tf.Tensor4D,
        attrs as unknown as Attrs,
      ),
  };
}
