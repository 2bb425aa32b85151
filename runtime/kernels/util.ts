/**
 * Shared helpers for the wasm training kernels.
 * In: the `{inputs, attrs}` a kernel receives. Out: validated Tensors and padding geometry.
 * Holds afterwards: every kernel fails with a message naming itself and the unsupported case.
 */
import * as tf from '@tensorflow/tfjs';

export class UnsupportedKernelCase extends Error {
  constructor(kernel: string, detail: string) {
    super(`nvcc wasm kernel ${kernel}: unsupported case: ${detail}`);
    this.name = 'UnsupportedKernelCase';
  }
}

/** Kernels built from forward ops need real Tensors; tfjs 4.22 passes them when called through ops. */
export function asTensor(kernel: string, name: string, value: unknown): tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    throw new UnsupportedKernelCase(
      kernel,
      `input '${name}' is a bare TensorInfo, not a Tensor (called outside the tfjs op layer)`,
    );
  }
  return value;
}

export type PadAttr =
  | 'valid'
  | 'same'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

/** Pads (top, bottom) or crops rows/columns of an NHWC tensor so that axis 1 and 2 get the given sizes. */
export function padOrCrop4d(x: tf.Tensor4D, top: number, left: number, height: number, width: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -top);
  const cropLeft = Math.max(0, -left);
  const padTop = Math.max(0, top);
  const padLeft = Math.max(0, left);
  let y: tf.Tensor4D = x;
  if (cropTop > 0 || cropLeft > 0) y = tf.slice(y, [0, cropTop, cropLeft, 0], [n, h - cropTop, w - cropLeft, c]);
  const hAfterTop = y.shape[1] + padTop;
  const wAfterLeft = y.shape[2] + padLeft;
  const padBottom = Math.max(0, height - hAfterTop);
  const padRight = Math.max(0, width - wAfterLeft);
  if (padTop || padLeft || padBottom || padRight) {
    y = tf.pad(y, [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ]);
  }
  if (y.shape[1] > height || y.shape[2] > width) y = tf.slice(y, [0, 0, 0, 0], [n, height, width, c]);
  return y;
}
