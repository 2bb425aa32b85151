/**
 * The std ConvNeXt-V2 encoder, compiled, under a patch mask, against submanifold sparse
 * semantics (reference doc section 3.4): when the visible patches form a rectangle, the masked
 * run's output at visible cells equals a dense run on that rectangle alone (zero padding at the
 * crop border plays the part of the removed neighbours), and it does not depend on the removed
 * pixels. Statistics taken over removed positions (e.g. GRN's L2 norm) break the equality.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshDir } from './helpers.js';

describe('std ConvNeXt-V2 encoder under a mask', () => {
  it('equals the dense encoder on the visible rectangle, whatever the removed pixels hold', async () => {
    const p = await loadBuiltProgram('test/fixtures/emit/std-encoder-masked.nvc', {
      outDir: path.join(freshDir(), 'out'),
    });
    await cpuSeeded(11);
    const model = p.modelFactories.TinyStdEncoder!.create();
    // GRN gamma/beta and all biases start at zero, which would hide leaks (LN(0) = bias = 0).
    let k = 5;
    for (const [name, param] of model.namedParameters()) {
      if (/(grn\.(gamma|beta)|bias)$/.test(name))
        param.variable.assign(nv.tf.randomNormal(param.variable.shape, 0, 0.5, 'float32', k++));
    }
    const run = (x: nv.tf.Tensor, m?: nv.tf.Tensor4D) =>
      model.forward({ training: false, rng: nv.createRng(1), ...(m ? { mask: m } : {}) }, { x }) as nv.tf.Tensor;
    // A 64x128 image of 32-pixel patches: a 2x4 grid whose right half is removed.
    const mask = nv.tf.tensor4d([0, 0, 1, 1, 0, 0, 1, 1], [1, 2, 4, 1]);
    const left = nv.tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 1);
    const image = (seed: number) => nv.tf.concat([left, nv.tf.randomNormal([1, 64, 64, 3], 0, 3, 'float32', seed)], 2);
    const masked1 = run(image(2), mask);
    const masked2 = run(image(3), mask);
    const visible = (t: nv.tf.Tensor) => Array.from(nv.tf.slice(t, [0, 0, 0, 0], [1, 2, 2, -1]).dataSync());
    // Removed content never reaches visible cells.
    expect(visible(masked2)).toEqual(visible(masked1));
    // Visible cells equal the dense encoder on the crop.
    const crop = Array.from(run(left).dataSync());
    const got = visible(masked1);
    const scale = Math.max(...crop.map(Math.abs));
    const worst = Math.max(...got.map((v, i) => Math.abs(v - crop[i]!)));
    expect(worst / scale).toBeLessThan(1e-4);
    // Removed cells are zero: the encoder output is what FCMAE's decoder receives.
    const removed = Array.from(nv.tf.slice(masked1, [0, 0, 2, 0], [1, 2, 2, -1]).dataSync());
    expect(removed.every((v) => v === 0)).toBe(true);
    model.dispose();
  });
});
