/**
 * From an elaborated LayerInstance tree to the IR's ModelIR.
 * In: a model's LayerInstance (compiler/elaborate.ts). Out: a ModelIR whose ModuleNode tree
 * mirrors the instance tree with JSON params and whose `graphs` holds every distinct forward
 * graph reachable from it, in first-use (depth-first) order. Holds afterwards: node paths are
 * the parameter paths of docs/CONVENTIONS.md.
 */
import type { ForwardGraph, ModelIR, ModuleNode } from './ir.js';
import { valueToJson, type LayerInstance } from '../values.js';

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
      ...(layer.prim ? { runtime: layer.prim.runtime } : {}),
      params,
      weights: layer.weights.map((w) => ({
        name: w.name,
        shape: w.shape,
        init: w.init,
        frozen: w.frozen,
        noDecay: w.noDecay,
      })),
      children,
      sparse: layer.sparse,
      ...(layer.decl?.unmasked ? { unmasked: true as const } : {}),
      ...(layer.repeat ? { repeat: layer.repeat } : {}),
      ...(layer.forward ? { forwardKey: layer.forward.key } : {}),
      span: layer.span,
    };
  };
  const root = visit(instance, '');
  return { name, root, graphs, instance };
}
