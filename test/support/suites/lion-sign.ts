/**
 * Lion's sign on tiny values, run once per backend by test/runtime/optim-lion-sign*.test.ts.
 * PyTorch's Lion takes torch.sign of c = beta1 * m + (1 - beta1) * g: +-1 for every non-zero c
 * however small, 0 for an exact zero. The wasm backend's tf.sign returns 0 for |x| < ~1.2e-7,
 * which made nvcc skip updates PyTorch makes (issue 15). The expected values below are that rule
 * in float64 (Math.sign is exact), independent of tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Module } from '../../../runtime/module.js';
import { signExact } from '../../../runtime/ops/elementwise.js';
import { Lion } from '../../../runtime/optim/index.js';
import { seed } from '../../../runtime/rng.js';
import { useTestBackend } from '../backend.js';

/** Gradients from 1e-9 to 1e-6 of both signs, and exact zeros (positive and negative). */
const GRADS = [1e-9, -1e-9, 3e-9, -2.5e-8, 1e-7, -1.1e-7, 6e-7, -1e-6, 1e-6, 0, -0, 0];
const START = [0.5, -0.25, 1, 0, 2, -3, 0.125, 0.75, -1, 0.5, -0.5, 0];

class Flat extends Module {
  constructor() {
    super();
    this.param('w', [GRADS.length], () => tf.tensor1d(START));
  }
}

/** Two Lion steps (the paper rule) in float64: the second with zero gradient, momentum only. */
function reference(lr: number, wd: number, beta1: number, beta2: number): { p: number[]; m: number[] }[] {
  let p = [...START];
  let m = GRADS.map(() => 0);
  const out: { p: number[]; m: number[] }[] = [];
  for (const g of [GRADS, GRADS.map(() => 0)]) {
    const c = m.map((mi, i) => beta1 * mi + (1 - beta1) * g[i]!);
    p = p.map((pi, i) => pi - lr * (Math.sign(c[i]!) + wd * pi));
    m = m.map((mi, i) => beta2 * mi + (1 - beta2) * g[i]!);
    out.push({ p, m });
  }
  return out;
}

export function defineLionSignSuite(backend: 'cpu' | 'wasm'): void {
  describe(`Lion on tiny gradients (${backend})`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
      seed(0);
    });

    it('signExact is torch.sign: +-1 down to subnormals, 0 for +-0, NaN for NaN', () => {
      const x = tf.tensor1d([1e-9, -1e-9, 1e-40, -1e-40, 1e-7, -1.1e-7, 0, -0, 3, -2, Number.NaN]);
      const got = Array.from(signExact(x).dataSync());
      expect(got.slice(0, 10)).toEqual([1, -1, 1, -1, 1, -1, 0, 0, 1, -1]);
      expect(got[10]).toBeNaN();
    });

    for (const wd of [0, 0.1]) {
      it(`moves every parameter with a non-zero gradient by lr, leaves exact zeros alone (wd ${wd})`, () => {
        const model = new Flat();
        const params = model.namedParameters();
        const lr = 1e-2;
        const opt = new Lion({ weightDecay: wd });
        const expected = reference(lr, wd, opt.beta1, opt.beta2);
        for (const [step, g] of [GRADS, GRADS.map(() => 0)].entries()) {
          opt.step(new Map([['w', tf.tensor1d(g)]]), params, lr);
          const p = Array.from(params[0]![1].variable.dataSync());
          for (let i = 0; i < p.length; i++) {
            // A skipped update is off by lr = 1e-2; float32 rounding of p is below 1e-7.
            expect(Math.abs(p[i]! - expected[step]!.p[i]!), `step ${step + 1}, gradient ${GRADS[i]}`).toBeLessThan(
              1e-6,
            );
          }
        }
        model.dispose();
      });
    }
  });
}
