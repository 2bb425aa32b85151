/**
 * DepthwiseConv2dNativeBackpropInput / ...BackpropFilter for the wasm backend, from forward ops.
 * In: stride-1, dilation-1, channel-multiplier-1 depthwise convs in NHWC with any padding
 * (ConvNeXt's 7x7 'same' is the hot case). Out: dx [N,H,W,C] / dW [k,k,C,1].
 * Holds afterwards: other cases throw UnsupportedKernelCase naming the case; nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, padOrCrop4d, UnsupportedKernelCase, type PadAttr } from './util.js';

const INPUT = 'DepthwiseConv2dNativeBackpropInput';
const FILTER = 'DepthwiseConv2dNativeBackpropFilter';

interface Attrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: PadAttr;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
}

function geometry(
  kernel: string,
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: Attrs,
) {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad as never,
    attrs.dimRoundingMode,
    true,
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1) {
    throw new UnsupportedKernelCase(
      kernel,
      `strides ${info.strideHeight}x${info.strideWidth} (only stride 1 is implemented)`,
    );
  }
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new UnsupportedKernelCase(
      kernel,
      `dilations ${info.dilationHeight}x${info.dilationWidth} (only 1 is implemented)`,
    );
  }
  if (filterShape[3] !== 1)
    throw new UnsupportedKernelCase(kernel, `channel multiplier ${filterShape[3]} (only 1 is implemented)`);
  return info;
}

export function depthwiseBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  const inputShape = attrs.inputShape;
  if (!inputShape) throw new UnsupportedKernelCase(INPUT, 'missing inputShape attribute');
  const info = geometry(INPUT, inputShape, filter.shape, attrs);
  const [kh, kw] = filter.shape;
  const [, h, w] = inputShape;
  return tf.tidy(() => {
    // dx is the full correlation of dy with the spatially flipped filter.
    const dyp = padOrCrop4d(dy, kh - 1 - info.padInfo.top, kw - 1 - info.padInfo.left, h + kh - 1, w + kw - 1);
    return tf.depthwiseConv2d(dyp, tf.reverse(filter, [0, 1]), 1, 'valid');
  });
}

export function depthwiseBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  const filterShape = attrs.filterShape;
  if (!filterShape) throw new UnsupportedKernelCase(FILTER, 'missing filterShape attribute');
  const info = geometry(FILTER, x.shape, filterShape, attrs);
  const [kh, kw, c] = filterShape;
  const [n] = x.shape;
  const { outHeight: ho, outWidth: wo } = info;
  return tf.tidy(() => {
    // One depthwise conv with dy as a (large) filter: batch and channel fold into N*C channels.
    const xp = padOrCrop4d(x, info.padInfo.top, info.padInfo.left, ho + kh - 1, wo + kw - 1);
    const xs = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, ho + kh - 1, wo + kw - 1, n * c]) as tf.Tensor4D;
    const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [ho, wo, n * c, 1]) as tf.Tensor4D;
    const g = tf.depthwiseConv2d(xs, f, 1, 'valid');
    const perSample = tf.reshape(g, [kh, kw, n, c]);
    return tf.reshape(n === 1 ? perSample : tf.sum(perSample, 2), [kh, kw, c, 1]) as tf.Tensor4D;
  });
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: INPUT,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) =>
    depthwiseBackpropInput(
      asTensor(INPUT, 'dy', inputs.dy) as tf.Tensor4D,
      asTensor(INPUT, 'filter', inputs.filter) as tf.Tensor4D,
      attrs as unknown as Attrs,
    ),
};

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: FILTER,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) =>
    depthwiseBackpropFilter(
      asTensor(FILTER, 'x', inputs.x) as tf.Tensor4D,
      asTensor(FILTER, 'dy', inputs.dy) as tf.Tensor4D,
      attrs as unknown as Attrs,
    ),
};
