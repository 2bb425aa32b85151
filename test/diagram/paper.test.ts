// `nvcc diagram --style paper`: boxes that say what each layer computes (the ConvNeXt-V2 block
// reads like Figure 2 of the MED-NVC paper: 7×7 DwConv, LN, Linear to 4×, GELU, GRN, Linear back,
// residual add), identity steps left out, one shape per edge, compact spacing, a figure wrapped
// to between 1:2 and 2:1, and PDF output printed by headless Chromium. Goldens: Mermaid and DOT.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import type { DiagramGraph } from '../../compiler/diagram/graph.js';
import { paperStyle } from '../../compiler/diagram/paper.js';
import { layoutFigure, renderDiagram } from '../../compiler/diagram/render.js';
import { type DiagramSelection, selectDiagram } from '../../compiler/diagram/select.js';
import { toDot, toMermaid } from '../../compiler/diagram/text-formats.js';
import { golden, program } from './support.js';

function draw(path: string, sel: Partial<DiagramSelection>): DiagramGraph {
  const r = selectDiagram(program(path), { depth: 0, ...sel });
  if ('error' in r) throw new Error(r.error);
  return r.graph;
}

const block = () =>
  draw('std/convnextv2.nvc', {
    model: 'convnextv2_atto',
    block: 'ConvNeXtV2Block',
    dims: new Map([
      ['H', 224],
      ['W', 224],
    ]),
  });

const ratioOf = (svg: string) => {
  const [, w, h] = /viewBox="0 0 (\d+) (\d+)"/.exec(svg)!.map(Number) as [number, number, number];
  return { w, h, ratio: w / h };
};

describe('paper style', () => {
  it('draws the ConvNeXt-V2 block as the paper does, identity steps left out', () => {
    const g = paperStyle(block());
    expect(g.nodes.map((n) => n.name)).toEqual([
      'x',
      '7×7 DwConv, 40',
      'LN',
      'Linear 40 → 160',
      'GELU',
      'GRN',
      'Linear 160 → 40',
      '+',
      'output',
    ]);
    expect(g.nodes.every((n) => n.params === 0 && n.handedFrom === undefined)).toBe(true);
    const id = (name: string) => g.nodes.find((n) => n.name === name)!.id;
    // drop_path (rate 0) and `visible` are gone; their edges are joined through.
    expect(g.edges.filter((e) => e.target === id('+')).map((e) => e.source)).toEqual([id('x'), id('Linear 160 → 40')]);
    expect(g.edges.find((e) => e.target === id('output'))!.source).toBe(id('+'));
    expect(g.edges.every((e) => e.label.length <= 1)).toBe(true);
    expect(toMermaid(g, 'TB')).toBe(golden('convnextv2-block-paper.mmd', toMermaid(g, 'TB')));
    expect(toDot(g, 'TB')).toBe(golden('convnextv2-block-paper.dot', toDot(g, 'TB')));
  });

  it('lays the block out as the golden says (boxes and routes of the paper-style SVG)', async () => {
    const layout = await layoutFigure(paperStyle(block()), { direction: 'TB', style: 'paper' });
    const r = (x: number) => Math.round(x * 10) / 10;
    const text = [
      `figure ${layout.width}x${layout.height}`,
      ...layout.nodes.map((n) => `node ${n.node.name}: ${r(n.x)},${r(n.y)} ${r(n.width)}x${r(n.height)}`),
      ...layout.edges.map(
        (e) =>
          `edge ${e.edge.source} -> ${e.edge.target}: ${e.points.map((p) => `${r(p.x)},${r(p.y)}`).join(' ')}` +
          (e.label ? ` label ${e.label.lines.join(' / ')} at ${r(e.label.x)},${r(e.label.y)}` : ''),
      ),
    ].join('\n');
    expect(text).toBe(golden('convnextv2-block-paper.layout.txt', `${text}`));
  });

  it('keeps the MED-NVC training figure between 1:2 and 2:1 as well', async () => {
    const g = draw('examples/mednvc.nvc', { training: true });
    const { ratio } = ratioOf(
      String(await renderDiagram(g, { format: 'svg', direction: 'TB', theme: 'paper', style: 'paper' })),
    );
    expect(ratio).toBeGreaterThanOrEqual(0.5);
    expect(ratio).toBeLessThanOrEqual(2);
  });

  it('wraps MED-NVC to between 1:2 and 2:1 in either direction, and is more compact than the full style', async () => {
    const g = draw('examples/mednvc.nvc', {});
    expect(toMermaid(paperStyle(g), 'TB')).toBe(golden('mednvc-paper.mmd', toMermaid(paperStyle(g), 'TB')));
    for (const direction of ['TB', 'LR'] as const) {
      const paper = ratioOf(
        String(await renderDiagram(g, { format: 'svg', direction, theme: 'paper', style: 'paper' })),
      );
      expect(paper.ratio, direction).toBeGreaterThanOrEqual(0.5);
      expect(paper.ratio, direction).toBeLessThanOrEqual(2);
    }
    const full = ratioOf(String(await renderDiagram(g, { format: 'svg', direction: 'TB', theme: 'paper' })));
    const paper = ratioOf(
      String(await renderDiagram(g, { format: 'svg', direction: 'TB', theme: 'paper', style: 'paper' })),
    );
    // Unwrapped, the full figure is a tall column (about 1:7).
    expect(full.ratio).toBeLessThan(0.5);
    expect(paper.w * paper.h).toBeLessThan(full.w * full.h);
  });

  it('writes a one-page PDF the size of the figure (headless Chromium)', async () => {
    const g = block();
    const svg = String(await renderDiagram(g, { format: 'svg', direction: 'TB', theme: 'paper', style: 'paper' }));
    const pdf = (await renderDiagram(g, { format: 'pdf', direction: 'TB', theme: 'paper', style: 'paper' })) as Buffer;
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-')).toBe(true);
    expect(text.match(/\/Type\s*\/Page\b/g)).toHaveLength(1);
    const box = /\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/.exec(text)!;
    const { w, h } = ratioOf(svg);
    // CSS px to PDF points: 0.75; Chromium rounds the page to whole device pixels.
    expect(Math.abs(Number(box[1]) - w * 0.75)).toBeLessThan(1.5);
    expect(Math.abs(Number(box[2]) - h * 0.75)).toBeLessThan(1.5);
  }, 180_000);
});

describe('nvcc diagram --style / --aspect', () => {
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => vi.restoreAllMocks());

  it('takes --aspect as a ratio or W:H and refuses bad values and a PDF without --out', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nvcc-paper-')), 'wide.svg');
    expect(await main(['diagram', 'examples/mednvc.nvc', '--style', 'paper', '--aspect', '2:1', '--out', out])).toBe(0);
    expect(ratioOf(readFileSync(out, 'utf8')).ratio).toBeGreaterThan(1);
    expect(await main(['diagram', 'examples/mednvc.nvc', '--style', 'papr'])).toBe(1);
    expect(stderr).toContain('--style expects full or paper, found `papr`');
    expect(await main(['diagram', 'examples/mednvc.nvc', '--aspect', 'wide'])).toBe(1);
    expect(stderr).toContain('--aspect expects a width/height ratio');
    expect(await main(['diagram', 'examples/mednvc.nvc', '--format', 'pdf'])).toBe(1);
    expect(stderr).toContain('--format pdf writes binary data: give --out PATH');
  }, 60_000);
});
