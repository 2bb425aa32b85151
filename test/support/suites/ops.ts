/**
 * The functional-op test suite, run once per backend by test/runtime/ops*.test.ts.
 * Reference values are from shared/reference/convnextv2-fcmae.md §6 (float64 formulas).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ForwardContext } from '../../../runtime/module.js';
import { createRng } from '../../../runtime/rng.js';
import * as ops from '../../../runtime/ops/index.js';
import { useTestBackend } from '../backend.js';
import { checkGradients, expectGradOk, randn } from '../gradcheck.js';

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + rtol * Math.abs(expected[i]!);
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol))
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (tolerance ${tol})`);
  }
}

const v = (t: tf.Tensor): tf.Variable => tf.variable(t);

export function defineOpsSuite(backend: 'cpu' | 'wasm'): void {
  describe(`ops on ${backend}`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
    });

    describe('reference values (§6)', () => {
      it('exact-erf GELU within 1e-6 absolute (tfjs erf is a 1.5e-7 polynomial)', () => {
        const x = tf.tensor1d([-3, -1, -0.5, 0, 0.5, 1, 3]);
        const ref = [-0.00404969409, -0.158655254, -0.154268769, 0, 0.345731231, 0.841344746, 2.99595031];
        expectClose(ops.gelu(x).dataSync(), ref, 1e-6);
        // and it is not the tanh form: GELU_tanh(1) = 0.841191991 differs by 1.5e-4
        expect(Math.abs(ops.geluTanh(tf.scalar(1)).dataSync()[0]! - 0.841191991)).toBeLessThan(1e-6);
      });

      it('GRN on the (1,2,2,3) example within 1e-5 relative', () => {
        const x = tf.tensor4d([
          [
            [
              [1, -2, 0.5],
              [0, 3, -1],
            ],
            [
              [2, 1, 1.5],
              [-1, 0, 2],
            ],
          ],
        ]);
        const y = ops.grn(x, tf.tensor1d([0.1, 0.2, 0.3]), tf.tensor1d([0.01, 0.02, 0.03]));
        const ref = [
          1.09229187, -2.48281165, 0.668007668, 0.01, 3.77421748, -1.24601534, 2.17458375, 1.27140583, 1.944023,
          -1.07229187, 0.02, 2.58203067,
        ];
        expectClose(y.dataSync(), ref, 1e-6, 1e-5);
      });

      it('LayerNorm eps 1e-6, biased variance, within 1e-5 relative', () => {
        const y = ops.layerNorm(tf.tensor2d([[1, 2, 4]]), tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 0.5, -0.5]));
        expectClose(y.dataSync(), [-1.06904462, -0.034522312, 3.50891734], 1e-6, 1e-5);
      });

      it('norm-pix target uses the unbiased variance, within 1e-5 relative', () => {
        const y = ops.normPixTarget(tf.tensor3d([[[0.1, 0.4, -0.2, 0.7]]]));
        expectClose(y.dataSync(), [-0.387297044, 0.387297044, -1.16189113, 1.16189113], 1e-6, 1e-5);
      });

      it('kept / masked patch counts at ratio 0.6, patch 32', () => {
        const expected: Record<number, [number, number]> = {
          224: [19, 30],
          256: [25, 39],
          384: [57, 87],
          512: [102, 154],
        };
        for (const [size, [kept, masked]] of Object.entries(expected)) {
          const s = Number(size);
          const { gh, gw } = ops.patchGrid(s, s, 32);
          expect(ops.keptCount(gh * gw, 0.6)).toBe(kept);
          const m = ops.randomPatchMask(3, s, s, 32, 0.6, createRng(s));
          expect(m.shape).toEqual([3, s / 32, s / 32, 1]);
          const perSample = tf.sum(ops.flattenMask(m), 1).dataSync();
          expect(Array.from(perSample)).toEqual([masked, masked, masked]);
        }
      });
    });

    describe('masks', () => {
      it('keptCount is the official int(L * (1 - ratio)) by default; `decimal` snaps float noise', () => {
        expect(ops.keptCount(100, 0.9)).toBe(9); // 100*(1-0.9) = 9.999999999999998 in float64
        expect(ops.keptCount(100, 0.9, 'decimal')).toBe(10);
        expect(ops.keptCount(5, 0.8)).toBe(0); // 0.9999999999999998
        expect(ops.keptCount(90, 0.3)).toBe(62); // 62.99999999999999
        expect(ops.keptCount(90, 0.3, 'decimal')).toBe(63);
        expect(ops.keptCount(100, 0.7)).toBe(30);
        expect(ops.keptCount(49, 0.75, 'decimal')).toBe(12);
        expect(ops.keptCount(49, 0.75)).toBe(12); // 12.25
        expect(ops.keptCount(49, 0)).toBe(49);
        expect(ops.keptCount(49, 1)).toBe(0);
        expect(() => ops.keptCount(49, 1.5)).toThrow();
      });

      it('keeps the patches with the smallest Gaussian noise, per sample, from the rng stream', () => {
        const n = 4;
        const l = 49;
        const m = ops.randomPatchMask(n, 224, 224, 32, 0.6, createRng(99)).dataSync();
        const replay = createRng(99);
        for (let s = 0; s < n; s++) {
          const noise = Array.from({ length: l }, () => replay.normal());
          const order = [...noise.keys()].sort((a, b) => noise[a]! - noise[b]!);
          const kept = new Set(order.slice(0, 19));
          for (let i = 0; i < l; i++) expect(m[s * l + i]).toBe(kept.has(i) ? 0 : 1);
        }
        // samples differ (independent draws), and the same seed reproduces the mask
        const rows = [0, 1, 2, 3].map((s) => Array.from(m.slice(s * l, (s + 1) * l)).join(''));
        expect(new Set(rows).size).toBe(4);
        expect(Array.from(ops.randomPatchMask(n, 224, 224, 32, 0.6, createRng(99)).dataSync())).toEqual(Array.from(m));
      });

      it('upsampleMask is nearest (block) upsampling', () => {
        const mask = tf.tensor4d([1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1], [2, 2, 3, 1]);
        const f = 4;
        const up = ops.upsampleMask(mask, 2 * f, 3 * f);
        expect(up.shape).toEqual([2, 8, 12, 1]);
        const u = up.dataSync();
        const m = mask.dataSync();
        for (let n = 0; n < 2; n++)
          for (let y = 0; y < 8; y++)
            for (let x = 0; x < 12; x++)
              expect(u[(n * 8 + y) * 12 + x]).toBe(m[(n * 2 + Math.floor(y / f)) * 3 + Math.floor(x / f)]);
        expect(() => ops.upsampleMask(mask, 8, 8)).toThrow();
      });

      it('visible() zeroes removed positions only when ctx.mask is set', () => {
        const x = randn([2, 4, 4, 3], 5);
        const mask = tf.tensor4d([1, 0, 0, 0, 0, 1, 1, 0], [2, 2, 2, 1]);
        const ctxNo: ForwardContext = { training: false, rng: createRng(1) };
        expect(ops.visible(x, ctxNo)).toBe(x);
        const y = ops.visible(x, { ...ctxNo, mask: mask as tf.Tensor4D }).dataSync();
        const xs = x.dataSync();
        const m = mask.dataSync();
        for (let n = 0; n < 2; n++)
          for (let i = 0; i < 4; i++)
            for (let j = 0; j < 4; j++)
              for (let c = 0; c < 3; c++) {
                const k = ((n * 4 + i) * 4 + j) * 3 + c;
                const removed = m[(n * 2 + (i >> 1)) * 2 + (j >> 1)] === 1;
                expect(y[k] === (removed ? 0 : xs[k])).toBe(true); // -0 counts as 0
              }
      });
    });

    describe('layouts', () => {
      it('patchify uses row-major patch index and (row, col, colour) order within a patch', () => {
        const [n, hh, ww, c, p] = [2, 8, 12, 3, 4];
        const x = tf.tensor4d(
          Float32Array.from({ length: n * hh * ww * c }, (_, i) => i),
          [n, hh, ww, c],
        );
        const patches = ops.patchify(x, p);
        const [h, w] = [hh / p, ww / p];
        expect(patches.shape).toEqual([n, h * w, p * p * c]);
        const pv = patches.dataSync();
        for (let b = 0; b < n; b++)
          for (let i = 0; i < h; i++)
            for (let j = 0; j < w; j++)
              for (let r = 0; r < p; r++)
                for (let q = 0; q < p; q++)
                  for (let ch = 0; ch < c; ch++) {
                    const src = ((b * hh + i * p + r) * ww + j * p + q) * c + ch;
                    const dst = (b * h * w + i * w + j) * p * p * c + (r * p + q) * c + ch;
                    expect(pv[dst]).toBe(src);
                  }
        expect(Array.from(ops.unpatchify(patches, p, h, w, c).dataSync())).toEqual(Array.from(x.dataSync()));
      });

      it('tokens/untokens round trip and asTokens shapes', () => {
        const x = randn([2, 3, 5, 4], 3);
        const t = ops.tokens(x);
        expect(t.shape).toEqual([2, 15, 4]);
        expect(Array.from(ops.untokens(t, 3, 5).dataSync())).toEqual(Array.from(x.dataSync()));
        expect(ops.asTokens(tf.zeros([2, 14])).shape).toEqual([2, 1, 14]);
        expect(() => ops.untokens(t, 4, 4)).toThrow();
      });

      it('globalAvgPool averages H and W', () => {
        const x = randn([2, 3, 4, 5], 8);
        const y = ops.globalAvgPool(x).dataSync();
        const xs = x.dataSync();
        for (let n = 0; n < 2; n++)
          for (let c = 0; c < 5; c++) {
            let s = 0;
            for (let i = 0; i < 12; i++) s += xs[(n * 12 + i) * 5 + c]!;
            expect(Math.abs(y[n * 5 + c]! - s / 12)).toBeLessThan(1e-6);
          }
      });
    });

    describe('misc ops', () => {
      it('maskedAvgPool averages visible positions; softmax over a non-last axis; dropout is seeded', () => {
        const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);
        const keep = tf.tensor4d([1, 0, 0, 1, 0, 0, 0, 0], [2, 2, 2, 1]);
        expect(Array.from(ops.maskedAvgPool(x, keep).dataSync())).toEqual([2.5, 0]);
        const logits = randn([2, 3, 4], 80);
        const viaTranspose = tf.transpose(tf.softmax(tf.transpose(logits, [0, 2, 1])), [0, 2, 1]);
        expect(tf.max(tf.abs(tf.sub(ops.softmax(logits, 1), viaTranspose))).dataSync()[0]).toBeLessThan(1e-7);
        const ones = tf.ones([1000]);
        const d = ops.dropout(ones, 0.2, { training: true, rng: createRng(3) }).dataSync();
        const zerosCount = Array.from(d).filter((val) => val === 0).length;
        expect(zerosCount).toBeGreaterThan(160);
        expect(zerosCount).toBeLessThan(240); // Binomial(1000, .2): sd 12.6
        for (const val of d) expect(val === 0 || Math.abs(val - 1.25) < 1e-6).toBe(true);
        expect(ops.dropout(ones, 0.2, { training: false, rng: createRng(3) })).toBe(ones);
      });
    });

    describe('linear and convolutions', () => {
      it('linear works on any rank', () => {
        const w = randn([5, 3], 1);
        const b = randn([3], 2);
        const x = randn([2, 4, 6, 5], 3);
        const y = ops.linear(x, w, b);
        expect(y.shape).toEqual([2, 4, 6, 3]);
        const ref = tf.add(tf.matMul(tf.reshape(x, [-1, 5]), w), b);
        expectClose(y.dataSync(), ref.dataSync(), 1e-5, 1e-5);
      });

      it('matmul fast paths (1x1, kernel == stride) equal tf.conv2d within 1e-5', () => {
        const x = randn([2, 8, 8, 3], 4);
        for (const [k, s] of [
          [1, 1],
          [2, 2],
          [4, 4],
        ] as const) {
          const w = randn([k, k, 3, 6], 10 + k, 0.3);
          const b = randn([6], 20 + k);
          const got = ops.conv2d(x, w, b, s, 'valid');
          const ref = tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, 'valid'), b);
          expect(got.shape).toEqual(ref.shape);
          expectClose(got.dataSync(), ref.dataSync(), 1e-5, 1e-5);
        }
        // 'valid' drops the rows/columns beyond a multiple of the stride
        const odd = randn([1, 9, 7, 3], 5);
        const w2 = randn([2, 2, 3, 4], 6);
        const ref2 = tf.conv2d(odd as tf.Tensor4D, w2 as tf.Tensor4D, 2, 'valid');
        const got2 = ops.conv2d(odd, w2, undefined, 2, 'valid');
        expect(got2.shape).toEqual([1, 4, 3, 4]);
        expectClose(got2.dataSync(), ref2.dataSync(), 1e-5, 1e-5);
      });
    });

    describe('attention', () => {
      it('matches a naive float64 loop implementation (2 heads, Lq != Lk) within 1e-5', () => {
        const [b, lq, lk, d, heads] = [2, 3, 5, 8, 2];
        const q = randn([b, lq, d], 31);
        const k = randn([b, lk, d], 32);
        const vv = randn([b, lk, d], 33);
        const out = ops.mergeHeads(
          ops.scaledDotProductAttention(ops.splitHeads(q, heads), ops.splitHeads(k, heads), ops.splitHeads(vv, heads)),
          heads,
        );
        expect(out.shape).toEqual([b, lq, d]);
        const [Q, K, V, O] = [q.dataSync(), k.dataSync(), vv.dataSync(), out.dataSync()];
        const dh = d / heads;
        for (let n = 0; n < b; n++)
          for (let h = 0; h < heads; h++)
            for (let i = 0; i < lq; i++) {
              const scores = [];
              for (let j = 0; j < lk; j++) {
                let s = 0;
                for (let e = 0; e < dh; e++) s += Q[(n * lq + i) * d + h * dh + e]! * K[(n * lk + j) * d + h * dh + e]!;
                scores.push(s / Math.sqrt(dh));
              }
              const mx = Math.max(...scores);
              const ex = scores.map((s) => Math.exp(s - mx));
              const z = ex.reduce((a, c) => a + c, 0);
              for (let e = 0; e < dh; e++) {
                let acc = 0;
                for (let j = 0; j < lk; j++) acc += (ex[j]! / z) * V[(n * lk + j) * d + h * dh + e]!;
                expect(Math.abs(O[(n * lq + i) * d + h * dh + e]! - acc)).toBeLessThan(1e-5);
              }
            }
      });
    });

    describe('losses', () => {
      it('maskedMse averages per-patch MSE over removed patches of the whole batch', () => {
        const pred = tf.tensor3d([
          [
            [1, 2],
            [0, 0],
          ],
          [
            [3, 3],
            [1, -1],
          ],
        ]);
        const target = tf.tensor3d([
          [
            [0, 0],
            [5, 5],
          ],
          [
            [3, 1],
            [0, 0],
          ],
        ]);
        const mask = tf.tensor2d([
          [1, 0],
          [1, 1],
        ]);
        // per patch: [2.5, 25], [2, 1]; removed: 2.5 + 2 + 1 over 3
        expectClose(ops.maskedMse(pred, target, mask).dataSync(), [5.5 / 3], 1e-6);
        expectClose(ops.maskedMse(pred, target, tf.zeros([2, 2])).dataSync(), [0], 0);
      });

      it('softmaxCrossEntropy equals -mean log p[label], and timm label smoothing', () => {
        const logits = tf.tensor2d([
          [2, 0.5, -1],
          [0, 0, 3],
        ]);
        const lp = tf.logSoftmax(logits).arraySync() as number[][];
        const plain = -(lp[0]![0]! + lp[1]![2]!) / 2;
        expectClose(ops.softmaxCrossEntropy(logits, [0, 2]).dataSync(), [plain], 1e-6);
        const eps = 0.1;
        const smooth = lp.map((row, i) => (1 - eps) * -row[[0, 2][i]!]! + eps * -(row.reduce((a, c) => a + c, 0) / 3));
        expectClose(
          ops.softmaxCrossEntropy(logits, tf.tensor1d([0, 2], 'int32'), { labelSmoothing: eps }).dataSync(),
          [(smooth[0]! + smooth[1]!) / 2],
          1e-6,
        );
        const soft = tf.tensor2d([
          [0.5, 0.5, 0],
          [0, 0, 1],
        ]);
        const softRef = -(0.5 * lp[0]![0]! + 0.5 * lp[0]![1]! + lp[1]![2]!) / 2;
        expectClose(ops.softmaxCrossEntropy(logits, soft).dataSync(), [softRef], 1e-6);
      });

      it('fcmaeLoss ignores predictions at visible patches', () => {
        const imgs = randn([2, 8, 8, 3], 41);
        const mask = tf.tensor4d([1, 0, 0, 1, 0, 1, 1, 1], [2, 2, 2, 1]);
        const pred = randn([2, 4, 48], 42);
        const base = ops.fcmaeLoss(imgs, pred, mask, { patchSize: 4 }).dataSync()[0]!;
        const visibleOnly = tf.tensor3d([0, 1, 1, 0, 1, 0, 0, 0], [2, 4, 1]);
        const changed = tf.add(pred, tf.mul(visibleOnly, 100));
        expect(ops.fcmaeLoss(imgs, changed, mask, { patchSize: 4 }).dataSync()[0]).toBeCloseTo(base, 5);
        const hit = tf.add(pred, tf.mul(tf.sub(1, visibleOnly), 0.5));
        expect(Math.abs(ops.fcmaeLoss(imgs, hit, mask, { patchSize: 4 }).dataSync()[0]! - base)).toBeGreaterThan(1e-3);
      });
    });

    describe('drop_path', () => {
      const ctx = (training: boolean, seed = 3): ForwardContext => ({ training, rng: createRng(seed) });
      it('is the identity outside training or at rate 0', () => {
        const x = randn([4, 2, 2, 3], 1);
        expect(ops.dropPath(x, 0.5, ctx(false))).toBe(x);
        expect(ops.dropPath(x, 0, ctx(true))).toBe(x);
      });
      it('drops whole samples and rescales the rest by 1/keep, reproducibly', () => {
        const n = 400;
        const x = tf.ones([n, 2, 3]);
        const y = ops.dropPath(x, 0.25, ctx(true, 11)).arraySync() as number[][][];
        let kept = 0;
        for (const sample of y) {
          const vals = sample.flat();
          const first = vals[0]!;
          expect(first === 0 || Math.abs(first - 1 / 0.75) < 1e-6).toBe(true);
          for (const val of vals) expect(val).toBe(first);
          if (first !== 0) kept++;
        }
        expect(kept / n).toBeGreaterThan(0.68); // Binomial(400, .75): mean 300, sd 8.7
        expect(kept / n).toBeLessThan(0.82);
        expect(Array.from(ops.dropPath(x, 0.25, ctx(true, 11)).dataSync())).toEqual(y.flat(2));
      });
    });

    describe('gradients (central finite differences, float64 probe, rtol 2e-2 + atol 2e-3)', () => {
      it('GELU', () => {
        const x = v(randn([3, 7], 50, 2));
        expectGradOk(checkGradients(() => ops.gelu(x), [['x', x]]));
      });

      it('LayerNorm (input, weight, bias)', () => {
        const x = v(randn([2, 3, 6], 51));
        const w = v(randn([6], 52));
        const b = v(randn([6], 53));
        expectGradOk(
          checkGradients(
            () => ops.layerNorm(x, w, b),
            [
              ['x', x],
              ['weight', w],
              ['bias', b],
            ],
            { h: 5e-3 },
          ),
        );
      });

      it('GRN dense (input, gamma, beta)', () => {
        const x = v(randn([2, 3, 3, 4], 54));
        const g = v(randn([4], 55));
        const b = v(randn([4], 56));
        expectGradOk(
          checkGradients(
            () => ops.grn(x, g, b),
            [
              ['x', x],
              ['gamma', g],
              ['beta', b],
            ],
            { h: 5e-3 },
          ),
        );
      });

      it('GRN masked, per sample and batch-global, with a fully masked sample', () => {
        const x = v(randn([2, 4, 4, 3], 57));
        const g = v(randn([3], 58));
        const b = v(randn([3], 59));
        // sample 0: two of four 2x2 cells visible; sample 1: everything removed
        const keep = ops.keepMap(tf.tensor4d([0, 1, 1, 0, 1, 1, 1, 1], [2, 2, 2, 1]), 4, 4);
        for (const statistics of ['sample', 'batch'] as const)
          expectGradOk(
            checkGradients(
              () => ops.grn(x, g, b, { keep, statistics }),
              [
                ['x', x],
                ['gamma', g],
                ['beta', b],
              ],
              { h: 5e-3 },
            ),
          );
      });

      it('hand-written GRN backward equals autodiff in every mode (1e-5 relative)', () => {
        // sample 1 is entirely zero, so its G is 0 in every mode
        const x = tf.concat([randn([1, 4, 4, 3], 90), tf.zeros([1, 4, 4, 3])]);
        const gamma = randn([3], 91);
        const beta = randn([3], 92);
        const r = randn([2, 4, 4, 3], 93);
        const keep = ops.keepMap(tf.tensor4d([0, 1, 1, 0, 0, 0, 1, 0], [2, 2, 2, 1]), 4, 4);
        for (const statistics of ['sample', 'batch'] as const)
          for (const k of [undefined, keep])
            for (const sqrtEps of [0, 1e-6]) {
              const opts = { statistics, sqrtEps, ...(k ? { keep: k } : {}) };
              const gradsOf = (f: typeof ops.grn) =>
                tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b, opts), r)))([
                  x,
                  gamma,
                  beta,
                ]);
              const got = gradsOf(ops.grn);
              const ref = gradsOf(ops.grnAutodiff);
              expectClose(
                ops.grn(x, gamma, beta, opts).dataSync(),
                ops.grnAutodiff(x, gamma, beta, opts).dataSync(),
                1e-6,
                1e-6,
              );
              got.forEach((t, i) => {
                for (const val of t.dataSync()) expect(Number.isFinite(val)).toBe(true);
                expectClose(t.dataSync(), ref[i]!.dataSync(), 1e-5, 1e-5);
              });
            }
      });

      it('GELU and LayerNorm hand-written backwards equal autodiff (1e-5 relative)', () => {
        const x = randn([2, 3, 5], 94, 2);
        const w = randn([5], 95);
        const b = randn([5], 96);
        const r = randn([2, 3, 5], 97);
        expectClose(ops.gelu(x).dataSync(), ops.geluAutodiff(x).dataSync(), 1e-6, 1e-6);
        const dg = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ops.gelu(t), r)))(x);
        const dgRef = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ops.geluAutodiff(t), r)))(x);
        expectClose(dg.dataSync(), dgRef.dataSync(), 1e-5, 1e-5);
        const f = (ln: typeof ops.layerNorm) => (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
          tf.sum(tf.mul(ln(a, c, d), r));
        expectClose(ops.layerNorm(x, w, b).dataSync(), ops.layerNormAutodiff(x, w, b).dataSync(), 1e-5, 1e-5);
        const got = tf.grads(f(ops.layerNorm))([x, w, b]);
        const ref = tf.grads(f(ops.layerNormAutodiff))([x, w, b]);
        got.forEach((t, i) => expectClose(t.dataSync(), ref[i]!.dataSync(), 1e-5, 1e-5));
      });

      it('GRN of an all-zero input has a finite gradient (identity: dL/dx = R)', () => {
        const x = tf.zeros([1, 3, 3, 4]);
        const g = tf.tensor1d([0.5, -1, 2, 0.1]);
        const b = tf.tensor1d([0.1, 0.2, 0.3, 0.4]);
        const r = randn([1, 3, 3, 4], 60);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ops.grn(t, g, b), r)))(x);
        const dxs = dx.dataSync();
        for (const val of dxs) expect(Number.isFinite(val)).toBe(true);
        expectClose(dxs, r.dataSync(), 1e-6);
        // gradient w.r.t. gamma at x = 0 is 0 (x * Nx = 0), not NaN
        const dg = tf
          .grad((t: tf.Tensor) => tf.sum(tf.mul(ops.grn(x, t, b), r)))(g)
          .dataSync();
        expectClose(dg, [0, 0, 0, 0], 0);
      });

      it('attention (q, k, v)', () => {
        const q = v(randn([4, 3, 4], 61));
        const k = v(randn([4, 5, 4], 62));
        const vv = v(randn([4, 5, 4], 63));
        expectGradOk(
          checkGradients(
            () => ops.scaledDotProductAttention(q, k, vv),
            [
              ['q', q],
              ['k', k],
              ['v', vv],
            ],
          ),
        );
      });

      it('patchify / unpatchify', () => {
        const x = v(randn([1, 4, 4, 3], 64));
        expectGradOk(checkGradients(() => tf.square(ops.patchify(x, 2)), [['x', x]]));
        const t = v(randn([1, 4, 12], 65));
        expectGradOk(checkGradients(() => tf.square(ops.unpatchify(t, 2, 2, 2, 3)), [['t', t]]));
      });

      it('conv fast paths and linear', () => {
        const x = v(randn([1, 4, 4, 2], 66));
        const w = v(randn([2, 2, 2, 3], 67, 0.5));
        const b = v(randn([3], 68));
        expectGradOk(
          checkGradients(
            () => ops.conv2d(x, w, b, 2, 'valid'),
            [
              ['x', x],
              ['w', w],
              ['b', b],
            ],
          ),
        );
        const lw = v(randn([2, 3], 69));
        expectGradOk(
          checkGradients(
            () => ops.linear(x, lw, b),
            [
              ['x', x],
              ['w', lw],
            ],
          ),
        );
      });

      it('norm-pix target + masked MSE (pred and target)', () => {
        const pred = v(randn([2, 3, 6], 70));
        const img = v(randn([2, 3, 6], 71));
        const mask = tf.tensor2d([
          [1, 0, 1],
          [0, 1, 1],
        ]);
        expectGradOk(
          checkGradients(
            () => ops.maskedMse(pred, ops.normPixTarget(img), mask),
            [
              ['pred', pred],
              ['img', img],
            ],
            { h: 5e-3 },
          ),
        );
      });

      it('softmax cross-entropy with label smoothing', () => {
        const logits = v(randn([3, 4], 72));
        expectGradOk(
          checkGradients(
            () => ops.softmaxCrossEntropy(logits, [1, 0, 3], { labelSmoothing: 0.1 }),
            [['logits', logits]],
          ),
        );
      });

      it('drop_path in training with a fixed rng', () => {
        const x = v(randn([6, 2, 3], 73));
        const reports = checkGradients(() => ops.dropPath(x, 0.5, { training: true, rng: createRng(5) }), [['x', x]]);
        expectGradOk(reports);
      });
    });
  });
}
