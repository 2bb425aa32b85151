/**
 * Fused lowerings for the TypeScript target: op patterns of a forward graph that the emitter
 * replaces by one runtime call with a hand-written gradient.
 * In: one ForwardGraph. Out: the matches found, each naming the op whose statement becomes the
 * fused call, the ops whose statements disappear, and the call's operands. Holds afterwards: a
 * match covers only ops whose values nothing outside the match reads (no other op, no graph
 * output), so every statement left in the graph sees the values it saw before; the graph is
 * not changed (the torch target, the diagrams and `nvcc summary` read it as written).
 *
 * Why: ConvNeXt-V2's GRN is written in .nvc (std/convnextv2.nvc) as eleven elementwise and
 * reduction statements. Under autodiff they keep several activation-sized intermediates for
 * backward and cost ~20 kernel calls per block per step, on the widest activation of the block
 * (4 x dim channels). runtime/codegen.ts `grnBlock` computes the same function with the
 * hand-written gradient of runtime/ops/norm.ts (docs/runtime-performance.md).
 */
import type { ForwardGraph, Op } from '../ir/ir.js';

/** The GRN of std/convnextv2.nvc, recognised by its ops (not by the block's name). */
export interface GrnFusion {
  readonly kind: 'grn';
  /** The op whose statement becomes `nv.grnBlock(...)` (the final `+ x`). */
  readonly output: number;
  /** Ops whose statements are dropped (every op of the pattern but params, consts and x). */
  readonly dropped: ReadonlySet<number>;
  readonly x: number;
  readonly gamma: number;
  readonly beta: number;
  readonly eps: number;
  /** The `const` op of eps (its value's code may be a block parameter, `this.eps`). */
  readonly epsConst: number;
  readonly pooling: 'sample' | 'batch';
  /** The `masked_statistics` op (its pooling may come from a block parameter). */
  readonly statistics: number;
}

export type Fusion = GrnFusion;

const sameList = (a: unknown, b: readonly number[]) =>
  Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Every GRN pattern of the graph:
 *   v = visible(x); s = masked_statistics(sum(v * v, axes = [1, 2], keep = true), pooling)
 *   g = sqrt(s); n = g / (mean(g, axes = [-1], keep = true) + eps)
 *   out = gamma * (x * n) + beta + x
 * with x of rank 4 and gamma, beta rank-1 weights of x's channel count.
 */
export function findFusions(graph: ForwardGraph): Fusion[] {
  const byId = new Map(graph.ops.map((op) => [op.id, op] as const));
  const readers = new Map<number, number>();
  for (const op of graph.ops) for (const i of op.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  for (const o of graph.outputs) readers.set(o.id, (readers.get(o.id) ?? 0) + 1);
  const op = (id: number | undefined, name: string): Op | undefined => {
    const o = id === undefined ? undefined : byId.get(id);
    return o?.op === name ? o : undefined;
  };
  const out: Fusion[] = [];
  for (const final of graph.ops) {
    const match = matchGrn(final, op, readers);
    if (match) out.push(match);
  }
  return out;
}

function matchGrn(
  final: Op,
  op: (id: number | undefined, name: string) => Op | undefined,
  readers: ReadonlyMap<number, number>,
): GrnFusion | undefined {
  if (final.op !== 'add' || final.inputs.length !== 2) return undefined;
  const [shifted, x] = final.inputs as [number, number];
  const addBeta = op(shifted, 'add');
  const scaled = op(addBeta?.inputs[0], 'mul');
  const beta = op(addBeta?.inputs[1], 'param');
  const gamma = op(scaled?.inputs[0], 'param');
  const xn = op(scaled?.inputs[1], 'mul');
  if (!addBeta || !scaled || !beta || !gamma || !xn || xn.inputs[0] !== x) return undefined;
  const nx = op(xn.inputs[1], 'div');
  const g = op(nx?.inputs[0], 'sqrt');
  const denominator = op(nx?.inputs[1], 'add');
  const mean = op(denominator?.inputs[0], 'mean');
  const eps = op(denominator?.inputs[1], 'const');
  if (!nx || !g || !denominator || !mean || !eps || mean.inputs[0] !== g.id) return undefined;
  if (!sameList(mean.attrs.axes, [-1]) || mean.attrs.keep !== true || typeof eps.attrs.value !== 'number')
    return undefined;
  const stats = op(g.inputs[0], 'masked_statistics');
  const sum = op(stats?.inputs[0], 'sum');
  const square = op(sum?.inputs[0], 'mul');
  const visible = op(square?.inputs[0], 'visible');
  if (!stats || !sum || !square || !visible || square.inputs[1] !== visible.id || visible.inputs[0] !== x)
    return undefined;
  if (!sameList(sum.attrs.axes, [1, 2]) || sum.attrs.keep !== true) return undefined;
  const pooling = stats.attrs.pooling;
  if (pooling !== 'sample' && pooling !== 'batch') return undefined;
  // x [B, H, W, C]; gamma and beta [C] with C a known size.
  const channels = final.shape.length === 4 ? final.shape[3]!.asInt() : undefined;
  if (channels === undefined) return undefined;
  for (const w of [gamma, beta]) if (w.shape.length !== 1 || w.shape[0]!.asInt() !== channels) return undefined;
  // Inner values read only inside the pattern: g twice (mean and div), the others once.
  const inner: [Op, number][] = [
    [visible, 2],
    [square, 1],
    [sum, 1],
    [stats, 1],
    [g, 2],
    [mean, 1],
    [denominator, 1],
    [nx, 1],
    [xn, 1],
    [scaled, 1],
    [addBeta, 1],
  ];
  if (inner.some(([o, n]) => readers.get(o.id) !== n)) return undefined;
  return {
    kind: 'grn',
    output: final.id,
    dropped: new Set(inner.map(([o]) => o.id)),
    x,
    gamma: gamma.id,
    beta: beta.id,
    eps: eps.attrs.value,
    epsConst: eps.id,
    pooling,
    statistics: stats.id,
  };
}
