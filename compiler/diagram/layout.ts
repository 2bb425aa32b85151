/**
 * Layout of a diagram graph with elkjs (the Eclipse Layout Kernel's layered algorithm).
 * In: a DiagramGraph and a direction. Out: absolute positions of every node (compound nodes
 * contain their children), port, edge route and edge label. Node sizes come from the text they
 * show, measured with the diagram font's advance widths (font.ts), so every label fits its box.
 * Holds afterwards: no coordinate is chosen by hand; ELK places nodes, ports on the input side
 * (fixed positions along that side, in input order) and routes edges orthogonally between node
 * or port boundaries. Edges crossing compound boundaries are laid out in one pass
 * (hierarchyHandling INCLUDE_CHILDREN).
 */
import * as elkBundled from 'elkjs/lib/elk.bundled.js';
import type { ELK as ElkApi, ElkExtendedEdge, ElkNode, ElkPort } from 'elkjs/lib/elk-api.js';
import { lineMetrics, textWidth } from './font.js';
import { formatCount, type DiagramEdge, type DiagramGraph, type DiagramNode } from './graph.js';

export type Direction = 'LR' | 'TB';

/** Text styles: size in px. */
export const TEXT = {
  name: 13,
  kind: 11,
  line: 10,
  port: 9,
  edge: 10,
  title: 15,
} as const;

export const PAD_X = 10;
export const PAD_Y = 7;
export const LINE_GAP = 3;
export const PORT_SIZE = 8;
/** Space reserved for a port's label next to its port, inside the node. */
const PORT_LABEL_GAP = 3;

export interface TextLine {
  readonly text: string;
  readonly size: number;
  readonly role: 'name' | 'kind' | 'line' | 'flag';
}

/** The lines a node shows, in order. */
export function nodeLines(n: DiagramNode): TextLine[] {
  const out: TextLine[] = [{ text: n.name, size: n.role === 'stage' ? TEXT.title : TEXT.name, role: 'name' }];
  if (n.kind && n.kind !== n.name) out.push({ text: n.kind, size: TEXT.kind, role: 'kind' });
  for (const l of n.lines) out.push({ text: l, size: TEXT.line, role: 'line' });
  if (n.params > 0) out.push({ text: `${formatCount(n.params)} params`, size: TEXT.line, role: 'line' });
  const flags: string[] = [];
  if (n.masked) flags.push('masked (sparse)');
  else if (n.sparse) flags.push('sparse');
  if (n.frozen) flags.push('frozen');
  if (n.diff) flags.push(n.diff);
  if (flags.length) out.push({ text: flags.join(' · '), size: TEXT.line, role: 'flag' });
  if (n.handedFrom && n.role !== 'group')
    out.push({ text: `weights ← ${n.handedFrom}`, size: TEXT.line, role: 'flag' });
  if (n.handsTo && n.role !== 'group') out.push({ text: `weights → ${n.handsTo}`, size: TEXT.line, role: 'flag' });
  return out;
}

export function linesHeight(lines: readonly TextLine[]): number {
  return lines.reduce((h, l, i) => h + lineMetrics(l.size).height + (i ? LINE_GAP : 0), 0);
}

function linesWidth(lines: readonly TextLine[]): number {
  return Math.max(...lines.map((l) => textWidth(l.text, l.size)));
}

export interface PlacedPort {
  readonly id: string;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface PlacedNode {
  readonly node: DiagramNode;
  readonly parent?: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly lines: TextLine[];
  readonly ports: PlacedPort[];
  /** Offset of the text block from the box's left edge (room for port labels in LR). */
  readonly textX: number;
  /** Offset of the text block from the box's top edge. */
  readonly textY: number;
  readonly compound: boolean;
}

export interface PlacedLabel {
  readonly lines: string[];
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface PlacedEdge {
  readonly edge: DiagramEdge;
  /** The node (and port) the route was drawn to: the edge's own ends, or for large graphs
   *  laid out one compound at a time, the compound nodes that contain them. */
  readonly from: string;
  readonly to: string;
  readonly toPort?: string;
  readonly points: readonly { x: number; y: number }[];
  readonly label?: PlacedLabel;
  /** The compound node the edge runs inside (its label sits on that panel), if any. */
  readonly within?: string;
}

export interface Layout {
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly titleHeight: number;
  readonly nodes: PlacedNode[];
  readonly edges: PlacedEdge[];
  readonly direction: Direction;
}

const MARGIN = 16;

/**
 * Above this many nodes, ELK's network-simplex layering and placement recurse deeper than
 * the JS stack allows on long chains; longest-path layering and Brandes-Koepf placement are
 * iterative and near-linear.
 */
const LARGE_GRAPH = 400;

function flowOptions(direction: Direction, large = false, compact = false): Record<string, string> {
  const gap = (n: number) => String(compact ? Math.round(n * 0.6) : n);
  return {
    ...(large
      ? {
          'elk.layered.layering.strategy': 'LONGEST_PATH',
          'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
          'elk.layered.thoroughness': '1',
          'elk.layered.crossingMinimization.greedySwitch.type': 'OFF',
          // Diagram graphs are acyclic: the cheapest cycle breaker is enough.
          'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST',
          'elk.separateConnectedComponents': 'false',
        }
      : {
          'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
          'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
        }),
    'elk.algorithm': 'layered',
    'elk.direction': direction === 'LR' ? 'RIGHT' : 'DOWN',
    'elk.edgeRouting': 'ORTHOGONAL',
    'elk.layered.spacing.nodeNodeBetweenLayers': gap(36),
    'elk.layered.spacing.edgeNodeBetweenLayers': gap(16),
    'elk.spacing.nodeNode': gap(22),
    'elk.spacing.edgeNode': gap(14),
    'elk.spacing.edgeEdge': '10',
    'elk.spacing.edgeLabel': '4',
    'elk.spacing.componentComponent': gap(30),
    'elk.edgeLabels.inline': 'false',
    // One side for every label (below a horizontal edge, right of a vertical one): SMART_DOWN
    // alternated them above and below along a row.
    'elk.layered.edgeLabels.sideSelection': 'ALWAYS_DOWN',
  };
}

function wrapOptions(aspectRatio: number): Record<string, string> {
  return {
    'elk.layered.wrapping.strategy': 'MULTI_EDGE',
    'elk.aspectRatio': String(aspectRatio),
    'elk.layered.wrapping.additionalEdgeSpacing': '12',
    'elk.layered.wrapping.correctionFactor': '1.0',
  };
}

/** elkjs is CommonJS: its constructor is the default export, one or two levels deep. */
type ElkConstructor = new () => ElkApi;
const elkModule = elkBundled as unknown as { default: ElkConstructor | { default: ElkConstructor } };
const ELK: ElkConstructor = typeof elkModule.default === 'function' ? elkModule.default : elkModule.default.default;

function portSpace(n: DiagramNode, direction: Direction): { width: number; height: number; labelWidth: number } {
  if (!n.ports.length) return { width: 0, height: 0, labelWidth: 0 };
  const labelWidth = Math.max(...n.ports.map((p) => textWidth(p.label, TEXT.port)));
  const labelHeight = lineMetrics(TEXT.port).height;
  if (direction === 'LR')
    return {
      width: labelWidth + PORT_LABEL_GAP + PORT_SIZE / 2,
      height: n.ports.length * Math.max(labelHeight + 8, 20),
      labelWidth,
    };
  const widths = n.ports.map((p) => Math.max(textWidth(p.label, TEXT.port), PORT_SIZE) + 16);
  return { width: widths.reduce((a, b) => a + b, 0), height: labelHeight + PORT_LABEL_GAP + PORT_SIZE / 2, labelWidth };
}

interface Meta {
  lines: TextLine[];
  textX: number;
  textY: number;
}

function edgeLabelSize(lines: readonly string[]): { width: number; height: number } {
  const h = lineMetrics(TEXT.edge).height;
  return {
    width: Math.max(...lines.map((l) => textWidth(l, TEXT.edge))) + 6,
    height: lines.length * h + (lines.length - 1) * 2 + 4,
  };
}

export interface LayoutOptions {
  readonly direction: Direction;
  /**
   * Width over height to wrap a long chain to (ELK's graph wrapping cuts the layers into rows
   * or columns, the cut edges routed around); default none: one long row or column.
   */
  readonly aspectRatio?: number;
  /** Tighter spacing between nodes and layers (the paper style). */
  readonly compact?: boolean;
  /** Draw edge labels (shapes). Off for very large graphs where they only add clutter. */
  readonly edgeLabels?: boolean;
}

/**
 * For large graphs ELK lays out without label dummies (they double its work); the label then
 * sits beside the middle of the route's longest segment, which ELK placed between two layers.
 */
function besideLongestSegment(points: readonly { x: number; y: number }[], lines: string[]): PlacedLabel | undefined {
  let best = -1;
  let at = 0;
  for (let i = 1; i < points.length; i++) {
    const len = Math.abs(points[i]!.x - points[i - 1]!.x) + Math.abs(points[i]!.y - points[i - 1]!.y);
    if (len > best) {
      best = len;
      at = i;
    }
  }
  if (best < 0) return undefined;
  const a = points[at - 1]!;
  const b = points[at]!;
  const size = edgeLabelSize(lines);
  const vertical = a.x === b.x;
  const x = vertical ? a.x + 4 : (a.x + b.x) / 2 - size.width / 2;
  const y = vertical ? (a.y + b.y) / 2 - size.height / 2 : a.y - size.height - 2;
  return { lines, x, y, width: size.width, height: size.height };
}

/**
 * Stage panels start at the same edge (the top when they sit side by side), as in the paper's
 * Figure 1, instead of ELK's centring on the hand-over edge that left a short pretraining panel
 * floating at mid-height. The hand-over edges between panels are then drawn straight across the
 * gap ELK left for them, at the middle of the shorter panel, their labels over the line.
 */
function alignStages(out: ElkNode, across: Direction): void {
  const stages = out.children ?? [];
  for (const c of stages) {
    if (across === 'LR') c.y = MARGIN;
    else c.x = MARGIN;
  }
  const byId = new Map(stages.map((c) => [c.id, c]));
  for (const e of out.edges ?? []) {
    const a = byId.get(e.sources[0]!);
    const b = byId.get(e.targets[0]!);
    if (!a || !b) continue;
    const [ax, ay, aw, ah] = [a.x ?? 0, a.y ?? 0, a.width ?? 0, a.height ?? 0];
    const [bx, by, bw, bh] = [b.x ?? 0, b.y ?? 0, b.width ?? 0, b.height ?? 0];
    const label = e.labels?.[0];
    if (across === 'LR') {
      const y = MARGIN + Math.min(ah, bh) / 2;
      const [from, to] = ax < bx ? [ax + aw, bx] : [ax, bx + bw];
      e.sections = [{ id: `${e.id}_s`, startPoint: { x: from, y }, endPoint: { x: to, y } }];
      if (label) {
        label.x = (from + to) / 2 - (label.width ?? 0) / 2;
        label.y = y - (label.height ?? 0) - 3;
      }
    } else {
      const x = MARGIN + Math.min(aw, bw) / 2;
      const [from, to] = ay < by ? [ay + ah, by] : [ay, by + bh];
      e.sections = [{ id: `${e.id}_s`, startPoint: { x, y: from }, endPoint: { x, y: to } }];
      if (label) {
        label.x = x + 6;
        label.y = (from + to) / 2 - (label.height ?? 0) / 2;
      }
    }
  }
  out.width = Math.max(...stages.map((c) => (c.x ?? 0) + (c.width ?? 0))) + MARGIN;
  out.height = Math.max(...stages.map((c) => (c.y ?? 0) + (c.height ?? 0))) + MARGIN;
}

export async function layoutDiagram(g: DiagramGraph, options: LayoutOptions): Promise<Layout> {
  const { direction } = options;
  const showEdgeLabels = options.edgeLabels ?? true;
  const meta = new Map<string, Meta>();
  const byId = new Map<string, DiagramNode>();
  const parentOf = new Map<string, string | undefined>();

  const toElk = (n: DiagramNode, parent: string | undefined): ElkNode => {
    byId.set(n.id, n);
    parentOf.set(n.id, parent);
    const lines = nodeLines(n);
    const textW = linesWidth(lines);
    const textH = linesHeight(lines);
    if (n.children.length) {
      meta.set(n.id, { lines, textX: PAD_X, textY: PAD_Y });
      // Stages (and, in large graphs, every compound) are laid out on their own.
      const stageOptions: Record<string, string> =
        n.role === 'stage' || large
          ? {
              ...flowOptions(direction, large, options.compact),
              'elk.hierarchyHandling': large ? 'SEPARATE_CHILDREN' : 'INCLUDE_CHILDREN',
            }
          : {};
      return {
        id: n.id,
        children: n.children.map((c) => toElk(c, n.id)),
        edges: [],
        layoutOptions: {
          ...stageOptions,
          'elk.padding': `[top=${Math.ceil(textH + 2 * PAD_Y + 6)},left=14,bottom=14,right=14]`,
          'elk.nodeSize.constraints': 'MINIMUM_SIZE',
          'elk.nodeSize.minimum': `(${Math.ceil(textW + 2 * PAD_X)}, ${Math.ceil(textH + 2 * PAD_Y + 20)})`,
        },
      };
    }
    const ps = portSpace(n, direction);
    let width: number;
    let height: number;
    let textX = PAD_X;
    let textY = PAD_Y;
    const ports: ElkPort[] = [];
    if (direction === 'LR') {
      width = Math.ceil(textW + 2 * PAD_X + ps.width);
      height = Math.ceil(Math.max(textH + 2 * PAD_Y, ps.height + 2 * PAD_Y));
      textX = PAD_X + ps.width;
      textY = (height - textH) / 2;
      const step = height / (n.ports.length + 1);
      n.ports.forEach((p, i) =>
        ports.push({
          id: p.id,
          x: -PORT_SIZE / 2,
          y: step * (i + 1) - PORT_SIZE / 2,
          width: PORT_SIZE,
          height: PORT_SIZE,
          layoutOptions: { 'elk.port.side': 'WEST' },
        }),
      );
    } else {
      width = Math.ceil(Math.max(textW + 2 * PAD_X, ps.width + 2 * PAD_X));
      height = Math.ceil(textH + 2 * PAD_Y + ps.height);
      textX = (width - textW) / 2;
      textY = PAD_Y + ps.height;
      const step = width / (n.ports.length + 1);
      n.ports.forEach((p, i) =>
        ports.push({
          id: p.id,
          x: step * (i + 1) - PORT_SIZE / 2,
          y: -PORT_SIZE / 2,
          width: PORT_SIZE,
          height: PORT_SIZE,
          layoutOptions: { 'elk.port.side': 'NORTH' },
        }),
      );
    }
    if (direction === 'TB' || !n.ports.length) textX = (width - textW) / 2;
    meta.set(n.id, { lines, textX, textY });
    return {
      id: n.id,
      width,
      height,
      ...(ports.length ? { ports, layoutOptions: { 'elk.portConstraints': 'FIXED_POS' } } : {}),
    };
  };

  // Stages sit side by side, across the flow inside them: each stage is laid out on its own
  // (with its expanded blocks), then the stages are placed in the perpendicular direction.
  const staged = g.nodes.some((n) => n.role === 'stage');
  let count = 0;
  const countNodes = (ns: readonly DiagramNode[]) => ns.forEach((n) => ((count += 1), countNodes(n.children)));
  countNodes(g.nodes);
  const large = count > LARGE_GRAPH;
  // A tensor leaving a node is the same on every out-edge: label it once (the first edge).
  const labelled = new Set<string>();
  if (showEdgeLabels) {
    const seen = new Set<string>();
    for (const e of g.edges) {
      const key = `${e.source}\u0000${e.label.join('\n')}`;
      if (!e.label.length || (e.kind === 'data' && seen.has(key))) continue;
      seen.add(key);
      labelled.add(e.id);
    }
  }
  const rootDirection: Direction = staged ? (direction === 'LR' ? 'TB' : 'LR') : direction;
  const elkNodes = g.nodes.map((n) => toElk(n, undefined));
  const root: ElkNode = {
    id: '__root',
    layoutOptions: {
      ...flowOptions(rootDirection, large, options.compact),
      ...(!staged && !large && options.aspectRatio !== undefined ? wrapOptions(options.aspectRatio) : {}),
      'elk.hierarchyHandling': staged || large ? 'SEPARATE_CHILDREN' : 'INCLUDE_CHILDREN',
      'elk.padding': `[top=${MARGIN},left=${MARGIN},bottom=${MARGIN},right=${MARGIN}]`,
    },
    children: elkNodes,
    edges: [],
  };
  const drawn = new Map<string, { from: string; to: string; toPort?: string }>();
  // Each edge lives in the lowest common ancestor of its ends (ELK's containment rule).
  const elkById = new Map<string, ElkNode>([['__root', root]]);
  const indexElk = (en: ElkNode) => {
    elkById.set(en.id, en);
    (en.children ?? []).forEach(indexElk);
  };
  elkNodes.forEach(indexElk);
  const ancestors = (id: string): string[] => {
    const out: string[] = [];
    for (let p = parentOf.get(id); p !== undefined; p = parentOf.get(p)) out.push(p);
    out.push('__root');
    return out;
  };
  for (const e of g.edges) {
    const a = ancestors(e.source);
    const b = new Set(ancestors(e.target));
    // An edge into a compound node from inside it belongs to that node's parent.
    let lca = a.find((x) => b.has(x) && x !== e.source && x !== e.target) ?? '__root';
    if (lca === e.target || lca === e.source) lca = parentOf.get(lca) ?? '__root';
    const container = elkById.get(lca)!;
    container.edges = container.edges ?? [];
    // Laid out one compound at a time, an edge can only join nodes of one container: it is
    // drawn between the compounds that hold its ends.
    const lift = (id: string) => {
      let cur = id;
      while (large && (parentOf.get(cur) ?? '__root') !== lca) cur = parentOf.get(cur)!;
      return cur;
    };
    const from = lift(e.source);
    const to = lift(e.target);
    const toPort = to === e.target ? e.targetPort : undefined;
    drawn.set(e.id, { from, to, ...(toPort ? { toPort } : {}) });
    container.edges.push(toElkEdge(e, from, toPort ?? to));
  }
  function toElkEdge(e: DiagramEdge, from: string, to: string): ElkExtendedEdge {
    const lines = labelled.has(e.id) && !large ? e.label : [];
    const size = lines.length ? edgeLabelSize(lines) : undefined;
    return {
      id: e.id,
      sources: [from],
      targets: [to],
      ...(size
        ? { labels: [{ id: `${e.id}_label`, text: lines.join('\n'), width: size.width, height: size.height }] }
        : {}),
    };
  }

  const elk = new ELK();
  const out = await elk.layout(root);
  if (staged) alignStages(out, rootDirection);

  // Absolute positions of every node.
  const placed: PlacedNode[] = [];
  const origin = new Map<string, { x: number; y: number }>([['__root', { x: 0, y: 0 }]]);
  const visit = (en: ElkNode, ox: number, oy: number, parent: string | undefined) => {
    const x = ox + (en.x ?? 0);
    const y = oy + (en.y ?? 0);
    origin.set(en.id, { x, y });
    const n = byId.get(en.id)!;
    const m = meta.get(en.id)!;
    placed.push({
      node: n,
      ...(parent ? { parent } : {}),
      x,
      y,
      width: en.width ?? 0,
      height: en.height ?? 0,
      lines: m.lines,
      ports: (en.ports ?? []).map((p) => ({
        id: p.id,
        label: n.ports.find((q) => q.id === p.id)?.label ?? '',
        x: x + (p.x ?? 0),
        y: y + (p.y ?? 0),
        width: p.width ?? 0,
        height: p.height ?? 0,
      })),
      textX: m.textX,
      textY: m.textY,
      compound: n.children.length > 0,
    });
    for (const c of en.children ?? []) visit(c, x, y, en.id);
  };
  for (const c of out.children ?? []) visit(c, 0, 0, undefined);

  const edges: PlacedEdge[] = [];
  const byEdge = new Map(g.edges.map((e) => [e.id, e]));
  const laidEdges: { ee: ElkExtendedEdge; container: string }[] = [];
  const collect = (en: ElkNode) => {
    for (const ee of en.edges ?? []) laidEdges.push({ ee, container: en.id });
    (en.children ?? []).forEach(collect);
  };
  collect(out as ElkNode);
  laidEdges.sort((x, y) => g.edges.indexOf(byEdge.get(x.ee.id)!) - g.edges.indexOf(byEdge.get(y.ee.id)!));
  for (const { ee, container } of laidEdges) {
    const o = origin.get((ee as { container?: string }).container ?? container) ?? { x: 0, y: 0 };
    const points: { x: number; y: number }[] = [];
    for (const s of ee.sections ?? []) {
      const seq = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint];
      for (const p of seq) {
        const q = { x: o.x + p.x, y: o.y + p.y };
        const last = points[points.length - 1];
        if (!last || last.x !== q.x || last.y !== q.y) points.push(q);
      }
    }
    const lab = ee.labels?.[0];
    const edge = byEdge.get(ee.id)!;
    let label: PlacedLabel | undefined = lab
      ? {
          lines: edge.label,
          x: o.x + (lab.x ?? 0),
          y: o.y + (lab.y ?? 0),
          width: lab.width ?? 0,
          height: lab.height ?? 0,
        }
      : undefined;
    if (!label && large && labelled.has(edge.id)) label = besideLongestSegment(points, edge.label);
    const within = (ee as { container?: string }).container ?? container;
    edges.push({
      edge,
      ...drawn.get(edge.id)!,
      points,
      ...(label ? { label } : {}),
      ...(within !== '__root' && byId.has(within) ? { within } : {}),
    });
  }
  const titleHeight = g.title ? lineMetrics(TEXT.title).height + 10 : 0;
  return {
    title: g.title,
    width: Math.ceil(out.width ?? 0),
    height: Math.ceil((out.height ?? 0) + titleHeight),
    titleHeight,
    nodes: placed,
    edges,
    direction,
  };
}
