/**
 * Test helper: overwrite every parameter of a module with seeded random values, so that tests
 * exercise GRN gamma/beta, LayerNorm affine parts and biases (all trivial at their inits).
 * Matrix-like weights get N(0, 1/fanIn); depthwise [k,k,C,1] uses fanIn k*k; LayerNorm weights
 * 1 + N(0, 0.3^2); every other parameter N(0, 0.3^2).
 */
import * as tf from '@tensorflow/tfjs';
import type { Module } from '../../runtime/module.js';
import { createRng } from '../../runtime/rng.js';

export function randomizeParameters(module: Module, seed: number): void {
  const rng = createRng(seed);
  for (const [path, p] of module.namedParameters()) {
    const shape = p.variable.shape;
    const size = p.variable.size;
    let std = 0.3;
    let mean = 0;
    if (shape.length >= 2) {
      const fan =
        shape.length === 4 && shape[3] === 1 ? shape[0]! * shape[1]! : shape.slice(0, -1).reduce((a, b) => a * b, 1);
      std = 1 / Math.sqrt(fan);
    } else if (path === 'weight' || path.endsWith('.weight')) {
      // rank-1 weights are LayerNorm scales
      mean = 1;
    }
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = mean + std * rng.normal();
    p.variable.assign(tf.tensor(values, shape));
  }
}
