/**
 * `compare.html`: several runs side by side (`nvcc compare RUN...`, and every experiment).
 * In: per run a label, its folder, its log records and its final evaluation (as report.html
 * gets them). Out: one self-contained HTML page: a table of the runs (variant, test AUC with CI,
 * accuracy, validation AUC, evaluated weights, training time, a link to each report.html), the
 * test ROC curves of all runs in one chart, and per stage name one chart whose panels overlay
 * the runs' epoch curves (train loss, validation loss, each validation metric) on one shared
 * epoch axis. Holds afterwards: a run keeps its colour in every chart (series named by run); a
 * stage that only some runs have is drawn with those runs; nothing outside the page is loaded.
 */
import * as path from 'node:path';
import type { LogRecord } from '../run/jsonl.js';
import { formatWallTime } from '../run/progress.js';
import {
  epochPanelsSpec,
  type PanelSpec,
  renderSvg as renderChart,
  rocChartSpec,
  type RocSeries,
  type SeriesPoint,
} from './charts.js';
import { escapeHtml, evaluatedWeights, percent, percentWithCi, type ReportEvaluation, stageCurves } from './html.js';

export interface ComparedRun {
  /** The run's name in legends and the table (unique among the runs). */
  readonly label: string;
  readonly runDir: string;
  readonly records: readonly LogRecord[];
  readonly evaluation?: ReportEvaluation;
  readonly evaluatedStage?: string;
  readonly variant?: string;
  readonly wallTimeSeconds?: number;
}

export interface ComparisonOptions {
  readonly title?: string;
  /** Where the page will be written: links to each run's report.html are relative to it. */
  readonly pagePath?: string;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

let chartCounter = 0;
const renderSvg = (spec: Parameters<typeof renderChart>[0]) => renderChart(spec, `cmp${++chartCounter}`);

function runsTable(runs: readonly ComparedRun[], options: ComparisonOptions): string {
  const head = ['Run', 'Variant', 'Test AUC (95% CI)', 'Test ACC', 'Validation AUC', 'Weights evaluated', 'Time'];
  const rows = runs.map((r) => {
    const test = r.evaluation?.splits.find((s) => s.split === 'test');
    const val = r.evaluation?.splits.find((s) => s.split === 'validation');
    const report = path.join(r.runDir, 'report.html');
    const href = options.pagePath ? path.relative(path.dirname(options.pagePath), report) : report;
    const cells = [
      `<a href="${escapeHtml(href.split(path.sep).join('/'))}">${escapeHtml(r.label)}</a>`,
      escapeHtml(r.variant ?? '(base)'),
      escapeHtml(test ? percentWithCi(test.auc, test.aucCi) : 'n/a'),
      escapeHtml(test ? percent(test.accuracy) : 'n/a'),
      escapeHtml(val ? percent(val.auc) : 'n/a'),
      escapeHtml(evaluatedWeights(r.evaluatedStage, r.records) ?? 'n/a'),
      escapeHtml(isNum(r.wallTimeSeconds) ? formatWallTime(r.wallTimeSeconds) : 'n/a'),
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return (
    `<table class="runs"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

/** One stage's panels with every run overlaid: series are `run: curve`. */
async function stageComparison(stage: string, runs: readonly ComparedRun[]): Promise<string | undefined> {
  const loss: SeriesPoint[] = [];
  const metrics = new Map<string, SeriesPoint[]>();
  let epochs = 0;
  const pointSeries: string[] = [];
  for (const run of runs) {
    const curves = stageCurves(run.records).find((c) => c.stage === stage);
    if (!curves) continue;
    for (const e of curves.epochs) {
      epochs = Math.max(epochs, e.epoch);
      if (isNum(e.trainLoss)) loss.push({ x: e.epoch, y: e.trainLoss, series: `${run.label}: train loss` });
      for (const [name, value] of Object.entries(e.metrics ?? {})) {
        if (!isNum(value) || name === 'threshold') continue;
        if (name === 'loss') loss.push({ x: e.epoch, y: value, series: `${run.label}: validation loss` });
        else metrics.set(name, [...(metrics.get(name) ?? []), { x: e.epoch, y: value, series: run.label }]);
      }
    }
    pointSeries.push(run.label, `${run.label}: train loss`, `${run.label}: validation loss`);
  }
  const panels: PanelSpec[] = [];
  if (loss.length)
    panels.push({ title: `${stage}: loss per epoch`, yTitle: 'loss', points: loss, zero: true, pointSeries });
  for (const [name, points] of metrics) {
    const unit = points.every((p) => p.y >= 0 && p.y <= 1);
    panels.push({
      title: `${stage}: validation ${name}`,
      yTitle: unit ? 'percent' : name,
      points,
      pointSeries,
      height: 160,
      ...(unit ? { yFormat: '.0%' } : {}),
    });
  }
  return panels.length ? renderSvg(epochPanelsSpec(panels, epochs)) : undefined;
}

const STYLE =
  'body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1240px; color: #222; ' +
  'padding: 0 1em; }\nh1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: ' +
  '1px solid #ddd; }\ntable { border-collapse: collapse; font-size: 0.92em; }\nth, td { border: 1px solid #ddd; ' +
  'padding: 4px 8px; text-align: left; white-space: nowrap; font-variant-numeric: tabular-nums; }\n' +
  '.note { color: #555; font-size: 0.88em; }\nfigure { margin: 0; }\n';

export async function renderComparisonHtml(
  runs: readonly ComparedRun[],
  options: ComparisonOptions = {},
): Promise<string> {
  const title = options.title ?? `nvcc run comparison: ${runs.map((r) => r.label).join(', ')}`;
  const parts = [`<h1>${escapeHtml(title)}</h1>`, runsTable(runs, options)];
  parts.push(
    '<p class="note">Each run in one colour in every chart; the test figures use the threshold each run chose ' +
      'on its own validation split. Click a run for its full report.</p>',
  );
  const roc: RocSeries[] = runs.flatMap((r) => {
    const test = r.evaluation?.splits.find((s) => s.split === 'test');
    return test?.roc && test.roc.length > 1
      ? [{ label: `${r.label}: AUC ${percent(test.auc)}`, points: test.roc }]
      : [];
  });
  if (roc.length) {
    parts.push('<h2>Test ROC curves</h2>');
    parts.push(`<figure class="roc">${await renderSvg(rocChartSpec(roc, 'test split, every run'))}</figure>`);
  }
  const stages: string[] = [];
  for (const r of runs) for (const c of stageCurves(r.records)) if (!stages.includes(c.stage)) stages.push(c.stage);
  if (stages.length) parts.push('<h2>Training curves, overlaid</h2>');
  for (const stage of stages) {
    const chart = await stageComparison(stage, runs);
    const having = runs.filter((r) => stageCurves(r.records).some((c) => c.stage === stage)).map((r) => r.label);
    parts.push(
      `<h3>Stage ${escapeHtml(stage)}</h3><p class="note">runs: ${escapeHtml(having.join(', '))}</p>` +
        (chart ? `<figure class="stage">${chart}</figure>` : ''),
    );
  }
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>${STYLE}</style></head><body>\n${parts.join('\n')}\n</body></html>\n`
  );
}
