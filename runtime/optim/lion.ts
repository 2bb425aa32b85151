/**
 * Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), written from the
 * paper's update rule. In: gradients, parameters, learning rate. Out: parameters and the one
 * momentum slot `m` per parameter updated. Per step, with g the (clipped) gradient:
 *   c = beta1*m + (1-beta1)*g;  u = sign(c)            (sign(0) = 0, +-1 for any other c, as
 *                                                       torch.sign; see ops signExact)
 *   p = p - lr*(u + wd*p)                              (decoupled weight decay)
 *   m = beta2*m + (1-beta2)*g
 * Defaults: beta1 0.9, beta2 0.99, weight decay 0.
 */
import * as tf from '@tensorflow/tfjs';
import { signExact } from '../ops/elementwise.js';
import { SlotOptimizer, type OptimizerOptions } from './optimizer.js';

export interface LionOptions extends OptimizerOptions {
  readonly beta1?: number;
  readonly beta2?: number;
}

export class Lion extends SlotOptimizer {
  readonly kind = 'lion';
  protected readonly slotNames = ['m'] as const;
  readonly beta1: number;
  readonly beta2: number;

  constructor(options: LionOptions = {}) {
    super(options, 0);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.99;
    for (const [name, b] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(b >= 0 && b < 1)) throw new RangeError(`Lion ${name} must be in [0, 1), got ${b}`);
    }
  }

  protected hyper(): Record<string, number> {
    return { beta1: this.beta1, beta2: this.beta2, weightDecay: this.weightDecay };
  }

  protected update(p: tf.Variable, g: tf.Tensor, [m]: tf.Variable[], lr: number, wd: number): void {
    const c = tf.add(tf.mul(m!, this.beta1), tf.mul(g, 1 - this.beta1));
    const u = signExact(c);
    const step = wd === 0 ? u : tf.add(u, tf.mul(p, wd));
    p.assign(tf.sub(p, tf.mul(step, lr)));
    m!.assign(tf.add(tf.mul(m!, this.beta2), tf.mul(g, 1 - this.beta2)));
  }
}
