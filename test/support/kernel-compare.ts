/**
 * Helpers shared by the kernel tests: backend-independent inputs, running a check on a chosen
 * backend with a leak check around it, and the normwise relative error used as the tolerance.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

export type Backend = 'wasm' | 'cpu';

/** Deterministic values in [-1, 1) (a small LCG), independent of any backend. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs f on the given backend; no tensor may be alive before or after. */
export async function on<T>(backend: Backend, f: () => T): Promise<T> {
  expect(tf.memory().numTensors).toBe(0);
  await tf.setBackend(backend);
  const r = f();
  expect(tf.memory().numTensors).toBe(0);
  return r;
}

/** max |a - b| / max |b| (normwise relative error). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}
