/**
 * The paper style of a figure (`nvcc diagram --style paper`), after the MED-NVC paper's Figure 2.
 * In: a DiagramGraph as built for the screen. Out: a new graph that says what a reader of a paper
 * needs: each layer by what it computes (`7×7 DwConv, 40`, `LN`, `Linear 40 → 160`, `GELU`, `GRN`),
 * no attribute names, parameter counts, hand-over notes or identity steps (`visible` without a
 * mask, `drop_path` at rate 0), and one shape per edge. Holds afterwards: the input graph is not
 * changed; every edge of a dropped identity step is joined through to where its value goes.
 */
import type { DiagramEdge, DiagramGraph, DiagramNode } from './graph.js';

/** The paper's short names of the layers it draws. */
const SHORT: Readonly<Record<string, string>> = {
  LayerNorm: 'LN',
  gelu: 'GELU',
  relu: 'ReLU',
  silu: 'SiLU',
  softmax: 'softmax',
};

/** Steps that leave their input unchanged in the figure's setting. */
function isIdentity(n: DiagramNode): boolean {
  if (n.role !== 'op' || n.children.length > 0) return false;
  if (n.name === 'visible') return true;
  return n.name === 'drop_path' && n.lines.every((l) => /^rate 0(\.0*)?$/.test(l));
}

/** What a layer computes, as a figure's box says it. */
function paperLines(n: DiagramNode): { name: string; kind: string; lines: string[] } {
  if (n.role === 'stage' || n.role === 'mask' || n.role === 'loss' || n.role === 'input' || n.role === 'output')
    return { name: n.name, kind: n.role === 'input' || n.role === 'output' ? '' : n.kind, lines: n.lines };
  if (n.role === 'op') return { name: SHORT[n.name] ?? n.name, kind: '', lines: n.lines };
  const depthwise = /^(\d+), (\d+)×\d+ depthwise$/.exec(n.lines[0] ?? '');
  if (n.kind === 'DepthwiseConv2d' && depthwise)
    return { name: `${depthwise[2]}×${depthwise[2]} DwConv, ${depthwise[1]}`, kind: '', lines: n.lines.slice(1) };
  if (n.kind === 'Linear' && n.lines[0]) return { name: `Linear ${n.lines[0]}`, kind: '', lines: n.lines.slice(1) };
  if (SHORT[n.kind]) return { name: SHORT[n.kind]!, kind: '', lines: [] };
  // A block or another layer: its type, then its settings.
  return { name: n.kind || n.name, kind: '', lines: n.role === 'group' ? [] : n.lines };
}

export function paperStyle(g: DiagramGraph): DiagramGraph {
  const dropped = new Set<string>();
  const restyle = (n: DiagramNode): DiagramNode => {
    const { name, kind, lines } = paperLines(n);
    const children = n.children.filter((c) => !isIdentity(c) || (dropped.add(c.id), false)).map(restyle);
    const copy: DiagramNode = { ...n, name, kind, lines, params: 0, children, ports: [...n.ports] };
    delete copy.handedFrom;
    delete copy.handsTo;
    return copy;
  };
  const nodes = g.nodes.filter((c) => !isIdentity(c) || (dropped.add(c.id), false)).map(restyle);
  // Join edges through dropped steps: a -> step -> b becomes a -> b (the outgoing edge's shape
  // and port, since the step changed nothing).
  const into = new Map<string, DiagramEdge[]>();
  for (const e of g.edges) into.set(e.target, [...(into.get(e.target) ?? []), e]);
  const sourceOf = (id: string, seen = new Set<string>()): string[] => {
    if (!dropped.has(id) || seen.has(id)) return [id];
    seen.add(id);
    return (into.get(id) ?? []).flatMap((e) => sourceOf(e.source, seen));
  };
  const edges: DiagramEdge[] = [];
  const joined = new Set<string>();
  for (const e of g.edges) {
    if (dropped.has(e.target)) continue;
    for (const source of sourceOf(e.source)) {
      const key = `${source}>${e.target}>${e.targetPort ?? ''}`;
      if (joined.has(key)) continue;
      joined.add(key);
      edges.push({
        ...e,
        id: source === e.source ? e.id : `${e.id}_via`,
        source,
        label: e.kind === 'data' ? e.label.slice(0, 1) : e.label,
      });
    }
  }
  return { title: g.title, nodes, edges };
}
