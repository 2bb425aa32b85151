/**
 * Swin in .nvc (std/swin.nvc) and the primitives it added: roll, relative_position_bias,
 * shift_window_mask (runtime/ops/window.ts), checked against their definitions, and a generated
 * Swin encoder run forward and backward.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { initBackend } from '../../runtime/backend.js';
import {
  relativePositionBias,
  relativePositionIndex,
  roll,
  shiftWindowMask,
  shiftWindowMaskValues,
} from '../../runtime/ops/window.js';
import { createRng } from '../../runtime/rng.js';

beforeAll(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});

describe('window ops', () => {
  it('roll moves element i to (i + shift) mod n on each axis, both directions, with gradients', () => {
    const x = tf.range(0, 2 * 3 * 4).reshape([1, 3, 4, 2]);
    const y = roll(x, 1, [1, 2]).arraySync() as number[][][][];
    const xs = x.arraySync() as number[][][][];
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 4; c++) expect(y[0]![(r + 1) % 3]![(c + 1) % 4]).toEqual(xs[0]![r]![c]);
    const back = roll(roll(x, -5, [1, 2]), 5, [1, 2]);
    expect(back.arraySync()).toEqual(xs);
    expect(roll(x, 0, [1]).arraySync()).toEqual(xs);
    const g = tf.grad((t: tf.Tensor) =>
      roll(t, 2, [2])
        .mul(tf.range(0, 24).reshape([1, 3, 4, 2]))
        .sum(),
    )(x);
    // d/dx of sum(roll(x) * w) is w rolled back.
    expect(g.arraySync()).toEqual(roll(tf.range(0, 24).reshape([1, 3, 4, 2]), -2, [2]).arraySync());
  });

  it('relative position index: one index per offset, the zero offset on the diagonal, antisymmetric around it', () => {
    for (const w of [2, 3, 7]) {
      const idx = relativePositionIndex(w);
      const n = w * w;
      const centre = (w - 1) * (2 * w - 1) + (w - 1);
      expect(new Set(idx).size).toBe((2 * w - 1) ** 2);
      for (let i = 0; i < n; i++) {
        expect(idx[i * n + i]).toBe(centre);
        for (let j = 0; j < n; j++) expect(idx[i * n + j]! + idx[j * n + i]!).toBe(2 * centre);
      }
      // Equal offsets share an entry: (0,0)->(0,1) and (1,0)->(1,1) are both "one column right".
      expect(idx[0 * n + 1]).toBe(idx[w * n + w + 1]);
    }
  });

  it('relative position bias gathers the table per head', () => {
    const table = tf.tensor2d([...Array(9 * 2).keys()], [9, 2]);
    const b = relativePositionBias(table, 2).arraySync() as number[][][];
    const idx = relativePositionIndex(2);
    for (let h = 0; h < 2; h++)
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(b[h]![i]![j]).toBe(idx[i * 4 + j]! * 2 + h);
  });

  it('shift mask separates regions the cyclic shift brought together, and is zero without a shift', () => {
    expect(shiftWindowMaskValues(8, 8, 4, 0).every((v) => v === 0)).toBe(true);
    const m = shiftWindowMaskValues(8, 8, 4, 2);
    const per = 16 * 16;
    const masked = (w: number) => m.slice(w * per, (w + 1) * per).filter((v) => v === -100).length;
    expect(masked(0)).toBe(0); // top-left window: one region
    expect(masked(1)).toBe(per - 2 * 8 * 8); // two regions of 8 positions
    expect(masked(3)).toBe(per - 4 * 4 * 4); // bottom-right: four regions of 4
    expect(shiftWindowMask(tf.zeros([1, 8, 8, 3]), 4, 2).shape).toEqual([4, 16, 16]);
  });
});

describe('std/swin.nvc generated code', () => {
  it('the demo Swin fusion model runs forward and backward with finite gradients for every parameter', async () => {
    const built = await loadBuiltProgram('examples/mednvc.nvc', {
      variant: 'demo_swin_mlp',
      outDir: 'build/test-examples-swin',
    });
    const { setInitRng } = await import('../../runtime/module.js');
    setInitRng(createRng(1));
    const model = built.factories.finetune!.create();
    const xray = tf.randomNormal([2, 64, 64, 1], 0, 1, 'float32', 3);
    const labs = tf.randomNormal([2, 14], 0, 1, 'float32', 4);
    const ctx = { training: false, rng: createRng(2) };
    const out = model.forward(ctx, { xray, labs }) as tf.Tensor;
    expect(out.shape).toEqual([2, 2]);
    const params = model.namedParameters();
    expect(params.some(([p]) => p.endsWith('attn.relative_position_bias_table'))).toBe(true);
    expect(params.some(([p]) => p.startsWith('enc.layers.0.downsample.reduction'))).toBe(true);
    const { grads } = tf.variableGrads(
      () => (model.forward(ctx, { xray, labs }) as tf.Tensor).square().sum() as tf.Scalar,
      params.map(([, p]) => p.variable),
    );
    for (const g of Object.values(grads)) expect(Number.isFinite(g.abs().sum().arraySync() as number)).toBe(true);
    // The bias tables get a gradient (the gather is differentiable).
    const table = params.find(([p]) => p.endsWith('layers.0.blocks.0.attn.relative_position_bias_table'))![1].variable;
    expect(grads[table.name]!.abs().sum().arraySync() as number).toBeGreaterThan(0);
  });
});
