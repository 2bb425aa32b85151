/**
 * The number of patches a random patch mask keeps. The official gen_random_mask keeps
 * len_keep = int(L * (1 - ratio)) (Python, float64); test/fixtures/torch/fcmae_kept_counts.json
 * holds that formula evaluated by Python (make_fcmae_fixtures.py) for ratios 0.1 .. 0.9 and
 * L = 1 .. 400. nvcc's default must agree everywhere; `kept = decimal`, the documented option,
 * snaps products that are an integer in decimal (L = 100, ratio 0.9 keeps 10, not 9).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerStage } from '../../compiler/builder/lower.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { keptCount, flattenMask } from '../../runtime/ops/mask.js';
import { createRng } from '../../runtime/rng.js';
import { drawMask } from '../../runtime/train/objective.js';
import { freshDir } from '../builder/helpers.js';

const table = JSON.parse(fs.readFileSync('test/fixtures/torch/fcmae_kept_counts.json', 'utf8')) as {
  kept: Record<string, number[]>;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('kept patch count', () => {
  it('equals the official int(L * (1 - ratio)) for ratios 0.1-0.9 and L = 1..400', () => {
    const ratios = Object.keys(table.kept);
    expect(ratios).toEqual(['0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7', '0.8', '0.9']);
    let decimalDiffers = 0;
    for (const r of ratios) {
      const expected = table.kept[r]!;
      expect(expected).toHaveLength(400);
      const got = expected.map((_, i) => keptCount(i + 1, Number(r)));
      expect(got, `ratio ${r}`).toEqual(expected);
      decimalDiffers += expected.filter((k, i) => keptCount(i + 1, Number(r), 'decimal') !== k).length;
    }
    // The decimal option differs exactly where float64 falls just below an integer product.
    expect(decimalDiffers).toBeGreaterThan(0);
    expect(table.kept['0.8']![4]).toBe(0); // L = 5: official keeps 0
    expect(keptCount(5, 0.8, 'decimal')).toBe(1);
  });

  it('a stage mask uses the official count unless `kept = decimal`', () => {
    const image = tf.zeros([2, 320, 320, 3]); // L = 100 patches of 32
    const removed = (kept?: 'decimal') =>
      Array.from(
        tf
          .sum(
            flattenMask(
              drawMask(
                { kind: 'random_patches', ratio: 0.9, patch: 32, ...(kept ? { kept } : {}) },
                image,
                createRng(5),
              ),
            ),
            1,
          )
          .dataSync(),
      );
    expect(removed()).toEqual([91, 91]);
    expect(removed('decimal')).toEqual([90, 90]);
  });

  it('`kept` is a checked setting of random_patches that reaches the stage spec', () => {
    const source = fs.readFileSync('test/fixtures/emit/mini-mednvc.nvc', 'utf8');
    const file = path.join(freshDir(), 'mini.nvc');
    fs.writeFileSync(file, '');
    const withKept = (value: string) =>
      source.replace(
        'mask = random_patches(ratio = 0.6, patch = 32)',
        `mask = random_patches(ratio = 0.6, patch = 32, kept = ${value})`,
      );
    expect(withKept('decimal')).not.toBe(source);
    const ok = compileProgramSync(file, { text: withKept('decimal') });
    expect(ok.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const stage = ok.program!.trains[0]!.stages[0]!;
    expect(stage.mask).toMatchObject({ kept: 'decimal' });
    const spec = lowerStage(stage, { factory: 'f', className: 'C' });
    expect(spec.mask).toEqual({ kind: 'random_patches', ratio: 0.6, patch: 32, kept: 'decimal' });
    const bad = compileProgramSync(file, { text: withKept('nearest') });
    expect(bad.diagnostics.map((d) => d.code)).toContain('NVC5007');
  });
});
