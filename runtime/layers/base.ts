/**
 * The layer contract generated code relies on.
 * In: a ForwardContext and tensors. Out: one tensor.
 * Holds: every layer exposes `forward(ctx, ...inputs)`; a layer with `sparse = true` runs the
 * dense emulation of submanifold sparse execution exactly when ctx.mask is set, and is the plain
 * dense layer otherwise.
 */
import type * as tf from '@tensorflow/tfjs';
import { Module, type ForwardContext, type Initializer } from '../module.js';

/** Anything callable by generated code: a layer or a compiler-generated block. */
export interface Callable {
  forward(ctx: ForwardContext, ...inputs: tf.Tensor[]): tf.Tensor;
}

export abstract class Layer extends Module implements Callable {
  abstract forward(ctx: ForwardContext, ...inputs: tf.Tensor[]): tf.Tensor;
}

/** Layers whose behaviour changes under a patch mask. */
export interface SparseCapable {
  sparse: boolean;
}

export function isSparseCapable(m: unknown): m is SparseCapable {
  return typeof m === 'object' && m !== null && typeof (m as { sparse?: unknown }).sparse === 'boolean';
}

/**
 * Marks a layer (or every sparse-capable layer below a module) as sparse and returns the same
 * instance, so parameter paths are unchanged (a wrapper module would add a path level).
 * Throws if nothing below `m` is sparse-capable.
 */
export function Sparse<M extends Module>(m: M): M {
  let marked = 0;
  const visit = (node: Module): void => {
    if (isSparseCapable(node)) {
      node.sparse = true;
      marked++;
    }
    for (const [, c] of node.children()) visit(c);
  };
  visit(m);
  if (marked === 0) throw new Error(`Sparse(): ${m.constructor.name} has no layer with a sparse mode`);
  return m;
}

/** Initialiser options shared by parametric layers. */
export interface InitOptions {
  readonly weightInit?: Initializer;
  readonly biasInit?: Initializer;
}
