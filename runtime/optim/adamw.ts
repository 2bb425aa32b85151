/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", on Adam of Kingma & Ba),
 * written from the papers' update rules. Slots `m` and `v` per parameter. Per step t (1-based):
 *   m = beta1*m + (1-beta1)*g;   v = beta2*v + (1-beta2)*g^2
 *   mhat = m/(1-beta1^t);        vhat = v/(1-beta2^t)
 *   p = p - lr*(mhat/(sqrt(vhat)+eps) + wd*p)          (decay uses p before the step)
 * Defaults: beta1 0.9, beta2 0.999, eps 1e-8, weight decay 0.01 (as torch.optim.AdamW).
 * In: gradients, parameters, learning rate. Out: parameters and the slots `m`, `v` updated.
 * Holds afterwards: `state()` carries the step count t and both slots, so an optimizer restored
 * from it takes the same next step.
 */
import * as tf from '@tensorflow/tfjs';
import { SlotOptimizer, type OptimizerOptions } from './optimizer.js';

export interface AdamWOptions extends OptimizerOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

export class AdamW extends SlotOptimizer {
  readonly kind = 'adamw';
  protected readonly slotNames = ['m', 'v'] as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(options: AdamWOptions = {}) {
    super(options, 0.01);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    for (const [name, b] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(b >= 0 && b < 1)) throw new RangeError(`AdamW ${name} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps > 0)) throw new RangeError(`AdamW eps must be > 0, got ${this.eps}`);
  }

  protected hyper(): Record<string, number> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }

  protected update(p: tf.Variable, g: tf.Tensor, [m, v]: tf.Variable[], lr: number, wd: number, t: number): void {
    const mNew = tf.add(tf.mul(m!, this.beta1), tf.mul(g, 1 - this.beta1));
    const vNew = tf.add(tf.mul(v!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    const direction = tf.div(tf.div(mNew, bc1), tf.add(tf.sqrt(tf.div(vNew, bc2)), this.eps));
    const step = wd === 0 ? direction : tf.add(direction, tf.mul(p, wd));
    p.assign(tf.sub(p, tf.mul(step, lr)));
    m!.assign(mNew);
    v!.assign(vNew);
  }
}
