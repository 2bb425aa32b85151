import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rng } from '../../runtime/module.js';
import { createRng } from '../../runtime/rng.js';
import { evaluateRun, type RunEvaluation } from '../../runtime/metrics/index.js';
import {
  percentWithCi,
  renderSvg,
  smoothSeries,
  rocChartSpec,
  stageCurves,
  writeRunReport,
} from '../../runtime/report/index.js';
import { createRunDir, JsonlLogger, RUN_FILES, type LogRecord } from '../../runtime/run/index.js';

function patients(rng: Rng, n: number): { labels: number[]; scores: number[]; imageCounts: number[] } {
  const labels: number[] = [];
  const scores: number[] = [];
  const imageCounts: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.uniform() < 0.45 ? 1 : 0;
    labels.push(y);
    scores.push(1 / (1 + Math.exp(-(1.5 * rng.normal() + (y ? 2 : -1)))));
    imageCounts.push(1 + Math.floor(rng.uniform() * 4));
  }
  return { labels, scores, imageCounts };
}

let dir: string;
let runDir: string;
let html: string;
let evaluation: RunEvaluation;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-report-'));
  runDir = createRunDir({ root: dir, name: 'mednvc-demo' }).path;
  const log = JsonlLogger.open(path.join(runDir, RUN_FILES.log));
  const stepsPerEpoch = 8;
  for (const [stage, epochs] of [
    ['pretrain', 3],
    ['finetune', 4],
  ] as const) {
    let global = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      for (let step = 1; step <= stepsPerEpoch; step++) {
        global++;
        const lr =
          1e-3 * Math.min(1, global / 8) * (0.5 + 0.5 * Math.cos((Math.PI * global) / (epochs * stepsPerEpoch)));
        log.step({
          stage,
          epoch,
          step,
          globalStep: global,
          loss: 2 / Math.sqrt(global) + 0.01 * step,
          lr,
          elapsed: global * 0.5,
        });
      }
      log.epoch({
        stage,
        epoch,
        trainLoss: 2 / Math.sqrt(global),
        ...(stage === 'finetune'
          ? { metrics: { auc: 0.6 + 0.08 * epoch, accuracy: 0.55 + 0.07 * epoch, loss: 0.7 - 0.05 * epoch } }
          : {}),
      });
    }
  }
  // A resumed run repeats finetune epoch 4 step 8 with a different loss; the later one must win.
  log.step({ stage: 'finetune', epoch: 4, step: 8, globalStep: 32, loss: 0.123456, lr: 1e-6, elapsed: 99 });
  log.close();
  fs.appendFileSync(path.join(runDir, RUN_FILES.log), '{"type":"step","stage":"fine'); // killed mid-line
  evaluation = evaluateRun(
    { validation: patients(createRng(1), 80), test: patients(createRng(2), 100) },
    { rng: createRng(3), resamples: 300, delong: true },
  );
  const out = await writeRunReport(runDir, {
    meta: {
      name: path.basename(runDir),
      variant: 'demo',
      specHash: 'sha256:0123abcd',
      backend: 'wasm',
      command: 'nvcc train examples/mednvc.nvc --variant demo --set "a<b"',
      seed: 7,
      pooling: 'max',
      classNames: ['no infection', 'PJI'],
    },
    evaluation: JSON.parse(JSON.stringify(evaluation)),
  });
  html = fs.readFileSync(out, 'utf8');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('report.html', () => {
  it('is self-contained: no scripts, no external stylesheets, no URLs at all', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/@import|url\((?!#)/i); // url(#id) points inside the page
    expect(html).not.toMatch(/href="(?!#)/i);
    expect(html).not.toMatch(/<img/i);
  });

  it('gives every SVG element id a page-unique name', () => {
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    for (const m of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(m[1]);
  });

  it('inlines every chart as SVG: ROC, 2 confusion matrices, one stacked figure per stage', () => {
    const svgs = html.match(/<svg[\s>]/g) ?? [];
    expect(svgs.length).toBe(1 + 2 + 2);
    expect((html.match(/<\/svg>/g) ?? []).length).toBe(svgs.length);
    expect(html).toContain('pretrain: loss');
    expect(html).toContain('finetune: learning rate');
    expect(html).toContain('finetune: validation metrics per epoch');
  });

  it('puts AUC with its CI in the ROC legend and the metrics table, matching the evaluation', () => {
    const test = evaluation.splits.find((s) => s.split === 'test')!;
    const p2 = (x: number) => (x * 100).toFixed(2);
    const legend = `test: AUC ${p2(test.auc)}% (95% CI ${p2(test.aucCi.lower)}–${p2(test.aucCi.upper)}%)`;
    expect(html).toContain(legend);
    expect(html).toContain(`<td>${percentWithCi(test.auc, test.aucCi)}</td>`);
    expect(percentWithCi(test.auc, test.aucCi)).toBe(
      `${p2(test.auc)}% (${p2(test.aucCi.lower)}–${p2(test.aucCi.upper)}%)`,
    );
    expect(html).toContain(`<td>${test.nPatients} (${test.nPositive}/${test.nNegative})</td>`);
    expect(html).toContain(`<td>${percentWithCi(test.sensitivity, test.rateCis!.sensitivity)}</td>`);
    expect(html).toContain(`<td>${percentWithCi(test.npv, test.rateCis!.npv)}</td>`);
    expect(html).toContain(`<td>${test.threshold.toFixed(4)}</td>`);
    expect(html).toContain('DeLong');
    expect(html).toContain('300 patient resamples');
    // confusion matrix counts and class names appear as chart text
    expect(html).toContain(`>${test.confusion.tp}</text>`);
    expect(html).toContain('PJI');
  });

  it('shows run metadata, escaped', () => {
    expect(html).toContain('sha256:0123abcd');
    expect(html).toContain('<td>wasm</td>');
    expect(html).toContain('--set &quot;a&lt;b&quot;');
    expect(html).toContain('<td>max</td>');
    expect(html).toContain('Training time</th><td>1m39s (99.0 s)'); // from the largest logged elapsed (99 s)
  });
});

describe('stage curves from a log', () => {
  it('groups by stage in order, counts a re-logged step once with the later value', () => {
    const records: LogRecord[] = [
      { type: 'step', stage: 'a', epoch: 1, step: 1, globalStep: 1, loss: 1, lr: 1 },
      { type: 'step', stage: 'a', epoch: 1, step: 2, globalStep: 2, loss: 2, lr: 1 },
      { type: 'epoch', stage: 'a', epoch: 1, trainLoss: 1.5 },
      { type: 'step', stage: 'b', epoch: 1, step: 1, globalStep: 1, loss: 3, lr: 1 },
      { type: 'step', stage: 'a', epoch: 1, step: 2, globalStep: 2, loss: 5, lr: 1 },
      { type: 'note', text: 'ignored' },
    ];
    const curves = stageCurves(records);
    expect(curves.map((c) => c.stage)).toEqual(['a', 'b']);
    expect(curves[0]!.steps.map((s) => s.loss)).toEqual([1, 5]);
    expect(curves[0]!.stepsPerEpoch).toBe(2);
    expect(curves[0]!.epochs).toHaveLength(1);
  });

  it('the report of the test run reflects the later duplicate and ignores the truncated line', async () => {
    expect(html).toContain('finetune</h3><p class="note">4 epochs logged, 32 steps (8 per epoch)');
  });

  it('renders a ROC chart to SVG with the curve path', async () => {
    const svg = await renderSvg(
      rocChartSpec(
        [
          {
            label: 'x: AUC 0.750',
            points: [
              { fpr: 0, tpr: 0 },
              { fpr: 0.5, tpr: 1 },
              { fpr: 1, tpr: 1 },
            ],
          },
        ],
        'ROC',
      ),
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('x: AUC 0.750');
    expect(svg).toMatch(/<path[^>]*d="M/);
  });
});

describe('step-loss smoothing', () => {
  it('is the identity at weight 0, keeps a constant constant, and follows the bias-corrected EMA', () => {
    expect(smoothSeries([3, 1, 2], 0)).toEqual([3, 1, 2]);
    for (const v of smoothSeries([0.7, 0.7, 0.7, 0.7], 0.9)) expect(v).toBeCloseTo(0.7, 12);
    // by hand: ema = 0.4*1 = 0.4, /(1-0.6) = 1; ema = 0.6*0.4 + 0.4*3 = 1.44, /(1-0.36) = 2.25
    const [a, b] = smoothSeries([1, 3], 0.6);
    expect(a).toBeCloseTo(1, 12);
    expect(b).toBeCloseTo(2.25, 12);
  });
});
