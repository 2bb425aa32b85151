/**
 * Text emitters of a diagram graph: Graphviz DOT and Mermaid flowcharts.
 * In: a DiagramGraph and a direction. Out: text that `dot` / Mermaid render, showing the same
 * nodes, lines, ports, clusters (expanded blocks, stages) and shape-labelled edges as the SVG.
 * Holds afterwards: output depends only on the graph (node order, ids), so it is byte-stable.
 */
import type { DiagramEdge, DiagramGraph, DiagramNode } from './graph.js';
import { nodeLines } from './layout.js';

const FILL: Readonly<Record<DiagramNode['role'], string>> = {
  input: '#e3f0e3',
  output: '#e3f0e3',
  layer: '#eaf1fb',
  block: '#dbe7f7',
  op: '#f4f4f4',
  group: '#f8fafd',
  stage: '#fcfcfc',
  mask: '#efe6f9',
  loss: '#fbeee0',
};
const DIFF_COLOR = { added: '#2e8b57', removed: '#c0392b', changed: '#d68910' } as const;

function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function htmlEsc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function firstLeaf(n: DiagramNode): DiagramNode {
  return n.children.length ? firstLeaf(n.children[0]!) : n;
}

export function toDot(g: DiagramGraph, direction: 'LR' | 'TB'): string {
  const out: string[] = [];
  const byId = new Map<string, DiagramNode>();
  const index = (ns: readonly DiagramNode[]) => ns.forEach((n) => (byId.set(n.id, n), index(n.children)));
  index(g.nodes);
  out.push(`digraph ${dotString(g.title)} {`);
  out.push(
    `  graph [rankdir=${direction}, compound=true, fontname="DejaVu Sans", fontsize=13, ` +
      `label=${dotString(g.title)}, labelloc=t, nodesep=0.3, ranksep=0.4];`,
  );
  out.push(
    '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=11, color="#4a4a4a", penwidth=1];',
  );
  out.push('  edge [fontname="DejaVu Sans", fontsize=9, color="#3c3c3c", fontcolor="#555555"];');
  const emit = (n: DiagramNode, indent: string) => {
    const lines = nodeLines(n).map((l) => l.text);
    if (n.children.length) {
      out.push(`${indent}subgraph cluster_${n.id} {`);
      const style = n.role === 'stage' ? 'rounded' : 'rounded,dashed';
      const color = n.diff ? DIFF_COLOR[n.diff] : '#8a9bb0';
      out.push(
        `${indent}  graph [label=${dotString(lines.join('\n'))}, labeljust=l, style=${dotString(style)}, ` +
          `color=${dotString(color)}, penwidth=${n.diff ? 2.5 : 1}];`,
      );
      for (const c of n.children) emit(c, indent + '  ');
      out.push(`${indent}}`);
      return;
    }
    const attrs: string[] = [];
    if (n.ports.length) {
      const cells = n.ports.map((p, i) => `<TD PORT="p${i}" BORDER="1" SIDES="B">${htmlEsc(p.label)}</TD>`).join('');
      const text = lines.map(htmlEsc).join('<BR/>');
      attrs.push(
        `label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0"><TR>${cells}</TR><TR><TD ` +
          `COLSPAN="${n.ports.length}">${text}</TD></TR></TABLE>>`,
      );
    } else attrs.push(`label=${dotString(lines.join('\n'))}`);
    attrs.push(`fillcolor=${dotString(n.frozen ? '#d5dde6' : FILL[n.role])}`);
    const styles = ['rounded', 'filled'];
    if (n.sparse || n.masked) styles.push('dashed');
    if (n.diff === 'removed') styles.push('dashed');
    attrs.push(`style=${dotString([...new Set(styles)].join(','))}`);
    if (n.diff) attrs.push(`color=${dotString(DIFF_COLOR[n.diff])}`, 'penwidth=2.5');
    else if (n.sparse || n.masked) attrs.push('color="#7a3db8"', 'penwidth=2');
    if (n.role === 'op' || n.role === 'input' || n.role === 'output') attrs.push('shape=box');
    out.push(`${indent}${n.id} [${attrs.join(', ')}];`);
  };
  for (const n of g.nodes) emit(n, '  ');
  for (const e of g.edges) {
    const src = byId.get(e.source);
    const tgt = byId.get(e.target);
    if (!src || !tgt) continue;
    const attrs: string[] = [];
    if (e.label.length) attrs.push(`label=${dotString(e.label.join('\n'))}`);
    let from = src.id;
    let to = tgt.id;
    if (src.children.length) {
      from = firstLeaf(src).id;
      attrs.push(`ltail=cluster_${src.id}`);
    }
    if (tgt.children.length) {
      to = firstLeaf(tgt).id;
      attrs.push(`lhead=cluster_${tgt.id}`);
    }
    if (e.targetPort) {
      const i = tgt.ports.findIndex((p) => p.id === e.targetPort);
      if (i >= 0) to = `${to}:p${i}:n`;
    }
    if (e.kind === 'handover') attrs.push('color="#b34700"', 'fontcolor="#b34700"', 'penwidth=2.5', 'style=bold');
    if (e.kind === 'mask') attrs.push('color="#7a3db8"', 'fontcolor="#7a3db8"', 'style=dashed');
    if (e.diff) attrs.push(`color=${dotString(DIFF_COLOR[e.diff])}`);
    out.push(`  ${from} -> ${to}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}

function mermaidText(s: string): string {
  return s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

function mermaidEdge(e: DiagramEdge, g: Map<string, DiagramNode>): string {
  const tgt = g.get(e.target);
  const port = e.targetPort && tgt ? tgt.ports.find((p) => p.id === e.targetPort)?.label : undefined;
  const label = [...(port ? [`${port}: ${e.label[0] ?? ''}`.trim()] : e.label.slice(0, 1)), ...e.label.slice(1)]
    .map(mermaidText)
    .join('<br/>');
  const arrow = e.kind === 'handover' ? '==>' : e.kind === 'mask' ? '-.->' : '-->';
  return label ? `  ${e.source} ${arrow}|"${label}"| ${e.target}` : `  ${e.source} ${arrow} ${e.target}`;
}

export function toMermaid(g: DiagramGraph, direction: 'LR' | 'TB'): string {
  const out: string[] = [];
  const byId = new Map<string, DiagramNode>();
  const classes = new Map<string, string[]>();
  const addClass = (cls: string, id: string) => classes.set(cls, [...(classes.get(cls) ?? []), id]);
  out.push('---');
  out.push(`title: ${JSON.stringify(g.title)}`);
  out.push('---');
  out.push(`flowchart ${direction}`);
  const emit = (n: DiagramNode, indent: string) => {
    byId.set(n.id, n);
    const lines = nodeLines(n).map((l) => mermaidText(l.text));
    const ports = n.ports.length ? [`in: ${n.ports.map((p) => mermaidText(p.label)).join(' | ')}`] : [];
    const text = [...lines, ...ports].join('<br/>');
    if (n.children.length) {
      out.push(`${indent}subgraph ${n.id}["${text}"]`);
      out.push(`${indent}  direction ${direction}`);
      for (const c of n.children) emit(c, indent + '  ');
      out.push(`${indent}end`);
    } else {
      const shape = n.role === 'op' || n.role === 'input' || n.role === 'output' ? ['(["', '"])'] : ['["', '"]'];
      out.push(`${indent}${n.id}${shape[0]}${text}${shape[1]}`);
    }
    addClass(n.role, n.id);
    if (n.sparse || n.masked) addClass('sparse', n.id);
    if (n.frozen) addClass('frozen', n.id);
    if (n.diff) addClass(n.diff, n.id);
  };
  for (const n of g.nodes) emit(n, '  ');
  for (const e of g.edges) if (byId.has(e.source) && byId.has(e.target)) out.push(mermaidEdge(e, byId));
  const defs: Record<string, string> = {
    input: 'fill:#e3f0e3,stroke:#4a4a4a',
    output: 'fill:#e3f0e3,stroke:#4a4a4a',
    layer: 'fill:#eaf1fb,stroke:#4a4a4a',
    block: 'fill:#dbe7f7,stroke:#4a4a4a',
    op: 'fill:#f4f4f4,stroke:#4a4a4a',
    group: 'fill:#f8fafd,stroke:#8a9bb0,stroke-dasharray:4 3',
    stage: 'fill:#fcfcfc,stroke:#8a9bb0',
    mask: 'fill:#efe6f9,stroke:#7a3db8',
    loss: 'fill:#fbeee0,stroke:#4a4a4a',
    sparse: 'stroke:#7a3db8,stroke-width:2px,stroke-dasharray:5 2',
    frozen: 'fill:#d5dde6',
    added: 'stroke:#2e8b57,stroke-width:3px',
    removed: 'stroke:#c0392b,stroke-width:3px,stroke-dasharray:6 3',
    changed: 'stroke:#d68910,stroke-width:3px',
  };
  for (const [cls, ids] of classes) {
    out.push(`  classDef ${cls} ${defs[cls]}`);
    out.push(`  class ${ids.join(',')} ${cls}`);
  }
  return out.join('\n') + '\n';
}
