/**
 * Seeded random numbers for initialisation, dropout, masking and data order.
 * In: a seed (number or string) or a serialised RngState. Out: an `Rng` (runtime/module.ts)
 * backed by xoshiro128** on 32-bit integer math, with Box-Muller normals. Holds afterwards:
 * the stream is a pure function of the seed; `state()` captures everything that influences
 * future draws (the four generator words AND the cached second Box-Muller normal, stored as
 * the two 32-bit halves of its float64 bit pattern), so `restoreRng(r.state())` continues the
 * stream bit for bit; `fork(label)` depends only on the current state and the label and does
 * not advance the parent.
 */
import { setInitRng, type Rng, type RngState } from './module.js';

export const RNG_ALGORITHM = 'xoshiro128**+box-muller/v1';

/** 32-bit FNV-1a over the UTF-8 bytes of `text`, then a murmur3 finaliser for avalanche. */
export function hashString32(text: string): number {
  return fmix32(fnv1a32(text));
}

/** Plain 32-bit FNV-1a over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's 32-bit finaliser: a bijection on uint32 with good avalanche. */
export function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** splitmix32 step: expands one 32-bit seed into a sequence of well-mixed words. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
}

function seedToWord(seed: number | string): number {
  if (typeof seed === 'string') return hashString32(seed);
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  // Integers up to 2^53 keep both halves so that seeds 1 and 2^32+1 differ.
  const int = Math.trunc(seed);
  const lo = int >>> 0;
  const hi = Math.floor(int / 0x100000000) >>> 0;
  return fmix32(lo ^ fmix32(hi ^ 0x5bd1e995));
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const TWO_POW_32 = 0x100000000;
const float64Scratch = new DataView(new ArrayBuffer(8));

export class Xoshiro128 implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(words: readonly number[], spare?: number) {
    if (words.length !== 4) throw new Error('xoshiro128** needs 4 state words');
    [this.s0, this.s1, this.s2, this.s3] = words.map((w) => w >>> 0) as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9; // all-zero state is a fixed point
    this.spare = spare;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws). */
  uniform(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Standard normal via the Box-Muller transform; the second value is cached in the state. */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    // 1 - uniform() is in (0, 1], so the log is finite.
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Integer uniformly in [lo, hi) (unbiased, by rejection). */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo)
      throw new RangeError(`int(${lo}, ${hi}): need integers lo < hi`);
    const span = hi - lo;
    if (span <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % span);
      for (;;) {
        const x = this.nextUint32();
        if (x < limit) return lo + (x % span);
      }
    }
    if (span > Number.MAX_SAFE_INTEGER) throw new RangeError('int(): range wider than 2^53');
    return lo + Math.floor(this.uniform() * span);
  }

  fork(label: string): Rng {
    const mix = splitmix32(hashString32(label) ^ fmix32(this.s0 ^ rotl(this.s2, 13)));
    const words = [this.s0, this.s1, this.s2, this.s3].map(
      (w, i) => (fmix32(w ^ mix()) ^ Math.imul(i + 1, 0x27d4eb2d)) >>> 0,
    );
    return new Xoshiro128(words);
  }

  state(): RngState {
    let hasSpare = 0;
    let hi = 0;
    let lo = 0;
    if (this.spare !== undefined) {
      hasSpare = 1;
      float64Scratch.setFloat64(0, this.spare, true);
      lo = float64Scratch.getUint32(0, true);
      hi = float64Scratch.getUint32(4, true);
    }
    return { algorithm: RNG_ALGORITHM, words: [this.s0, this.s1, this.s2, this.s3, hasSpare, hi, lo] };
  }
}

export function createRng(seed: number | string): Xoshiro128 {
  const next = splitmix32(seedToWord(seed));
  return new Xoshiro128([next(), next(), next(), next()]);
}

export function restoreRng(state: RngState): Xoshiro128 {
  if (state.algorithm !== RNG_ALGORITHM) {
    throw new Error(
      `cannot restore RNG state of algorithm '${state.algorithm}' (this runtime uses '${RNG_ALGORITHM}')`,
    );
  }
  const w = state.words;
  if (w.length !== 7 || w.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
    throw new Error('malformed RNG state: expected 7 unsigned 32-bit words');
  }
  let spare: number | undefined;
  if (w[4] === 1) {
    float64Scratch.setUint32(0, w[6]!, true);
    float64Scratch.setUint32(4, w[5]!, true);
    spare = float64Scratch.getFloat64(0, true);
  } else if (w[4] !== 0) {
    throw new Error('malformed RNG state: spare flag must be 0 or 1');
  }
  return new Xoshiro128(w.slice(0, 4), spare);
}

/** Seeds everything: returns the root RNG and makes its `init` fork the parameter-init RNG. */
export function seed(n: number | string): Xoshiro128 {
  const root = createRng(n);
  setInitRng(root.fork('init'));
  return root;
}

function asXoshiro(rng: Rng): Pick<Xoshiro128, 'nextUint32' | 'int'> | undefined {
  return rng instanceof Xoshiro128 ? rng : undefined;
}

/** Integer uniformly in [lo, hi). Works with any Rng; exact and unbiased for ours. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  const x = asXoshiro(rng);
  if (x) return x.int(lo, hi);
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo)
    throw new RangeError(`randInt(${lo}, ${hi}): need integers lo < hi`);
  return lo + Math.floor(rng.uniform() * (hi - lo));
}

/** In-place Fisher-Yates shuffle; returns the same array. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randInt(rng, 0, i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

/** A random permutation of 0..n-1. */
export function permutation(rng: Rng, n: number): number[] {
  return shuffle(
    rng,
    Array.from({ length: n }, (_, i) => i),
  );
}

/** One element chosen uniformly. */
export function choice<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('choice() from an empty list');
  return items[randInt(rng, 0, items.length)]!;
}

/** Fills `out` with normal(mean, std) draws, in index order. */
export function fillNormal(rng: Rng, out: Float32Array, mean = 0, std = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = mean + std * rng.normal();
  return out;
}

/** Fills `out` with uniform draws in [lo, hi), in index order. */
export function fillUniform(rng: Rng, out: Float32Array, lo = 0, hi = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}
