import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../runtime/rng.js';
import { randomThrow } from '../../runtime/train/modality-dropout.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('randomThrow', () => {
  it('replaces whole modalities of the chosen samples with the fill value and keeps the rest', () => {
    const n = 64;
    const xray = tf.randomUniform([n, 2, 2, 1], 0, 1, 'float32', 1);
    const labs = tf.randomUniform([n, 3], 0, 1, 'float32', 2);
    const { inputs, thrown } = randomThrow(
      { xray, labs },
      { kind: 'random_throw', p: 0.5, fill: -10, modalities: ['xray', 'labs'] },
      createRng(5),
    );
    const x = inputs.xray!.arraySync() as number[][][][];
    const l = inputs.labs!.arraySync() as number[][];
    const x0 = xray.arraySync() as number[][][][];
    const l0 = labs.arraySync() as number[][];
    let thrownCount = 0;
    for (let i = 0; i < n; i++) {
      const xFilled = x[i]!.flat(2).every((v) => v === -10);
      const lFilled = l[i]!.every((v) => v === -10);
      expect(xFilled).toBe(thrown[i] === 0);
      expect(lFilled).toBe(thrown[i] === 1);
      if (thrown[i] !== 0) expect(x[i]).toEqual(x0[i]);
      if (thrown[i] !== 1) expect(l[i]).toEqual(l0[i]);
      if (thrown[i]! >= 0) thrownCount++;
    }
    // p = 0.5 over 64 samples: far from 0 and from 64 (binomial sd = 4).
    expect(thrownCount).toBeGreaterThan(16);
    expect(thrownCount).toBeLessThan(48);
    expect(thrown.some((t) => t === 0) && thrown.some((t) => t === 1)).toBe(true);
  });

  it('throws at rate p and uniformly over modalities (10,000 samples)', () => {
    const n = 10000;
    const a = tf.zeros([n, 1]);
    const b = tf.zeros([n, 1]);
    const c = tf.zeros([n, 1]);
    const { thrown } = randomThrow(
      { a, b, c },
      { kind: 'random_throw', p: 0.2, fill: -10, modalities: ['a', 'b', 'c'] },
      createRng(9),
    );
    const counts = [0, 0, 0];
    for (const t of thrown) if (t >= 0) counts[t]!++;
    const total = counts[0]! + counts[1]! + counts[2]!;
    expect(Math.abs(total / n - 0.2)).toBeLessThan(0.015); // sd 0.004
    for (const k of counts) expect(Math.abs(k / total - 1 / 3)).toBeLessThan(0.04);
  });

  it('is reproducible from the RNG state and a no-op at p = 0', () => {
    const x = tf.ones([8, 2]);
    const y = tf.ones([8, 2]);
    const s = { kind: 'random_throw', p: 0.3, fill: -1, modalities: ['x', 'y'] } as const;
    const r1 = randomThrow({ x, y }, s, createRng(1)).thrown;
    const r2 = randomThrow({ x, y }, s, createRng(1)).thrown;
    expect(Array.from(r1)).toEqual(Array.from(r2));
    const none = randomThrow({ x, y }, { ...s, p: 0 }, createRng(1));
    expect(none.inputs.x).toBe(x);
    expect(Array.from(none.thrown).every((t) => t === -1)).toBe(true);
    expect(() => randomThrow({ x }, s, createRng(1))).toThrow(/no input 'y'/);
  });
});
