/**
 * From an elaborated LayerInstance tree to the IR's ModelIR: the one place where the
 * elaborator's objects are turned into IR.
 * In: a model's LayerInstance (compiler/elaborate/). Out: a ModelIR whose ModuleNode tree
 * mirrors the instance tree (JSON params and typed args, weights with their spans, the
 * primitive record's id, the block declaration's name span and doc, the provenance of
 * arguments, weight dims and repeat counts over the enclosing block's parameters) and whose
 * `graphs` holds every distinct forward graph reachable from it, in first-use (depth-first)
 * order. Holds afterwards: node paths are the parameter paths of docs/CONVENTIONS.md, the
 * ModelIR keeps no reference to the instance tree, and a provenance expression is kept only
 * where it is over the parameters of the block the value was computed in.
 */
import type { ForwardGraph, IRValue, ModelIR, ModuleNode, ParamExpr } from './ir.js';
import { type LayerInstance, type Sym, symOf, type Value, valueToJson } from '../values.js';

/** A constant value as the IR keeps it (layers keep their type and arguments). */
export function toIRValue(v: Value): IRValue {
  switch (v.kind) {
    case 'int':
    case 'float':
      return { kind: v.kind, value: v.value };
    case 'bool':
      return { kind: 'bool', value: v.value };
    case 'string':
      return { kind: 'string', value: v.value };
    case 'word':
      return { kind: 'word', name: v.name };
    case 'list':
      return { kind: 'list', items: v.items.map(toIRValue) };
    case 'record':
      return { kind: 'record', entries: new Map([...v.entries].map(([k, x]) => [k, toIRValue(x)])) };
    case 'dim':
      return { kind: 'dim', dim: v.dim };
    case 'layer':
      return { kind: 'layer', typeName: v.layer.typeName, args: toIRArgs(v.layer.params) };
    default:
      return { kind: 'opaque', json: valueToJson(v) };
  }
}

export function toIRArgs(params: ReadonlyMap<string, Value>): ReadonlyMap<string, IRValue> {
  return new Map([...params].map(([k, v]) => [k, toIRValue(v)]));
}

/** The expression of a provenance made in the instantiation `frame`, else undefined. */
function own(sym: Sym | undefined, frame: number | undefined): ParamExpr | undefined {
  return sym && frame !== undefined && sym.frame === frame ? sym.expr : undefined;
}

export function buildModelIR(name: string, instance: LayerInstance): ModelIR {
  const graphs = new Map<string, ForwardGraph>();
  // `frame`: the instantiation of the nearest enclosing block, whose body built this layer;
  // a layer given to that block as an argument was built elsewhere and keeps no provenance.
  const visit = (layer: LayerInstance, path: string, frame: number | undefined): ModuleNode => {
    if (layer.forward && !graphs.has(layer.forward.key)) graphs.set(layer.forward.key, layer.forward);
    const children: ModuleNode[] = [];
    for (const [k, c] of layer.children) {
      const fromArgument = layer.kind === 'block' && layer.params.get(k)?.kind === 'layer';
      const inner = layer.kind === 'block' ? (fromArgument ? undefined : layer.frame) : frame;
      children.push(visit(c, path ? `${path}.${k}` : k, inner));
    }
    const argExprs = new Map<string, ParamExpr>();
    for (const [k, v] of layer.params) {
      const e = own(symOf(v), frame);
      if (e) argExprs.set(k, e);
    }
    const countExpr = own(layer.repeat?.countSym, frame);
    const params: Record<string, unknown> = {};
    for (const [k, v] of layer.params) params[k] = v.kind === 'layer' ? `<${v.layer.typeName}>` : valueToJson(v);
    return {
      path,
      kind: layer.kind,
      typeName: layer.typeName,
      ...(layer.prim ? { primitive: layer.prim.name, runtime: layer.prim.runtime } : {}),
      params,
      args: toIRArgs(layer.params),
      ...(argExprs.size ? { argExprs } : {}),
      weights: layer.weights.map((w) => {
        const shapeExprs = (w.shapeSyms ?? []).map((x) => own(x, layer.frame) ?? null);
        return {
          name: w.name,
          shape: w.shape,
          init: w.init,
          frozen: w.frozen,
          noDecay: w.noDecay,
          ...(shapeExprs.some((x) => x !== null) ? { shapeExprs } : {}),
          span: w.span,
        };
      }),
      ...(layer.buffers?.length
        ? {
            buffers: layer.buffers.map((b) => ({
              name: b.name,
              shape: b.shape,
              init: b.init,
              dtype: b.dtype,
              span: b.span,
            })),
          }
        : {}),
      children,
      sparse: layer.sparse,
      ...(layer.decl?.unmasked ? { unmasked: true as const } : {}),
      ...(layer.repeat
        ? {
            repeat: {
              count: layer.repeat.count,
              ...(layer.repeat.index !== undefined ? { index: layer.repeat.index } : {}),
              ...(countExpr ? { countExpr } : {}),
            },
          }
        : {}),
      ...(layer.forward ? { forwardKey: layer.forward.key } : {}),
      ...(layer.decl
        ? { decl: { nameSpan: layer.decl.name.span, ...(layer.decl.doc ? { doc: layer.decl.doc } : {}) } }
        : {}),
      span: layer.span,
    };
  };
  const root = visit(instance, '', undefined);
  return { name, root, graphs };
}
