/**
 * SVG rendering of a laid-out diagram.
 * In: a Layout (layout.ts) and a theme. Out: one self-contained SVG document: the font is
 * embedded as a base64 `@font-face`, there are no external references (no href to files or
 * URLs), and a viewBox makes it scale. Holds afterwards: every node box is a
 * `rect.node-box[data-node]`, its text a `text.node-label[data-node]`, every edge a
 * `path.edge[data-source][data-target]` (plus `data-target-port`), every port a
 * `rect.port[data-port]`, so tests and tools can check the figure through the DOM.
 */
import { FONT_FAMILY, lineMetrics, subsetFont, textWidth } from './font.js';
import type { DiagramNode } from './graph.js';
import { LINE_GAP, TEXT, type Layout, type PlacedNode } from './layout.js';

export type Theme = 'paper' | 'dark';

interface Palette {
  background: string;
  text: string;
  muted: string;
  stroke: string;
  edge: string;
  handover: string;
  mask: string;
  fill: Record<DiagramNode['role'], string>;
  sparse: string;
  frozen: string;
  added: string;
  removed: string;
  changed: string;
  groupStroke: string;
}

const PALETTES: Record<Theme, Palette> = {
  paper: {
    background: '#ffffff',
    text: '#1a1a1a',
    muted: '#555555',
    stroke: '#4a4a4a',
    edge: '#3c3c3c',
    handover: '#b34700',
    mask: '#7a3db8',
    fill: {
      input: '#e3f0e3',
      output: '#e3f0e3',
      layer: '#eaf1fb',
      block: '#dbe7f7',
      op: '#f4f4f4',
      group: '#f8fafd',
      stage: '#fcfcfc',
      mask: '#efe6f9',
      loss: '#fbeee0',
    },
    sparse: '#7a3db8',
    frozen: '#9fb4c8',
    added: '#2e8b57',
    removed: '#c0392b',
    changed: '#d68910',
    groupStroke: '#8a9bb0',
  },
  dark: {
    background: '#1e1f22',
    text: '#e8e8e8',
    muted: '#a8a8a8',
    stroke: '#9aa4b1',
    edge: '#b8c0cc',
    handover: '#ff9f4a',
    mask: '#c39bf0',
    fill: {
      input: '#23402b',
      output: '#23402b',
      layer: '#243447',
      block: '#2c3e57',
      op: '#2d2f33',
      group: '#26282c',
      stage: '#222327',
      mask: '#3a2b4d',
      loss: '#4a3522',
    },
    sparse: '#c39bf0',
    frozen: '#5d7b96',
    added: '#4cc38a',
    removed: '#ff6b5e',
    changed: '#f5b041',
    groupStroke: '#5c6b7d',
  },
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (n: number) => (Math.round(n * 100) / 100).toString();

function nodeStroke(n: DiagramNode, p: Palette): { color: string; width: number; dash?: string } {
  if (n.diff) return { color: p[n.diff], width: 2.5, ...(n.diff === 'removed' ? { dash: '6 3' } : {}) };
  if (n.role === 'stage') return { color: p.groupStroke, width: 1.5 };
  if (n.role === 'group') return { color: p.groupStroke, width: 1, dash: '4 3' };
  if (n.masked || (n.sparse && n.children.length === 0)) return { color: p.sparse, width: 2, dash: '5 2' };
  return { color: p.stroke, width: 1 };
}

function renderNode(pn: PlacedNode, p: Palette, out: string[]): void {
  const n = pn.node;
  const s = nodeStroke(n, p);
  const fill = n.frozen ? `url(#frozen)` : p.fill[n.role];
  const rx = n.role === 'op' ? 12 : n.role === 'input' || n.role === 'output' ? 10 : 4;
  const attrs =
    `data-node="${esc(n.id)}"${pn.parent ? ` data-parent="${esc(pn.parent)}"` : ''} ` +
    `data-role="${n.role}"${n.path !== undefined ? ` data-path="${esc(n.path)}"` : ''}`;
  out.push(
    `<g class="node node-${n.role}${n.frozen ? ' frozen' : ''}${n.sparse ? ' sparse' : ''}` +
      `${n.diff ? ` diff-${n.diff}` : ''}">`,
  );
  out.push(
    `<rect class="node-box" ${attrs} x="${f(pn.x)}" y="${f(pn.y)}" width="${f(pn.width)}" ` +
      `height="${f(pn.height)}" rx="${rx}" fill="${fill}" stroke="${s.color}" ` +
      `stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
  );
  // Text: centred for leaves, left-aligned in compound headers.
  const anchor = pn.compound ? 'start' : 'middle';
  const textWidthMax = Math.max(...pn.lines.map((l) => textWidth(l.text, l.size)));
  const x = pn.compound ? pn.x + pn.textX : pn.x + pn.textX + textWidthMax / 2;
  let y = pn.y + pn.textY;
  const tspans: string[] = [];
  pn.lines.forEach((l, i) => {
    const m = lineMetrics(l.size);
    y += (i ? LINE_GAP : 0) + m.ascent;
    const color =
      l.role === 'name'
        ? p.text
        : l.role === 'flag'
          ? n.diff
            ? p[n.diff]
            : n.masked || n.sparse
              ? p.sparse
              : p.muted
          : p.muted;
    tspans.push(`<tspan x="${f(x)}" y="${f(y)}" font-size="${l.size}" fill="${color}">${esc(l.text)}</tspan>`);
    y += m.descent;
  });
  out.push(`<text class="node-label" data-node="${esc(n.id)}" text-anchor="${anchor}">${tspans.join('')}</text>`);
  for (const port of pn.ports) {
    out.push(
      `<rect class="port" data-port="${esc(port.id)}" data-node="${esc(n.id)}" x="${f(port.x)}" ` +
        `y="${f(port.y)}" width="${f(port.width)}" height="${f(port.height)}" fill="${p.stroke}"/>`,
    );
    const pm = lineMetrics(TEXT.port);
    if (pn.ports.length && port.y < pn.y + 1) {
      // TB: port on the top side, label below it.
      const ly = port.y + port.height + 2 + pm.ascent;
      out.push(
        `<text class="port-label" data-port="${esc(port.id)}" x="${f(port.x + port.width / 2)}" y="${f(ly)}" ` +
          `font-size="${TEXT.port}" text-anchor="middle" fill="${p.muted}">${esc(port.label)}</text>`,
      );
    } else {
      const ly = port.y + port.height / 2 + (pm.ascent - pm.descent) / 2;
      out.push(
        `<text class="port-label" data-port="${esc(port.id)}" x="${f(port.x + port.width + 2)}" y="${f(ly)}" ` +
          `font-size="${TEXT.port}" fill="${p.muted}">${esc(port.label)}</text>`,
      );
    }
  }
  out.push('</g>');
}

export function renderSvg(layout: Layout, theme: Theme = 'paper'): string {
  const p = PALETTES[theme];
  const titleW = layout.title ? textWidth(layout.title, TEXT.title) + 32 : 0;
  const width = Math.ceil(Math.max(layout.width, titleW));
  const height = layout.height;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" ` +
      `height="${height}" font-family="${FONT_FAMILY}, 'DejaVu Sans'">`,
  );
  out.push(`<title>${esc(layout.title)}</title>`);
  out.push('<style>');
  // Only the glyphs this figure uses are embedded (a few KB instead of the whole font).
  const used = [
    layout.title,
    ...layout.nodes.flatMap((n) => [...n.lines.map((l) => l.text), ...n.ports.map((q) => q.label)]),
    ...layout.edges.flatMap((e) => e.label?.lines ?? []),
  ].join('');
  out.push(
    `@font-face { font-family: '${FONT_FAMILY}'; src: ` +
      `url(data:font/ttf;base64,${subsetFont(used).toString('base64')}) format('truetype'); font-weight: ` +
      `normal; font-style: normal; }`,
  );
  out.push(
    `text { font-family: '${FONT_FAMILY}', 'DejaVu Sans'; font-kerning: none; font-variant-ligatures: none; ` +
      `font-synthesis: none; }`,
  );
  out.push('</style>');
  out.push('<defs>');
  for (const [id, color] of [
    ['arrow', p.edge],
    ['arrow-handover', p.handover],
    ['arrow-mask', p.mask],
    ['arrow-added', p.added],
    ['arrow-removed', p.removed],
  ] as const)
    out.push(
      `<marker id="${id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" ` +
        `orient="auto-start-reverse" markerUnits="userSpaceOnUse"><path d="M0,0 L10,5 L0,10 z" ` +
        `fill="${color}"/></marker>`,
    );
  out.push(
    `<pattern id="frozen" patternUnits="userSpaceOnUse" width="8" height="8" ` +
      `patternTransform="rotate(45)"><rect width="8" height="8" fill="${p.fill.layer}"/><rect width="3" ` +
      `height="8" fill="${p.frozen}" fill-opacity="0.45"/></pattern>`,
  );
  out.push('</defs>');
  out.push(`<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="${p.background}"/>`);
  if (layout.title) {
    const m = lineMetrics(TEXT.title);
    out.push(
      `<text class="title" x="16" y="${f(8 + m.ascent)}" font-size="${TEXT.title}" ` +
        `fill="${p.text}">${esc(layout.title)}</text>`,
    );
  }
  out.push(`<g transform="translate(0, ${f(layout.titleHeight)})">`);
  // Compound nodes first (they are containers), then leaves, then edges on top.
  const compound = layout.nodes.filter((n) => n.compound);
  const leaves = layout.nodes.filter((n) => !n.compound);
  for (const n of compound) renderNode(n, p, out);
  for (const e of layout.edges) {
    if (e.points.length < 2) continue;
    const d = e.points.map((q, i) => `${i ? 'L' : 'M'}${f(q.x)},${f(q.y)}`).join(' ');
    const color = e.edge.diff
      ? p[e.edge.diff]
      : e.edge.kind === 'handover'
        ? p.handover
        : e.edge.kind === 'mask'
          ? p.mask
          : p.edge;
    const marker =
      e.edge.diff === 'added'
        ? 'arrow-added'
        : e.edge.diff === 'removed'
          ? 'arrow-removed'
          : e.edge.kind === 'handover'
            ? 'arrow-handover'
            : e.edge.kind === 'mask'
              ? 'arrow-mask'
              : 'arrow';
    const dash =
      e.edge.kind === 'mask' ? ' stroke-dasharray="4 3"' : e.edge.diff === 'removed' ? ' stroke-dasharray="6 3"' : '';
    const w = e.edge.kind === 'handover' ? 2.5 : 1.2;
    out.push(
      `<path class="edge edge-${e.edge.kind}" data-edge="${esc(e.edge.id)}" data-source="${esc(e.from)}" ` +
        `data-target="${esc(e.to)}"${e.toPort ? ` data-target-port="${esc(e.toPort)}"` : ''} d="${d}" ` +
        `fill="none" stroke="${color}" stroke-width="${w}"${dash} marker-end="url(#${marker})"/>`,
    );
  }
  for (const n of leaves) renderNode(n, p, out);
  const panels = new Map(layout.nodes.map((n) => [n.node.id, n.node]));
  for (const e of layout.edges) {
    if (!e.label) continue;
    const l = e.label;
    const m = lineMetrics(TEXT.edge);
    // The label's box takes the colour of the panel under it, so it hides the lines it crosses
    // without showing as a white patch on a tinted panel.
    const panel = e.within !== undefined ? panels.get(e.within) : undefined;
    const background = panel ? p.fill[panel.role] : p.background;
    out.push(`<g class="edge-label" data-edge="${esc(e.edge.id)}">`);
    out.push(
      `<rect x="${f(l.x)}" y="${f(l.y)}" width="${f(l.width)}" height="${f(l.height)}" ` + `fill="${background}"/>`,
    );
    let y = l.y + 2;
    const color = e.edge.kind === 'handover' ? p.handover : e.edge.kind === 'mask' ? p.mask : p.muted;
    const spans = l.lines.map((t, i) => {
      y += (i ? 2 : 0) + m.ascent;
      const s =
        `<tspan x="${f(l.x + 3)}" y="${f(y)}" font-size="${TEXT.edge}" ` +
        `fill="${i ? p.muted : color}"${i ? ' font-style="normal" opacity="0.75"' : ''}>${esc(t)}</tspan>`;
      y += m.descent;
      return s;
    });
    out.push(`<text>${spans.join('')}</text>`);
    out.push('</g>');
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
