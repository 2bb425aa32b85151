/**
 * report.html as a reader sees it, in headless Chromium at 1280 px: every stage's panels put the
 * same epoch at the same pixel, loss axes start at 0, the threshold has its own panel, epoch ticks
 * are whole numbers, the header says which run, variant, command and weights the figures belong
 * to, and no metrics cell wraps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateRun } from '../../runtime/metrics/index.js';
import { renderReportHtml } from '../../runtime/report/index.js';
import { createRng } from '../../runtime/rng.js';
import type { LogRecord } from '../../runtime/run/index.js';

function patients(seed: number, n: number) {
  const rng = createRng(seed);
  const labels: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.uniform() < 0.45 ? 1 : 0;
    labels.push(y);
    scores.push(1 / (1 + Math.exp(-(1.5 * rng.normal() + (y ? 2 : -1)))));
  }
  return { labels, scores, imageCounts: labels.map(() => 2) };
}

/** Pretraining (loss only, 4 epochs) and fine-tuning (10 epochs, metrics, threshold, best epoch 8). */
function runLog(): LogRecord[] {
  const records: LogRecord[] = [{ type: 'run', name: 'demo', stages: ['pretrain', 'finetune'] }];
  const rng = createRng(5);
  for (const [stage, epochs] of [
    ['pretrain', 4],
    ['finetune', 10],
  ] as const) {
    let global = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      for (let step = 1; step <= 12; step++) {
        global++;
        const lr = 5e-4 * Math.min(1, global / 12) * (0.5 + 0.5 * Math.cos((Math.PI * global) / (epochs * 12)));
        const loss = 0.2 + 1 / Math.sqrt(global) + 0.3 * rng.uniform();
        records.push({ type: 'step', stage, epoch, step, globalStep: global, loss, lr, elapsed: global });
      }
      records.push({
        type: 'epoch',
        stage,
        epoch,
        trainLoss: 0.2 + 1 / Math.sqrt(global),
        ...(stage === 'finetune'
          ? { metrics: { auc: 0.6 + 0.03 * epoch, accuracy: 0.5 + 0.03 * epoch, loss: 0.7, threshold: 0.4 } }
          : {}),
      });
    }
    records.push({
      type: 'stage-end',
      stage,
      ...(stage === 'finetune' ? { best: { metric: 'val.auc', mode: 'max', value: 0.84, epoch: 8 } } : {}),
    });
  }
  return records;
}

interface PanelBox {
  readonly label: string;
  readonly left: number;
  readonly right: number;
}

describe('report.html in a browser', () => {
  let context: BrowserContext;
  let profile: string;
  let html: string;

  beforeAll(async () => {
    const evaluation = evaluateRun(
      { validation: patients(1, 60), test: patients(2, 90) },
      { rng: createRng(3), resamples: 200, delong: true },
    );
    html = await renderReportHtml({
      meta: {
        name: 'mednvc-demo-20261205',
        variant: 'demo',
        command: 'nvcc train examples/mednvc.nvc --variant demo',
        runDir: 'runs/mednvc-demo-20261205',
        evaluatedStage: 'finetune',
        wallTimeSeconds: 312.2,
      },
      records: runLog(),
      evaluation,
    });
    profile = mkdtempSync(join(tmpdir(), 'nvcc-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function page() {
    const p = await context.newPage();
    await p.setContent(html);
    return p;
  }

  it('puts the same epoch at the same pixel in every panel of a stage', async () => {
    const p = await page();
    const stages = await p.evaluate(() =>
      Array.from(document.querySelectorAll('figure.stage')).map((figure) =>
        Array.from(figure.querySelectorAll('g[aria-label^="X-axis"]')).map((axis) => {
          const domain = axis.querySelector('.role-axis-domain path, .role-axis-domain line') ?? axis;
          const box = domain.getBoundingClientRect();
          const ticks = Array.from(axis.querySelectorAll('.role-axis-label text')).map((t) => t.textContent ?? '');
          return { label: axis.getAttribute('aria-label') ?? '', left: box.left, right: box.right, ticks };
        }),
      ),
    );
    expect(stages).toHaveLength(2);
    const [pretrain, finetune] = stages as (PanelBox & { ticks: string[] })[][];
    expect(pretrain!.length).toBe(2); // loss, learning rate
    expect(finetune!.length).toBe(4); // loss, learning rate, metrics, threshold
    for (const panels of [pretrain!, finetune!]) {
      for (const panel of panels) {
        expect(Math.abs(panel.left - panels[0]!.left)).toBeLessThan(0.5);
        expect(Math.abs(panel.right - panels[0]!.right)).toBeLessThan(0.5);
        expect(
          panel.ticks.every((t) => /^\d+$/.test(t)),
          panel.ticks.join(' '),
        ).toBe(true);
        expect(panel.ticks[0]).toBe('0');
      }
    }
    expect(finetune![0]!.ticks.at(-1)).toBe('10');
  });

  it('starts every loss axis at 0 and gives the threshold its own panel', async () => {
    const p = await page();
    const axes = await p.evaluate(() =>
      Array.from(document.querySelectorAll('g[aria-label^="Y-axis"]')).map((axis) => ({
        label: axis.getAttribute('aria-label') ?? '',
        ticks: Array.from(axis.querySelectorAll('.role-axis-label text')).map((t) => t.textContent ?? ''),
      })),
    );
    const loss = axes.filter((a) => a.label.includes("titled 'loss'"));
    expect(loss).toHaveLength(2);
    for (const a of loss) expect(a.ticks[0]).toBe('0.0');
    expect(axes.some((a) => a.label.includes("titled 'score'"))).toBe(true);
    expect(html).toContain('finetune: threshold chosen on validation');
    // one legend entry: the threshold's own panel, not a line among AUC and accuracy
    const legends = await p.evaluate(() =>
      Array.from(document.querySelectorAll('.role-legend-label text')).map((t) => t.textContent ?? ''),
    );
    expect(legends.filter((l) => l === 'validation threshold')).toHaveLength(1);
    expect(legends).toContain('validation auc');
    expect(axes.some((a) => a.label.includes("titled 'percent'"))).toBe(true);
  });

  it('names the variant, command, run folder and the epoch whose weights were evaluated', async () => {
    const p = await page();
    const header = await p.evaluate(() =>
      Object.fromEntries(
        Array.from(document.querySelectorAll('table.meta tr')).map((tr) => [
          tr.querySelector('th')?.textContent ?? '',
          tr.querySelector('td')?.textContent ?? '',
        ]),
      ),
    );
    expect(header['Variant']).toBe('demo');
    expect(header['Command']).toBe('nvcc train examples/mednvc.nvc --variant demo');
    expect(header['Run folder']).toBe('runs/mednvc-demo-20261205');
    expect(header['Weights evaluated']).toBe('stage finetune, epoch 8 of 10 (kept as best by val.auc = 84.00%)');
    expect(header['Training time']).toBe('5m12s (312.2 s)');
  });

  it('writes rates as the console does (percent, 2 decimals) and wraps no metrics cell at 1280 px', async () => {
    const p = await page();
    const cells = await p.evaluate(() =>
      Array.from(document.querySelectorAll('table.metrics td, table.metrics th')).map((cell) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
        return { text: cell.textContent ?? '', lines: lines.size };
      }),
    );
    expect(cells.length).toBeGreaterThan(20);
    for (const c of cells) expect(c.lines, c.text).toBeLessThanOrEqual(1);
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(1280);
    expect(cells.some((c) => /^\d+\.\d\d% \(\d+\.\d\d–\d+\.\d\d%\)$/.test(c.text))).toBe(true);
  });
});
