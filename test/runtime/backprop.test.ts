/**
 * leanVariableGrads (runtime/train/backprop.ts) against tf.variableGrads on the product model:
 * convnextv2_atto built from std/convnextv2.nvc, wasm backend, batch 2 at 32x32, softmax
 * cross-entropy. The loss and every gradient are bit-identical, no tensor is left behind, and
 * the peak of live tensor bytes (tf.profile, deterministic) is at most 0.7x tf.variableGrads'.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { initBackend } from '../../runtime/backend.js';
import { setInitRng } from '../../runtime/module.js';
import { createRng } from '../../runtime/rng.js';
import { leanVariableGrads } from '../../runtime/train/backprop.js';
import type { TrainableModel } from '../../runtime/train/spec.js';

let root: string;
let model: TrainableModel;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  root = mkdtempSync(join(tmpdir(), 'nvcc-backprop-'));
  const program = await loadBuiltProgram('std/convnextv2.nvc', { outDir: join(root, 'build') });
  setInitRng(createRng(3).fork('init'));
  model = program.modelFactories.convnextv2_atto!.create();
}, 300_000);

afterAll(() => {
  model?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('leanVariableGrads', () => {
  it('gives tf.variableGrads results bit for bit, leaves no tensor and peaks lower', async () => {
    const vars = model.namedParameters().map(([, p]) => p.variable);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 5);
    const labels = tf.oneHot(tf.tensor1d([3, 997], 'int32'), 1000);
    const loss = () =>
      tf.losses.softmaxCrossEntropy(labels, model.forward({ training: true, rng: createRng(1) }, { x }) as tf.Tensor);
    const run = async (grads: typeof leanVariableGrads) => {
      const before = tf.memory().numTensors;
      let values: Float32Array[] = [];
      let names: string[] = [];
      const { peakBytes } = await tf.profile(() => {
        const out = grads(loss as () => tf.Scalar, vars);
        names = Object.keys(out.grads).sort();
        values = [out.value, ...names.map((n) => out.grads[n]!)].map((t) => t.dataSync() as Float32Array);
        out.value.dispose();
        for (const g of Object.values(out.grads)) g.dispose();
      });
      return { values, names, peakBytes, leaked: tf.memory().numTensors - before };
    };
    const reference = await run(tf.variableGrads as typeof leanVariableGrads);
    const lean = await run(leanVariableGrads);
    expect(lean.names).toEqual(reference.names);
    expect(lean.names.length).toBe(vars.length);
    expect(lean.values.length).toBe(reference.values.length);
    lean.values.forEach((v, i) =>
      expect(Buffer.from(v.buffer).equals(Buffer.from(reference.values[i]!.buffer))).toBe(true),
    );
    expect(lean.leaked).toBe(0);
    expect(reference.leaked).toBe(0);
    expect(lean.peakBytes).toBeLessThanOrEqual(0.7 * reference.peakBytes);
    x.dispose();
    labels.dispose();
  });

  it("takes its own path on a process's first gradient, before tfjs's engine has made a tape", () => {
    // tfjs creates engine.state.activeTape at the first startTape; a fresh process has none.
    const state = (tf.engine() as unknown as { state: Record<string, unknown> }).state;
    delete state.activeTape;
    const spy = vi.spyOn(tf.engine(), 'gradients');
    try {
      const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'first-gradient');
      const out = leanVariableGrads(() => tf.sum(tf.square(v)) as tf.Scalar, [v]);
      expect(spy).not.toHaveBeenCalled();
      expect(Array.from(out.grads[v.name]!.dataSync())).toEqual([2, 4, 6]);
      expect(out.value.dataSync()[0]).toBe(14);
      out.value.dispose();
      for (const g of Object.values(out.grads)) g.dispose();
      v.dispose();
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses a loss that depends on none of the variables, leaving no tensor', () => {
    const v = tf.variable(tf.ones([2]), true, 'unused-by-the-loss');
    const before = tf.memory().numTensors;
    expect(() => leanVariableGrads(() => tf.scalar(1), [v])).toThrow('does not depend on any of the variables');
    expect(tf.memory().numTensors).toBe(before);
    v.dispose();
  });
});
