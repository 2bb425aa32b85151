/**
 * The wasm training kernels (runtime/kernels) against the cpu backend's own kernels, and their
 * gradients against central finite differences, on wasm and on cpu.
 *
 * Tolerances:
 * - kernel vs cpu: normwise relative error max|a-b| / max|b| <= 1e-5 (float32 accumulation-order
 *   differences are ~1e-7 here).
 * - finite differences: every op checked is linear in each argument, so the central difference
 *   (L(x+eps·e) - L(x-eps·e)) / 2eps of L = Σ y·R has no truncation error; only float32 rounding
 *   of y (relative ~6e-8, summed in float64 on the host) enters. With eps = 1e-2 that is below
 *   1e-4 of the gradient's scale, so we require |fd - g| <= 1e-3 · max|g| + 1e-5 at sampled
 *   coordinates.
 * Backends are switched only with no live tensors (see runtime/backend.ts: detached-buffer trap).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  REROUTED_WASM_KERNELS,
  registerWasmTrainingKernels,
  UnsupportedKernelCase,
} from '../../runtime/kernels/index.js';
import {
  addKeepingShapes,
  geluExact,
  grn,
  layerNormLastAxis,
  linear,
  patchifyConv2d,
  subKeepingShapes,
} from '../../runtime/kernels/fast-ops.js';
import { on, relErr, size, values } from '../support/kernel-compare.js';

/** Runs a kernel by name on the current backend from host arrays; returns its output values and shape. */
function kernel(
  name: string,
  inputs: Record<string, { shape: number[]; data: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }>,
  attrs: object,
) {
  return tf.tidy(() => {
    const ins: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) ins[k] = tf.tensor(v.data, v.shape, v.dtype ?? 'float32');
    const out = tf.engine().runKernel(name, ins as never, attrs as never) as tf.Tensor;
    return { shape: out.shape, data: out.dataSync().slice() };
  });
}

async function compareKernel(name: string, inputs: Parameters<typeof kernel>[1], attrs: object) {
  const cpu = await on('cpu', () => kernel(name, inputs, attrs));
  const wasm = await on('wasm', () => kernel(name, inputs, attrs));
  expect(wasm.shape).toEqual(cpu.shape);
  const err = relErr(wasm.data, cpu.data);
  expect(err).toBeLessThanOrEqual(1e-5);
  return err;
}

/**
 * Checks tf.grads of L(args) = Σ f(args)·R against central differences at `samples` coordinates
 * of every argument, on the current backend.
 */
function fdCheck(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  args: Array<{ shape: number[]; seed: number }>,
  samples = 6,
  eps = 1e-2,
) {
  const hostArgs = args.map((a) => values(size(a.shape), a.seed));
  const evalL = (vals: Float32Array[]): number =>
    tf.tidy(() => {
      const y = f(...vals.map((v, i) => tf.tensor(v, args[i]!.shape)));
      const yv = y.dataSync();
      const r = values(yv.length, 999);
      let s = 0;
      for (let i = 0; i < yv.length; i++) s += yv[i]! * r[i]!;
      return s;
    });
  const grads = tf.tidy(() => {
    const ts = hostArgs.map((v, i) => tf.tensor(v, args[i]!.shape));
    const gfun = tf.grads((...xs: tf.Tensor[]) => {
      const y = f(...xs);
      return tf.sum(tf.mul(y, tf.tensor(values(y.size, 999), y.shape)));
    });
    return gfun(ts).map((g) => g.dataSync().slice() as Float32Array);
  });
  for (let a = 0; a < args.length; a++) {
    const g = grads[a]!;
    const gScale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const n = g.length;
    for (let s = 0; s < samples; s++) {
      const idx = Math.floor(((s + 0.5) / samples) * n);
      const plus = hostArgs.map((v) => v.slice());
      const minus = hostArgs.map((v) => v.slice());
      plus[a]![idx]! += eps;
      minus[a]![idx]! -= eps;
      const fd = (evalL(plus) - evalL(minus)) / (2 * eps);
      expect(Math.abs(fd - g[idx]!)).toBeLessThanOrEqual(1e-3 * gScale + 1e-5);
    }
  }
}

beforeAll(async () => {
  registerWasmTrainingKernels();
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('registration', () => {
  it('adds the missing kernels and is idempotent', () => {
    for (const k of [
      'Conv2DBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'UnsortedSegmentSum',
    ]) {
      expect(tf.getKernel(k, 'wasm'), k).toMatchObject({ kernelName: k, backendName: 'wasm' });
    }
    for (const k of REROUTED_WASM_KERNELS) {
      const config = tf.getKernel(k, 'wasm') as (tf.KernelConfig & Record<symbol, unknown>) | undefined;
      expect(config?.[Symbol.for('nvcc.routedKernel')], k).toBe(true);
    }
    const before = tf.getKernel('BatchMatMul', 'wasm');
    registerWasmTrainingKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(before);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')?.kernelFunc).not.toBe(
      tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc,
    );
  });
});

describe('Identity on wasm shares the buffer (tf.clone, tensors saved for backward)', () => {
  it('a clone allocates no bytes, stays readable after its source is disposed, and frees with the last', async () => {
    await on('wasm', () => {
      // tf.memory().numBytes counts every tensor's bytes, shared or not; buffers are counted
      // apart (numDataBuffers), and the wasm backend's own table holds one entry per buffer.
      const buffers = () => (tf.backend() as unknown as { dataIdMap: { numDataIds(): number } }).dataIdMap.numDataIds();
      const before = { engine: tf.memory().numDataBuffers, wasm: buffers() };
      const x = tf.tensor2d(values(12, 3), [3, 4]);
      const y = tf.clone(x);
      // One buffer for both tensors (wasm's own Identity made a second one).
      expect(tf.memory().numDataBuffers - before.engine).toBe(1);
      expect(buffers() - before.wasm).toBe(1);
      expect(y.shape).toEqual([3, 4]);
      const expected = x.dataSync().slice();
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual(Array.from(expected));
      y.dispose();
      expect(buffers()).toBe(before.wasm);
    });
  });

  it('gradients through saved tensors are unchanged (tf.grads of a product chain equals cpu)', async () => {
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.exp(tf.mul(a, b)), tf.square(a)));
    const run = () =>
      tf.tidy(() => {
        const a = tf.tensor2d(values(20, 5), [4, 5]);
        const b = tf.tensor2d(values(20, 6), [4, 5]);
        return tf
          .grads(f)([a, b])
          .map((g) => g.dataSync().slice());
      });
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    for (let i = 0; i < 2; i++) expect(relErr(wasm[i]!, cpu[i]!)).toBeLessThanOrEqual(1e-5);
  });
});

describe('Sum over leading and middle axes on wasm (summed in place, no transpose)', () => {
  const cases: { label: string; shape: number[]; axes: number[]; keep: boolean }[] = [
    { label: 'rows of [300, 40] (a bias gradient)', shape: [300, 40], axes: [0], keep: false },
    {
      label: 'N, H, W of [3, 9, 10, 24] (a LayerNorm parameter gradient)',
      shape: [3, 9, 10, 24],
      axes: [0, 1, 2],
      keep: false,
    },
    { label: 'H, W of [3, 9, 10, 24], kept dims (GRN statistics)', shape: [3, 9, 10, 24], axes: [1, 2], keep: true },
    { label: 'axis 1 of [5, 70, 3, 8]', shape: [5, 70, 3, 8], axes: [1], keep: false },
    { label: 'negative axes -4, -3 of [6, 40, 5, 7], kept dims', shape: [6, 40, 5, 7], axes: [-4, -3], keep: true },
  ];
  for (const c of cases)
    it(`${c.label}: equal to the transposed innermost sum bit for bit, and to cpu`, async () => {
      const data = values(size(c.shape), 21);
      const sum = () =>
        tf.tidy(() => {
          const y = tf.sum(tf.tensor(data, c.shape), c.axes, c.keep);
          return { shape: y.shape, data: y.dataSync().slice() };
        });
      // What wasm's own kernel computes: the reduced axes moved innermost, then summed there.
      const transposedSum = () =>
        tf.tidy(() => {
          const axes = c.axes.map((a) => (a < 0 ? a + c.shape.length : a));
          const rest = c.shape.map((_, i) => i).filter((i) => !axes.includes(i));
          const moved = tf.transpose(tf.tensor(data, c.shape), [...rest, ...axes]);
          const inner = axes.map((_, i) => rest.length + i);
          return tf.sum(moved, inner).dataSync().slice();
        });
      const wasm = await on('wasm', sum);
      const reference = await on('wasm', transposedSum);
      const cpu = await on('cpu', sum);
      expect(wasm.shape).toEqual(cpu.shape);
      expect(Array.from(wasm.data)).toEqual(Array.from(reference));
      expect(relErr(wasm.data, cpu.data)).toBeLessThanOrEqual(1e-6);
    });

  it('gives the same gradients as cpu for a bias and a LayerNorm', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(values(4 * 8 * 8 * 16, 22), [4, 8, 8, 16]);
        const [g, b] = [tf.tensor1d(values(16, 23)), tf.tensor1d(values(16, 24))];
        const r = tf.tensor(values(4 * 8 * 8 * 16, 25), [4, 8, 8, 16]);
        const f = (gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNormLastAxis(x, gg, bb), r));
        return tf
          .grads(f)([g, b])
          .map((t) => t.dataSync().slice());
      });
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    for (let i = 0; i < 2; i++) expect(relErr(wasm[i]!, cpu[i]!)).toBeLessThanOrEqual(1e-5);
  });
});

describe('Slice on wasm (contiguous runs copied straight from the input)', () => {
  const cases: { label: string; shape: number[]; begin: number[]; size: number[]; dtype: 'float32' | 'int32' }[] = [
    {
      label: 'rows 3..7 of [10, 6, 5, 3] (a micro-batch)',
      shape: [10, 6, 5, 3],
      begin: [3, 0, 0, 0],
      size: [4, -1, -1, -1],
      dtype: 'float32',
    },
    { label: 'int32 labels 2..5 of [9]', shape: [9], begin: [2], size: [3], dtype: 'int32' },
    {
      label: 'one row, part of it: [1, 2..4] of [4, 6] (contiguous)',
      shape: [4, 6],
      begin: [1, 2],
      size: [1, 3],
      dtype: 'float32',
    },
    {
      label: 'a column block of [5, 6] (not contiguous: the original kernel)',
      shape: [5, 6],
      begin: [1, 2],
      size: [3, 2],
      dtype: 'float32',
    },
  ];
  for (const c of cases)
    it(`${c.label}: equal to cpu`, async () => {
      const n = size(c.shape);
      const data = c.dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => i * 7 - 20) : values(n, 31);
      const run = () =>
        tf.tidy(() => {
          const y = tf.slice(tf.tensor(data, c.shape, c.dtype), c.begin, c.size);
          return { shape: y.shape, dtype: y.dtype, data: Array.from(y.dataSync()) };
        });
      const wasm = await on('wasm', run);
      expect(wasm).toEqual(await on('cpu', run));
    });
});

describe('Conv2DBackpropFilter (wasm vs cpu)', () => {
  const cases: Array<{ label: string; x: number[]; f: number[]; strides: number | [number, number]; pad: unknown }> = [
    { label: 'stem 4x4/4 valid', x: [2, 8, 8, 3], f: [4, 4, 3, 5], strides: 4, pad: 'valid' },
    { label: '2x2/2 valid, odd input (cropped)', x: [2, 9, 7, 4], f: [2, 2, 4, 6], strides: 2, pad: 'valid' },
    { label: '1x1', x: [2, 5, 5, 6], f: [1, 1, 6, 3], strides: 1, pad: 'valid' },
    { label: '3x3/1 same', x: [2, 7, 6, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
    { label: '3x3/2 same', x: [2, 9, 8, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same' },
    { label: '5x5/1 valid', x: [1, 9, 9, 2], f: [5, 5, 2, 3], strides: 1, pad: 'valid' },
    { label: '3x2 kernel, strides [1,2], same', x: [2, 6, 7, 2], f: [3, 2, 2, 3], strides: [1, 2], pad: 'same' },
    {
      label: '3x3/2 explicit pads',
      x: [2, 7, 7, 2],
      f: [3, 3, 2, 3],
      strides: 2,
      pad: [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0],
      ],
    },
    { label: '2x2/2 same (stride = kernel with padding)', x: [1, 5, 5, 2], f: [2, 2, 2, 3], strides: 2, pad: 'same' },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const info = tf.backend_util.computeConv2DInfo(c.x as never, c.f as never, c.strides as never, 1, c.pad as never);
      const dyShape = info.outShape as number[];
      await compareKernel(
        'Conv2DBackpropFilter',
        { x: { shape: c.x, data: values(size(c.x), 1) }, dy: { shape: dyShape, data: values(size(dyShape), 2) } },
        { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f },
      );
    });
  }

  it('rejects NCHW with a message naming the kernel', async () => {
    await on('wasm', () => {
      expect(() =>
        kernel(
          'Conv2DBackpropFilter',
          { x: { shape: [1, 4, 4, 1], data: values(16, 1) }, dy: { shape: [1, 4, 4, 1], data: values(16, 2) } },
          { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [1, 1, 1, 1] },
        ),
      ).toThrow(/Conv2DBackpropFilter: unsupported case: dataFormat 'NCHW'/);
    });
  });
});

describe('depthwise backprop kernels (wasm vs cpu)', () => {
  const cases: Array<{ label: string; x: number[]; k: number; pad: unknown; stride?: number }> = [
    { label: '7x7 same (ConvNeXt)', x: [2, 9, 8, 5], k: 7, pad: 'same' },
    { label: '3x3/2 same (MobileNet)', x: [2, 8, 7, 4], k: 3, pad: 'same', stride: 2 },
    { label: '3x3/2 valid, odd input', x: [1, 9, 7, 3], k: 3, pad: 'valid', stride: 2 },
    { label: '5x5/3 same', x: [2, 10, 11, 2], k: 5, pad: 'same', stride: 3 },
    { label: '7x7 same, batch 1', x: [1, 7, 7, 3], k: 7, pad: 'same' },
    { label: '3x3 valid', x: [2, 6, 7, 4], k: 3, pad: 'valid' },
    { label: '5x5 same', x: [3, 5, 6, 2], k: 5, pad: 'same' },
    {
      label: '3x3 explicit pads',
      x: [2, 6, 6, 3],
      k: 3,
      pad: [
        [0, 0],
        [2, 0],
        [0, 1],
        [0, 0],
      ],
    },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const fShape = [c.k, c.k, c.x[3]!, 1];
      const stride = c.stride ?? 1;
      const info = tf.backend_util.computeConv2DInfo(
        c.x as never,
        fShape as never,
        stride,
        1,
        c.pad as never,
        undefined,
        true,
      );
      const dyShape = info.outShape as number[];
      await compareKernel(
        'DepthwiseConv2dNativeBackpropInput',
        {
          dy: { shape: dyShape, data: values(size(dyShape), 3) },
          filter: { shape: fShape, data: values(size(fShape), 4) },
        },
        { strides: stride, pad: c.pad, dilations: 1, inputShape: c.x },
      );
      await compareKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x: { shape: c.x, data: values(size(c.x), 5) }, dy: { shape: dyShape, data: values(size(dyShape), 6) } },
        { strides: stride, pad: c.pad, dilations: 1, filterShape: fShape },
      );
    });
  }

  it('rejects a channel multiplier 2 clearly', async () => {
    await on('wasm', () => {
      expect(() =>
        kernel(
          'DepthwiseConv2dNativeBackpropInput',
          { dy: { shape: [1, 4, 4, 4], data: values(64, 1) }, filter: { shape: [3, 3, 2, 2], data: values(36, 2) } },
          { strides: 1, pad: 'same', dilations: 1, inputShape: [1, 4, 4, 2] },
        ),
      ).toThrow(UnsupportedKernelCase);
    });
  });
});

describe('UnsortedSegmentSum (wasm vs cpu)', () => {
  it('sums duplicate ids over rows', async () => {
    await compareKernel(
      'UnsortedSegmentSum',
      {
        x: { shape: [6, 3], data: values(18, 7) },
        segmentIds: { shape: [6], data: new Int32Array([2, 0, 2, 4, 0, 2]), dtype: 'int32' },
      },
      { numSegments: 5 },
    );
  });
  it('accepts rank-2 ids (equal to the cpu result on flattened ids; cpu itself rejects rank-2 ids)', async () => {
    const ids = new Int32Array([1, 1, 0, 3, 1, 0]);
    const wasm = await on('wasm', () =>
      kernel(
        'UnsortedSegmentSum',
        { x: { shape: [2, 3, 4], data: values(24, 8) }, segmentIds: { shape: [2, 3], data: ids, dtype: 'int32' } },
        { numSegments: 4 },
      ),
    );
    const cpu = await on('cpu', () =>
      kernel(
        'UnsortedSegmentSum',
        { x: { shape: [6, 4], data: values(24, 8) }, segmentIds: { shape: [6], data: ids, dtype: 'int32' } },
        { numSegments: 4 },
      ),
    );
    expect(wasm.shape).toEqual([4, 4]);
    expect(relErr(wasm.data, cpu.data)).toBeLessThanOrEqual(1e-6);
  });
  it('gives gather a gradient on wasm equal to cpu', async () => {
    const run = () =>
      tf.tidy(() => {
        const table = tf.tensor(values(40, 9), [10, 4]);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor1d([3, 1, 3, 9, 0], 'int32')))))(
          table,
        );
        return g.dataSync().slice();
      });
    expect(relErr(await on('wasm', run), await on('cpu', run))).toBeLessThanOrEqual(1e-6);
  });
  it('rejects ids out of range', async () => {
    await on('wasm', () => {
      expect(() =>
        kernel(
          'UnsortedSegmentSum',
          {
            x: { shape: [2, 2], data: values(4, 1) },
            segmentIds: { shape: [2], data: new Int32Array([0, 7]), dtype: 'int32' },
          },
          { numSegments: 3 },
        ),
      ).toThrow(/segment id 7 at position 1 is outside \[0, 3\)/);
    });
  });
});

describe('matmul routing (wasm vs cpu)', () => {
  // `a` and `b` are the stored shapes; the flags transpose their last two axes.
  const cases: Array<{ label: string; a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { label: 'plain 2-D', a: [64, 40], b: [40, 96], ta: false, tb: false },
    { label: 'transposeA (weight gradient)', a: [300, 40], b: [300, 64], ta: true, tb: false },
    { label: 'transposeB (input gradient)', a: [300, 64], b: [40, 64], ta: false, tb: true },
    { label: 'both transposed', a: [64, 100], b: [50, 64], ta: true, tb: true },
    { label: 'batched (attention scores)', a: [3, 40, 32], b: [3, 50, 32], ta: false, tb: true },
    { label: 'rank-4 batch, shared rank-3 b', a: [2, 3, 30, 40], b: [1, 40, 60], ta: false, tb: false },
    { label: 'tiny (original path)', a: [2, 4, 3], b: [2, 4, 5], ta: true, tb: false },
    { label: 'transposeA with the narrower b, as (bᵀ·a)ᵀ', a: [400, 96], b: [400, 24], ta: true, tb: false },
    { label: 'the same with a batch of 1', a: [1, 400, 96], b: [1, 400, 24], ta: true, tb: false },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      await compareKernel(
        'BatchMatMul',
        { a: { shape: c.a, data: values(size(c.a), 11) }, b: { shape: c.b, data: values(size(c.b), 12) } },
        { transposeA: c.ta, transposeB: c.tb },
      );
    });
  }
  it('a weight gradient with the narrower dy transposes dy, not x', async () => {
    await on('wasm', () => undefined);
    const x = tf.tensor2d(values(400 * 96, 13), [400, 96]);
    const dy = tf.tensor2d(values(400 * 24, 14), [400, 24]);
    const info = await tf.profile(() => {
      tf.matMul(x, dy, true, false).dispose();
    });
    const transposed = info.kernels.filter((k) => k.name === 'Transpose').map((k) => k.inputShapes[0]);
    expect(transposed).toContainEqual([400, 24]);
    expect(transposed).not.toContainEqual([400, 96]);
    x.dispose();
    dy.dispose();
    expect(tf.memory().numTensors).toBe(0);
  });

  it('_FusedMatMul with bias and relu, transposed b', async () => {
    await compareKernel(
      '_FusedMatMul',
      {
        a: { shape: [1, 200, 48], data: values(200 * 48, 13) },
        b: { shape: [1, 64, 48], data: values(64 * 48, 14) },
        bias: { shape: [64], data: values(64, 15) },
      },
      { transposeA: false, transposeB: true, activation: 'relu' },
    );
  });
  it('gradients of a dense layer agree with cpu', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(values(256 * 40, 16), [256, 40]);
        const w = tf.tensor(values(40 * 160, 17), [40, 160]);
        const gs = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
          tf.sum(tf.square(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D))),
        )([x, w]);
        return gs.map((g) => g.dataSync().slice());
      });
    const [wasm, cpu] = [await on('wasm', run), await on('cpu', run)];
    for (let i = 0; i < 2; i++) expect(relErr(wasm[i]!, cpu[i]!)).toBeLessThanOrEqual(1e-5);
  });
});

describe('finite differences', () => {
  const checks: Array<{
    label: string;
    f: (...xs: tf.Tensor[]) => tf.Tensor;
    args: Array<{ shape: number[]; seed: number }>;
  }> = [
    {
      label: 'conv2d 4x4/4 valid',
      f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 4, 'valid'),
      args: [
        { shape: [2, 8, 8, 3], seed: 21 },
        { shape: [4, 4, 3, 4], seed: 22 },
      ],
    },
    {
      label: 'conv2d 3x3/2 same',
      f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
      args: [
        { shape: [2, 7, 7, 2], seed: 23 },
        { shape: [3, 3, 2, 3], seed: 24 },
      ],
    },
    {
      label: 'depthwise 7x7 same',
      f: (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
      args: [
        { shape: [2, 8, 8, 3], seed: 25 },
        { shape: [7, 7, 3, 1], seed: 26 },
      ],
    },
    {
      label: 'gather',
      f: (t) => tf.gather(t, tf.tensor1d([2, 0, 2, 5], 'int32')),
      args: [{ shape: [6, 3], seed: 27 }],
    },
    {
      label: 'matMul transposed',
      f: (a, b) => tf.matMul(a!, b!, true, true),
      args: [
        { shape: [50, 30], seed: 28 },
        { shape: [40, 50], seed: 29 },
      ],
    },
    {
      label: 'patchifyConv2d 2x2 with bias, odd input',
      f: (x, w, b) => patchifyConv2d(x as tf.Tensor4D, w as tf.Tensor4D, b),
      args: [
        { shape: [2, 7, 6, 3], seed: 30 },
        { shape: [2, 2, 3, 4], seed: 31 },
        { shape: [4], seed: 32 },
      ],
    },
    {
      label: 'geluExact (nonlinear: central-difference truncation ~eps^2, far below the bound)',
      f: (x) => geluExact(tf.mul(x!, 3)),
      args: [{ shape: [4, 5, 6], seed: 36 }],
    },
    {
      label: 'layerNormLastAxis',
      f: (x, g, b) => layerNormLastAxis(x!, tf.add(g!, 1), b!),
      args: [
        { shape: [2, 3, 4, 7], seed: 37 },
        { shape: [7], seed: 38 },
        { shape: [7], seed: 39 },
      ],
    },
    {
      label: 'grn',
      f: (x, g, b) => grn(x as tf.Tensor4D, g!, b!),
      args: [
        { shape: [2, 3, 4, 5], seed: 40 },
        { shape: [5], seed: 41 },
        { shape: [5], seed: 42 },
      ],
    },
    {
      label: 'linear on rank-4 input',
      f: (x, w, b) => linear(x!, w as tf.Tensor2D, b as tf.Tensor1D),
      args: [
        { shape: [2, 3, 3, 8], seed: 33 },
        { shape: [8, 5], seed: 34 },
        { shape: [5], seed: 35 },
      ],
    },
  ];
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const c of checks) {
      it(`${c.label} on ${backend}`, async () => {
        await on(backend, () => fdCheck(c.f, c.args));
      });
    }
  }
});

describe('fast ops equal the plain ops', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`patchifyConv2d == conv2d + bias (values and gradients) on ${backend}`, async () => {
      const run = (usePatchify: boolean) =>
        tf.tidy(() => {
          const x = tf.tensor(values(2 * 9 * 8 * 3, 40), [2, 9, 8, 3]);
          const w = tf.tensor(values(4 * 4 * 3 * 5, 41), [4, 4, 3, 5]);
          const b = tf.tensor(values(5, 42), [5]);
          const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
            usePatchify
              ? patchifyConv2d(x as tf.Tensor4D, w as tf.Tensor4D, b)
              : tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 4, 'valid'), b);
          const y = f(x, w, b);
          const gs = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(f(x, w, b))))([x, w, b]);
          return [y.dataSync().slice(), ...gs.map((g) => g.dataSync().slice())];
        });
      const [fast, plain] = await on(backend, () => [run(true), run(false)]);
      for (let i = 0; i < 4; i++) expect(relErr(fast![i]!, plain![i]!)).toBeLessThanOrEqual(1e-5);
    });
  }

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`geluExact and layerNormLastAxis equal their autodiff forms on ${backend}`, async () => {
      const run = (fast: boolean) =>
        tf.tidy(() => {
          const x = tf.mul(tf.tensor(values(2 * 5 * 5 * 12, 50), [2, 5, 5, 12]), 3);
          const g = tf.add(tf.tensor(values(12, 51), [12]), 1);
          const b = tf.tensor(values(12, 52), [12]);
          const gelu = (t: tf.Tensor) =>
            fast ? geluExact(t) : tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.mul(t, Math.SQRT1_2)), 1));
          const ln = (t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
            if (fast) return layerNormLastAxis(t, gg, bb, 1e-6);
            const { mean, variance } = tf.moments(t, -1, true);
            return tf.add(tf.mul(tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, 1e-6))), gg), bb);
          };
          const f = (t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => gelu(ln(t, gg, bb));
          const r = tf.tensor(values(2 * 5 * 5 * 12, 53), [2, 5, 5, 12]);
          const y = f(x, g, b);
          const gs = tf.grads((t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(t, gg, bb), r)))([
            x,
            g,
            b,
          ]);
          return [y.dataSync().slice(), ...gs.map((t) => t.dataSync().slice())];
        });
      const [fast, plain] = await on(backend, () => [run(true), run(false)]);
      for (let i = 0; i < 4; i++) expect(relErr(fast![i]!, plain![i]!)).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe('addKeepingShapes / subKeepingShapes (no operand kept for backward)', () => {
  const cases: [number[], number[]][] = [
    [[4, 5, 6], [6]],
    [
      [4, 1, 6],
      [1, 5, 1],
    ],
    [[], [3, 4]],
    [
      [3, 4],
      [3, 4],
    ],
  ];
  for (const backend of ['wasm', 'cpu'] as const)
    for (const [shapeA, shapeB] of cases)
      it(`[${shapeA}] and [${shapeB}] on ${backend}: values and gradients bit-identical to tf.add/sub`, async () => {
        await on(backend, () => {
          tf.tidy(() => {
            const a = tf.tensor(values(size(shapeA), 41), shapeA);
            const b = tf.tensor(values(size(shapeB), 42), shapeB);
            const pairs: [(p: tf.Tensor, q: tf.Tensor) => tf.Tensor, (p: tf.Tensor, q: tf.Tensor) => tf.Tensor][] = [
              [addKeepingShapes, tf.add],
              [subKeepingShapes, tf.sub],
            ];
            for (const [ours, theirs] of pairs) {
              const out = ours(a, b);
              const r = tf.tensor(values(out.size, 43), out.shape);
              const grads = (f: typeof ours) =>
                tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(f(p, q), r)))([a, b]);
              expect(Array.from(out.dataSync())).toEqual(Array.from(theirs(a, b).dataSync()));
              const [got, want] = [grads(ours), grads(theirs)];
              for (let i = 0; i < 2; i++) {
                expect(got[i]!.shape).toEqual(want[i]!.shape);
                expect(Array.from(got[i]!.dataSync())).toEqual(Array.from(want[i]!.dataSync()));
              }
            }
          });
        });
      });

  it('records no saved tensor on the tape (tf.add records both operands)', async () => {
    await on('wasm', () => {
      const engine = tf.engine() as unknown as {
        startTape(): void;
        endTape(): void;
        state: { activeTape: { saved?: tf.Tensor[] }[] | null };
      };
      const a = tf.tensor2d(values(12, 44), [3, 4]);
      const b = tf.tensor1d(values(4, 45));
      const savedBy = (f: (p: tf.Tensor, q: tf.Tensor) => tf.Tensor) => {
        engine.startTape();
        const y = f(a, b);
        const saved = engine.state.activeTape!.flatMap((node) => node.saved ?? []);
        engine.endTape();
        engine.state.activeTape = null;
        const count = saved.length;
        for (const t of saved) t.dispose();
        y.dispose();
        return count;
      };
      expect(savedBy(tf.add)).toBe(2);
      expect(savedBy(addKeepingShapes)).toBe(0);
      expect(savedBy(subKeepingShapes)).toBe(0);
      a.dispose();
      b.dispose();
    });
  });
});

describe('fused ops (what tf.layers and bias-fused layer code call) train on wasm', () => {
  it('tf.fused.conv2d and tf.fused.depthwiseConv2d with bias: gradients equal cpu', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(values(2 * 8 * 8 * 3, 60), [2, 8, 8, 3]) as tf.Tensor4D;
        const w = tf.tensor(values(2 * 2 * 3 * 4, 61), [2, 2, 3, 4]) as tf.Tensor4D;
        const b = tf.tensor(values(4, 62), [4]);
        const d = tf.tensor(values(7 * 7 * 4, 63), [7, 7, 4, 1]) as tf.Tensor4D;
        const db = tf.tensor(values(4, 64), [4]);
        const gs = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, d: tf.Tensor, db: tf.Tensor) => {
          const h = tf.fused.conv2d({
            x: x as tf.Tensor4D,
            filter: w as tf.Tensor4D,
            strides: 2,
            pad: 'valid',
            bias: b,
          });
          return tf.sum(
            tf.square(tf.fused.depthwiseConv2d({ x: h, filter: d as tf.Tensor4D, strides: 1, pad: 'same', bias: db })),
          );
        })([x, w, b, d, db]);
        return gs.map((g) => g.dataSync().slice());
      });
    const [wasm, cpu] = [await on('wasm', run), await on('cpu', run)];
    for (let i = 0; i < 5; i++) expect(relErr(wasm[i]!, cpu[i]!)).toBeLessThanOrEqual(1e-5);
  });
});

describe('grn equals its autodiff form', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`values and gradients on ${backend}`, async () => {
      const run = (fast: boolean) =>
        tf.tidy(() => {
          const x = tf.tensor(values(2 * 4 * 5 * 6, 70), [2, 4, 5, 6]) as tf.Tensor4D;
          const g = tf.tensor(values(6, 71), [6]);
          const b = tf.tensor(values(6, 72), [6]);
          const r = tf.tensor(values(2 * 4 * 5 * 6, 73), [2, 4, 5, 6]);
          const f = (t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
            if (fast) return grn(t as tf.Tensor4D, gg, bb);
            const gx = tf.sqrt(tf.add(tf.sum(tf.square(t), [1, 2], true), 1e-12));
            const nx = tf.div(gx, tf.add(tf.mean(gx, -1, true), 1e-6));
            return tf.add(tf.add(tf.mul(gg, tf.mul(t, nx)), bb), t);
          };
          const y = f(x, g, b);
          const gs = tf.grads((t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(t, gg, bb), r)))([
            x,
            g,
            b,
          ]);
          return [y.dataSync().slice(), ...gs.map((t) => t.dataSync().slice())];
        });
      const [fast, plain] = await on(backend, () => [run(true), run(false)]);
      for (let i = 0; i < 4; i++) expect(relErr(fast![i]!, plain![i]!)).toBeLessThanOrEqual(1e-5);
    });
  }
});
