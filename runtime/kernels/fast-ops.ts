/**
 * Training-friendly formulations of hot ops, usable on every backend.
 * In: NHWC tensors and weights in nvcc's layouts (conv [kh,kw,Cin,Cout]). Out: the same values
 * as the plain tf op, with gradients written from forward ops (tf.customGrad), so they need no
 * backprop kernel and run every product as a plain (untransposed, batch-1) GEMM.
 * Holds afterwards: values equal tf.conv2d(x, w, k, 'valid') (+ bias) to float32 rounding.
 */
import * as tf from '@tensorflow/tfjs';

/** dy summed over the axes that broadcasting added to `shape`, in `shape` (tfjs's Add gradient). */
function reduceTo(dy: tf.Tensor, shape: readonly number[], outShape: readonly number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes([...shape], [...outShape]);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, [...shape]);
}

const addFn = tf.customGrad(((a: tf.Tensor, b: tf.Tensor) => {
  const [shapeA, shapeB] = [a.shape, b.shape];
  const value = tf.add(a, b);
  return {
    value,
    gradFunc: (dy: tf.Tensor) => [reduceTo(dy, shapeA, value.shape), reduceTo(dy, shapeB, value.shape)],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

const subFn = tf.customGrad(((a: tf.Tensor, b: tf.Tensor) => {
  const [shapeA, shapeB] = [a.shape, b.shape];
  const value = tf.sub(a, b);
  return {
    value,
    gradFunc: (dy: tf.Tensor) => [reduceTo(dy, shapeA, value.shape), tf.neg(reduceTo(dy, shapeB, value.shape))],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

const differentiable = (a: tf.Tensor, b: tf.Tensor | number): b is tf.Tensor =>
  typeof b !== 'number' && a.dtype === 'float32' && b.dtype === 'float32';

/**
 * a + b (broadcasting) whose backward pass keeps neither operand alive. tfjs's Add saves both
 * operands for backward only to read their shapes, so every residual branch and every matmul
 * output before its bias add stayed allocated until the backward pass reached it (a quarter of
 * a ConvNeXt-V2 step's saved activations, docs/runtime-performance.md); here the shapes are
 * kept as numbers. Same values; the gradient is tfjs's own formula (sum over the broadcast
 * axes, reshape), so gradients are bit-identical. A number or non-float operand takes tf.add.
 */
export function addKeepingShapes(a: tf.Tensor, b: tf.Tensor | number): tf.Tensor {
  return differentiable(a, b) ? addFn(a, b) : tf.add(a, b);
}

/** a - b with the same memory behaviour as addKeepingShapes (tfjs's Sub saves both operands). */
export function subKeepingShapes(a: tf.Tensor, b: tf.Tensor | number): tf.Tensor {
  return differentiable(a, b) ? subFn(a, b) : tf.sub(a, b);
}

/** [N, Ho*k, Wo*k, C] -> [N*Ho*Wo, k*k*C] (rows in NHWC order, columns in (kh, kw, C) order). */
function toPatches(x: tf.Tensor4D, k: number): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const ho = h / k;
  const wo = w / k;
  return tf.reshape(tf.transpose(tf.reshape(x, [n, ho, k, wo, k, c]), [0, 1, 3, 2, 4, 5]), [n * ho * wo, k * k * c]);
}

function fromPatches(p: tf.Tensor2D, n: number, ho: number, wo: number, k: number, c: number): tf.Tensor4D {
  return tf.reshape(tf.transpose(tf.reshape(p, [n, ho, wo, k, k, c]), [0, 1, 3, 2, 4, 5]), [n, ho * k, wo * k, c]);
}

const patchifyGrad = new Map<string, (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

/**
 * A convolution whose stride equals its square kernel, no padding ('valid'): the ConvNeXt stem
 * (4x4/4) and downsampling (2x2/2). Rows/columns beyond a multiple of k are ignored, as in
 * tf.conv2d 'valid'. `bias` is optional.
 */
export function patchifyConv2d(x: tf.Tensor4D, w: tf.Tensor4D, bias?: tf.Tensor): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  if (kh !== kw) throw new Error(`patchifyConv2d: kernel must be square, got ${kh}x${kw}`);
  if (x.shape[3] !== cin) throw new Error(`patchifyConv2d: input has ${x.shape[3]} channels, weight expects ${cin}`);
  const k = kh;
  const [_n, h, wd] = x.shape;
  const ho = Math.floor(h / k);
  const wo = Math.floor(wd / k);
  if (ho === 0 || wo === 0) throw new Error(`patchifyConv2d: input ${h}x${wd} is smaller than the ${k}x${k} kernel`);
  const b = bias ?? tf.zeros([cout]);
  const key = `${k}`;
  let f = patchifyGrad.get(key);
  if (!f) {
    const body = (xIn: tf.Tensor, wIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
      const xt = xIn as tf.Tensor4D;
      const [nn, hh, ww, cc] = xt.shape;
      const hoo = Math.floor(hh / k);
      const woo = Math.floor(ww / k);
      const cropped = hoo * k === hh && woo * k === ww ? xt : tf.slice(xt, [0, 0, 0, 0], [nn, hoo * k, woo * k, cc]);
      const patches = toPatches(cropped, k);
      const co = wIn.shape[3]!;
      const w2 = tf.reshape(wIn, [k * k * cc, co]) as tf.Tensor2D;
      save([patches, w2]);
      const y = tf.add(tf.matMul(patches, w2), bIn);
      return {
        value: tf.reshape(y, [nn, hoo, woo, co]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [pSaved, wSaved] = saved as [tf.Tensor2D, tf.Tensor2D];
          const dy2 = tf.reshape(dy, [nn * hoo * woo, co]) as tf.Tensor2D;
          const dw = tf.reshape(tf.matMul(tf.transpose(pSaved), dy2), [k, k, cc, co]);
          let dx: tf.Tensor4D = fromPatches(tf.matMul(dy2, tf.transpose(wSaved)), nn, hoo, woo, k, cc);
          if (hoo * k !== hh || woo * k !== ww)
            dx = tf.pad(dx, [
              [0, 0],
              [0, hh - hoo * k],
              [0, ww - woo * k],
              [0, 0],
            ]);
          return [dx, dw, tf.sum(dy2, 0)];
        },
      };
    };
    f = tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]) as (
      x: tf.Tensor,
      w: tf.Tensor,
      b: tf.Tensor,
    ) => tf.Tensor;
    patchifyGrad.set(key, f);
  }
  const out = f(x, w, b) as tf.Tensor4D;
  if (!bias) b.dispose();
  return out;
}

/** y = x·W + b over the last axis of an activation of any rank, as one rank-2 GEMM. */
export function linear(x: tf.Tensor, w: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor {
  const cin = w.shape[0];
  const cout = w.shape[1];
  if (x.shape[x.rank - 1] !== cin)
    throw new Error(`linear: input has ${x.shape[x.rank - 1]} features, weight expects ${cin}`);
  const y = tf.matMul(tf.reshape(x, [-1, cin]), w);
  return tf.reshape(bias ? addKeepingShapes(y, bias) : y, [...x.shape.slice(0, -1), cout]);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const geluFn = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) => {
      const c = tf.mul(tf.add(tf.erf(tf.mul(xs!, Math.SQRT1_2)), 1), 0.5);
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs!), -0.5)), INV_SQRT_2PI);
      return [tf.mul(dy, tf.add(c, tf.mul(xs!, pdf)))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/**
 * Exact (erf) GELU, x·Φ(x), whose backward pass keeps only x alive: the autodiff version keeps
 * four activation-sized intermediates per call, which decides whether 224x224 batches fit in
 * wasm's 4 GiB heap.
 */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return geluFn(x);
}

const layerNormFns = new Map<number, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

/**
 * LayerNorm over the last axis (biased variance, eps inside the sqrt), y = x̂·gamma + beta, with
 * a hand-written backward that keeps only x̂ and 1/σ alive (autodiff keeps ~5 tensors) and
 * uses no tile (see docs/runtime-performance.md):
 *   dx = (1/σ)·(g - mean(g) - x̂·mean(g·x̂)),  g = dy·gamma;  dgamma = Σ dy·x̂;  dbeta = Σ dy.
 */
export function layerNormLastAxis(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-6): tf.Tensor {
  const c = x.shape[x.rank - 1]!;
  if (gamma.size !== c || beta.size !== c) throw new Error(`layerNormLastAxis: gamma/beta must have ${c} elements`);
  let f = layerNormFns.get(eps);
  if (!f) {
    const body = (xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      const { mean, variance } = tf.moments(xIn, -1, true);
      const rstd = tf.rsqrt(tf.add(variance, eps));
      const xhat = tf.mul(tf.sub(xIn, mean), rstd);
      save([xhat, rstd, g]);
      return {
        value: tf.add(tf.mul(xhat, g), b),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xh, rs, gm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          const lead = Array.from({ length: dy.rank - 1 }, (_, i) => i);
          const gy = tf.mul(dy, gm);
          const meanG = tf.mean(gy, -1, true);
          const meanGX = tf.mean(tf.mul(gy, xh), -1, true);
          const dx = tf.mul(tf.sub(tf.sub(gy, meanG), tf.mul(xh, meanGX)), rs);
          const dGamma = tf.reshape(tf.sum(tf.mul(dy, xh), lead), gm.shape);
          const dBeta = tf.reshape(tf.sum(dy, lead), gm.shape);
          return [dx, dGamma, dBeta];
        },
      };
    };
    f = tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]) as (
      x: tf.Tensor,
      g: tf.Tensor,
      b: tf.Tensor,
    ) => tf.Tensor;
    layerNormFns.set(eps, f);
  }
  return f(x, gamma, beta);
}

const grnFns = new Map<string, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

/**
 * ConvNeXt-V2 Global Response Normalization on NHWC x, with a hand-written backward that keeps
 * only x alive:  Gx = sqrt(Σ_hw x² + sqrtEps),  Nx = Gx / (mean_c Gx + 1e-6),
 * y = gamma·(x·Nx) + beta + x.  `sqrtEps` (default 1e-12) keeps the gradient finite for an
 * all-zero channel (the official torch.norm has none; the difference is below float32 resolution
 * for any channel with Σx² > 1e-5).
 */
export function grn(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, sqrtEps = 1e-12, meanEps = 1e-6): tf.Tensor4D {
  const c = x.shape[3];
  if (gamma.size !== c || beta.size !== c) throw new Error(`grn: gamma/beta must have ${c} elements`);
  const key = `${sqrtEps}/${meanEps}`;
  let f = grnFns.get(key);
  if (!f) {
    const stats = (xs: tf.Tensor) => {
      const gx = tf.sqrt(tf.add(tf.sum(tf.square(xs), [1, 2], true), sqrtEps));
      const denom = tf.add(tf.mean(gx, -1, true), meanEps);
      return { gx, denom, nx: tf.div(gx, denom) };
    };
    const body = (xIn: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      save([xIn, g]);
      const { nx } = stats(xIn);
      return {
        value: tf.add(tf.add(tf.mul(g, tf.mul(xIn, nx)), b), xIn),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, gm] = saved as [tf.Tensor, tf.Tensor];
          const { gx, denom, nx: n2 } = stats(xs);
          const channels = xs.shape[3]!;
          const dBeta = tf.reshape(tf.sum(dy, [0, 1, 2]), gm.shape);
          const dyx = tf.mul(dy, xs);
          const a = tf.sum(dyx, [1, 2], true); // Σ_hw dy·x, [N,1,1,C]
          const dGamma = tf.reshape(tf.sum(tf.mul(a, n2), [0, 1, 2]), gm.shape);
          const aG = tf.mul(a, gm); // dL/dNx
          const dGx = tf.sub(
            tf.div(aG, denom),
            tf.div(tf.sum(tf.mul(aG, gx), -1, true), tf.mul(tf.square(denom), channels)),
          );
          const dx = tf.add(tf.mul(dy, tf.add(tf.mul(gm, n2), 1)), tf.mul(xs, tf.div(dGx, gx)));
          return [dx, dGamma, dBeta];
        },
      };
    };
    f = tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]) as (
      x: tf.Tensor,
      g: tf.Tensor,
      b: tf.Tensor,
    ) => tf.Tensor;
    grnFns.set(key, f);
  }
  return f(x, gamma, beta) as tf.Tensor4D;
}
