/**
 * `nv.grnBlock` (runtime/codegen.ts), what compiler/emit/fusion.ts lowers std/convnextv2.nvc's
 * GRN to, against the GRN statements themselves as the emitter wrote them before the fusion
 * (visible, mul, sum, maskedStatistics, sqrt, mean, add, div, mul, mul, add, add: the reference
 * below, one call per .nvc statement), on wasm and on cpu, with and without a patch mask, with
 * both poolings.
 *
 * Tolerances: values within 1e-6 normwise relative error (the same float32 ops in the same
 * order, except that the fused form squares with Square instead of Mul and, with 'batch'
 * pooling, sums over N, H and W at once); gradients of L = sum(y * R) with respect to x, gamma
 * and beta within 1e-5 (the hand-written gradient reorders the float32 sums; differences are
 * ~1e-7 here). Finite differences: central, eps = 1e-2 in float64 on the host around float32
 * forwards; GRN is smooth away from an all-zero channel, the truncation error is O(eps^2)
 * times its third derivative (~1e-4 here), so |fd - g| <= 2e-3 * max|g| + 1e-3.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as nv from '../../runtime/index.js';
import { registerWasmTrainingKernels } from '../../runtime/kernels/index.js';
import type { ForwardContext } from '../../runtime/module.js';
import { on, relErr, size, values, type Backend } from '../support/kernel-compare.js';

const EPS = 1e-6;
const X_SHAPE = [3, 4, 4, 6];
/** Patch mask on a 2x2 grid (1 = removed): sample 0 keeps 1 patch, 1 keeps 3, 2 keeps all. */
const MASK = [1, 1, 0, 1, /**/ 0, 1, 0, 0, /**/ 0, 0, 0, 0];

/** std/convnextv2.nvc GRN forward, statement by statement (lines 19-23). */
function nvcGrn(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, pooling: 'sample' | 'batch', ctx: ForwardContext) {
  const v1 = nv.visible(x, ctx);
  const v2 = nv.mul(v1, v1);
  const v3 = nv.sum(v2, [1, 2], true);
  const v4 = nv.maskedStatistics(v3, pooling, ctx);
  const v5 = nv.sqrt(v4);
  const v6 = nv.mean(v5, [-1], true);
  const v8 = nv.add(v6, EPS);
  const v9 = nv.div(v5, v8);
  const v11 = nv.mul(x, v9);
  const v12 = nv.mul(gamma, v11);
  const v14 = nv.add(v12, beta);
  return nv.add(v14, x);
}

type Grn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, pooling: 'sample' | 'batch', ctx: ForwardContext) => tf.Tensor;
const fused: Grn = (x, g, b, pooling, ctx) => nv.grnBlock(x, g, b, EPS, pooling, ctx);

function context(masked: boolean): ForwardContext {
  return {
    training: true,
    rng: nv.createRng(1),
    ...(masked ? { mask: tf.tensor4d(MASK, [3, 2, 2, 1]) } : {}),
  };
}

const hostX = values(size(X_SHAPE), 11);
const hostGamma = values(6, 12).map((v) => 0.5 * v);
const hostBeta = values(6, 13).map((v) => 0.3 * v);
const hostR = values(size(X_SHAPE), 14);

/** y and the gradients of sum(y * R) with respect to x, gamma and beta. */
function run(f: Grn, pooling: 'sample' | 'batch', masked: boolean) {
  return tf.tidy(() => {
    const ctx = context(masked);
    const [x, g, b] = [tf.tensor(hostX, X_SHAPE), tf.tensor1d(hostGamma), tf.tensor1d(hostBeta)];
    const r = tf.tensor(hostR, X_SHAPE);
    const y = f(x, g, b, pooling, ctx).dataSync().slice();
    const grads = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a, c, d, pooling, ctx), r)))([
      x,
      g,
      b,
    ]);
    return { y, grads: grads.map((t) => t.dataSync().slice()) };
  });
}

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('grnBlock equals the GRN statements of std/convnextv2.nvc', () => {
  for (const backend of ['wasm', 'cpu'] as Backend[])
    for (const masked of [false, true])
      for (const pooling of ['sample', 'batch'] as const)
        it(`${backend}, ${masked ? 'masked' : 'unmasked'}, pooling ${pooling}: values and gradients`, async () => {
          const [got, ref] = await on(backend, () => [run(fused, pooling, masked), run(nvcGrn, pooling, masked)]);
          expect(relErr(got!.y, ref!.y)).toBeLessThanOrEqual(1e-6);
          got!.grads.forEach((g, i) => {
            expect(ref!.grads[i]!.every(Number.isFinite)).toBe(true);
            expect(relErr(g, ref!.grads[i]!), ['x', 'gamma', 'beta'][i]).toBeLessThanOrEqual(1e-5);
          });
          // The mask matters: with it the statistics leave removed positions out.
          if (masked) {
            const dense = await on(backend, () => run(fused, pooling, false));
            expect(relErr(got!.y, dense.y)).toBeGreaterThan(1e-3);
          }
        });

  it('batch pooling couples the samples only under a mask (as masked_statistics)', async () => {
    const [sample, batch] = await on('wasm', () => [run(fused, 'sample', true), run(fused, 'batch', true)]);
    expect(relErr(batch!.y, sample!.y)).toBeGreaterThan(1e-3);
    const [denseSample, denseBatch] = await on('wasm', () => [run(fused, 'sample', false), run(fused, 'batch', false)]);
    expect(Array.from(denseBatch!.y)).toEqual(Array.from(denseSample!.y));
  });
});

describe('grnBlock gradients against finite differences', () => {
  for (const backend of ['wasm', 'cpu'] as Backend[])
    for (const [masked, pooling] of [
      [false, 'sample'],
      [true, 'sample'],
      [true, 'batch'],
    ] as const)
      it(`${backend}, ${masked ? 'masked' : 'unmasked'}, pooling ${pooling}`, async () => {
        await on(backend, () => {
          const { grads } = run(fused, pooling, masked);
          const hosts = [hostX, hostGamma, hostBeta];
          const shapes = [X_SHAPE, [6], [6]];
          const loss = (args: Float32Array[]) =>
            tf.tidy(() => {
              const ctx = context(masked);
              const y = fused(
                tf.tensor(args[0]!, shapes[0]),
                tf.tensor(args[1]!, shapes[1]),
                tf.tensor(args[2]!, shapes[2]),
                pooling,
                ctx,
              ).dataSync();
              let s = 0;
              for (let i = 0; i < y.length; i++) s += y[i]! * hostR[i]!;
              return s;
            });
          const eps = 1e-2;
          hosts.forEach((host, a) => {
            const g = grads[a]!;
            const scale = Array.from(g).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
            for (let k = 0; k < 6; k++) {
              const idx = (k * 7919 + a * 31) % host.length;
              const plus = hosts.map((h) => h.slice());
              const minus = hosts.map((h) => h.slice());
              plus[a]![idx]! += eps;
              minus[a]![idx]! -= eps;
              const fd = (loss(plus) - loss(minus)) / (2 * eps);
              expect(Math.abs(fd - g[idx]!), `arg ${a} index ${idx}`).toBeLessThanOrEqual(2e-3 * scale + 1e-3);
            }
          });
        });
      });
});

describe('grnBlock where a channel is all zero', () => {
  it('gives finite gradients where the plain sqrt of the statements gives NaN', async () => {
    await on('wasm', () => {
      tf.tidy(() => {
        // Channel 0 is zero everywhere in every sample.
        const data = hostX.map((v, i) => (i % 6 === 0 ? 0 : v));
        const x = tf.tensor(data, X_SHAPE);
        const [g, b, r] = [tf.tensor1d(hostGamma), tf.tensor1d(hostBeta), tf.tensor(hostR, X_SHAPE)];
        const ctx = context(false);
        const loss = (f: Grn) => (a: tf.Tensor) => tf.sum(tf.mul(f(a, g, b, 'sample', ctx), r));
        const dFused = tf.grad(loss(fused))(x).dataSync();
        const dRef = tf.grad(loss(nvcGrn))(x).dataSync();
        expect(dFused.every(Number.isFinite)).toBe(true);
        expect(Array.from(dRef).some(Number.isNaN)).toBe(true);
        expect(relErr(fused(x, g, b, 'sample', ctx).dataSync(), nvcGrn(x, g, b, 'sample', ctx).dataSync())).toBe(0);
      });
    });
  });
});
