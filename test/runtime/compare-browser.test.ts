/**
 * compare.html (`nvcc compare RUN...`) as a reader sees it in headless Chromium at 1280 px: the
 * runs overlaid in every stage chart (each run a legend entry, every panel of a stage putting
 * the same epoch at the same pixel), one ROC chart with every run, and a table of the runs that
 * links each report and wraps no cell. The CLI reads two real run folders.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { evaluateRun } from '../../runtime/metrics/index.js';
import { renderComparisonHtml } from '../../runtime/report/index.js';
import { createRng } from '../../runtime/rng.js';
import type { LogRecord } from '../../runtime/run/index.js';
import { runTraining } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { finetuneStage, pretrainStage, toyDataset, twoStageSpec } from '../support/train-specs.js';

function patients(seed: number, n: number, shift: number) {
  const rng = createRng(seed);
  const labels: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.uniform() < 0.45 ? 1 : 0;
    labels.push(y);
    scores.push(1 / (1 + Math.exp(-(1.5 * rng.normal() + (y ? shift : -1)))));
  }
  return { labels, scores };
}

/** Pretraining (when `pretrain`) and fine-tuning epochs with validation metrics. */
function runLog(seed: number, pretrain: boolean, epochs: number): LogRecord[] {
  const records: LogRecord[] = [];
  const rng = createRng(seed);
  const stages: [string, number][] = [...(pretrain ? [['pretrain', 3] as [string, number]] : []), ['finetune', epochs]];
  for (const [stage, n] of stages) {
    for (let epoch = 1; epoch <= n; epoch++) {
      for (let step = 1; step <= 4; step++)
        records.push({ type: 'step', stage, epoch, step, globalStep: (epoch - 1) * 4 + step, loss: 1, lr: 1e-3 });
      records.push({
        type: 'epoch',
        stage,
        epoch,
        trainLoss: 1 / epoch + 0.1 * rng.uniform(),
        ...(stage === 'finetune' ? { metrics: { auc: 0.6 + 0.02 * epoch, loss: 0.8 - 0.02 * epoch } } : {}),
      });
    }
  }
  return records;
}

describe('compare.html in a browser', () => {
  let context: BrowserContext;
  let profile: string;
  let html: string;

  beforeAll(async () => {
    const evaluation = (seed: number, shift: number) =>
      evaluateRun(
        { validation: patients(seed, 40, shift), test: patients(seed + 1, 60, shift) },
        { rng: createRng(seed), resamples: 100 },
      );
    html = await renderComparisonHtml(
      [
        {
          label: 'demo',
          runDir: '/exp/demo',
          records: runLog(1, true, 10),
          evaluation: evaluation(1, 2),
          evaluatedStage: 'finetune',
          variant: 'demo',
          wallTimeSeconds: 312.2,
        },
        {
          label: 'demo_no_pretrain',
          runDir: '/exp/demo_no_pretrain',
          records: runLog(2, false, 8),
          evaluation: evaluation(5, 1),
          evaluatedStage: 'finetune',
          variant: 'demo_no_pretrain',
          wallTimeSeconds: 201,
        },
      ],
      { pagePath: '/exp/compare.html' },
    );
    profile = mkdtempSync(join(tmpdir(), 'nvcc-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('overlays the runs per stage on one epoch axis, with one ROC chart of every run', async () => {
    const p = await context.newPage();
    await p.setContent(html);
    const stages = await p.evaluate(() =>
      Array.from(document.querySelectorAll('figure.stage')).map((figure) => ({
        legend: Array.from(figure.querySelectorAll('.role-legend-label text')).map((t) => t.textContent ?? ''),
        axes: Array.from(figure.querySelectorAll('g[aria-label^="X-axis"]')).map((axis) => {
          const box = (
            axis.querySelector('.role-axis-domain path, .role-axis-domain line') ?? axis
          ).getBoundingClientRect();
          return { left: box.left, right: box.right };
        }),
      })),
    );
    expect(stages).toHaveLength(2);
    const [pretrain, finetune] = stages as [(typeof stages)[0], (typeof stages)[0]];
    expect(pretrain.legend).toContain('demo: train loss');
    expect(pretrain.legend.some((l) => l.startsWith('demo_no_pretrain'))).toBe(false);
    for (const label of ['demo: train loss', 'demo_no_pretrain: train loss', 'demo', 'demo_no_pretrain'])
      expect(finetune.legend).toContain(label);
    expect(finetune.axes.length).toBe(2); // loss, validation auc
    for (const a of finetune.axes) {
      expect(Math.abs(a.left - finetune.axes[0]!.left)).toBeLessThan(0.5);
      expect(Math.abs(a.right - finetune.axes[0]!.right)).toBeLessThan(0.5);
    }
    const roc = await p.evaluate(() =>
      Array.from(document.querySelectorAll('figure.roc .role-legend-label text')).map((t) => t.textContent ?? ''),
    );
    expect(roc.map((l) => l.split(':')[0])).toEqual(['demo', 'demo_no_pretrain']);
  });

  it('tabulates the runs with links to their reports, no cell wrapping at 1280 px', async () => {
    const p = await context.newPage();
    await p.setContent(html);
    const rows = await p.evaluate(() =>
      Array.from(document.querySelectorAll('table.runs tbody tr')).map((tr) => ({
        href: tr.querySelector('a')?.getAttribute('href'),
        cells: Array.from(tr.querySelectorAll('td')).map((td) => {
          const range = document.createRange();
          range.selectNodeContents(td);
          return {
            text: td.textContent ?? '',
            lines: new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top))).size,
          };
        }),
      })),
    );
    expect(rows.map((r) => r.href)).toEqual(['demo/report.html', 'demo_no_pretrain/report.html']);
    for (const r of rows) for (const c of r.cells) expect(c.lines, c.text).toBeLessThanOrEqual(1);
    expect(rows[0]!.cells[6]!.text).toBe('5m12s (312.2 s)');
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  });
});

describe('nvcc compare', () => {
  const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
  let root: string;
  let _out = '';
  let err = '';
  beforeEach(() => {
    _out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((_out += String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = mkdtempSync(join(tmpdir(), 'nvcc-compare-'));
    for (const [name, stages] of [
      ['with-pretrain', [pretrainStage({ epochs: 1 }), finetuneStage({ epochs: 2 })]],
      ['finetune-only', [finetuneStage({ handover: [], epochs: 2 })]],
    ] as const)
      await runTraining({
        spec: twoStageSpec({ stages: [...stages] }),
        dataset: toyDataset,
        models: tinyFactories(config),
        runDir: join(root, name),
        backend: 'cpu',
        data: new TinyData({ patients: { train: 8, val: 6, test: 6 }, seed: 3, side: 8 }),
        bootstrapResamples: 50,
        report: false,
      });
  }, 300_000);

  it('writes the page from two run folders and refuses a folder that is no run', async () => {
    const page = join(root, 'cmp', 'compare.html');
    expect(await main(['compare', join(root, 'with-pretrain'), join(root, 'finetune-only'), '--out', page]), err).toBe(
      0,
    );
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('<a href="../with-pretrain/report.html">with-pretrain</a>');
    expect(html).toContain('with-pretrain: train loss');
    expect(html).toContain('finetune-only: train loss');
    expect(html).toContain('<h3>Stage pretrain</h3><p class="note">runs: with-pretrain</p>');
    expect(await main(['compare', join(root, 'with-pretrain'), root, '--out', join(root, 'x.html')])).toBe(1);
    expect(err).toContain('is not a finished run');
    expect(err).not.toMatch(/\n\s+at /);
  }, 120_000);
});
