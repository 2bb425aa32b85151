/**
 * DepthwiseConv2dNativeBackpropInput / ...BackpropFilter for the wasm backend, from forward ops.
 * In: dilation-1, channel-multiplier-1 depthwise convs in NHWC with any stride and padding
 * (ConvNeXt's 7x7 'same' is the hot case, MobileNet's 3x3 stride 2 the strided one; a stride s
 * is handled by spreading dy over a grid s times finer, zeros between). Out: dx [N,H,W,C] /
 * dW [k,k,C,1]. Holds afterwards: other cases throw UnsupportedKernelCase naming the case;
 * nothing leaks.
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

/**
 * dy [N,Ho,Wo,C] spread to [N,Ho*sh,Wo*sw,C] with dy[n,y,x] at (y*sh, x*sw) and zeros elsewhere:
 * the gradient of a strided convolution is that of a stride-1 one at these positions.
 */
function spread(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, ho, wo, c] = dy.shape;
  const rows = tf.reshape(
    tf.pad(tf.reshape(dy, [n, ho, 1, wo * c]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
    ]),
    [n * ho * sh, wo, 1, c],
  );
  const cols = tf.pad(rows, [
    [0, 0],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.reshape(cols, [n, ho * sh, wo * sw, c]);
}

export function depthwiseBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  const inputShape = attrs.inputShape;
  if (!inputShape) throw new UnsupportedKernelCase(INPUT, 'missing inputShape attribute');
  const info = geometry(INPUT, inputShape, filter.shape, attrs);
  const [kh, kw] = filter.shape;
  const [, h, w] = inputShape;
  return tf.tidy(() => {
    // dx is the full correlation of the spread dy with the spatially flipped filter.
    const dys = spread(dy, info.strideHeight, info.strideWidth);
    const dyp = padOrCrop4d(dys, kh - 1 - info.padInfo.top, kw - 1 - info.padInfo.left, h + kh - 1, w + kw - 1);
    return tf.depthwiseConv2d(dyp, tf.reverse(filter, [0, 1]), 1, 'valid');
  });
}

export function depthwiseBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  const filterShape = attrs.filterShape;
  if (!filterShape) throw new UnsupportedKernelCase(FILTER, 'missing filterShape attribute');
  const info = geometry(FILTER, x.shape, filterShape, attrs);
  const [kh, kw, c] = filterShape;
  const [n] = x.shape;
  const { outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  // The spread dy covers (ho - 1) * sh + 1 rows; the windows read (ho - 1) * sh + kh rows of x.
  const fh = (ho - 1) * sh + 1;
  const fw = (wo - 1) * sw + 1;
  return tf.tidy(() => {
    // One depthwise conv with dy as a (large) filter: batch and channel fold into N*C channels.
    const xp = padOrCrop4d(x, info.padInfo.top, info.padInfo.left, fh + kh - 1, fw + kw - 1);
    const xs = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, fh + kh - 1, fw + kw - 1, n * c]) as tf.Tensor4D;
    const dys = tf.slice(spread(dy, sh, sw), [0, 0, 0, 0], [n, fh, fw, c]);
    const f = tf.reshape(tf.transpose(dys, [1, 2, 0, 3]), [fh, fw, n * c, 1]) as tf.Tensor4D;
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
