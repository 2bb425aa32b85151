/**
 * Shapes and costs read back from the IR alone: what applying a module node to input shapes
 * gives, and the multiply-accumulates of a forward graph.
 * In: a ModelIR's graphs, one of its ModuleNodes and the shapes (symbolic or concrete) it is
 * applied to. Out: the output shape(s) and MACs, or an error text when the shapes do not fit.
 * Holds afterwards: the answers agree with what the elaborator traced (it used the same
 * primitive rules and graphs), so summaries and diagrams need nothing but the IR.
 */
import { messageText } from '../../dsl/diagnostics/catalogue.js';
import { PRIMITIVES } from '../primitives/index.js';
import { dimAdd, dimConst, dimSubst, type Dim, type Shape, unify } from '../symbolic.js';
import type { ForwardGraph, ModelIR, ModuleNode } from './ir.js';

export type Applied =
  | { readonly shape: Shape; readonly macs: Dim; readonly outputs?: readonly Shape[] }
  | { readonly error: string };

const ZERO = dimConst(0);

/** Multiply-accumulates of one run of a graph (calls count their callee's MACs in their op). */
export function graphMacs(g: ForwardGraph): Dim {
  return g.ops.reduce((acc, op) => dimAdd(acc, op.macs), ZERO);
}

/** The forward graph of a block node. */
export function graphOf(model: Pick<ModelIR, 'graphs'>, node: ModuleNode): ForwardGraph | undefined {
  return node.forwardKey !== undefined ? model.graphs.get(node.forwardKey) : undefined;
}

/**
 * Output of applying `node` to positional `inputs` and `named` inputs: a primitive through its
 * record's shape and MAC rules, a block through its graph (symbols bound by unification), a
 * list or sequential by threading the first input through its children in order.
 */
export function applyModule(
  model: Pick<ModelIR, 'graphs'>,
  node: ModuleNode,
  inputs: readonly Shape[],
  named: ReadonlyMap<string, Shape> = new Map(),
): Applied {
  switch (node.kind) {
    case 'primitive':
    case 'function': {
      const prim = node.primitive !== undefined ? PRIMITIVES.get(node.primitive) : undefined;
      if (!prim) return { error: `\`${node.typeName}\` names no primitive` };
      if (named.size > 0) return { error: `\`${prim.name}\` takes no named tensor inputs` };
      if (inputs.length !== prim.inputs.length)
        return { error: `\`${prim.name}\` takes ${prim.inputs.length} input(s), found ${inputs.length}` };
      const r = prim.shape(inputs, node.args);
      if ('error' in r) return { error: messageText(r.error) };
      return { shape: r, macs: prim.macs?.(inputs, r, node.args) ?? ZERO };
    }
    case 'block': {
      const g = graphOf(model, node);
      if (!g) return { error: `\`${node.typeName}\` has no forward` };
      const actual: (Shape | undefined)[] = g.inputs.map((_, i) => inputs[i]);
      for (const [k, s] of named) {
        const i = g.inputs.findIndex((x) => x.name === k);
        if (i < 0) return { error: `\`${node.typeName}\` has no input \`${k}\`` };
        actual[i] = s;
      }
      if (inputs.length > g.inputs.length || actual.some((s) => s === undefined))
        return { error: `\`${node.typeName}\` takes ${g.inputs.length} input(s)` };
      const env = new Map<string, Dim>();
      const bad = unify(
        g.inputs.map((x) => x.shape),
        actual as Shape[],
        env,
      );
      if (bad !== undefined) return { error: `\`${node.typeName}\` does not accept input \`${g.inputs[bad]!.name}\`` };
      const outputs = g.outputs.map((o) => o.shape.map((d) => dimSubst(d, env)));
      return {
        shape: outputs[0]!,
        macs: dimSubst(graphMacs(g), env),
        ...(outputs.length > 1 ? { outputs } : {}),
      };
    }
    case 'sequential':
    case 'list': {
      let cur = inputs[0];
      if (!cur) return { error: 'a layer list needs an input' };
      let macs = ZERO;
      for (const c of node.children) {
        const passNamed = c.kind === 'primitive' || c.kind === 'function' ? new Map<string, Shape>() : named;
        const r = applyModule(model, c, [cur, ...inputs.slice(1)], passNamed);
        if ('error' in r) return r;
        cur = r.shape;
        macs = dimAdd(macs, r.macs);
      }
      return { shape: cur, macs };
    }
  }
}
