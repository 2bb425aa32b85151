/**
 * Named forwards (parts) and interfaces, built and run: a model that takes any ImageEncoder
 * (std/encoder.nvc) runs the encoder whole and stage by stage through `enc.stage(y, i = i)`;
 * for ConvNeXtV2Encoder and SwinEncoder both give the same tensor, so the parts trace exactly
 * the layers the encoder's own forward runs, under the same parameter paths.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshDir } from './helpers.js';

const FIXTURE = 'test/fixtures/emit/encoder-parts.nvc';

describe('an encoder run stage by stage through its parts', () => {
  it('checks without diagnostics, and the parts add no parameters', () => {
    const r = compileProgramSync(FIXTURE);
    expect(r.diagnostics).toEqual([]);
    const model = r.program!.models.find((m) => m.name === 'SwinBoth')!;
    const paths: string[] = [];
    const walk = (n: typeof model.root) => {
      for (const w of n.weights) paths.push(`${n.path}.${w.name}`);
      for (const c of n.children) walk(c);
    };
    walk(model.root);
    expect(paths.every((p) => p.startsWith('both.enc.'))).toBe(true);
  });

  for (const name of ['SwinBoth', 'ConvNeXtBoth'])
    it(`${name}: the staged result equals the encoder's own forward`, async () => {
      const loaded = await loadBuiltProgram(FIXTURE, { outDir: path.join(freshDir(), 'out') });
      await cpuSeeded(5);
      const model = loaded.modelFactories[name]!.create();
      try {
        const x = nv.tf.randomNormal([2, 32, 32, 3]);
        const out = model.forward({ training: false, rng: nv.createRng(1) }, { x }) as Record<string, nv.tf.Tensor>;
        expect(out.whole!.shape).toEqual([2, 1, 1, 64]);
        // The same float32 operations in the same order.
        const diff = nv.tf.max(nv.tf.abs(nv.tf.sub(out.whole!, out.staged!))).dataSync()[0]!;
        expect(diff).toBe(0);
        const spread = nv.tf.max(nv.tf.abs(out.whole!)).dataSync()[0]!;
        expect(spread).toBeGreaterThan(0);
      } finally {
        model.dispose();
      }
    });
});
