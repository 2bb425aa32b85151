/**
 * Central finite-difference gradient checks for tests.
 * In: a forward function reading some tf.Variables (inputs are wrapped as variables too).
 * Out: per variable, the worst ratio |analytic - numeric| / (atol + rtol*|numeric|) over the
 * checked elements (<= 1 means within tolerance).
 * How: the scalar probed is L = sum(forward() * R) with a fixed random R, so every output element
 * matters; L is accumulated in float64 from the float32 outputs to keep rounding out of the
 * difference quotient; each checked element is perturbed by +-h.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { createRng } from '../../runtime/rng.js';

export interface GradCheckOptions {
  /** Step. Default 1e-2 (float32 forward passes). */
  readonly h?: number;
  readonly rtol?: number;
  readonly atol?: number;
  /** Check at most this many elements per variable (spread deterministically). Default 48. */
  readonly maxElements?: number;
  readonly seed?: number;
}

export interface GradCheckReport {
  readonly name: string;
  readonly worst: number;
  readonly checked: number;
  readonly maxAbsGrad: number;
  readonly details: string;
}

export function checkGradients(
  forward: () => tf.Tensor,
  vars: ReadonlyArray<readonly [string, tf.Variable]>,
  options: GradCheckOptions = {},
): GradCheckReport[] {
  const h = options.h ?? 1e-2;
  const rtol = options.rtol ?? 2e-2;
  const atol = options.atol ?? 2e-3;
  const maxElements = options.maxElements ?? 48;
  const rng = createRng(options.seed ?? 1234);
  const out0 = tf.tidy(forward);
  const weights = new Float64Array(out0.size);
  for (let i = 0; i < weights.length; i++) weights[i] = rng.normal();
  const wTensor = tf.tensor(Float32Array.from(weights), out0.shape);
  out0.dispose();

  const probe = (): number => {
    const y = tf.tidy(forward);
    const v = y.dataSync();
    y.dispose();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i]! * weights[i]!;
    return s;
  };

  const { grads } = tf.variableGrads(
    () => tf.sum(tf.mul(forward(), wTensor)) as tf.Scalar,
    vars.map(([, v]) => v),
  );
  const reports: GradCheckReport[] = [];
  for (const [name, variable] of vars) {
    const g = grads[variable.name];
    if (!g) throw new Error(`no gradient for ${name}`);
    const analytic = g.dataSync();
    const base = variable.dataSync().slice() as Float32Array;
    const n = base.length;
    const count = Math.min(n, maxElements);
    const indices = new Set<number>();
    if (count === n) for (let i = 0; i < n; i++) indices.add(i);
    else while (indices.size < count) indices.add(Math.floor(rng.uniform() * n));
    let worst = 0;
    let details = '';
    let maxAbsGrad = 0;
    for (const i of indices) {
      const orig = base[i]!;
      base[i] = orig + h;
      variable.assign(tf.tensor(base, variable.shape));
      const lp = probe();
      base[i] = orig - h;
      variable.assign(tf.tensor(base, variable.shape));
      const lm = probe();
      base[i] = orig;
      const numeric = (lp - lm) / (2 * h);
      const a = analytic[i]!;
      maxAbsGrad = Math.max(maxAbsGrad, Math.abs(a));
      const ratio = Number.isFinite(a) ? Math.abs(a - numeric) / (atol + rtol * Math.abs(numeric)) : Infinity;
      if (ratio > worst) {
        worst = ratio;
        details = `${name}[${i}]: analytic ${a}, numeric ${numeric}`;
      }
    }
    variable.assign(tf.tensor(base, variable.shape));
    reports.push({ name, worst, checked: indices.size, maxAbsGrad, details });
  }
  for (const g of Object.values(grads)) g.dispose();
  wTensor.dispose();
  return reports;
}

/** Deterministic float32 tensor with N(0, std^2) entries. */
export function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  const rng = createRng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = std * rng.normal();
  return tf.tensor(v, shape);
}

/** Fails unless every report is within tolerance and actually checked some elements. */
export function expectGradOk(reports: readonly GradCheckReport[]): void {
  for (const r of reports) {
    if (!(r.worst <= 1)) throw new Error(`gradient check failed (${r.worst.toFixed(2)}x tolerance): ${r.details}`);
    expect(r.checked).toBeGreaterThan(0);
  }
}
