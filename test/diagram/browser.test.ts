// The SVG figures rendered in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core), checked through the DOM: no two node boxes overlap (a compound node only
// contains its own descendants), every label's getBBox lies inside its box, every edge starts
// and ends on the boundary of its source / target node or port (within 1.5 px), and the
// browser lays text out with the embedded font at exactly the widths the layout measured.
// Screenshots are taken of each figure; UPDATE_FIGURES=1 writes them to docs/figures/.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FONT_FAMILY, textWidth } from '../../compiler/diagram/font.js';
import { diffDiagram } from '../../compiler/diagram/diff.js';
import type { DiagramGraph } from '../../compiler/diagram/graph.js';
import { layoutDiagram, type Direction } from '../../compiler/diagram/layout.js';
import { selectDiagram, type DiagramSelection } from '../../compiler/diagram/select.js';
import { renderSvg, type Theme } from '../../compiler/diagram/svg.js';
import { program, repoRoot } from './support.js';

interface Figure {
  readonly name: string;
  readonly file: string;
  readonly sel: Partial<DiagramSelection>;
  readonly direction: Direction;
  readonly theme: Theme;
  /** Diff figures: the program drawn as "before" (the figure's file is "after"). */
  readonly before?: string;
}

const FIGURES: readonly Figure[] = [
  {
    name: 'convnextv2-block',
    file: 'std/convnextv2.nvc',
    sel: {
      model: 'convnextv2_atto',
      block: 'ConvNeXtV2Block',
      dims: new Map([
        ['H', 224],
        ['W', 224],
      ]),
    },
    direction: 'TB',
    theme: 'paper',
  },
  {
    name: 'convnextv2-block-grn-expanded',
    file: 'std/convnextv2.nvc',
    sel: {
      model: 'convnextv2_atto',
      block: 'ConvNeXtV2Block',
      depth: 1,
      dims: new Map([
        ['H', 224],
        ['W', 224],
      ]),
    },
    direction: 'LR',
    theme: 'dark',
  },
  { name: 'mednvc', file: 'examples/mednvc.nvc', sel: {}, direction: 'TB', theme: 'paper' },
  { name: 'mednvc-training', file: 'examples/mednvc.nvc', sel: { training: true }, direction: 'TB', theme: 'paper' },
  {
    name: 'probe-training-depth1',
    file: 'test/diagram/fixtures/frozen-stages.nvc',
    sel: { training: true, depth: 1 },
    direction: 'TB',
    theme: 'paper',
  },
  {
    name: 'diff-fixtures',
    file: 'test/diagram/fixtures/diff-after.nvc',
    before: 'test/diagram/fixtures/diff-before.nvc',
    sel: {},
    direction: 'LR',
    theme: 'paper',
  },
];

function figureGraph(f: Figure): DiagramGraph {
  const pick = (file: string) => {
    const r = selectDiagram(program(file), { depth: 0, ...f.sel });
    if ('error' in r) throw new Error(r.error);
    return r.graph;
  };
  return f.before ? diffDiagram(pick(f.before), pick(f.file), 'diff') : pick(f.file);
}

interface DomReport {
  boxes: number;
  overlaps: string[];
  labelsOutside: string[];
  labels: number;
  edges: number;
  detached: string[];
  fontLoaded: boolean;
  widthErrors: string[];
  svgWidth: number;
  svgHeight: number;
}

/** Runs in the page: every check reads the laid-out DOM. */
function inspect(args: {
  family: string;
  tolerance: number;
  samples: { text: string; size: number; width: number }[];
}): DomReport {
  const svg = document.querySelector('svg')!;
  const boxes = Array.from(svg.querySelectorAll<SVGRectElement>('rect.node-box'));
  const box = new Map<string, DOMRect>();
  const parent = new Map<string, string | null>();
  for (const r of boxes) {
    box.set(r.dataset.node!, r.getBBox());
    parent.set(r.dataset.node!, r.dataset.parent ?? null);
  }
  const ancestorOf = (a: string, b: string) => {
    for (let p = parent.get(b); p; p = parent.get(p)) if (p === a) return true;
    return false;
  };
  const overlaps: string[] = [];
  const ids = [...box.keys()];
  for (let i = 0; i < ids.length; i++)
    for (let j = i + 1; j < ids.length; j++) {
      const a = ids[i]!;
      const b = ids[j]!;
      if (ancestorOf(a, b) || ancestorOf(b, a)) continue;
      const p = box.get(a)!;
      const q = box.get(b)!;
      const w = Math.min(p.x + p.width, q.x + q.width) - Math.max(p.x, q.x);
      const h = Math.min(p.y + p.height, q.y + q.height) - Math.max(p.y, q.y);
      if (w > 0.5 && h > 0.5) overlaps.push(`${a}/${b}`);
    }
  // Compound nodes must contain their children entirely.
  for (const [id, p] of parent) {
    if (!p) continue;
    const c = box.get(id)!;
    const o = box.get(p)!;
    if (c.x < o.x || c.y < o.y || c.x + c.width > o.x + o.width || c.y + c.height > o.y + o.height)
      overlaps.push(`${id} sticks out of ${p}`);
  }
  const labelsOutside: string[] = [];
  const texts = Array.from(svg.querySelectorAll<SVGTextElement>('text.node-label, text.port-label'));
  for (const t of texts) {
    const b = t.getBBox();
    const o =
      box.get(t.dataset.node ?? '') ??
      box.get(svg.querySelector<SVGRectElement>(`rect.port[data-port="${t.dataset.port}"]`)?.dataset.node ?? '');
    if (!o) {
      labelsOutside.push(`no box for ${t.textContent}`);
      continue;
    }
    if (b.x < o.x || b.y < o.y || b.x + b.width > o.x + o.width || b.y + b.height > o.y + o.height)
      labelsOutside.push(
        `${t.textContent} [${b.x.toFixed(1)},${b.y.toFixed(1)} ${b.width.toFixed(1)}x${b.height.toFixed(1)}] ` +
          `in [${o.x},${o.y} ${o.width}x${o.height}]`,
      );
  }
  const distToBoundary = (x: number, y: number, r: DOMRect) => {
    const inside = x >= r.x && x <= r.x + r.width && y >= r.y && y <= r.y + r.height;
    if (inside) return Math.min(x - r.x, r.x + r.width - x, y - r.y, r.y + r.height - y);
    const dx = Math.max(r.x - x, 0, x - (r.x + r.width));
    const dy = Math.max(r.y - y, 0, y - (r.y + r.height));
    return Math.hypot(dx, dy);
  };
  const detached: string[] = [];
  const paths = Array.from(svg.querySelectorAll<SVGPathElement>('path.edge'));
  for (const p of paths) {
    const len = p.getTotalLength();
    const start = p.getPointAtLength(0);
    const end = p.getPointAtLength(len);
    const src = box.get(p.dataset.source!);
    const port = p.dataset.targetPort
      ? svg.querySelector<SVGRectElement>(`rect.port[data-port="${p.dataset.targetPort}"]`)?.getBBox()
      : undefined;
    const tgt = port ?? box.get(p.dataset.target!);
    if (!src || !tgt) {
      detached.push(`${p.dataset.edge}: missing end`);
      continue;
    }
    const ds = distToBoundary(start.x, start.y, src);
    const dt = distToBoundary(end.x, end.y, tgt);
    if (ds > args.tolerance || dt > args.tolerance)
      detached.push(
        `${p.dataset.edge} ${p.dataset.source}->${p.dataset.target}: start ${ds.toFixed(2)} px, end ` +
          `${dt.toFixed(2)} px off`,
      );
  }
  // The embedded font is the one in use, with the advance widths the layout measured.
  let faceLoaded = false;
  document.fonts.forEach((f) => {
    if (f.family.replace(/['"]/g, '') === args.family && f.status === 'loaded') faceLoaded = true;
  });
  const fontLoaded = faceLoaded && document.fonts.check(`12px ${args.family}`);
  const widthErrors: string[] = [];
  const probe = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  probe.setAttribute('font-family', args.family);
  probe.setAttribute('style', `font-family: '${args.family}'; font-kerning: none; font-variant-ligatures: none`);
  svg.appendChild(probe);
  for (const s of args.samples) {
    probe.setAttribute('font-size', String(s.size));
    probe.textContent = s.text;
    const w = probe.getComputedTextLength();
    if (Math.abs(w - s.width) > 0.25)
      widthErrors.push(`${s.text}@${s.size}: browser ${w.toFixed(2)} vs measured ${s.width.toFixed(2)}`);
  }
  probe.remove();
  return {
    boxes: boxes.length,
    overlaps,
    labelsOutside,
    labels: texts.length,
    edges: paths.length,
    detached,
    fontLoaded,
    widthErrors,
    svgWidth: svg.viewBox.baseVal.width,
    svgHeight: svg.viewBox.baseVal.height,
  };
}

const SAMPLES = [
  'enc.downsample_layers.0',
  'ConvNeXtV2Block ×27',
  '57,521,664 params',
  '[B, 224, 224, 3]',
  'weights ← pretrain.encoder',
  'masked (sparse)',
  'WWW iii ÷ → ×',
];

describe('SVG figures in headless Chromium', () => {
  let context: BrowserContext;
  let profile: string;
  const shots =
    process.env['UPDATE_FIGURES'] === '1'
      ? resolve(repoRoot, 'docs', 'figures')
      : mkdtempSync(join(tmpdir(), 'nvcc-figures-'));
  const svgs = new Map<string, string>();

  beforeAll(async () => {
    for (const f of FIGURES)
      svgs.set(f.name, renderSvg(await layoutDiagram(figureGraph(f), { direction: f.direction }), f.theme));
    profile = mkdtempSync(join(tmpdir(), 'nvcc-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('SVGs are self-contained: no external references, a viewBox, the font embedded', () => {
    for (const [name, svg] of svgs) {
      expect(svg, name).not.toMatch(/\b(href|src)\s*=/);
      expect(svg, name).not.toMatch(/url\((?!#|data:)/);
      expect(svg, name).toMatch(/<svg [^>]*viewBox="0 0 \d+ \d+"/);
      expect(svg, name).toContain(`@font-face { font-family: '${FONT_FAMILY}'; src: url(data:font/ttf;base64,`);
      // Only the glyphs in use are embedded: far below the 760 KB of the whole font.
      const font = /base64,([A-Za-z0-9+/=]+)\)/.exec(svg)![1]!;
      expect(Buffer.from(font, 'base64').length, name).toBeLessThan(120_000);
    }
  });

  for (const f of FIGURES) {
    it(`${f.name}: boxes apart, labels inside, edges attached, font as measured`, async () => {
      const page = await context.newPage();
      // Fail on any request leaving the page: the SVG must not need one.
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('data:') && r.url() !== 'about:blank') requests.push(r.url());
      });
      await page.setContent(
        `<!doctype html><html><body style="margin:0;background:#fff">${svgs.get(f.name)!}</body></html>`,
      );
      await page.evaluate(() => document.fonts.ready.then(() => undefined));
      const samples = SAMPLES.flatMap((text) =>
        [9, 10, 13].map((size) => ({ text, size, width: textWidth(text, size) })),
      );
      const report = await page.evaluate(inspect, { family: FONT_FAMILY, tolerance: 1.5, samples });
      expect(requests).toEqual([]);
      expect(report.fontLoaded).toBe(true);
      expect(report.widthErrors).toEqual([]);
      expect(report.boxes).toBeGreaterThan(7);
      expect(report.overlaps).toEqual([]);
      expect(report.labels).toBeGreaterThanOrEqual(report.boxes);
      expect(report.labelsOutside).toEqual([]);
      expect(report.edges).toBeGreaterThan(7);
      expect(report.detached).toEqual([]);
      mkdirSync(shots, { recursive: true });
      const file = join(shots, `${f.name}.png`);
      const svg = await page.$('svg');
      writeFileSync(file, await svg!.screenshot({ type: 'png' }));
      const meta = await sharp(file).metadata();
      expect(meta.width).toBe(Math.ceil(report.svgWidth));
      expect(meta.height).toBe(Math.ceil(report.svgHeight));
      await page.close();
    });
  }
});
