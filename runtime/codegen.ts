/**
 * The runtime side of compiler-generated model code (compiler/emit): origin tracking, the small
 * containers generated constructors use, and the functional primitives of compiler/primitives.ts
 * that have no other home in the runtime.
 * (Parameterless function layers use layers/functional.ts `Lambda`.)
 * In: tensors and closures from generated forward passes. Out: tensors; errors raised inside a
 * generated statement come out as NvcRuntimeError naming the `.nvc` location that produced it.
 * Holds afterwards: `at` runs each statement in its own tf.tidy scope, so a statement's
 * temporaries (and, for a call of a block, the block's statement results) are freed when it
 * returns, except the tensors the gradient tape saved for backward (the tape keeps its own
 * clones); without it every intermediate of a forward pass stays allocated until the whole
 * forward ends (tfjs frees them only at the end of the outermost scope), which made the peak
 * of a training step the sum of all its intermediates (docs/runtime-performance.md, Memory).
 */
import { NvccError } from './errors.js';
import * as tf from '@tensorflow/tfjs';
import { type Module, ModuleList, type ForwardContext } from './module.js';
import { keepFor, upsampleMask } from './ops/mask.js';
import { grn } from './ops/norm.js';
import { mergeHeads, scaledDotProductAttention, splitHeads } from './ops/attention.js';

// ---------------------------------------------------------------------------------------------
// Origins

/**
 * An error raised while running generated code, located in the `.nvc` source.
 * `origin` is the innermost statement (`std/convnextv2.nvc:30:13`); `trace` lists it and every
 * enclosing call site, innermost first. The message starts with the innermost origin.
 */
export class NvcRuntimeError extends NvccError {
  readonly origin: string;
  readonly trace: string[];
  readonly detail: string;

  constructor(origin: string, detail: string, cause: unknown) {
    super('user', `${origin}: ${detail}`, { cause });
    this.name = 'NvcRuntimeError';
    this.origin = origin;
    this.detail = detail;
    this.trace = [origin];
  }
}

/** Tensor types by rank, as generated signatures use them. */
export interface TensorOfRank {
  0: tf.Scalar;
  1: tf.Tensor1D;
  2: tf.Tensor2D;
  3: tf.Tensor3D;
  4: tf.Tensor4D;
  5: tf.Tensor5D;
  6: tf.Tensor<tf.Rank.R6>;
}
export type KnownRank = keyof TensorOfRank;

/** Called with every statement's origin and result while set (tests, `nvcc` debugging). */
export type ForwardObserver = (origin: string, value: tf.Tensor) => void;
let observer: ForwardObserver | undefined;

/** Installs (or with undefined removes) the observer of generated statements. */
export function observeForward(next: ForwardObserver | undefined): void {
  observer = next;
}

/**
 * Runs one generated statement whose result is a tensor of the given rank; an error inside,
 * or a result of another rank, is reported against the statement's `.nvc` origin.
 */
export function at<R extends KnownRank>(origin: string, rank: R, run: () => tf.Tensor): TensorOfRank[R] {
  const out = atRecord(origin, run);
  if (out.rank !== rank)
    throw new NvcRuntimeError(
      origin,
      `expected a rank-${rank} tensor, found shape [${out.shape.join(', ')}]`,
      undefined,
    );
  if (observer) observer(origin, out);
  return out as TensorOfRank[R];
}

/**
 * Runs one generated statement and reports an error inside against its `.nvc` origin. Used
 * directly for a result that is a record of tensors (a call of a block with named outputs);
 * each output is then taken out by its own `at` statement, which checks its rank.
 */
export function atRecord<T extends object>(origin: string, run: () => T): T {
  try {
    return tf.tidy(run as () => tf.TensorContainer) as T;
  } catch (err) {
    if (err instanceof NvcRuntimeError) {
      err.trace.push(origin);
      throw err;
    }
    throw new NvcRuntimeError(origin, err instanceof Error ? err.message : String(err), err);
  }
}

/** A runtime-checked view of a tensor at a known rank (inputs to blocks inside layer chains). */
export function rank<R extends KnownRank>(x: tf.Tensor, r: R): TensorOfRank[R] {
  if (x.rank !== r) throw new Error(`expected a rank-${r} tensor, found shape [${x.shape.join(', ')}]`);
  return x as TensorOfRank[R];
}

/** Reads an own property of a record (safe for keys such as `__proto__`). */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T {
  if (!Object.hasOwn(record, key)) throw new Error(`missing input '${key}'`);
  return Object.getOwnPropertyDescriptor(record, key)!.value as T;
}

/** Builds a record with the given own keys (safe for keys such as `__proto__`). */
export function record<T>(entries: ReadonlyArray<readonly [string, T]>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of entries)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Containers

/**
 * A module list whose item types are known per index (a tuple), for `[a, b]` and `a >> b` with
 * different layer types: `list.items[1]` has the second item's type.
 */
export class TupleList<T extends readonly Module[]> extends ModuleList<T[number]> {
  declare readonly items: T;

  constructor(items: readonly [...T]) {
    super(items);
  }
}

// ---------------------------------------------------------------------------------------------
// Functional primitives (names as in compiler/primitives.ts `runtime`)

export const sqrt = (x: tf.Tensor): tf.Tensor => tf.sqrt(x);
export const rsqrt = (x: tf.Tensor): tf.Tensor => tf.rsqrt(x);
export const square = (x: tf.Tensor): tf.Tensor => tf.square(x);
export const exp = (x: tf.Tensor): tf.Tensor => tf.exp(x);
export const log = (x: tf.Tensor): tf.Tensor => tf.log(x);
export const abs = (x: tf.Tensor): tf.Tensor => tf.abs(x);
export const neg = (x: tf.Tensor): tf.Tensor => tf.neg(x);
export const pow = (a: tf.Tensor, b: tf.Tensor | number): tf.Tensor => tf.pow(a, b);

function normAxes(axes: readonly number[], rank: number): number[] {
  return axes.map((a) => (a < 0 ? a + rank : a));
}

export const mean = (x: tf.Tensor, axes: readonly number[], keep: boolean): tf.Tensor =>
  tf.mean(x, normAxes(axes, x.rank), keep);
export const sum = (x: tf.Tensor, axes: readonly number[], keep: boolean): tf.Tensor =>
  tf.sum(x, normAxes(axes, x.rank), keep);
export const max = (x: tf.Tensor, axes: readonly number[], keep: boolean): tf.Tensor =>
  tf.max(x, normAxes(axes, x.rank), keep);
export const min = (x: tf.Tensor, axes: readonly number[], keep: boolean): tf.Tensor =>
  tf.min(x, normAxes(axes, x.rank), keep);

/**
 * Batched matrix product over the last two axes, the batch axes broadcast. tfjs's BatchMatMul
 * broadcasts forward but its gradient keeps the broadcast shape (tfjs 4.22), so a 2-D `b` (a
 * weight applied to tokens) is a plain matrix product of the flattened rows, and other batch
 * shapes are broadcast explicitly first (broadcastTo's gradient sums back).
 */
export function matmul(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  return tf.tidy(() => {
    if (b.rank === 2 && a.rank > 2 && !transposeA) {
      const out = tf.matMul(tf.reshape(a, [-1, a.shape[a.rank - 1]!]), b, false, transposeB);
      return tf.reshape(out, [...a.shape.slice(0, -1), out.shape[1]!]);
    }
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    if (batchA.length === batchB.length && batchA.every((n, i) => n === batchB[i]))
      return tf.matMul(a, b, transposeA, transposeB);
    const rank = Math.max(batchA.length, batchB.length);
    const at = (s: number[], i: number) => s[s.length - rank + i] ?? 1;
    const batch = Array.from({ length: rank }, (_, i) => Math.max(at(batchA, i), at(batchB, i)));
    const full = (t: tf.Tensor) => tf.broadcastTo(t, [...batch, ...t.shape.slice(-2)]);
    return tf.matMul(full(a), full(b), transposeA, transposeB);
  });
}

/** x[start:end] along one axis. */
export function slice(x: tf.Tensor, axis: number, start: number, end: number): tf.Tensor {
  const a = axis < 0 ? axis + x.rank : axis;
  const begin = x.shape.map((_, i) => (i === a ? start : 0));
  const size = x.shape.map((d, i) => (i === a ? end - start : d));
  return tf.slice(x, begin, size);
}

/** [B, H, W, C] -> [B, C], max over H and W. */
export const globalMaxPool = (x: tf.Tensor): tf.Tensor => tf.max(x, [1, 2]);

/** [B, H, W, C] -> [B, H * s, W * s, C], nearest neighbour. */
export function upsampleNearest(x: tf.Tensor, scale: number): tf.Tensor {
  const [, h, w] = x.shape as number[];
  return tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [h! * scale, w! * scale]);
}

/** Multi-head scaled dot-product attention: q [B, N, D], k [B, M, D], v [B, M, Dv] -> [B, N, Dv]. */
export function multiHeadAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number): tf.Tensor {
  return tf.tidy(() =>
    mergeHeads(scaledDotProductAttention(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads)), heads),
  );
}

/**
 * The stage's patch mask on x's grid: [B, H, W, C] -> [B, H, W, 1], 1 = removed; zeros when the
 * stage has no mask policy.
 */
export function patchMask(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  const [b, h, w] = x.shape as number[];
  if (!ctx.mask) return tf.zeros([b!, h!, w!, 1]);
  return upsampleMask(ctx.mask, h!, w!);
}

/**
 * The context an `unmasked` block runs in: the same context without the patch mask, so that
 * `visible`, `patch_mask` and `sparse` layers below it behave as in a dense model.
 */
export function unmasked(ctx: ForwardContext): ForwardContext {
  if (!ctx.mask) return ctx;
  const { mask: _removed, ...dense } = ctx;
  return dense;
}

/**
 * ConvNeXt-V2's GRN as one op: what compiler/emit/fusion.ts lowers the GRN pattern of
 * std/convnextv2.nvc to (visible, sum of squares over H and W, masked_statistics, sqrt, division
 * by the channel mean plus eps, gamma * (x * n) + beta + x). The same function of x, gamma and
 * beta, computed by ops/norm.ts `grn`, whose hand-written gradient keeps x and the [B,1,1,C]
 * statistics instead of the pattern's activation-sized intermediates. Under a mask the norm
 * covers visible positions only, and 'batch' pools over the batch, as `visible` and
 * `masked_statistics` do; without one both poolings are per sample. Where a sample's channel is
 * all zero the gradient is 0 (the pattern's plain `sqrt` would give NaN there).
 */
export function grnBlock(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  pooling: 'sample' | 'batch',
  ctx: ForwardContext,
): tf.Tensor {
  return tf.tidy(() => {
    const keep = keepFor(x, ctx);
    return keep ? grn(x, gamma, beta, { keep, statistics: pooling, eps }) : grn(x, gamma, beta, { eps });
  });
}

/**
 * Per-sample statistics [B, ...] pooled as the stage's mask policy asks (`masked_statistics`):
 * with a mask and 'batch', summed over the batch axis and repeated for every sample (the norm
 * over every visible position of the batch, as MinkowskiGRN computes it); otherwise x itself.
 */
export function maskedStatistics(x: tf.Tensor, pooling: 'sample' | 'batch', ctx: ForwardContext): tf.Tensor {
  if (!ctx.mask || pooling === 'sample') return x;
  return tf.tidy(() => tf.broadcastTo(tf.sum(x, 0, true), x.shape));
}
