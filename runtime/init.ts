/**
 * Parameter initializers (the `Initializer` contract of module.ts).
 * In: a shape and the seeded init Rng. Out: a float32 tensor on the active backend.
 * Holds afterwards: values depend only on (shape, the Rng's state), so equal seeds give equal
 * parameters on every backend; values are drawn in row-major order of the given shape.
 */
import * as tf from '@tensorflow/tfjs';
import type { Initializer, Rng } from './module.js';

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fromSampler(shape: readonly number[], sample: () => number): tf.Tensor {
  const values = new Float32Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = sample();
  return tf.tensor(values, [...shape], 'float32');
}

export function zeros(): Initializer {
  return (shape) => tf.zeros([...shape], 'float32');
}

export function ones(): Initializer {
  return (shape) => tf.ones([...shape], 'float32');
}

export function constant(value: number): Initializer {
  return (shape) => tf.fill([...shape], value, 'float32');
}

/** Normal(mean, std^2), untruncated. */
export function normal(std = 1, mean = 0): Initializer {
  return (shape, rng) => fromSampler(shape, () => mean + std * rng.normal());
}

/** Uniform in [low, high). */
export function uniform(low: number, high: number): Initializer {
  if (!(high > low)) throw new RangeError(`uniform: need low < high, got [${low}, ${high})`);
  return (shape, rng) => fromSampler(shape, () => low + (high - low) * rng.uniform());
}

export interface TruncNormalOptions {
  readonly std?: number;
  readonly mean?: number;
  /** Lower cut-off, ABSOLUTE (not in units of std), as timm's `trunc_normal_`. Default -2. */
  readonly a?: number;
  /** Upper cut-off, absolute. Default 2. */
  readonly b?: number;
}

/**
 * Normal(mean, std^2) conditioned on [a, b] with absolute bounds, like timm's
 * `trunc_normal_(t, mean, std, a=-2, b=2)`: with std=0.02 the cut at +-2 is 100 sigma, i.e. an
 * untruncated normal in practice; with std=1 it removes about 4.6% of the mass.
 * Drawn by rejection from rng.normal(), which is exact for the conditioned distribution; if the
 * interval holds less than ~1e-4 of the mass we refuse rather than loop for ever.
 */
export function truncNormal(options: TruncNormalOptions = {}): Initializer {
  const std = options.std ?? 1;
  const mean = options.mean ?? 0;
  const a = options.a ?? -2;
  const b = options.b ?? 2;
  if (!(b > a)) throw new RangeError(`truncNormal: need a < b, got [${a}, ${b}]`);
  if (!(std > 0)) throw new RangeError(`truncNormal: std must be > 0, got ${std}`);
  const mass = 0.5 * (erf((b - mean) / (std * Math.SQRT2)) - erf((a - mean) / (std * Math.SQRT2)));
  if (mass < 1e-4) throw new RangeError(`truncNormal: [${a}, ${b}] holds only ${mass} of N(${mean}, ${std}^2)`);
  return (shape, rng) =>
    fromSampler(shape, () => {
      for (;;) {
        const v = mean + std * rng.normal();
        if (v >= a && v <= b) return v;
      }
    });
}

/** Shorthand used by ConvNeXt-V2 `_init_weights`: trunc_normal_(std=.02), bounds +-2 absolute. */
export function truncNormal02(): Initializer {
  return truncNormal({ std: 0.02 });
}

/**
 * PyTorch's default `kaiming_uniform_(w, a)`: U(-bound, bound) with
 * bound = sqrt(2 / (1 + a^2)) * sqrt(3 / fanIn). With a = sqrt(5) (the nn.Linear / nn.Conv2d
 * default) this is bound = 1 / sqrt(fanIn).
 * fanIn defaults to the product of all dims but the last, which is right for our layouts of
 * Linear [in, out] and Conv2d [kh, kw, in, out]; pass it explicitly for depthwise [k, k, C, 1]
 * (PyTorch's fan_in there is k*k).
 */
export function kaimingUniform(a = Math.sqrt(5), fanIn?: number): Initializer {
  return (shape, rng) => {
    const fan = fanIn ?? sizeOf(shape.slice(0, -1));
    if (!(fan > 0)) throw new RangeError(`kaimingUniform: fan-in must be > 0 (shape [${shape.join(', ')}])`);
    const bound = Math.sqrt(2 / (1 + a * a)) * Math.sqrt(3 / fan);
    return fromSampler(shape, () => (2 * rng.uniform() - 1) * bound);
  };
}

/** PyTorch's default bias init for Linear/Conv: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function torchDefaultBias(fanIn: number): Initializer {
  if (!(fanIn > 0)) throw new RangeError(`torchDefaultBias: fan-in must be > 0, got ${fanIn}`);
  const bound = 1 / Math.sqrt(fanIn);
  return (shape, rng) => fromSampler(shape, () => (2 * rng.uniform() - 1) * bound);
}

/** Scales another initializer's output (e.g. ConvNeXt-V2 `head_init_scale`). */
export function scaled(init: Initializer, factor: number): Initializer {
  return (shape, rng) => {
    const t = init(shape, rng);
    const out = tf.mul(t, factor);
    t.dispose();
    return out;
  };
}

/**
 * erf in float64 (Abramowitz-Stegun 7.1.28 is too coarse; this uses the continued series /
 * complementary expansion with |error| < 1e-14), used only to size truncation intervals.
 */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return sign * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc, evaluated bottom-up (Lentz not needed at this precision).
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return sign * (1 - erfc);
}

export type { Initializer, Rng };
