/**
 * From an elaborated LayerInstance tree to the IR's ModelIR: the one place where the
 * elaborator's objects are turned into IR.
 * In: a model's LayerInstance (compiler/elaborate/). Out: a ModelIR whose ModuleNode tree
 * mirrors the instance tree (JSON params and typed args, weights with their spans, the
 * primitive record's id, the block declaration's name span and doc) and whose `graphs` holds
 * every distinct forward graph reachable from it, in first-use (depth-first) order. Holds
 * afterwards: node paths are the parameter paths of docs/CONVENTIONS.md, and the ModelIR
 * keeps no reference to the instance tree.
 */
import type { ForwardGraph, IRValue, ModelIR, ModuleNode } from './ir.js';
import { valueToJson, type LayerInstance, type Value } from '../values.js';

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

export function buildModelIR(name: string, instance: LayerInstance): ModelIR {
  const graphs = new Map<string, ForwardGraph>();
  const visit = (layer: LayerInstance, path: string): ModuleNode => {
    if (layer.forward && !graphs.has(layer.forward.key)) graphs.set(layer.forward.key, layer.forward);
    const children: ModuleNode[] = [];
    for (const [k, c] of layer.children) children.push(visit(c, path ? `${path}.${k}` : k));
    const params: Record<string, unknown> = {};
    for (const [k, v] of layer.params) params[k] = v.kind === 'layer' ? `<${v.layer.typeName}>` : valueToJson(v);
    return {
      path,
      kind: layer.kind,
      typeName: layer.typeName,
      ...(layer.prim ? { primitive: layer.prim.name, runtime: layer.prim.runtime } : {}),
      params,
      args: toIRArgs(layer.params),
      weights: layer.weights.map((w) => ({
        name: w.name,
        shape: w.shape,
        init: w.init,
        frozen: w.frozen,
        noDecay: w.noDecay,
        span: w.span,
      })),
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
      ...(layer.repeat ? { repeat: layer.repeat } : {}),
      ...(layer.forward ? { forwardKey: layer.forward.key } : {}),
      ...(layer.decl
        ? { decl: { nameSpan: layer.decl.name.span, ...(layer.decl.doc ? { doc: layer.decl.doc } : {}) } }
        : {}),
      span: layer.span,
    };
  };
  const root = visit(instance, '');
  return { name, root, graphs };
}
