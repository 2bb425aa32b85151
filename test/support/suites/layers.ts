/**
 * The layer test suite, run once per backend by test/runtime/layers*.test.ts: parameter paths
 * and shapes, initializers, gradient checks of every layer, attention semantics, ConvNeXt-V2
 * parameter counts, the dense sparse-emulation equivalence, and the FCMAE decoder. Tests of
 * host-side logic only (initializer statistics, parameter counts) are defined for cpu alone.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setInitRng, type ForwardContext } from '../../../runtime/module.js';
import { createRng } from '../../../runtime/rng.js';
import * as init from '../../../runtime/init.js';
import * as ops from '../../../runtime/ops/index.js';
import {
  Conv2d,
  CrossAttention,
  DepthwiseConv2d,
  DropPath,
  FcmaeDecoder,
  GRN,
  Activation,
  Flatten,
  GELU,
  GlobalAvgPool,
  Identity,
  Lambda,
  LayerNorm,
  Linear,
  MultiHeadAttention,
  Sequential,
  Sparse,
  type Layer,
} from '../../../runtime/layers/index.js';
import { useTestBackend } from '../backend.js';
import { checkGradients, expectGradOk, randn } from '../gradcheck.js';
import { ATTO, Block, ConvNeXtV2 } from '../convnextv2.js';
import { randomizeParameters } from '../params.js';
import * as nv from '../../../runtime/index.js';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

function maxAbs(a: tf.Tensor): number {
  return tf.max(tf.abs(a)).dataSync()[0]!;
}

const evalCtx = (mask?: tf.Tensor4D): ForwardContext => ({
  training: false,
  rng: createRng(0),
  ...(mask ? { mask } : {}),
});

/** Module parameters plus an input, as [name, variable] pairs for checkGradients. */
function withParams(
  m: { namedParameters(): Array<[string, { variable: tf.Variable }]> },
  ...inputs: Array<[string, tf.Variable]>
) {
  return [...inputs, ...m.namedParameters().map(([n, p]) => [n, p.variable] as [string, tf.Variable])];
}

export function defineLayersSuite(backend: 'cpu' | 'wasm'): void {
  describe(`layers on ${backend}`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
      setInitRng(createRng(2024));
    });

    describe('entry point', () => {
      it('runtime/index.ts exposes the module contract, layers, ops and initializers', () => {
        nv.setInitRng(createRng(1));
        const model = new nv.Sequential<nv.Layer>(
          new nv.Linear(3, 4, { weightInit: nv.init.constant(0.5) }),
          new nv.GELU(),
        );
        expect(model).toBeInstanceOf(nv.ModuleList);
        const y = model.forward({ training: false, rng: createRng(2) }, nv.tf.ones([1, 3]));
        // 3 * 0.5 = 1.5 per output, bias 0, then exact GELU(1.5) = 1.5 * Phi(1.5) = 1.399789
        expect(Math.abs(y.dataSync()[0]! - 1.3997894)).toBeLessThan(1e-5);
        expect(typeof nv.randomPatchMask).toBe('function');
        expect(typeof nv.fcmaeLoss).toBe('function');
      });
    });

    describe('parameters and initialisation', () => {
      it('registers official names, layouts and no-decay flags', () => {
        const table = (m: { namedParameters(): Array<[string, { variable: tf.Variable; noDecay: boolean }]> }) =>
          m.namedParameters().map(([n, p]) => [n, p.variable.shape, p.noDecay]);
        expect(table(new Conv2d(3, 40, { kernel: 4, stride: 4 }))).toEqual([
          ['weight', [4, 4, 3, 40], false],
          ['bias', [40], true],
        ]);
        expect(table(new DepthwiseConv2d(40))).toEqual([
          ['weight', [7, 7, 40, 1], false],
          ['bias', [40], true],
        ]);
        expect(table(new Linear(40, 160))).toEqual([
          ['weight', [40, 160], false],
          ['bias', [160], true],
        ]);
        expect(table(new LayerNorm(40))).toEqual([
          ['weight', [40], true],
          ['bias', [40], true],
        ]);
        expect(table(new GRN(160))).toEqual([
          ['gamma', [160], true],
          ['beta', [160], true],
        ]);
        const block = new Block(8);
        expect(block.namedParameters().map(([n]) => n)).toEqual([
          'dwconv.weight',
          'dwconv.bias',
          'norm.weight',
          'norm.bias',
          'pwconv1.weight',
          'pwconv1.bias',
          'grn.gamma',
          'grn.beta',
          'pwconv2.weight',
          'pwconv2.bias',
        ]);
        const ca = new CrossAttention(16, 14, { heads: 2, preNorm: true });
        expect(ca.namedParameters().map(([n, p]) => `${n}:${p.variable.shape.join('x')}`)).toEqual([
          'norm.weight:16',
          'norm.bias:16',
          'norm_kv.weight:14',
          'norm_kv.bias:14',
          'q.weight:16x16',
          'q.bias:16',
          'k.weight:14x16',
          'k.bias:16',
          'v.weight:14x16',
          'v.bias:16',
          'out.weight:16x16',
          'out.bias:16',
        ]);
      });

      it('LayerNorm starts at ones/zeros and GRN at zeros (identity)', () => {
        const ln = new LayerNorm(5);
        expect(Array.from(ln.weight.dataSync())).toEqual([1, 1, 1, 1, 1]);
        expect(Array.from(ln.bias.dataSync())).toEqual([0, 0, 0, 0, 0]);
        const g = new GRN(3);
        const x = randn([1, 2, 2, 3], 1);
        expect(maxAbsDiff(g.forward(evalCtx(), x), x)).toBe(0);
      });

      // Initializers draw on the host (runtime/init.ts) and only upload the result, so their
      // statistics are the same on every backend: checked once, on cpu.
      if (backend === 'cpu')
        it('trunc_normal uses absolute bounds and the right spread; kaiming_uniform bound 1/sqrt(fanIn)', () => {
          const rng = createRng(7);
          const t = init.truncNormal({ std: 1 })([20000], rng).dataSync();
          let s = 0;
          let s2 = 0;
          for (const x of t) {
            expect(Math.abs(x)).toBeLessThanOrEqual(2);
            s += x;
            s2 += x * x;
          }
          // N(0,1) truncated to [-2, 2]: sd 0.8796; sampling sd of the estimate ~0.005
          expect(Math.abs(s / t.length)).toBeLessThan(0.03);
          expect(Math.abs(Math.sqrt(s2 / t.length) - 0.8796)).toBeLessThan(0.02);
          const small = init.truncNormal({ std: 0.02 })([20000], rng).dataSync();
          const sd = Math.sqrt(Array.from(small).reduce((a, x) => a + x * x, 0) / small.length);
          expect(Math.abs(sd - 0.02)).toBeLessThan(0.0005);
          const k = init.kaimingUniform()([64, 10], rng).dataSync();
          const bound = 1 / 8;
          expect(Math.max(...Array.from(k, Math.abs))).toBeLessThanOrEqual(bound);
          expect(Math.max(...Array.from(k, Math.abs))).toBeGreaterThan(0.9 * bound);
          expect(() => init.truncNormal({ std: 1, a: 50, b: 60 })).toThrow();
        });

      if (backend === 'cpu')
        it('zeros, ones, constant, normal, uniform, scaled and torch bias behave as specified', () => {
          const rng = createRng(8);
          expect(Array.from(init.zeros()([3], rng).dataSync())).toEqual([0, 0, 0]);
          expect(Array.from(init.ones()([2], rng).dataSync())).toEqual([1, 1]);
          expect(Array.from(init.constant(0.25)([2], rng).dataSync())).toEqual([0.25, 0.25]);
          const n = Array.from(init.normal(0.5, 3)([20000], rng).dataSync());
          const mean = n.reduce((a, x) => a + x, 0) / n.length;
          const sd = Math.sqrt(n.reduce((a, x) => a + (x - mean) ** 2, 0) / n.length);
          expect(Math.abs(mean - 3)).toBeLessThan(0.02); // sampling sd 0.0035
          expect(Math.abs(sd - 0.5)).toBeLessThan(0.01);
          const u = Array.from(init.uniform(-1, 3)([20000], rng).dataSync());
          expect(Math.min(...u)).toBeGreaterThanOrEqual(-1);
          expect(Math.max(...u)).toBeLessThan(3);
          expect(Math.abs(u.reduce((a, x) => a + x, 0) / u.length - 1)).toBeLessThan(0.04);
          const s = init.scaled(init.constant(2), 0.001)([2], rng).dataSync();
          expect(Math.abs(s[0]! - 0.002)).toBeLessThan(1e-9);
          const tb = Array.from(init.torchDefaultBias(16)([5000], rng).dataSync());
          expect(Math.max(...tb.map(Math.abs))).toBeLessThanOrEqual(0.25);
          expect(Math.max(...tb.map(Math.abs))).toBeGreaterThan(0.24);
          expect(Math.abs(init.erf(1) - 0.8427007929497149)).toBeLessThan(1e-13);
          expect(Math.abs(init.erf(-3) + 0.9999779095030014)).toBeLessThan(1e-13);
        });

      it('the same init seed builds identical modules', () => {
        setInitRng(createRng(5));
        const a = new Linear(6, 4);
        setInitRng(createRng(5));
        const b = new Linear(6, 4);
        expect(Array.from(a.weight.dataSync())).toEqual(Array.from(b.weight.dataSync()));
        expect(maxAbs(a.weight)).toBeGreaterThan(0);
      });
    });

    describe('containers', () => {
      it('Sequential names children 0,1,... and threads inputs; Identity passes through', () => {
        const seq = new Sequential(new Linear(4, 6), new Identity(), new Linear(6, 2));
        expect(seq.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
        const x = randn([3, 4], 2);
        const ref = ops.linear(
          ops.linear(x, seq.at(0).namedParameters()[0]![1].variable, seq.at(0).namedParameters()[1]![1].variable),
          seq.at(2).namedParameters()[0]![1].variable,
          seq.at(2).namedParameters()[1]![1].variable,
        );
        expect(maxAbsDiff(seq.forward(evalCtx(), x), ref)).toBeLessThan(1e-6);
      });

      it('parameterless layers compose a classifier head in a Sequential', () => {
        const head = new Sequential<Layer>(
          new GlobalAvgPool(),
          new LayerNorm(4),
          new Linear(4, 6),
          new GELU(),
          new Activation('relu'),
          new Lambda((_c, t) => tf.mul(t, 2), 'double'),
          new Flatten(),
        );
        randomizeParameters(head, 70);
        expect(head.namedParameters().map(([n]) => n)).toEqual(['1.weight', '1.bias', '2.weight', '2.bias']);
        const x = randn([2, 3, 3, 4], 71);
        const ln = head.at(1) as LayerNorm;
        const lin = head.at(2) as Linear;
        const ref = tf.mul(tf.relu(ops.gelu(lin.forward(evalCtx(), ln.forward(evalCtx(), ops.globalAvgPool(x))))), 2);
        expect(maxAbsDiff(head.forward(evalCtx(), x), ref)).toBeLessThan(1e-6);
        expect(() => new Activation('swish' as never)).toThrow(/unknown activation/);
      });

      it('Sparse() marks every sparse-capable layer below a module and keeps paths', () => {
        const model = new ConvNeXtV2({ depths: [1, 1], dims: [4, 8], numClasses: null });
        const before = model.namedParameters().map(([n]) => n);
        expect(Sparse(model)).toBe(model);
        expect(model.namedParameters().map(([n]) => n)).toEqual(before);
        const stage = model.stages.at(0).at(0);
        expect(stage.sparse && stage.dwconv.sparse && stage.grn.sparse).toBe(true);
        expect(() => Sparse(new Linear(2, 2))).toThrow(/no layer with a sparse mode/);
      });
    });

    describe('attention layers', () => {
      it('MultiHeadAttention equals the functional composition with its own weights', () => {
        const mha = new MultiHeadAttention(8, { heads: 2 });
        randomizeParameters(mha, 3);
        const x = randn([2, 5, 8], 4);
        const w = (n: string) => mha.namedParameters().find(([p]) => p === n)![1].variable;
        const q = ops.splitHeads(ops.linear(x, w('q.weight'), w('q.bias')), 2);
        const k = ops.splitHeads(ops.linear(x, w('k.weight'), w('k.bias')), 2);
        const v = ops.splitHeads(ops.linear(x, w('v.weight'), w('v.bias')), 2);
        const ref = ops.linear(
          ops.mergeHeads(ops.scaledDotProductAttention(q, k, v), 2),
          w('out.weight'),
          w('out.bias'),
        );
        expect(maxAbsDiff(mha.forward(evalCtx(), x), ref)).toBeLessThan(1e-5);
      });

      it('CrossAttention with one key/value token gives out(v(kv)) at every query position', () => {
        const ca = new CrossAttention(6, 14, { heads: 3 });
        randomizeParameters(ca, 5);
        const img = randn([2, 3, 4, 6], 6); // NHWC queries
        const labs = randn([2, 14], 7); // one lab vector per sample
        const y = ca.forward(evalCtx(), img, labs);
        expect(y.shape).toEqual([2, 3, 4, 6]);
        const vOut = ca.out.forward(evalCtx(), ca.v.forward(evalCtx(), labs)); // [2, 6]
        const expected = tf.add(tf.zeros([2, 3, 4, 6]), tf.reshape(vOut, [2, 1, 1, 6]));
        expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
      });

      it('pre-norm + residual option: y = x + out(attn(LN(x), LN(kv)))', () => {
        const ca = new CrossAttention(4, 3, { preNorm: true, residual: true });
        randomizeParameters(ca, 8);
        const x = randn([1, 5, 4], 9);
        const kv = randn([1, 2, 3], 10);
        const xn = ca.norm!.forward(evalCtx(), x);
        const kn = ca.normKv!.forward(evalCtx(), kv);
        const att = ops.scaledDotProductAttention(
          ca.q.forward(evalCtx(), xn),
          ca.k.forward(evalCtx(), kn),
          ca.v.forward(evalCtx(), kn),
        );
        const ref = tf.add(x, ca.out.forward(evalCtx(), att));
        expect(maxAbsDiff(ca.forward(evalCtx(), x, kv), ref)).toBeLessThan(1e-5);
        expect(() => ca.forward(evalCtx(), x)).toThrow(/kv is required/);
      });
    });

    describe('gradients of every layer (central differences, rtol 2e-2 + atol 2e-3)', () => {
      it('Conv2d: stem 4x4/4, 2x2/2, and a general 3x3/2 same conv', () => {
        for (const [k, s, pad, hw] of [
          [4, 4, 'valid', 8],
          [2, 2, 'valid', 4],
          [3, 2, 'same', 5],
        ] as const) {
          const conv = new Conv2d(2, 3, { kernel: k, stride: s, padding: pad });
          randomizeParameters(conv, 11 + k);
          const x = tf.variable(randn([1, hw, hw, 2], 12 + k));
          expectGradOk(checkGradients(() => conv.forward(evalCtx(), x), withParams(conv, ['x', x])));
        }
      });

      it('DepthwiseConv2d 7x7 same', () => {
        const dw = new DepthwiseConv2d(2);
        randomizeParameters(dw, 13);
        const x = tf.variable(randn([1, 5, 5, 2], 14));
        expectGradOk(checkGradients(() => dw.forward(evalCtx(), x), withParams(dw, ['x', x])));
      });

      it('Linear (rank 3) and LayerNorm', () => {
        const lin = new Linear(3, 4);
        const ln = new LayerNorm(4);
        randomizeParameters(lin, 15);
        randomizeParameters(ln, 16);
        const x = tf.variable(randn([2, 3, 3], 17));
        expectGradOk(
          checkGradients(
            () => ln.forward(evalCtx(), lin.forward(evalCtx(), x)),
            [...withParams(lin, ['x', x]), ...withParams(ln)],
            { h: 5e-3 },
          ),
        );
      });

      it('GRN masked through ctx.mask (one sample fully masked), both statistics', () => {
        const mask = tf.tensor4d([0, 1, 0, 0, 1, 1, 1, 1], [2, 2, 2, 1]);
        for (const maskedStatistics of ['sample', 'batch'] as const) {
          const g = new GRN(3, { sparse: true, maskedStatistics });
          randomizeParameters(g, 18);
          const x = tf.variable(randn([2, 4, 4, 3], 19));
          expectGradOk(checkGradients(() => g.forward(evalCtx(mask), x), withParams(g, ['x', x]), { h: 5e-3 }));
        }
      });

      it('MultiHeadAttention and CrossAttention (pre-norm, residual)', () => {
        const mha = new MultiHeadAttention(4, { heads: 2 });
        randomizeParameters(mha, 20);
        const x = tf.variable(randn([2, 3, 4], 21));
        expectGradOk(checkGradients(() => mha.forward(evalCtx(), x), withParams(mha, ['x', x])));
        const ca = new CrossAttention(4, 3, { heads: 2, preNorm: true, residual: true });
        randomizeParameters(ca, 22);
        const kv = tf.variable(randn([2, 2, 3], 23));
        expectGradOk(
          checkGradients(() => ca.forward(evalCtx(), x, kv), withParams(ca, ['x', x], ['kv', kv]), { h: 5e-3 }),
        );
      });

      it('DropPath in training with a fixed rng', () => {
        const dp = new DropPath(0.5);
        const x = tf.variable(randn([6, 2, 2, 1], 24));
        const ctx = () => ({ training: true, rng: createRng(9) });
        expect(maxAbs(dp.forward(ctx(), x))).toBeGreaterThan(0);
        expectGradOk(checkGradients(() => dp.forward(ctx(), x), [['x', x]]));
      });

      it('ConvNeXt-V2 Block, dense and sparse under a mask', () => {
        const block = new Block(4, { dropPath: 0.3 });
        randomizeParameters(block, 25);
        const x = tf.variable(randn([2, 4, 4, 4], 26));
        const train = () => ({ training: true, rng: createRng(4) });
        expectGradOk(
          checkGradients(() => block.forward(train(), x), withParams(block, ['x', x]), { h: 5e-3, maxElements: 24 }),
        );
        Sparse(block);
        const mask = tf.tensor4d([0, 1, 1, 0, 0, 0, 1, 0], [2, 2, 2, 1]);
        const keep = ops.keepMap(mask, 4, 4);
        const xm = tf.variable(tf.mul(x, keep));
        expectGradOk(
          checkGradients(
            () => block.forward({ ...train(), mask: mask as tf.Tensor4D }, xm),
            withParams(block, ['x', xm]),
            { h: 5e-3, maxElements: 24 },
          ),
        );
      });
    });

    describe('ConvNeXt-V2 (test reference built from these layers)', () => {
      // Parameter counts and names do not depend on the backend; building 7M parameters on wasm
      // costs twice what it costs on cpu, so this runs on cpu only.
      if (backend === 'cpu')
        it('atto has 3,708,400 parameters with a 1000-class head, 3,386,760 encoder-only', () => {
          const atto = new ConvNeXtV2({ ...ATTO });
          expect(atto.parameterCount()).toBe(3_708_400);
          const names = atto.namedParameters().map(([n]) => n);
          expect(names).toContain('downsample_layers.0.0.weight');
          expect(names).toContain('downsample_layers.0.1.bias');
          expect(names).toContain('downsample_layers.3.1.weight');
          expect(names).toContain('stages.2.5.grn.gamma');
          expect(names).toContain('stages.3.1.pwconv2.bias');
          expect(names.slice(-4)).toEqual(['norm.weight', 'norm.bias', 'head.weight', 'head.bias']);
          atto.dispose();
          const encoder = new ConvNeXtV2({ ...ATTO, numClasses: null });
          expect(encoder.parameterCount()).toBe(3_386_760);
          const decoder = new FcmaeDecoder(320, { makeBlock: (d) => new Block(d) });
          expect(encoder.parameterCount() + decoder.parameterCount()).toBe(7_257_992);
          expect(
            decoder
              .namedParameters()
              .map(([n]) => n)
              .filter((n) => !n.startsWith('decoder.0.')),
          ).toEqual(['mask_token', 'proj.weight', 'proj.bias', 'pred.weight', 'pred.bias']);
          encoder.dispose();
          decoder.dispose();
        });

      // Small encoder: stride 32 over 4 stages, so a 128x128 image is a 4x4 patch grid.
      const SMALL = { depths: [1, 1, 2, 1], dims: [8, 12, 16, 24], numClasses: null } as const;

      it('dense emulation: visible outputs equal the dense encoder on the visible rectangle alone', () => {
        // Sample 0 sees exactly patch rows 1-2 and columns 1-3 (a 2x3 rectangle); sample 1 has an
        // unrelated random mask. Why the crop is an exact reference: every stride (4, 8, 16, 32)
        // divides the crop offset (32, 32), so conv windows align; zero padding of the crop at its
        // border equals the zeroed removed neighbours of the masked model; per-sample GRN
        // statistics over visible positions equal those over the whole crop; LN, Linear, GELU are
        // per position. So only float summation order may differ.
        const model = new ConvNeXtV2({ ...SMALL, sparse: true });
        randomizeParameters(model, 30);
        const img = randn([2, 128, 128, 3], 31);
        const rect = [1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1];
        const other = Array.from(ops.randomMaskValues(1, 16, 0.5, createRng(32)));
        const mask = tf.tensor4d([...rect, ...other], [2, 4, 4, 1]);
        const out = model.features(evalCtx(mask as tf.Tensor4D), img);
        expect(out.shape).toEqual([2, 4, 4, 24]);

        const dense = new ConvNeXtV2({ ...SMALL });
        for (const [[, a], [, b]] of dense.namedParameters().map((e, i) => [e, model.namedParameters()[i]!] as const))
          a.variable.assign(b.variable);
        const crop = tf.slice(img, [0, 32, 32, 0], [1, 64, 96, 3]);
        const ref = dense.features(evalCtx(), crop);
        const got = tf.slice(out, [0, 1, 1, 0], [1, 2, 3, 24]);
        const scale = maxAbs(ref);
        expect(scale).toBeGreaterThan(0.1);
        expect(maxAbsDiff(got, ref)).toBeLessThan(1e-4 * scale);
        // removed cells are exactly zero in both samples
        const o = out.dataSync();
        const m = mask.dataSync();
        for (let cell = 0; cell < 32; cell++)
          if (m[cell] === 1) for (let c = 0; c < 24; c++) expect(o[cell * 24 + c] === 0).toBe(true);
        // without a mask, the sparse-flagged model is the dense model
        expect(maxAbsDiff(model.features(evalCtx(), crop), ref)).toBe(0);
      });

      it('masked outputs do not depend on the content of removed patches (bit-exact)', () => {
        const model = new ConvNeXtV2({ ...SMALL, sparse: true });
        randomizeParameters(model, 33);
        const mask = ops.randomPatchMask(2, 128, 128, 32, 0.6, createRng(34));
        const img = randn([2, 128, 128, 3], 35);
        const removedPixels = ops.upsampleMask(mask, 128, 128);
        const scrambled = tf.add(img, tf.mul(removedPixels, randn([2, 128, 128, 3], 36, 10)));
        const a = model.features(evalCtx(mask), img);
        const b = model.features(evalCtx(mask), scrambled);
        expect(maxAbs(a)).toBeGreaterThan(0.1);
        expect(maxAbsDiff(a, b)).toBe(0);
        // the GRN masking rule matters: statistics over all positions would leak LN(0) = beta
        const leaky = new ConvNeXtV2({ ...SMALL, sparse: true });
        for (const [[, p], [, q]] of leaky.namedParameters().map((e, i) => [e, model.namedParameters()[i]!] as const))
          p.variable.assign(q.variable);
        for (const stage of leaky.stages.items) for (const blk of stage.items) blk.grn.sparse = false;
        const c = leaky.features(evalCtx(mask), img);
        expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
      });

      it('batch-global masked GRN equals MinkowskiGRN on the stacked visible points', () => {
        const x = randn([2, 4, 4, 3], 37);
        const mask = tf.tensor4d([0, 1, 1, 0, 1, 0, 1, 1], [2, 2, 2, 1]);
        const gamma = randn([3], 38);
        const beta = randn([3], 39);
        const y = ops.grn(x, gamma, beta, { keep: ops.keepMap(mask, 4, 4), statistics: 'batch' }).dataSync();
        const xs = x.dataSync();
        const ms = mask.dataSync();
        const g = [0, 0, 0];
        const visiblePos: number[] = [];
        for (let n = 0; n < 2; n++)
          for (let i = 0; i < 4; i++)
            for (let j = 0; j < 4; j++)
              if (ms[(n * 2 + (i >> 1)) * 2 + (j >> 1)] === 0) visiblePos.push((n * 4 + i) * 4 + j);
        for (const pos of visiblePos) for (let c = 0; c < 3; c++) g[c]! += xs[pos * 3 + c]! ** 2;
        const gx = g.map(Math.sqrt);
        const meanG = (gx[0]! + gx[1]! + gx[2]!) / 3;
        const ga = gamma.dataSync();
        const be = beta.dataSync();
        for (const pos of visiblePos)
          for (let c = 0; c < 3; c++) {
            const xv = xs[pos * 3 + c]!;
            const expected = ga[c]! * xv * (gx[c]! / (meanG + 1e-6)) + be[c]! + xv;
            expect(Math.abs(y[pos * 3 + c]! - expected)).toBeLessThan(1e-5 * (1 + Math.abs(expected)));
          }
      });
    });

    describe('memory', () => {
      it('forward passes outside tf.tidy leave only their output behind', () => {
        const mask = ops.randomPatchMask(2, 8, 8, 4, 0.5, createRng(60));
        const x = randn([2, 8, 8, 4], 61);
        const kv = randn([2, 3], 62);
        const cases: Array<[string, () => tf.Tensor]> = [];
        const block = Sparse(new Block(4, { dropPath: 0.2 }));
        const seq = new Sequential<Conv2d | LayerNorm>(
          new Conv2d(4, 6, { kernel: 2, stride: 2, sparse: true }),
          new LayerNorm(6, { sparse: true }),
        );
        const ca = new CrossAttention(4, 3, { heads: 2, preNorm: true, residual: true });
        const dec = new FcmaeDecoder(4, { embedDim: 4, patchSize: 2, makeBlock: (d) => new Block(d) });
        const grnLayer = new GRN(4, { sparse: true });
        cases.push(['sparse block (training)', () => block.forward({ training: true, rng: createRng(1), mask }, x)]);
        cases.push(['sparse sequential', () => seq.forward(evalCtx(mask), x)]);
        const conv = new Conv2d(4, 6, { kernel: 3, padding: 'same', sparse: true });
        const dw = new DepthwiseConv2d(4, { sparse: true });
        const ln = new LayerNorm(4, { sparse: true });
        cases.push(['sparse conv', () => conv.forward(evalCtx(mask), x)]);
        cases.push(['sparse depthwise', () => dw.forward(evalCtx(mask), x)]);
        cases.push(['sparse layer norm', () => ln.forward(evalCtx(mask), x)]);
        cases.push(['cross-attention', () => ca.forward(evalCtx(), x, kv)]);
        cases.push(['sparse GRN', () => grnLayer.forward(evalCtx(mask), x)]);
        const decMask = ops.randomPatchMask(2, 8, 8, 2, 0.5, createRng(63));
        const feats = tf.slice(x, [0, 0, 0, 0], [2, 4, 4, 4]);
        cases.push(['decoder', () => dec.forward(evalCtx(decMask), feats)]);
        for (const [name, run] of cases) {
          run().dispose(); // warm-up (lazy backend state)
          const before = tf.memory().numTensors;
          const y = run();
          y.dispose();
          expect([name, tf.memory().numTensors - before]).toEqual([name, 0]);
        }
      });
    });

    describe('FCMAE decoder and loss', () => {
      it('replaces removed cells by the mask token before the dense blocks', () => {
        const dec = new FcmaeDecoder(6, { embedDim: 8, patchSize: 2, depth: 1, makeBlock: (d) => new Block(d) });
        randomizeParameters(dec, 40);
        const feats = randn([2, 3, 3, 6], 41);
        const mask = ops.randomPatchMask(2, 6, 6, 2, 0.5, createRng(42));
        const pred = dec.forward(evalCtx(mask), feats);
        expect(pred.shape).toEqual([2, 9, 12]);
        const other = tf.add(feats, tf.mul(mask, randn([2, 3, 3, 6], 43, 5)));
        expect(maxAbsDiff(dec.forward(evalCtx(mask), other), pred)).toBe(0);
        // with depth 0, every removed cell predicts pred(mask_token)
        const flat = new FcmaeDecoder(6, { embedDim: 8, patchSize: 2, depth: 0, makeBlock: (d) => new Block(d) });
        randomizeParameters(flat, 44);
        const p0 = flat.forward(evalCtx(mask), feats).arraySync() as number[][][];
        const tokenPred = ops
          .linear(tf.reshape(flat.maskToken, [1, 8]), tf.reshape(flat.pred.weight, [8, 12]), flat.pred.bias)
          .dataSync();
        const m = mask.dataSync();
        let removed = 0;
        p0.forEach((rows, n) =>
          rows.forEach((row, l) => {
            if (m[n * 9 + l] === 1) {
              removed++;
              row.forEach((val, d) => expect(Math.abs(val - tokenPred[d]!)).toBeLessThan(1e-5));
            }
          }),
        );
        expect(removed).toBeGreaterThan(0);
      });

      it('gradient check of decoder + norm-pix masked loss', () => {
        const dec = new FcmaeDecoder(4, { embedDim: 4, patchSize: 2, depth: 1, makeBlock: (d) => new Block(d) });
        randomizeParameters(dec, 45);
        const feats = tf.variable(randn([1, 2, 2, 4], 46));
        const imgs = randn([1, 4, 4, 3], 47);
        const mask = tf.tensor4d([1, 0, 1, 1], [1, 2, 2, 1]);
        expectGradOk(
          checkGradients(
            () => ops.fcmaeLoss(imgs, dec.forward(evalCtx(mask), feats), mask, { patchSize: 2 }),
            withParams(dec, ['feats', feats]),
            { h: 5e-3, maxElements: 16 },
          ),
        );
      });

      it('one SGD step on a masked encoder + decoder lowers the FCMAE loss', () => {
        setInitRng(createRng(50));
        const enc = new ConvNeXtV2({ depths: [1, 1], dims: [8, 16], numClasses: null, sparse: true });
        const dec = new FcmaeDecoder(16, { embedDim: 16, patchSize: 8, depth: 1, makeBlock: (d) => new Block(d) });
        const imgs = randn([2, 32, 32, 3], 51);
        const mask = ops.randomPatchMask(2, 32, 32, 8, 0.6, createRng(52));
        const ctx = evalCtx(mask);
        const loss = () => ops.fcmaeLoss(imgs, dec.forward(ctx, enc.features(ctx, imgs)), mask, { patchSize: 8 });
        const vars = [...enc.namedParameters(), ...dec.namedParameters()].map(([, p]) => p.variable);
        const before = loss().dataSync()[0]!;
        const { value, grads } = tf.variableGrads(loss, vars);
        expect(value.dataSync()[0]).toBeCloseTo(before, 5);
        const stem = grads[enc.namedParameters()[0]![1].variable.name]!;
        expect(maxAbs(stem)).toBeGreaterThan(0);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.05)));
        const after = loss().dataSync()[0]!;
        expect(Number.isFinite(after)).toBe(true);
        expect(after).toBeLessThan(before);
      });
    });
  });
}
