/**
 * The SIMD depthwise kernels (runtime/kernels/simd) against the cpu backend's kernels, their use
 * in tf.depthwiseConv2d's gradients on wasm, the fallbacks, the env switch, and the committed
 * .wasm against the WAT it is assembled from.
 *
 * Tolerance: normwise relative error max|a-b| / max|b| <= 1e-5; both sides sum float32 products
 * in different orders (differences here are ~1e-7).
 * Backends are switched only with no live tensors (runtime/backend.ts: detached-buffer trap).
 */
import * as fs from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../runtime/kernels/index.js';
import { assembleDepthwiseWat, WASM_PATH } from '../../runtime/kernels/simd/build-wasm.js';
import { supportedGeometry } from '../../runtime/kernels/simd/depthwise.js';
import { on, relErr, size, values } from '../support/kernel-compare.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  pad: Pad;
}

const outSize = (s: Case, d: number) => (s.pad === 'valid' ? d - s.k + 1 : d);

/** Forward, input gradient and filter gradient of one case, each run as a kernel on the current backend. */
function allThree(s: Case) {
  const xShape = [s.n, s.h, s.w, s.c];
  const fShape = [s.k, s.k, s.c, 1];
  const yShape = [s.n, outSize(s, s.h), outSize(s, s.w), s.c];
  const base = { strides: 1, pad: s.pad, dilations: 1 };
  return tf.tidy(() => {
    const x = tf.tensor(values(size(xShape), 1), xShape);
    const f = tf.tensor(values(size(fShape), 2), fShape);
    const dy = tf.tensor(values(size(yShape), 3), yShape);
    const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: object) =>
      (tf.engine().runKernel(name, inputs as never, { ...base, ...attrs } as never) as tf.Tensor).dataSync().slice();
    return {
      y: run('DepthwiseConv2dNative', { x, filter: f }, {}),
      dx: run('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { inputShape: xShape }),
      dw: run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { filterShape: fShape }),
    };
  });
}

/** Top pad 3 > k-1 for a 3x3: outside the SIMD kernels' cases. */
const WIDE_PAD: [[number, number], [number, number], [number, number], [number, number]] = [
  [0, 0],
  [3, 1],
  [0, 2],
  [0, 0],
];

const CASES: Case[] = [];
for (const c of [1, 3, 4, 40, 41]) {
  for (const k of [3, 7]) CASES.push({ n: c % 2 === 0 ? 2 : 1, h: 9, w: 6, c, k, pad: 'same' });
}
CASES.push(
  { n: 2, h: 3, w: 5, c: 5, k: 7, pad: 'same' }, // H < k
  { n: 1, h: 2, w: 2, c: 8, k: 7, pad: 'same' }, // H and W < k
  { n: 1, h: 1, w: 9, c: 4, k: 3, pad: 'same' },
  {
    n: 2,
    h: 8,
    w: 7,
    c: 6,
    k: 7,
    pad: [
      [0, 0],
      [3, 3],
      [3, 3],
      [0, 0],
    ],
  }, // explicit symmetric
  { n: 1, h: 10, w: 9, c: 7, k: 5, pad: 'valid' },
);

describe('SIMD depthwise kernels on wasm', () => {
  beforeAll(async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('cpu');
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  });
  afterEach(() => {
    delete process.env['NVCC_WASM_SIMD_DEPTHWISE'];
  });

  it('the committed depthwise.wasm is what build-wasm.ts assembles from depthwise.wat', async () => {
    const built = await assembleDepthwiseWat();
    expect(Buffer.from(fs.readFileSync(WASM_PATH)).equals(Buffer.from(built))).toBe(true);
  });

  it.each(CASES)('forward, backprop-input, backprop-filter equal cpu: %o', async (s) => {
    expect(supportedGeometry([s.n, s.h, s.w, s.c], [s.k, s.k, s.c, 1], { strides: 1, pad: s.pad })).not.toBeNull();
    const cpu = await on('cpu', () => allThree(s));
    const wasm = await on('wasm', () => allThree(s));
    expect(relErr(wasm.y, cpu.y)).toBeLessThanOrEqual(1e-5);
    expect(relErr(wasm.dx, cpu.dx)).toBeLessThanOrEqual(1e-5);
    expect(relErr(wasm.dw, cpu.dw)).toBeLessThanOrEqual(1e-5);
  });

  it('gradients of tf.depthwiseConv2d and tf.fused.depthwiseConv2d (bias) on wasm equal cpu', async () => {
    const xShape: [number, number, number, number] = [2, 11, 10, 41];
    const fShape: [number, number, number, number] = [7, 7, 41, 1];
    const grads = () =>
      tf.tidy(() => {
        const x = tf.tensor(values(size(xShape), 4), xShape) as tf.Tensor4D;
        const f = tf.tensor(values(size(fShape), 5), fShape) as tf.Tensor4D;
        const b = tf.tensor(values(41, 6), [41]) as tf.Tensor1D;
        const r = tf.tensor(values(size(xShape), 7), xShape);
        const loss = (xi: tf.Tensor, fi: tf.Tensor, bi: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.fused.depthwiseConv2d({
                x: xi as tf.Tensor4D,
                filter: fi as tf.Tensor4D,
                bias: bi,
                strides: 1,
                pad: 'same',
              }),
              r,
            ),
          );
        const [gx, gf, gb] = tf.grads(loss)([x, f, b]);
        const [px, pf] = tf.grads((xi: tf.Tensor, fi: tf.Tensor) =>
          tf.sum(tf.mul(tf.depthwiseConv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, 1, 'same'), r)),
        )([x, f]);
        const y = tf.depthwiseConv2d(x, f, 1, 'same');
        return {
          gx: gx!.dataSync().slice(),
          gf: gf!.dataSync().slice(),
          gb: gb!.dataSync().slice(),
          y: y.dataSync().slice(),
          px: px!.dataSync().slice(),
          pf: pf!.dataSync().slice(),
        };
      });
    const cpu = await on('cpu', grads);
    const wasm = await on('wasm', grads);
    for (const key of ['gx', 'gf', 'gb', 'y', 'px', 'pf'] as const)
      expect(relErr(wasm[key], cpu[key])).toBeLessThanOrEqual(1e-5);
  });

  it(
    'unsupported cases go to the previous kernels and stay correct (stride 2, dilation 2, multiplier 2, pad ' +
      '> k-1)',
    async () => {
      expect(supportedGeometry([1, 8, 8, 4], [3, 3, 4, 1], { strides: 2, pad: 'same' })).toBeNull();
      expect(supportedGeometry([1, 8, 8, 4], [3, 3, 4, 1], { strides: 1, dilations: 2, pad: 'same' })).toBeNull();
      expect(supportedGeometry([1, 8, 8, 4], [3, 3, 4, 2], { strides: 1, pad: 'same' })).toBeNull();
      expect(supportedGeometry([1, 8, 8, 4], [3, 3, 4, 1], { strides: 1, pad: WIDE_PAD })).toBeNull();
      expect(
        supportedGeometry([1, 8, 8, 4], [5, 5, 4, 1], {
          strides: 1,
          pad: [
            [0, 0],
            [4, 0],
            [1, 3],
            [0, 0],
          ],
        }),
      ).not.toBeNull();
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor(values(2 * 9 * 9 * 6, 8), [2, 9, 9, 6]) as tf.Tensor4D;
          const strided = tf.depthwiseConv2d(x, tf.tensor(values(54, 9), [3, 3, 6, 1]) as tf.Tensor4D, 2, 'same');
          const dilated = tf.depthwiseConv2d(
            x,
            tf.tensor(values(54, 9), [3, 3, 6, 1]) as tf.Tensor4D,
            1,
            'same',
            'NHWC',
            2,
          );
          const mult = tf.depthwiseConv2d(x, tf.tensor(values(108, 10), [3, 3, 6, 2]) as tf.Tensor4D, 1, 'same');
          // asymmetric explicit pads inside [0, k-1]: the SIMD kernels
          const f = tf.tensor(values(6 * 25, 11), [5, 5, 6, 1]) as tf.Tensor4D;
          const [gx, gf] = tf.grads((xi: tf.Tensor, fi: tf.Tensor) =>
            tf.sum(
              tf.square(
                tf.depthwiseConv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, 1, [
                  [0, 0],
                  [4, 0],
                  [1, 3],
                  [0, 0],
                ]),
              ),
            ),
          )([x, f]);
          // a pad larger than k-1: XNNPACK forward, forward-op gradients
          const f3 = tf.tensor(values(54, 12), [3, 3, 6, 1]) as tf.Tensor4D;
          const [gx3, gf3] = tf.grads((xi: tf.Tensor, fi: tf.Tensor) =>
            tf.sum(tf.square(tf.depthwiseConv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, 1, WIDE_PAD))),
          )([x, f3]);
          return [strided, dilated, mult, gx!, gf!, gx3!, gf3!].map((t) => t.dataSync().slice());
        });
      const cpu = await on('cpu', run);
      const wasm = await on('wasm', run);
      cpu.forEach((c, i) => expect(relErr(wasm[i]!, c)).toBeLessThanOrEqual(1e-5));
    },
  );

  it('NVCC_WASM_SIMD_DEPTHWISE=0 sends every call to the previous kernels (same values)', async () => {
    const s: Case = { n: 2, h: 7, w: 8, c: 41, k: 7, pad: 'same' };
    const simd = await on('wasm', () => allThree(s));
    process.env['NVCC_WASM_SIMD_DEPTHWISE'] = '0';
    const engine = tf.engine() as unknown as { state: { numTensors: number } };
    // The forward-op fallbacks run extra kernels (Reverse, PadV2, Transpose): count them to tell the paths apart.
    const profile = await tf.profile(() => {
      allThree(s);
    });
    const off = await on('wasm', () => allThree(s));
    expect(profile.kernelNames).toEqual(expect.arrayContaining(['Reverse', 'Transpose']));
    delete process.env['NVCC_WASM_SIMD_DEPTHWISE'];
    const onProfile = await tf.profile(() => {
      allThree(s);
    });
    expect(onProfile.kernelNames).not.toContain('Reverse');
    expect(onProfile.kernelNames).not.toContain('Transpose');
    expect(engine.state.numTensors).toBe(0);
    for (const key of ['y', 'dx', 'dw'] as const) expect(relErr(off[key], simd[key])).toBeLessThanOrEqual(1e-5);
  });
});
