// Layout facts of the SVG figures that need no browser: the training figure's stage panels start
// at the same top edge with the hand-over drawn straight between them, edge labels take the
// colour of the panel they sit on, and figures keep a usable aspect ratio.
import { describe, expect, it } from 'vitest';
import { type Direction, layoutDiagram } from '../../compiler/diagram/layout.js';
import { LR_ASPECT, renderDiagram } from '../../compiler/diagram/render.js';
import { selectDiagram, type DiagramSelection } from '../../compiler/diagram/select.js';
import { renderSvg } from '../../compiler/diagram/svg.js';
import { program } from './support.js';

async function laid(path: string, sel: Partial<DiagramSelection>, direction: Direction = 'TB') {
  const r = selectDiagram(program(path), { depth: 0, ...sel });
  if ('error' in r) throw new Error(r.error);
  return layoutDiagram(r.graph, { direction });
}

describe('diagram layout', () => {
  it('top-aligns the stage panels of the training figure; the hand-over runs straight across', async () => {
    const layout = await laid('examples/mednvc.nvc', { training: true });
    const stages = layout.nodes.filter((n) => n.node.role === 'stage');
    expect(stages.map((s) => s.node.name)).toEqual(['stage pretrain', 'stage finetune']);
    const [pre, fine] = stages as [(typeof stages)[0], (typeof stages)[0]];
    expect(pre.y).toBe(fine.y);
    expect(pre.height).toBeLessThan(fine.height / 2);
    const hand = layout.edges.find((e) => e.edge.kind === 'handover')!;
    expect(hand.points).toEqual([
      { x: pre.x + pre.width, y: pre.y + pre.height / 2 },
      { x: fine.x, y: pre.y + pre.height / 2 },
    ]);
    expect(hand.label!.y + hand.label!.height).toBeLessThanOrEqual(pre.y + pre.height / 2);
    // The same with the stages stacked (LR inside each): left-aligned.
    const stacked = await laid('examples/mednvc.nvc', { training: true }, 'LR');
    const [a, b] = stacked.nodes.filter((n) => n.node.role === 'stage');
    expect(a!.x).toBe(b!.x);
  });

  it('gives edge labels the fill of the panel they sit on, not white boxes', async () => {
    const layout = await laid('examples/mednvc.nvc', { training: true });
    const svg = renderSvg(layout, 'paper');
    const fills = [...svg.matchAll(/<g class="edge-label" data-edge="([^"]+)">\n<rect [^>]*fill="([^"]+)"/g)];
    expect(fills.length).toBeGreaterThan(10);
    const stageFill = /<rect class="node-box" data-node="s1n1"[^>]* fill="([^"]+)"/.exec(svg)![1]!;
    for (const [, edge, fill] of fills) {
      const placed = layout.edges.find((e) => e.edge.id === edge)!;
      if (placed.edge.kind === 'handover') expect(fill).toBe('#ffffff');
      else expect(fill, edge).toBe(stageFill);
    }
    expect(stageFill).not.toBe('#ffffff');
  });
});

describe('aspect ratio and edge labels', () => {
  it('wraps the MED-NVC model drawn left to right into rows of a usable aspect ratio', async () => {
    const r = selectDiagram(program('examples/mednvc.nvc'), { depth: 0 });
    if ('error' in r) throw new Error(r.error);
    const svg = String(await renderDiagram(r.graph, { format: 'svg', direction: 'LR', theme: 'paper' }));
    const [, w, h] = /viewBox="0 0 (\d+) (\d+)"/.exec(svg)!.map(Number) as [number, number, number];
    // Unwrapped it was 18:1 (one row of 18 nodes).
    expect(w / h).toBeGreaterThan(1);
    expect(w / h).toBeLessThan(LR_ASPECT * 1.5);
  });

  it('puts every shape label on the same side of its edge: below it', async () => {
    const layout = await laid('examples/mednvc.nvc', {}, 'LR');
    let checked = 0;
    for (const e of layout.edges) {
      if (!e.label) continue;
      const mid = e.label.x + e.label.width / 2;
      // The horizontal segment of the edge the label belongs to: the one under its middle.
      const under = e.points.findIndex(
        (p, i) => i > 0 && e.points[i - 1]!.y === p.y && Math.min(p.x, e.points[i - 1]!.x) <= mid,
      );
      if (under < 0) continue;
      checked++;
      expect(e.label.y, e.edge.id).toBeGreaterThanOrEqual(e.points[under]!.y);
    }
    expect(checked).toBeGreaterThan(10);
  });
});
