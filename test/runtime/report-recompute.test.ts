/**
 * Every figure of report.html and of the console's test line, recomputed from the stage's
 * `predictions.csv` alone with a hand-written evaluation (Mann-Whitney AUC, Youden's J over the
 * distinct validation scores, counts at score >= threshold), must equal what was reported, digit
 * for digit. The validation patient whose score is the chosen threshold is called positive only
 * if its score round-trips exactly, which the shortest-decimal scores guarantee (9 digits did
 * not: a score equal to the threshold to 9 digits fell on the other side when read back).
 * The bootstrap intervals depend on the scores and the run's seed (config.json) only: the
 * library's evaluation of the file's scores with that seed must give the printed bounds.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateRun } from '../../runtime/metrics/evaluate.js';
import { stageRoot } from '../../runtime/train/common.js';
import { runTraining, type RunResult } from '../../runtime/train/runner.js';
import { finalSummary } from '../../workflow/train.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { finetuneStage, toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
const stage = finetuneStage({ handover: [], epochs: 2 });
const spec = twoStageSpec({ stages: [stage] });
const RESAMPLES = 100;

interface Row {
  readonly split: string;
  readonly label: number;
  readonly images: number;
  readonly score: number;
}

let runDir: string;
let run: RunResult;
let rows: Row[];
let html: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  runDir = join(mkdtempSync(join(tmpdir(), 'nvcc-recompute-')), 'run');
  run = await runTraining({
    spec,
    dataset: toyDataset,
    models: tinyFactories(config),
    runDir,
    backend: 'cpu',
    data: new TinyData({ patients: { train: 10, val: 9, test: 9 }, seed: 5, side: 8 }),
    bootstrapResamples: RESAMPLES,
  });
  const csv = readFileSync(join(runDir, 'stages/finetune/predictions.csv'), 'utf8').trim().split('\n');
  expect(csv[0]).toBe('split,patient_id,label,images,score');
  rows = csv.slice(1).map((line) => {
    const [split, , label, images, score] = line.split(',');
    return { split: split!, label: label === 'positive' ? 1 : 0, images: Number(images), score: Number(score) };
  });
  html = readFileSync(join(runDir, 'report.html'), 'utf8');
}, 300_000);

/** AUC as the probability that a positive outscores a negative, ties counting half. */
function mannWhitney(split: Row[]): number {
  const pos = split.filter((r) => r.label === 1);
  const neg = split.filter((r) => r.label === 0);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p.score > n.score ? 1 : p.score === n.score ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

function counts(split: Row[], threshold: number) {
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const r of split) {
    const called = r.score >= threshold;
    if (r.label === 1) c[called ? 'tp' : 'fn']++;
    else c[called ? 'fp' : 'tn']++;
  }
  return c;
}

/** Youden's J over the distinct scores; of equal J the higher threshold (fewer positive calls). */
function youden(split: Row[]): number {
  const candidates = [...new Set(split.map((r) => r.score))].sort((a, b) => b - a);
  let best = candidates[0]!;
  let bestJ = -Infinity;
  for (const t of candidates) {
    const c = counts(split, t);
    const j = c.tp / (c.tp + c.fn) + c.tn / (c.tn + c.fp) - 1;
    if (j > bestJ) [best, bestJ] = [t, j];
  }
  return best;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const pctCi = (x: number, lo: number, hi: number) => `${pct(x)} (${(lo * 100).toFixed(2)}–${(hi * 100).toFixed(2)}%)`;

/** The metrics table of report.html: figure name -> one cell per split, as text. */
function metricsTable(page: string): Map<string, string[]> {
  const table = /<table class="metrics">([\s\S]*?)<\/table>/.exec(page)![1]!;
  const unescapeHtml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const out = new Map<string, string[]>();
  for (const tr of table.match(/<tr>[\s\S]*?<\/tr>/g)!) {
    const cells = [...tr.matchAll(/<t[hd]>([\s\S]*?)<\/t[hd]>/g)].map((m) => unescapeHtml(m[1]!));
    out.set(cells[0]!, cells.slice(1));
  }
  return out;
}

describe('report.html and the console line recomputed from predictions.csv', () => {
  it('gives identical figures for every split, the at-threshold patient included', () => {
    const validation = rows.filter((r) => r.split === 'val');
    const test = rows.filter((r) => r.split === 'test');
    expect(validation.length).toBe(9);
    expect(test.length).toBe(9);
    const threshold = youden(validation);
    // The chosen threshold is a validation score: that patient sits exactly at it, in the file
    // as in the run (the threshold the run chose, not a rounding of it).
    const reported = (run.stages[0]!.evaluation as unknown as { threshold: number }).threshold;
    expect(validation.some((r) => r.score === threshold)).toBe(true);
    expect(threshold).toBe(reported);

    const ciRng = stageRoot(spec.seed, stage).fork('evaluation');
    const toScores = (s: Row[]) => ({
      labels: s.map((r) => r.label),
      scores: s.map((r) => r.score),
      imageCounts: s.map((r) => r.images),
    });
    const library = evaluateRun(
      { validation: toScores(validation), test: toScores(test) },
      { rng: ciRng, resamples: RESAMPLES },
    );
    expect(library.threshold).toBe(threshold);

    const table = metricsTable(html);
    expect(table.get('')).toEqual(['validation', 'test']);
    const columns = [validation, test].map((split, i) => {
      const c = counts(split, threshold);
      const auc = mannWhitney(split);
      const cis = library.splits[i]!;
      const rate = (name: 'accuracy' | 'sensitivity' | 'specificity' | 'ppv' | 'npv', x: number) =>
        pctCi(x, cis.rateCis![name].lower, cis.rateCis![name].upper);
      const positives = c.tp + c.fn;
      return {
        c,
        auc,
        cells: {
          'Patients (pos/neg)': `${split.length} (${positives}/${split.length - positives})`,
          Images: String(split.reduce((n, r) => n + r.images, 0)),
          'AUC (95% CI)': pctCi(auc, cis.aucCi.lower, cis.aucCi.upper),
          'Accuracy (95% CI)': rate('accuracy', (c.tp + c.tn) / split.length),
          'Sensitivity (95% CI)': rate('sensitivity', c.tp / (c.tp + c.fn)),
          'Specificity (95% CI)': rate('specificity', c.tn / (c.tn + c.fp)),
          'PPV (95% CI)': rate('ppv', c.tp / (c.tp + c.fp)),
          'NPV (95% CI)': rate('npv', c.tn / (c.tn + c.fn)),
          Threshold: threshold.toFixed(4),
        } as Record<string, string>,
      };
    });
    for (const name of Object.keys(columns[0]!.cells))
      expect(table.get(name), name).toEqual(columns.map((col) => col.cells[name]));

    // The confusion matrices (one chart per split) and the ROC legend.
    ['validation', 'test'].forEach((split, i) => {
      const { c, auc } = columns[i]!;
      const cis = library.splits[i]!.aucCi;
      expect(html).toContain(
        `${split}: AUC ${pct(auc)} (95% CI ${(cis.lower * 100).toFixed(2)}–${(cis.upper * 100).toFixed(2)}%)`,
      );
      const chart = html.indexOf(`${split}: confusion matrix at threshold ${threshold.toFixed(4)}`);
      expect(chart).toBeGreaterThan(0);
      const svg = html.slice(html.lastIndexOf('<svg', chart), html.indexOf('</svg>', chart));
      const cell = (actual: string, predicted: string) =>
        Number(new RegExp(`Predicted: ${predicted}; Actual: ${actual}; count: (\\d+)`).exec(svg)?.[1]);
      expect({
        tp: cell('positive', 'positive'),
        fn: cell('positive', 'negative'),
        fp: cell('negative', 'positive'),
        tn: cell('negative', 'negative'),
      }).toEqual(c);
    });

    // The console's test line.
    const t = columns[1]!;
    const ci = library.splits[1]!.aucCi;
    expect(finalSummary(run).line).toBe(
      `stage finetune, test split (9 patients): AUC ${pct(t.auc)} (95% CI ${pct(ci.lower)}-${pct(ci.upper)}), ` +
        `ACC ${pct((t.c.tp + t.c.tn) / 9)}, sensitivity ${pct(t.c.tp / (t.c.tp + t.c.fn))}, ` +
        `specificity ${pct(t.c.tn / (t.c.tn + t.c.fp))}`,
    );
  });
});
