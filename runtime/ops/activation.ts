/**
 * Activations. In: float32 tensors of any shape. Out: same shape.
 * Holds: every function is built from ops that have gradients on cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { geluExact } from '../kernels/fast-ops.js';

const INV_SQRT2 = 1 / Math.SQRT2;

/**
 * Exact (erf) GELU, `0.5 * x * (1 + erf(x / sqrt 2))`, as PyTorch's default nn.GELU. tfjs's Erf
 * kernel is a polynomial approximation (|err| < 1.5e-7), so expect ~1e-7 absolute differences.
 * Runs kernels/fast-ops geluExact, whose hand-written backward keeps only x alive.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return geluExact(x);
}

/** The same GELU as plain autodiff ops (reference for tests). */
export function geluAutodiff(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, INV_SQRT2)))));
}

/** tanh-approximated GELU (Flax/JAX default), provided for comparison only. */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

export function relu(x: tf.Tensor): tf.Tensor {
  return tf.relu(x);
}

export function sigmoid(x: tf.Tensor): tf.Tensor {
  return tf.sigmoid(x);
}

export function tanh(x: tf.Tensor): tf.Tensor {
  return tf.tanh(x);
}

/** x * sigmoid(x) (nn.SiLU, "swish"). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** min(max(x, 0), 6) (nn.ReLU6). */
export function relu6(x: tf.Tensor): tf.Tensor {
  return tf.relu6(x);
}

/** relu6(x + 3) / 6 (nn.Hardsigmoid). */
export function hardsigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.relu6(tf.add(x, 3)), 1 / 6));
}

/** x * relu6(x + 3) / 6 (nn.Hardswish, MobileNetV3). */
export function hardswish(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.mul(tf.relu6(tf.add(x, 3)), 1 / 6)));
}

/**
 * x for x >= 0, negativeSlope * x below (nn.LeakyReLU, default slope 0.01). Written as
 * relu(x) - slope * relu(-x), whose gradient every backend has for any slope.
 */
export function leakyRelu(x: tf.Tensor, negativeSlope = 0.01): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.relu(x), tf.mul(tf.relu(tf.neg(x)), negativeSlope)));
}

/** Softmax over `axis` (default last). Non-last axes are moved last and back by transpose. */
export function softmax(x: tf.Tensor, axis = -1): tf.Tensor {
  const ax = axis < 0 ? x.rank + axis : axis;
  if (ax === x.rank - 1) return tf.softmax(x);
  return tf.tidy(() => {
    const perm = [...Array(x.rank).keys()];
    perm[ax] = x.rank - 1;
    perm[x.rank - 1] = ax;
    return tf.transpose(tf.softmax(tf.transpose(x, perm)), perm);
  });
}

export function logSoftmax(x: tf.Tensor): tf.Tensor {
  return tf.logSoftmax(x);
}
