/**
 * Conv2DBackpropFilter for the wasm backend, built from forward wasm ops.
 * In: x [N,H,W,Cin], dy [N,Ho,Wo,Cout], attrs {strides, pad, dataFormat, dimRoundingMode, filterShape}.
 * Out: dW [kh,kw,Cin,Cout] equal (to float32 rounding) to the cpu backend's kernel.
 * Holds afterwards: no intermediate tensor outlives the call (everything runs inside tf.tidy).
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, padOrCrop4d, UnsupportedKernelCase, type PadAttr } from './util.js';

const NAME = 'Conv2DBackpropFilter';

interface Attrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  if (attrs.dataFormat === 'NCHW') throw new UnsupportedKernelCase(NAME, "dataFormat 'NCHW' (nvcc uses NHWC)");
  const [kh, kw, cin, cout] = attrs.filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad as never,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  if (dy.shape[1] !== ho || dy.shape[2] !== wo || dy.shape[3] !== cout || x.shape[3] !== cin) {
    throw new UnsupportedKernelCase(
      NAME,
      `shapes x ${x.shape} dy ${dy.shape} filter ${attrs.filterShape} do not agree`,
    );
  }
  const n = x.shape[0];
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const needH = (ho - 1) * sh + kh;
  const needW = (wo - 1) * sw + kw;
  return tf.tidy(() => {
    const xp = padOrCrop4d(x, top, left, needH, needW);
    if (sh === kh && sw === kw) {
      // Non-overlapping windows (stem 4x4/4, downsample 2x2/2, 1x1): the filter gradient is one
      // GEMM between the patch matrix and dy.
      const patches =
        kh === 1 && kw === 1
          ? tf.reshape(xp, [n * ho * wo, cin])
          : tf.reshape(tf.transpose(tf.reshape(xp, [n, ho, kh, wo, kw, cin]), [0, 1, 3, 2, 4, 5]), [
              n * ho * wo,
              kh * kw * cin,
            ]);
      const g = tf.matMul(patches, tf.reshape(dy, [n * ho * wo, cout]), true, false);
      return tf.reshape(g, [kh, kw, cin, cout]) as tf.Tensor4D;
    }
    // Overlapping windows: correlate x (batch = Cin, channels = N) with dy used as a dilated filter.
    const xt = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
    const filt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const g = tf.conv2d(xt, filt, 1, 'valid', 'NHWC', [sh, sw]);
    return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = asTensor(NAME, 'x', inputs.x) as tf.Tensor4D;
    const dy = asTensor(NAME, 'dy', inputs.dy) as tf.Tensor4D;
    return conv2dBackpropFilter(x, dy, attrs as unknown as Attrs);
  },
};
