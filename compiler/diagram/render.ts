/**
 * From a diagram graph to the bytes of one output format.
 * In: a DiagramGraph, a format (svg, png, dot, mermaid), a direction and a theme. Out: the
 * file content (string for text formats, Buffer for PNG). PNG is rasterised from the SVG by
 * sharp (libvips + librsvg); fontconfig is pointed at the shipped font directory first, so
 * the PNG is drawn with the same DejaVu Sans whose advance widths sized the boxes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { limits, raiseHint } from '../limits.js';
import { FONT_FILE } from './font.js';
import type { DiagramGraph } from './graph.js';
import { layoutDiagram, type Direction, type Layout } from './layout.js';
import { paperStyle } from './paper.js';
import { renderSvg, type Theme } from './svg.js';
import { toDot, toMermaid } from './text-formats.js';

export type DiagramFormat = 'svg' | 'png' | 'pdf' | 'dot' | 'mermaid';
export const FORMATS: readonly DiagramFormat[] = ['svg', 'png', 'pdf', 'dot', 'mermaid'];
export type DiagramStyle = 'full' | 'paper';

export interface RenderOptions {
  readonly format: DiagramFormat;
  readonly direction: Direction;
  readonly theme: Theme;
  /** PNG pixels per SVG unit. */
  readonly scale?: number;
  /** Width over height a long chain is wrapped to; default LR_ASPECT for LR, none for TB. */
  readonly aspectRatio?: number;
  /** `paper`: paper.ts's labels, compact spacing, wrapped when outside 1:2 to 2:1. */
  readonly style?: DiagramStyle;
}

/** The width over height a paper-style figure is wrapped to when it is narrower than 1:2 or wider than 2:1. */
export const PAPER_ASPECT = 1.4;

/**
 * A model drawn left to right is one row of dozens of nodes (MED-NVC: 8420x464 px, 18:1); it is
 * wrapped into rows to about this width over height, which fits a page or a slide.
 */
export const LR_ASPECT = 1.6;

let fontconfigReady = false;

/** A fontconfig file listing the shipped font directory (before sharp loads librsvg). */
function useShippedFont(): void {
  if (fontconfigReady) return;
  const dir = mkdtempSync(join(tmpdir(), 'nvcc-fontconfig-'));
  const conf = join(dir, 'fonts.conf');
  writeFileSync(
    conf,
    `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  ` +
      `<dir>${dirname(FONT_FILE)}</dir>\n  <cachedir>${join(dir, 'cache')}</cachedir>\n` +
      `  <alias><family>NvccDiagramSans</family><prefer><family>DejaVu Sans</family></prefer></alias>\n</fontconfig>\n`,
  );
  process.env.FONTCONFIG_FILE = conf;
  fontconfigReady = true;
}

export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  useShippedFont();
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(svg), { density: 72 * scale })
    .png()
    .toBuffer();
}

/**
 * Why a diagram is too large to lay out in `format`, if it is (compiler/limits.ts): the layered
 * layout costs a few milliseconds per node and grows faster than linearly, so thousands of nodes
 * (a large `repeat` drawn with `--depth 3`) would run for minutes. DOT and Mermaid need no layout.
 */
export function drawnNodesRefusal(g: DiagramGraph, format: DiagramFormat): string | undefined {
  if (format !== 'svg' && format !== 'png' && format !== 'pdf') return undefined;
  let count = 0;
  const stack = [...g.nodes];
  while (stack.length > 0) {
    count++;
    stack.push(...stack.pop()!.children);
  }
  const limit = limits().diagramNodes;
  if (count <= limit.value) return undefined;
  return (
    `the diagram has ${count} nodes, more than the limit of ${limit.value} for svg and png; draw less ` +
    `(a lower --depth, --block NAME) or use --format dot, or raise the limit with the environment variable ` +
    raiseHint(limit, count)
  );
}

/** Lays the figure out: the paper style re-wraps a figure outside 1:2 to 2:1 to PAPER_ASPECT. */
export async function layoutFigure(g: DiagramGraph, options: Omit<RenderOptions, 'format' | 'theme'>): Promise<Layout> {
  const paper = options.style === 'paper';
  const aspectRatio = options.aspectRatio ?? (options.direction === 'LR' ? LR_ASPECT : undefined);
  const at = (ratio: number | undefined) =>
    layoutDiagram(g, {
      direction: options.direction,
      ...(ratio !== undefined ? { aspectRatio: ratio } : {}),
      ...(paper ? { compact: true } : {}),
    });
  const layout = await at(aspectRatio);
  const ratio = layout.width / Math.max(1, layout.height);
  // A short chain (one block, as the paper's Figure 2 draws it) stays one column.
  const short = g.nodes.length <= PAPER_WRAP_NODES;
  if (!paper || short || options.aspectRatio !== undefined || (ratio >= 0.5 && ratio <= 2)) return layout;
  return at(PAPER_ASPECT);
}

/** Paper-style figures of at most this many top-level nodes are not wrapped. */
export const PAPER_WRAP_NODES = 12;

export async function renderDiagram(graph: DiagramGraph, options: RenderOptions): Promise<string | Buffer> {
  const g = options.style === 'paper' ? paperStyle(graph) : graph;
  switch (options.format) {
    case 'dot':
      return toDot(g, options.direction);
    case 'mermaid':
      return toMermaid(g, options.direction);
    case 'svg':
    case 'png':
    case 'pdf': {
      const svg = renderSvg(await layoutFigure(g, options), options.theme);
      if (options.format === 'pdf') return (await import('./pdf.js')).svgToPdf(svg);
      return options.format === 'svg' ? svg : svgToPng(svg, options.scale);
    }
  }
}
