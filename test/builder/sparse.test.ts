/**
 * `sparse` layers: one definition, two behaviours. The generated TinyConv (its stem conv and
 * depthwise conv are declared `sparse`) runs masked while ctx.mask is set (removed cells are
 * zero after the sparse convolutions, visible cells equal the dense result where no removed
 * input reaches them) and exactly densely without a mask; layers not declared sparse ignore
 * the mask.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshDir } from './helpers.js';

describe('sparse layers in generated code', () => {
  it('run masked under a mask policy and dense otherwise', async () => {
    const p = await loadBuiltProgram('test/fixtures/emit/tiny-conv.nvc', { outDir: path.join(freshDir(), 'out') });
    await cpuSeeded(6);
    const model = p.modelFactories.TinyConv!.create();
    const stemConv = model.find('stem.conv') as unknown as nv.Module & {
      sparse: boolean;
      forward(ctx: nv.ForwardContext, x: nv.tf.Tensor): nv.tf.Tensor;
    };
    const stemNorm = model.find('stem.norm') as unknown as { sparse: boolean };
    expect(stemConv.sparse).toBe(true);
    expect((model.find('dw') as unknown as { sparse: boolean }).sparse).toBe(true);
    expect(stemNorm.sparse).toBe(false);
    const x = nv.tf.randomNormal([1, 8, 8, 3], 0, 1, 'float32', 3);
    // 2x2 patch grid over the 8x8 image: the top-left cell (a 4x4 pixel block) is removed.
    const mask = nv.tf.tensor4d([1, 0, 0, 0], [1, 2, 2, 1]);
    const dense = stemConv.forward({ training: false, rng: nv.createRng(1) }, x);
    const masked = stemConv.forward({ training: false, rng: nv.createRng(1), mask }, x);
    const keep = nv.tf.tensor4d([0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 4, 4, 1]);
    // kernel = stride = 2: visible outputs see only visible inputs, so they equal the dense ones.
    const expected = nv.tf.mul(dense, keep);
    const got = Array.from(masked.dataSync());
    const want = Array.from(expected.dataSync());
    expect(got.length).toBe(want.length);
    expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-6);
    // Removed cells (top-left 2x2 of the 4x4 output, all 8 channels) are exactly zero.
    const removed = got.filter((_, i) => {
      const cell = Math.floor(i / 8);
      return Math.floor(cell / 4) < 2 && cell % 4 < 2;
    });
    expect(removed.length).toBe(32);
    expect(removed.every((v) => v === 0)).toBe(true);
    expect(nv.tf.sum(nv.tf.abs(nv.tf.sub(dense, masked))).dataSync()[0]!).toBeGreaterThan(0);
    // The whole model: a mask changes the output; without one the result is deterministic dense.
    const run = (m?: nv.tf.Tensor4D) =>
      Array.from(
        (
          model.forward({ training: false, rng: nv.createRng(1), ...(m ? { mask: m } : {}) }, { x }) as nv.tf.Tensor
        ).dataSync(),
      );
    const a = run();
    expect(run()).toEqual(a);
    expect(run(mask)).not.toEqual(a);
    expect(run(nv.tf.tensor4d([0, 0, 0, 0], [1, 2, 2, 1]))).toEqual(a);
    model.dispose();
  });
});
