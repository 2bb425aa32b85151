/**
 * Routes wasm BatchMatMul / _FusedMatMul onto XNNPACK's GEMM.
 * Why: tfjs-backend-wasm 4.22 only sends a matmul to XNNPACK when it has no transpose flag and a
 * batch of 1; everything else (every matmul gradient: dx = dy·Wᵀ, dW = xᵀ·dy; matmuls on rank>2
 * activations; attention's batched products) runs a scalar triple loop that is 10-50x slower.
 * In: the kernel's {a, b, [bias]} and flags. Out: the same values, computed by transposing
 * explicitly, folding batch dims of `a` into rows when `b` is shared, or splitting a batch into
 * per-matrix GEMMs; a plain xᵀ·dy whose dy is the narrower operand as (dyᵀ·x)ᵀ. Holds
 * afterwards: tiny products keep the original path (less overhead).
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor } from './util.js';

/** Below this many multiply-adds per matrix the original loop is cheaper than re-routing. */
const MIN_ROUTED_MACS = 16 * 1024;

type KernelFunc = tf.KernelConfig['kernelFunc'];

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

function swapLast2(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = t.rank;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

/**
 * Computes matmul(a, b) with explicit transposes, via rank-2 products that reach XNNPACK, or
 * returns null when this case should stay on the original kernel.
 */
function routedProduct(
  a: tf.Tensor,
  b: tf.Tensor,
  attrs: MatMulAttrs,
  product2d: (a2: tf.Tensor2D, b2: tf.Tensor2D) => tf.Tensor2D,
  /** May compute aᵀ·b as (bᵀ·a)ᵀ (a plain product: no bias or activation to place). */
  swapAllowed = false,
): tf.Tensor | null {
  const { transposeA, transposeB } = attrs;
  const batchDimsA = a.shape.slice(0, -2);
  const batchDimsB = b.shape.slice(0, -2);
  const batchA = batchDimsA.reduce((p, d) => p * d, 1);
  const batchB = batchDimsB.reduce((p, d) => p * d, 1);
  const m = transposeA ? a.shape[a.rank - 1]! : a.shape[a.rank - 2]!;
  const k = transposeA ? a.shape[a.rank - 2]! : a.shape[a.rank - 1]!;
  const n = transposeB ? b.shape[b.rank - 2]! : b.shape[b.rank - 1]!;
  if (!transposeA && !transposeB && batchA === 1 && batchB === 1) return null;
  if (m * k * n < MIN_ROUTED_MACS) return null;
  if (batchB !== 1 && batchA !== batchB) return null; // true broadcasting: leave it to the original
  if (swapAllowed && transposeA && !transposeB && batchA === 1 && batchB === 1 && k * n + m * n < k * m) {
    // A weight gradient xᵀ·dy with dy narrower than x: (dyᵀ·x)ᵀ transposes dy and the small
    // product instead of x (at 224x224 the stage-1 pwconv2 gradient transposed 8 M floats).
    return tf.tidy(() => {
      const product = product2d(swapLast2(tf.reshape(b, [k, n])) as tf.Tensor2D, tf.reshape(a, [k, m]) as tf.Tensor2D);
      return tf.reshape(swapLast2(product), [...batchDimsA, m, n]);
    });
  }
  const outBatch = batchB === 1 ? batchDimsA : batchDimsB.length >= batchDimsA.length ? batchDimsB : batchDimsA;
  return tf.tidy(() => {
    const aN = transposeA ? swapLast2(a) : a; // [..., m, k]
    const bN = transposeB ? swapLast2(b) : b; // [..., k, n]
    if (batchB === 1) {
      const out = product2d(tf.reshape(aN, [batchA * m, k]) as tf.Tensor2D, tf.reshape(bN, [k, n]) as tf.Tensor2D);
      return tf.reshape(out, [...outBatch, m, n]);
    }
    const as = tf.unstack(tf.reshape(aN, [batchA, m, k]));
    const bs = tf.unstack(tf.reshape(bN, [batchB, k, n]));
    const outs = as.map((ai, i) => product2d(ai as tf.Tensor2D, bs[i] as tf.Tensor2D));
    return tf.reshape(tf.stack(outs), [...outBatch, m, n]);
  });
}

export function makeBatchMatMulConfig(original: KernelFunc): tf.KernelConfig {
  return {
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { inputs, attrs } = args;
      const a = inputs.a;
      const b = inputs.b;
      if (!(a instanceof tf.Tensor) || !(b instanceof tf.Tensor)) return original(args);
      const routed = routedProduct(a, b, attrs as unknown as MatMulAttrs, (a2, b2) => tf.matMul(a2, b2), true);
      return routed ?? original(args);
    },
  };
}

export function makeFusedMatMulConfig(original: KernelFunc): tf.KernelConfig {
  return {
    kernelName: '_FusedMatMul',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { inputs, attrs } = args;
      const { a, b, bias, preluActivationWeights } = inputs as Record<string, unknown>;
      if (!(a instanceof tf.Tensor) || !(b instanceof tf.Tensor) || preluActivationWeights != null)
        return original(args);
      const at = attrs as unknown as MatMulAttrs;
      const n = at.transposeB ? b.shape[b.rank - 2]! : b.shape[b.rank - 1]!;
      let biasT: tf.Tensor | undefined;
      if (bias != null) {
        biasT = asTensor('_FusedMatMul', 'bias', bias);
        // Only a per-column bias survives folding the batch into rows unchanged.
        if (biasT.size !== n || biasT.shape[biasT.rank - 1] !== n) return original(args);
      }
      const activation = (at.activation ?? 'linear') as tf.fused.Activation;
      const routed = routedProduct(
        a,
        b,
        at,
        (a2, b2) =>
          tf.fused.matMul({
            a: a2,
            b: b2,
            bias: biasT ? tf.reshape(biasT, [n]) : undefined,
            activation,
            leakyreluAlpha: at.leakyreluAlpha,
          }) as tf.Tensor2D,
      );
      return routed ?? original(args);
    },
  };
}
