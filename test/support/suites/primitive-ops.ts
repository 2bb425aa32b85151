/**
 * The runtime side of the primitives added for issue 14, run once per backend by
 * test/runtime/primitive-ops*.test.ts (tfjs cannot switch backends once tensors exist):
 *  - PyTorch fixtures (test/fixtures/torch/primitives.*, made by
 *    test/fixtures/generators/make_primitive_fixtures.py in float64): the forward output within
 *    rtol 1e-4 / atol 1e-5 elementwise, and the gradients of sum(y * r) with respect to every
 *    input and weight within the same tolerances;
 *  - central finite differences (test/support/gradcheck.ts) of every new runtime function and
 *    layer, so each backend's gradient is checked against its own forward pass.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../runtime/io/safetensors.js';
import * as layers from '../../../runtime/layers/index.js';
import type { ForwardContext } from '../../../runtime/module.js';
import * as ops from '../../../runtime/ops/index.js';
import { createRng } from '../../../runtime/rng.js';
import { useTestBackend } from '../backend.js';
import { checkGradients, expectGradOk, randn } from '../gradcheck.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/torch/', import.meta.url));
const ctx: ForwardContext = { training: false, rng: createRng(0) };

interface FixtureCase {
  readonly name: string;
  readonly op: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly inputs: readonly string[];
  readonly output: readonly number[];
}

type Tensors = Readonly<Record<string, tf.Tensor>>;
type Options = Readonly<Record<string, unknown>>;

const num = (v: unknown, d: number) => (typeof v === 'number' ? v : d);

const ACTIVATIONS: Readonly<Record<string, (x: tf.Tensor, o: Options) => tf.Tensor>> = {
  relu6: (x) => ops.relu6(x),
  silu: (x) => ops.silu(x),
  hardswish: (x) => ops.hardswish(x),
  hardsigmoid: (x) => ops.hardsigmoid(x),
  sigmoid: (x) => ops.sigmoid(x),
  tanh: (x) => ops.tanh(x),
  leaky_relu: (x, o) => ops.leakyRelu(x, num(o.negative_slope, 0.01)),
};

/** The runtime's implementation of a fixture op, on tensors in the tfjs layouts. */
const RUNTIME: Readonly<Record<string, (t: Tensors, o: Options) => tf.Tensor>> = {
  max_pool2d: (t, o) =>
    new layers.MaxPool2d({
      kernel: num(o.kernel, 1),
      stride: num(o.stride, 0),
      padding: num(o.padding, 0),
      dilation: num(o.dilation, 1),
      ceilMode: o.ceil_mode === true,
    }).forward(ctx, t.x!),
  avg_pool2d: (t, o) =>
    new layers.AvgPool2d({
      kernel: num(o.kernel, 1),
      stride: num(o.stride, 0),
      padding: num(o.padding, 0),
      countIncludePad: o.count_include_pad !== false,
      ceilMode: o.ceil_mode === true,
    }).forward(ctx, t.x!),
  adaptive_avg_pool2d: (t, o) => new layers.AdaptiveAvgPool2d(o.output_size as [number, number]).forward(ctx, t.x!),
  activation: (t, o) => ACTIVATIONS[String(o.name)]!(t.x!, o),
  conv2d: (t, o) =>
    ops.convolve(t.x!, t.weight!, t.bias, {
      stride: num(o.stride, 1),
      padding: (o.padding as ops.ConvPadding | undefined) ?? 'valid',
      dilation: num(o.dilation, 1),
      groups: num(o.groups, 1),
    }),
  expand: (t, o) => ops.expand(t.x!, o.shape as number[]),
  conv_transpose2d: (t, o) =>
    ops.convTranspose2d(t.x!, t.weight!, t.bias, {
      stride: num(o.stride, 1),
      padding: num(o.padding, 0),
      outputPadding: num(o.output_padding, 0),
      groups: num(o.groups, 1),
      dilation: num(o.dilation, 1),
    }),
  bilinear: (t, o) =>
    ops.upsampleBilinear(
      t.x!,
      Array.isArray(o.size)
        ? { size: o.size as [number, number] }
        : typeof o.scale_factor === 'number'
          ? { scaleFactor: o.scale_factor }
          : num(o.scale, 1),
      o.align_corners === true,
    ),
  group_norm: (t, o) => ops.groupNorm(t.x!, num(o.groups, 1), t.weight, t.bias, num(o.eps, 1e-5)),
  instance_norm: (t, o) => ops.instanceNorm(t.x!, t.weight, t.bias, num(o.eps, 1e-5)),
  depthwise: (t, o) =>
    ops.depthwiseConv2d(t.x!, t.weight!, t.bias, (o.padding as ops.ConvPadding | undefined) ?? 'valid', {
      stride: num(o.stride, 1),
      dilation: num(o.dilation, 1),
    }),
};

/** Worst elementwise excess over atol + rtol * |expected| (<= 0 passes) and the max abs difference. */
function excess(actual: tf.Tensor, expected: tf.Tensor, rtol: number, atol: number) {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let worst = -Infinity;
  let maxAbs = 0;
  for (let i = 0; i < e.length; i++) {
    const diff = Math.abs(a[i]! - e[i]!);
    maxAbs = Math.max(maxAbs, diff);
    worst = Math.max(worst, diff - (atol + rtol * Math.abs(e[i]!)));
  }
  return { worst, maxAbs };
}

export function definePrimitiveOpsSuite(backend: 'cpu' | 'wasm'): void {
  beforeAll(async () => {
    await useTestBackend(backend);
  });

  describe(`new primitives vs PyTorch 1.13 (${backend}; forward and gradients, rtol 1e-4, atol 1e-5)`, () => {
    const index = JSON.parse(readFileSync(`${FIXTURES}primitives.json`, 'utf8')) as { cases: FixtureCase[] };
    const file = readSafetensors(`${FIXTURES}primitives.safetensors`).tensors;
    const tensor = (key: string) => {
      const entry = file.get(key);
      if (!entry) throw new Error(`primitives.safetensors has no ${key}`);
      return tf.tensor(entry.tensor.data, [...entry.tensor.shape], 'float32');
    };
    for (const c of index.cases)
      it(`${c.name} (${c.op} ${JSON.stringify(c.options)})`, () => {
        const run = RUNTIME[c.op];
        expect(run, `no runtime mapping for fixture op ${c.op}`).toBeDefined();
        tf.tidy(() => {
          const inputs = Object.fromEntries(c.inputs.map((k) => [k, tensor(`${c.name}/${k}`)]));
          const y = run!(inputs, c.options);
          const forward = excess(y, tensor(`${c.name}/y`), 1e-4, 1e-5);
          expect(forward.worst, `forward max |diff| ${forward.maxAbs}`).toBeLessThanOrEqual(0);
          const r = tensor(`${c.name}/r`);
          const keys = [...c.inputs];
          const grads = tf.grads((...xs: tf.Tensor[]) =>
            tf.sum(tf.mul(run!(Object.fromEntries(keys.map((k, i) => [k, xs[i]!])), c.options), r)),
          )(keys.map((k) => inputs[k]!));
          keys.forEach((k, i) => {
            const g = excess(grads[i]!, tensor(`${c.name}/grad_${k}`), 1e-4, 1e-5);
            expect(g.worst, `d/d${k}: max |diff| ${g.maxAbs}`).toBeLessThanOrEqual(0);
          });
        });
      });
  });

  describe(`new primitives: finite-difference gradients (${backend})`, () => {
    /** Gradient check of `f` at fresh variables of the given shapes. */
    const gradcheck = (
      shapes: Record<string, number[]>,
      f: (v: Record<string, tf.Tensor>) => tf.Tensor,
      seed = 1,
      adjust: (v: number) => number = (v) => v,
    ) => {
      const vars = Object.entries(shapes).map(([name, shape], i) => {
        const values = tf.tidy(() =>
          randn(shape, seed + i)
            .dataSync()
            .map(adjust),
        );
        return [name, tf.variable(tf.tensor(values, shape), true, `${name}_${seed}_${i}`)] as const;
      });
      try {
        const reports = checkGradients(() => f(Object.fromEntries(vars)), vars);
        expectGradOk(reports);
      } finally {
        for (const [, v] of vars) v.dispose();
      }
    };

    it('MaxPool2d 3x3/2 padding 1 and 2x2/2', () => {
      gradcheck({ x: [2, 7, 6, 3] }, (v) => ops.maxPool2d(v.x!, { kernel: 3, stride: 2, padding: 1 }), 11);
      gradcheck({ x: [1, 5, 4, 2] }, (v) => ops.maxPool2d(v.x!, { kernel: 2 }), 12);
    });
    it('AvgPool2d with and without count_include_pad', () => {
      gradcheck({ x: [2, 7, 6, 3] }, (v) => ops.avgPool2d(v.x!, { kernel: 3, stride: 2, padding: 1 }), 13);
      gradcheck(
        { x: [2, 7, 6, 3] },
        (v) => ops.avgPool2d(v.x!, { kernel: 3, stride: 2, padding: 1, countIncludePad: false }),
        14,
      );
    });
    it('MaxPool2d with dilation and ceil_mode (a last window kept, one dropped)', () => {
      gradcheck({ x: [2, 9, 8, 3] }, (v) => ops.maxPool2d(v.x!, { kernel: 3, stride: 2, padding: 1, dilation: 2 }), 51);
      gradcheck({ x: [1, 6, 7, 2] }, (v) => ops.maxPool2d(v.x!, { kernel: 3, stride: 2, ceilMode: true }), 52);
      gradcheck(
        { x: [1, 5, 6, 2] },
        (v) => ops.maxPool2d(v.x!, { kernel: 2, stride: 2, padding: 1, ceilMode: true }),
        53,
      );
      gradcheck(
        { x: [1, 8, 7, 2] },
        (v) => ops.maxPool2d(v.x!, { kernel: 2, stride: 3, dilation: 2, ceilMode: true }),
        54,
      );
    });
    it('AvgPool2d with ceil_mode, with and without count_include_pad', () => {
      gradcheck(
        { x: [2, 6, 7, 3] },
        (v) => ops.avgPool2d(v.x!, { kernel: 3, stride: 2, padding: 1, ceilMode: true }),
        55,
      );
      gradcheck(
        { x: [2, 6, 7, 3] },
        (v) => ops.avgPool2d(v.x!, { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
        56,
      );
      gradcheck({ x: [1, 5, 5, 2] }, (v) => ops.avgPool2d(v.x!, { kernel: 2, ceilMode: true }), 57);
    });
    it('AdaptiveAvgPool2d: 1x1, equal bins and overlapping bins', () => {
      gradcheck({ x: [2, 5, 4, 3] }, (v) => ops.adaptiveAvgPool2d(v.x!, 1, 1), 15);
      gradcheck({ x: [1, 6, 6, 2] }, (v) => ops.adaptiveAvgPool2d(v.x!, 2, 2), 16);
      gradcheck({ x: [2, 7, 5, 3] }, (v) => ops.adaptiveAvgPool2d(v.x!, 3, 2), 17);
    });
    it('Conv2d: integer, [ph, pw] and per-side padding, dilation, stride', () => {
      gradcheck({ x: [2, 6, 5, 3], w: [3, 3, 3, 4], b: [4] }, (v) => ops.convolve(v.x!, v.w!, v.b, { padding: 1 }), 31);
      gradcheck(
        { x: [2, 7, 6, 3], w: [3, 3, 3, 2] },
        (v) => ops.convolve(v.x!, v.w!, undefined, { padding: [1, 2], stride: 2 }),
        32,
      );
      gradcheck(
        { x: [1, 8, 7, 2], w: [3, 3, 2, 3] },
        (v) => ops.convolve(v.x!, v.w!, undefined, { padding: [0, 1, 2, 1], dilation: 2 }),
        33,
      );
      gradcheck({ x: [1, 7, 5, 3], w: [1, 1, 3, 2] }, (v) => ops.convolve(v.x!, v.w!, undefined, { stride: 2 }), 34);
    });
    it('Conv2d: channel groups, depthwise groups (strided) and a channel multiplier', () => {
      gradcheck(
        { x: [2, 5, 5, 4], w: [3, 3, 2, 6], b: [6] },
        (v) => ops.convolve(v.x!, v.w!, v.b, { padding: 1, groups: 2 }),
        35,
      );
      gradcheck(
        { x: [2, 7, 7, 4], w: [3, 3, 1, 4] },
        (v) => ops.convolve(v.x!, v.w!, undefined, { padding: 1, groups: 4, stride: 2 }),
        36,
      );
      gradcheck(
        { x: [1, 5, 4, 3], w: [3, 3, 1, 6] },
        (v) => ops.convolve(v.x!, v.w!, undefined, { padding: 1, groups: 3 }),
        37,
      );
    });
    it('DepthwiseConv2d: stride 2 with padding 1 and same, dilation 2', () => {
      gradcheck(
        { x: [2, 8, 7, 5], w: [3, 3, 5, 1], b: [5] },
        (v) => ops.depthwiseConv2d(v.x!, v.w!, v.b, 1, { stride: 2 }),
        38,
      );
      gradcheck(
        { x: [1, 7, 8, 3], w: [3, 3, 3, 1] },
        (v) => ops.depthwiseConv2d(v.x!, v.w!, undefined, 'same', { stride: 2 }),
        39,
      );
      gradcheck(
        { x: [1, 7, 6, 3], w: [3, 3, 3, 1] },
        (v) => ops.depthwiseConv2d(v.x!, v.w!, undefined, 2, { dilation: 2 }),
        40,
      );
    });
    it('expand: a class token to the batch, new leading axes', () => {
      gradcheck({ x: [1, 1, 4] }, (v) => ops.expand(v.x!, [3, 1, 4]), 41);
      gradcheck({ x: [4, 1] }, (v) => ops.expand(v.x!, [2, 3, 4, 5]), 42);
    });
    it('ConvTranspose2d: 2x2/2, 3x3/2 with padding and output_padding, 4x4/2 padding 1', () => {
      gradcheck(
        { x: [2, 3, 4, 3], w: [2, 2, 5, 3], b: [5] },
        (v) => ops.convTranspose2d(v.x!, v.w!, v.b, { stride: 2 }),
        43,
      );
      gradcheck(
        { x: [1, 4, 3, 2], w: [3, 3, 3, 2] },
        (v) => ops.convTranspose2d(v.x!, v.w!, undefined, { stride: 2, padding: 1, outputPadding: 1 }),
        44,
      );
      gradcheck(
        { x: [2, 3, 3, 2], w: [4, 4, 2, 2] },
        (v) => ops.convTranspose2d(v.x!, v.w!, undefined, { stride: 2, padding: 1 }),
        45,
      );
    });
    it('ConvTranspose2d: channel groups, dilation with output_padding, both with stride 1', () => {
      gradcheck(
        { x: [2, 3, 4, 4], w: [3, 3, 3, 4], b: [6] },
        (v) => ops.convTranspose2d(v.x!, v.w!, v.b, { stride: 2, padding: 1, groups: 2 }),
        61,
      );
      gradcheck(
        { x: [1, 4, 3, 2], w: [3, 3, 3, 2] },
        (v) => ops.convTranspose2d(v.x!, v.w!, undefined, { stride: 2, padding: 1, outputPadding: 1, dilation: 2 }),
        62,
      );
      gradcheck(
        { x: [1, 3, 4, 2], w: [2, 2, 1, 2] },
        (v) => ops.convTranspose2d(v.x!, v.w!, undefined, { outputPadding: 2, dilation: 3, groups: 2 }),
        63,
      );
    });
    it('bilinear upsampling with and without align_corners', () => {
      gradcheck({ x: [2, 3, 4, 3] }, (v) => ops.upsampleBilinear(v.x!, 2, false), 46);
      gradcheck({ x: [2, 3, 4, 3] }, (v) => ops.upsampleBilinear(v.x!, 2, true), 47);
    });
    it('bilinear resizing by a non-integer scale_factor and to an explicit size', () => {
      gradcheck({ x: [2, 4, 5, 3] }, (v) => ops.upsampleBilinear(v.x!, { scaleFactor: 1.5 }, false), 71);
      gradcheck({ x: [1, 5, 7, 2] }, (v) => ops.upsampleBilinear(v.x!, { scaleFactor: 0.6 }, false), 72);
      gradcheck({ x: [1, 3, 4, 2] }, (v) => ops.upsampleBilinear(v.x!, { size: [7, 9] }, false), 73);
      gradcheck({ x: [1, 3, 4, 2] }, (v) => ops.upsampleBilinear(v.x!, { size: [5, 3] }, true), 74);
    });
    it('GroupNorm and InstanceNorm2d (affine)', () => {
      gradcheck({ x: [2, 4, 3, 6], w: [6], b: [6] }, (v) => ops.groupNorm(v.x!, 2, v.w, v.b, 1e-5), 48);
      gradcheck({ x: [2, 4, 5, 3], w: [3], b: [3] }, (v) => ops.instanceNorm(v.x!, v.w, v.b, 1e-5), 49);
    });
    for (const [name, fn] of Object.entries(ACTIVATIONS))
      it(`activation ${name}`, () => {
        // Inputs 3 N(0, 1) + 1 moved 0.1 off the kinks at 0, +-3 and 6 (the step h = 1e-2 must not straddle one).
        const offKinks = (v: number) => {
          let u = 3 * v + 1;
          for (const k of [0, 3, -3, 6]) if (Math.abs(u - k) < 0.1) u = k + (u < k ? -0.1 : 0.1);
          return u;
        };
        gradcheck({ x: [2, 3, 4] }, (v) => fn(v.x!, { negative_slope: 0.2 }), 20 + name.length, offKinks);
      });
  });
}
