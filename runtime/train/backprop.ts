/**
 * Loss and variable gradients with early frees: tf.variableGrads' result, in less memory.
 * In: a function returning a scalar loss, and the variables to differentiate. Out: the loss and
 * one gradient per trainable variable the loss depends on (keyed by variable name), the same
 * tensors tf.variableGrads returns, bit for bit (the same tape, visited in the same order, the
 * same additions). Holds afterwards: no other tensor of the pass is alive; the engine's tape
 * is cleared.
 *
 * Why: tfjs 4.22's engine keeps every gradient it computes during the backward pass (the
 * gradient of every intermediate activation) and every tensor saved for backward until the
 * whole backward pass ends, so a training step's peak is about twice the activations. Here
 * each tape node is processed in its own tidy scope, and as soon as a node is done, the
 * gradient of its outputs and the tensors it saved are freed; saved tensors of nodes that do
 * not lie between the variables and the loss are freed before the backward pass starts.
 * Falls back to tf.variableGrads inside another gradient computation (higher-order gradients).
 */
import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs's tape node and engine this module reads (tfjs-core 4.22 engine.js). */
interface TapeNode {
  readonly id: number;
  readonly kernelName: string;
  readonly inputs: Readonly<Record<string, tf.Tensor>>;
  readonly outputs: readonly tf.Tensor[];
  readonly saved?: readonly tf.Tensor[];
  readonly gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface TapeEngine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

function engine(): TapeEngine | undefined {
  const e = tf.engine() as unknown as Partial<TapeEngine>;
  const usable =
    typeof e.startTape === 'function' &&
    typeof e.endTape === 'function' &&
    typeof e.scopedRun === 'function' &&
    typeof e.tidy === 'function' &&
    e.state !== undefined &&
    // Not `'activeTape' in e.state`: tfjs creates that field only at the first startTape, so
    // the first gradient of every process (and of every training thread) fell back to
    // tf.variableGrads, and its peak sized the wasm heap for good.
    typeof e.state.gradientDepth === 'number';
  return usable ? (e as TapeEngine) : undefined;
}

/** The nodes on a path from one of `from` (by tensor id) to `to`, inputs not from `from` dropped. */
function nodesBetween(tape: readonly TapeNode[], from: ReadonlySet<number>, to: tf.Tensor): TapeNode[] {
  const reached = new Set(from);
  const forward = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => reached.has(t.id))) {
      forward.add(node.id);
      for (const o of node.outputs) reached.add(o.id);
    }
  }
  const needed = new Set([to.id]);
  const backward = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => needed.has(o.id))) {
      backward.add(node.id);
      for (const t of Object.values(node.inputs)) needed.add(t.id);
    }
  }
  return tape
    .filter((n) => forward.has(n.id) && backward.has(n.id))
    .map((n) => ({
      ...n,
      inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => reached.has(t.id))),
    }));
}

/** Gradients by tensor id, freeing a tensor only when no entry holds it any more. */
class Gradients {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }

  set(id: number, t: tf.Tensor): void {
    const old = this.byId.get(id);
    if (old) this.holders.set(old, (this.holders.get(old) ?? 1) - 1);
    this.byId.set(id, t);
    this.holders.set(t, (this.holders.get(t) ?? 0) + 1);
  }

  delete(id: number): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.byId.delete(id);
    this.holders.set(old, (this.holders.get(old) ?? 1) - 1);
  }

  /** Disposes t unless an entry holds it or it is one of `pending` (gradients not yet stored). */
  release(t: tf.Tensor, pending: readonly tf.Tensor[]): void {
    if ((this.holders.get(t) ?? 0) > 0 || pending.includes(t)) return;
    this.holders.delete(t);
    t.dispose();
  }
}

export function leanVariableGrads(
  f: () => tf.Scalar,
  varList: readonly tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const e = engine();
  const trainable = varList.filter((v) => v.trainable);
  if (!e || e.state.gradientDepth > 0 || trainable.length === 0) return tf.variableGrads(f, [...varList]);
  const y = e.scopedRun(
    () => e.startTape(),
    () => e.endTape(),
    () => e.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor) || y.rank !== 0) {
    e.state.activeTape = null;
    throw new Error('the loss function must return a scalar tensor');
  }
  const tape = e.state.activeTape ?? [];
  const path = nodesBetween(tape, new Set(trainable.map((v) => v.id)), y);
  const onPath = new Set(path.map((n) => n.id));
  for (const node of tape) if (!onPath.has(node.id)) for (const t of node.saved ?? []) t.dispose();
  e.state.activeTape = null;
  const out = tf.tidy(() => {
    const gradOf = new Gradients();
    gradOf.set(y.id, tf.onesLike(y));
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      if (!node.gradient) throw new Error(`no gradient is registered for the kernel ${node.kernelName}`);
      const dys = node.outputs.map((o) => gradOf.get(o.id) ?? null);
      const names = Object.keys(node.inputs);
      const dxs = tf.tidy(() => {
        const fns = node.gradient!(dys);
        return names.map((name) => {
          const fn = fns[name];
          if (!fn) throw new Error(`the gradient of ${node.kernelName} gives nothing for its input '${name}'`);
          return fn();
        });
      });
      names.forEach((name, k) => {
        const x = node.inputs[name]!;
        const dx = dxs[k]!;
        if (dx.dtype !== 'float32')
          throw new Error(`the gradient of ${node.kernelName} for '${name}' is ${dx.dtype}, not float32`);
        if (dx.shape.join(',') !== x.shape.join(','))
          throw new Error(
            `the gradient of ${node.kernelName} for '${name}' has shape [${dx.shape}], its input [${x.shape}]`,
          );
        const sum = gradOf.get(x.id);
        if (sum === undefined) gradOf.set(x.id, dx);
        else {
          gradOf.set(x.id, tf.add(sum, dx));
          gradOf.release(sum, dxs.slice(k + 1));
          gradOf.release(dx, dxs.slice(k + 1));
        }
      });
      // The node was its outputs' only producer: their gradients are used up, and so is what it
      // saved (unless a gradient is passed on unchanged as an input's gradient).
      for (const o of node.outputs) {
        const g = gradOf.get(o.id);
        gradOf.delete(o.id);
        if (g) gradOf.release(g, []);
      }
      for (const t of node.saved ?? []) gradOf.release(t, []);
    }
    const grads: Record<string, tf.Tensor> = {};
    for (const v of trainable) {
      const g = gradOf.get(v.id);
      if (g) grads[v.name] = g;
    }
    return { value: y, grads };
  });
  if (Object.keys(out.grads).length === 0) {
    out.value.dispose();
    throw new Error('the loss does not depend on any of the variables (no gradient found)');
  }
  return out as { value: tf.Scalar; grads: Record<string, tf.Tensor> };
}
