/**
 * Weights from safetensors bytes (runtime/io/assign.ts `loadWeightsFromBytes`, what the browser
 * entry offers instead of file paths): valid bytes assign every tensor; a wrong shape, a missing
 * or unexpected key, or a NaN refuses the whole load and leaves every parameter as it was.
 */
import { describe, expect, it } from 'vitest';
import * as nv from '../../runtime/browser.js';

function linear(): nv.Linear {
  nv.seed(1);
  return new nv.Linear(3, 2);
}

const values = (m: nv.Linear) => [...m.weight.dataSync(), ...m.bias!.dataSync()];

function bytesOf(tensors: Record<string, { shape: number[]; data: number[] }>): Uint8Array {
  return nv.encodeSafetensors(
    Object.fromEntries(
      Object.entries(tensors).map(([k, t]) => [
        k,
        { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data) },
      ]),
    ),
  );
}

const WEIGHT = { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] };
const BIAS = { shape: [2], data: [0.5, -0.5] };

describe('loadWeightsFromBytes', () => {
  it('assigns every tensor of valid bytes', async () => {
    await nv.tf.setBackend('cpu');
    const m = linear();
    const report = nv.loadWeightsFromBytes(m, bytesOf({ weight: WEIGHT, bias: BIAS }), 'w.safetensors');
    expect(report.loaded.sort()).toEqual(['bias', 'weight']);
    expect(values(m)).toEqual([1, 2, 3, 4, 5, 6, 0.5, -0.5]);
    m.dispose();
  });

  it('refuses a wrong shape, a missing key, an unexpected key or a NaN, and assigns nothing', async () => {
    await nv.tf.setBackend('cpu');
    const cases: [string, Uint8Array, new (...args: never[]) => Error, RegExp][] = [
      [
        'wrong shape',
        bytesOf({ weight: { shape: [2, 3], data: WEIGHT.data }, bias: BIAS }),
        nv.WeightsMismatchError,
        /weight: model expects \[3, 2\], file has \[2, 3\]/,
      ],
      ['missing key', bytesOf({ weight: WEIGHT }), nv.WeightsMismatchError, /missing in the file \(1\):\n\s+bias/],
      [
        'unexpected key',
        bytesOf({ weight: WEIGHT, bias: BIAS, extra: BIAS }),
        nv.WeightsMismatchError,
        /unexpected in the file \(1\):\n\s+extra/,
      ],
      [
        'NaN',
        bytesOf({ weight: { shape: [3, 2], data: [1, Number.NaN, 3, 4, 5, 6] }, bias: BIAS }),
        nv.SafetensorsError,
        /non-finite values in 'weight' \(1 NaN/,
      ],
    ];
    for (const [label, bytes, kind, message] of cases) {
      const m = linear();
      const before = values(m);
      let caught: unknown;
      try {
        nv.loadWeightsFromBytes(m, bytes, 'w.safetensors');
      } catch (err) {
        caught = err;
      }
      expect(caught, label).toBeInstanceOf(kind);
      expect((caught as Error).message, label).toMatch(message);
      expect((caught as Error).message, label).toContain('w.safetensors');
      expect(values(m), label).toEqual(before);
      m.dispose();
    }
  });
});
