/**
 * `report.html` for one run.
 * In: the run's JSONL log records, its final evaluation (metrics/evaluate.ts, possibly read back
 * from JSON, where NaN became null) and run metadata. Out: one HTML file with inline CSS and
 * inline SVG charts: loss and learning-rate curves per stage, validation metric curves, ROC
 * curves with AUC and CI in the legend, confusion matrices at the chosen threshold, the metrics
 * table and the run metadata. Holds afterwards: the file references nothing outside itself (no
 * script, no stylesheet link, no URL), so it opens offline and can be mailed or archived as is;
 * steps logged twice (a resumed run redoes steps after its last checkpoint) count once, the
 * later record winning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../run/atomic.js';
import {
  isEpochRecord,
  isStepRecord,
  readJsonl,
  type EpochRecord,
  type LogRecord,
  type StepRecord,
} from '../run/jsonl.js';
import { RUN_FILES } from '../run/rundir.js';
import { formatWallTime } from '../run/progress.js';
import {
  confusionChartSpec,
  epochPanelsSpec,
  type PanelSpec,
  renderSvg as renderChart,
  rocChartSpec,
  type RocSeries,
  type SeriesPoint,
  smoothSeries,
} from './charts.js';

/** A number that may have gone through JSON (NaN and Infinity become null). */
type Num = number | null | undefined;

export interface RunMetadata {
  readonly name?: string;
  /** Hash of the resolved program + configuration. */
  readonly specHash?: string;
  readonly variant?: string;
  readonly backend?: string;
  readonly wallTimeSeconds?: number;
  /** The command line that produced the run. */
  readonly command?: string;
  readonly startedAt?: string;
  readonly seed?: number;
  readonly nvccVersion?: string;
  /** Class names for the confusion matrix, negative first; default negative/positive. */
  readonly classNames?: readonly [string, string];
  /** How per-image scores were pooled per patient, e.g. `max`. */
  readonly pooling?: string;
  /** The run folder. */
  readonly runDir?: string;
  /** The stage whose weights the patient-level metrics belong to. */
  readonly evaluatedStage?: string;
}

export interface ReportInterval {
  readonly lower: Num;
  readonly upper: Num;
  readonly level?: Num;
  readonly method?: string;
  readonly resamples?: Num;
  readonly reason?: string;
}

export interface ReportSplit {
  readonly split: string;
  readonly nPatients: number;
  readonly nPositive: number;
  readonly nNegative: number;
  readonly nImages?: number;
  readonly auc: Num;
  readonly aucCi?: ReportInterval;
  readonly aucDelong?: ReportInterval;
  readonly threshold: Num;
  readonly accuracy: Num;
  readonly sensitivity: Num;
  readonly specificity: Num;
  readonly ppv: Num;
  readonly npv: Num;
  readonly confusion: { readonly tp: number; readonly fp: number; readonly tn: number; readonly fn: number };
  /** Bootstrap CIs of accuracy, sensitivity, specificity, ppv, npv at the threshold. */
  readonly rateCis?: Readonly<
    Partial<Record<'accuracy' | 'sensitivity' | 'specificity' | 'ppv' | 'npv', ReportInterval>>
  >;
  readonly roc?: readonly { readonly fpr: number; readonly tpr: number }[];
}

export interface ReportEvaluation {
  readonly threshold: Num;
  readonly thresholdRule: string;
  readonly splits: readonly ReportSplit[];
  readonly warnings?: readonly string[];
}

export interface ReportInput {
  readonly meta: RunMetadata;
  readonly records: readonly LogRecord[];
  readonly evaluation?: ReportEvaluation;
  readonly title?: string;
  /** Step points per curve before averaging into buckets; default 1500. */
  readonly maxPointsPerCurve?: number;
  /** Weight of the step loss's exponential moving average (TensorBoard's slider); 0 = raw; default 0.6. */
  readonly smoothing?: number;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function isNum(x: Num): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function fixed(x: Num, digits = 3): string {
  return isNum(x) ? x.toFixed(digits) : 'n/a';
}

/** A fraction as the console writes it: percent with 2 decimals. */
export function percent(x: Num): string {
  return isNum(x) ? `${(x * 100).toFixed(2)}%` : 'n/a';
}

/** `89.86% (82.30–95.70%)`: percent like the console, the estimate with its interval. */
export function percentWithCi(estimate: Num, ci: ReportInterval | undefined): string {
  if (!isNum(estimate)) return 'n/a';
  if (!ci || !isNum(ci.lower) || !isNum(ci.upper))
    return `${percent(estimate)} (CI n/a${ci?.reason ? `: ${ci.reason}` : ''})`;
  return `${percent(estimate)} (${(ci.lower * 100).toFixed(2)}–${(ci.upper * 100).toFixed(2)}%)`;
}

/** `0.912 (0.871–0.948)`, or the estimate with the reason the interval is missing. */
export function formatWithCi(estimate: Num, ci: ReportInterval | undefined, digits = 3): string {
  if (!isNum(estimate)) return 'n/a';
  if (!ci || !isNum(ci.lower) || !isNum(ci.upper))
    return `${estimate.toFixed(digits)} (CI n/a${ci?.reason ? `: ${ci.reason}` : ''})`;
  return `${estimate.toFixed(digits)} (${ci.lower.toFixed(digits)}–${ci.upper.toFixed(digits)})`;
}

interface StageCurves {
  readonly stage: string;
  readonly steps: StepRecord[];
  readonly epochs: EpochRecord[];
  readonly stepsPerEpoch: number;
}

/** Groups the log by stage in order of appearance, later duplicates of a step/epoch winning. */
export function stageCurves(records: readonly LogRecord[]): StageCurves[] {
  const order: string[] = [];
  const steps = new Map<string, Map<string, StepRecord>>();
  const epochs = new Map<string, Map<number, EpochRecord>>();
  const touch = (stage: string): void => {
    if (!steps.has(stage)) {
      order.push(stage);
      steps.set(stage, new Map());
      epochs.set(stage, new Map());
    }
  };
  for (const r of records) {
    if (isStepRecord(r)) {
      touch(r.stage);
      const m = steps.get(r.stage)!;
      const key = `${r.epoch}:${r.step}`;
      m.delete(key);
      m.set(key, r);
    } else if (isEpochRecord(r)) {
      touch(r.stage);
      epochs.get(r.stage)!.set(r.epoch, r);
    }
  }
  return order.map((stage) => {
    const s = [...steps.get(stage)!.values()].sort((a, b) => a.globalStep - b.globalStep);
    const e = [...epochs.get(stage)!.values()].sort((a, b) => a.epoch - b.epoch);
    const stepsPerEpoch = s.reduce((m, r) => Math.max(m, r.step), 0);
    return { stage, steps: s, epochs: e, stepsPerEpoch };
  });
}

/** Averages consecutive points into at most `max` buckets (x and y both averaged). */
function bucketMeans(
  points: { x: number; y: number }[],
  max: number,
): { points: { x: number; y: number }[]; bucket: number } {
  if (points.length <= max) return { points, bucket: 1 };
  const bucket = Math.ceil(points.length / max);
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < points.length; i += bucket) {
    const chunk = points.slice(i, i + bucket);
    out.push({
      x: chunk.reduce((a, p) => a + p.x, 0) / chunk.length,
      y: chunk.reduce((a, p) => a + p.y, 0) / chunk.length,
    });
  }
  return { points: out, bucket };
}

/** Renders one chart with ids unique within the page. */
let chartCounter = 0;
function renderSvg(spec: Parameters<typeof renderChart>[0]): Promise<string> {
  chartCounter += 1;
  return renderChart(spec, `c${chartCounter}`);
}

/** The stage's loss, learning-rate, metric and threshold panels over one shared epoch axis. */
async function stageChart(c: StageCurves, maxPoints: number, smoothing: number): Promise<string | undefined> {
  const x = (r: StepRecord): number => (c.stepsPerEpoch > 0 ? r.epoch - 1 + r.step / c.stepsPerEpoch : r.globalStep);
  const epochs = Math.max(
    c.epochs.reduce((m, e) => Math.max(m, e.epoch), 0),
    c.steps.reduce((m, r) => Math.max(m, Math.ceil(x(r))), 0),
  );
  const panels: PanelSpec[] = [];
  const lossSteps = c.steps.filter((r) => isNum(r.loss));
  const raw = bucketMeans(
    lossSteps.map((r) => ({ x: x(r), y: r.loss })),
    maxPoints,
  );
  const smoothed = smoothSeries(
    lossSteps.map((r) => r.loss),
    smoothing,
  );
  const smoothPts = bucketMeans(
    lossSteps.map((r, i) => ({ x: x(r), y: smoothed[i]! })),
    maxPoints,
  ).points;
  const rawLabel = raw.bucket > 1 ? `step loss (mean of ${raw.bucket})` : 'step loss';
  const smoothLabel = `step loss, smoothed (${smoothing})`;
  const loss: SeriesPoint[] = [
    ...(smoothing > 0 ? raw.points.map((p) => ({ ...p, series: rawLabel })) : []),
    ...(smoothing > 0 ? smoothPts : raw.points).map((p) => ({ ...p, series: smoothing > 0 ? smoothLabel : rawLabel })),
  ];
  for (const e of c.epochs) {
    if (isNum(e.trainLoss)) loss.push({ x: e.epoch, y: e.trainLoss, series: 'train loss (epoch mean)' });
    const vl = e.metrics?.['loss'];
    if (isNum(vl)) loss.push({ x: e.epoch, y: vl, series: 'validation loss' });
  }
  if (loss.length > 0) {
    panels.push({
      title: `${c.stage}: loss`,
      yTitle: 'loss',
      points: loss,
      zero: true,
      pointSeries: ['train loss (epoch mean)', 'validation loss'],
      ...(smoothing > 0 ? { faintSeries: [rawLabel] } : {}),
    });
  }
  const lrSteps = c.steps.filter((r) => isNum(r.lr));
  const lr: SeriesPoint[] =
    lrSteps.length > 0
      ? bucketMeans(
          lrSteps.map((r) => ({ x: x(r), y: r.lr })),
          maxPoints,
        ).points.map((p) => ({ ...p, series: 'learning rate' }))
      : c.epochs.filter((e) => isNum(e.lr)).map((e) => ({ x: e.epoch, y: e.lr as number, series: 'learning rate' }));
  if (lr.length > 0) {
    const positive = lr.every((p) => p.y > 0);
    panels.push({
      title: `${c.stage}: learning rate`,
      yTitle: 'learning rate',
      points: lr,
      logY: positive && lr.length > 1,
      yFormat: '.0e',
      height: 140,
    });
  }
  const metric: SeriesPoint[] = [];
  const threshold: SeriesPoint[] = [];
  for (const e of c.epochs) {
    for (const [name, value] of Object.entries(e.metrics ?? {})) {
      if (!isNum(value) || name === 'loss') continue;
      if (name === 'threshold') threshold.push({ x: e.epoch, y: value, series: 'validation threshold' });
      else metric.push({ x: e.epoch, y: value, series: `validation ${name}` });
    }
  }
  if (metric.length > 0) {
    const unit = metric.every((p) => p.y >= 0 && p.y <= 1);
    panels.push({
      title: `${c.stage}: validation metrics per epoch`,
      yTitle: unit ? 'percent' : 'value',
      points: metric,
      pointSeries: [...new Set(metric.map((p) => p.series))],
      ...(unit ? { yDomain: [0, 1] as const, yFormat: '.0%' } : {}),
    });
  }
  if (threshold.length > 0) {
    panels.push({
      title: `${c.stage}: threshold chosen on validation`,
      yTitle: 'score',
      points: threshold,
      pointSeries: ['validation threshold'],
      yDomain: [0, 1],
      height: 120,
    });
  }
  return panels.length > 0 ? renderSvg(epochPanelsSpec(panels, epochs)) : undefined;
}

function ciLabel(ci: ReportInterval | undefined): string {
  if (!ci || !isNum(ci.lower) || !isNum(ci.upper)) return '';
  const level = isNum(ci.level) ? Math.round(ci.level * 100) : 95;
  return ` (${level}% CI ${(ci.lower * 100).toFixed(2)}–${(ci.upper * 100).toFixed(2)}%)`;
}

function metricsTable(evaluation: ReportEvaluation): string {
  const withCis = evaluation.splits.some((s) => s.rateCis);
  const ci = withCis ? ' (95% CI)' : '';
  const rate = (s: ReportSplit, name: 'accuracy' | 'sensitivity' | 'specificity' | 'ppv' | 'npv'): string =>
    s.rateCis?.[name] ? percentWithCi(s[name], s.rateCis[name]) : percent(s[name]);
  // One row per figure, one column per split: narrow enough that no cell has to wrap.
  const figures: Array<[string, (s: ReportSplit) => string]> = [
    ['Patients (pos/neg)', (s) => `${s.nPatients} (${s.nPositive}/${s.nNegative})`],
    ['Images', (s) => (s.nImages !== undefined ? String(s.nImages) : '–')],
    ['AUC (95% CI)', (s) => percentWithCi(s.auc, s.aucCi)],
    [`Accuracy${ci}`, (s) => rate(s, 'accuracy')],
    [`Sensitivity${ci}`, (s) => rate(s, 'sensitivity')],
    [`Specificity${ci}`, (s) => rate(s, 'specificity')],
    [`PPV${ci}`, (s) => rate(s, 'ppv')],
    [`NPV${ci}`, (s) => rate(s, 'npv')],
    ['Threshold', (s) => fixed(s.threshold, 4)],
  ];
  const head = ['', ...evaluation.splits.map((s) => s.split)];
  const rows = figures.map(([name, value]) => [
    `<th>${escapeHtml(name)}</th>`,
    ...evaluation.splits.map((s) => `<td>${escapeHtml(value(s))}</td>`),
  ]);
  const delong = evaluation.splits.filter((s) => s.aucDelong);
  const ciMethod = evaluation.splits.find((s) => s.aucCi)?.aucCi;
  const notes: string[] = [];
  if (ciMethod?.method === 'bootstrap-percentile') {
    notes.push(
      `CIs: percentile bootstrap over ${isNum(ciMethod.resamples) ? ciMethod.resamples : '?'} patient ` +
        `resamples, stratified by class` +
        `${withCis ? '; threshold rates are resampled at the fixed threshold' : ''}.`,
    );
  }
  for (const s of delong) notes.push(`${s.split}: AUC with DeLong's interval ${percentWithCi(s.auc, s.aucDelong)}.`);
  notes.push(
    `Threshold chosen on validation by ${evaluation.thresholdRule}; cases with score ≥ threshold are called ` +
      `positive; the same threshold is applied to every split.`,
  );
  return (
    `<table class="metrics"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table>` +
    notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('')
  );
}

/** Which weights the patient-level figures belong to: the kept best epoch or the last one. */
export function evaluatedWeights(stage: string | undefined, records: readonly LogRecord[]): string | undefined {
  if (stage === undefined) return undefined;
  const end = [...records].reverse().find((r) => r.type === 'stage-end' && r['stage'] === stage);
  const epochs = stageCurves(records).find((c) => c.stage === stage)?.epochs.length ?? 0;
  const best = end?.['best'] as { epoch?: number; metric?: string; value?: number } | undefined;
  if (best && typeof best.epoch === 'number') {
    const value = typeof best.value === 'number' ? ` = ${best.value <= 1 ? percent(best.value) : best.value}` : '';
    return `stage ${stage}, epoch ${best.epoch} of ${epochs} (kept as best by ${best.metric ?? '?'}${value})`;
  }
  return `stage ${stage}, last epoch (${epochs} of ${epochs})`;
}

function metadataTable(meta: RunMetadata, records: readonly LogRecord[]): string {
  let wall = meta.wallTimeSeconds;
  if (wall === undefined) {
    for (const r of records) if (typeof r['elapsed'] === 'number') wall = Math.max(wall ?? 0, r['elapsed']);
  }
  const rows: Array<[string, string | undefined]> = [
    ['Run', meta.name],
    ['Variant', meta.variant ?? (meta.command !== undefined ? '(none: the base program)' : undefined)],
    ['Command', meta.command],
    ['Run folder', meta.runDir],
    ['Weights evaluated', evaluatedWeights(meta.evaluatedStage, records)],
    ['Spec hash', meta.specHash],
    ['Backend', meta.backend],
    ['Seed', meta.seed !== undefined ? String(meta.seed) : undefined],
    ['Started', meta.startedAt],
    ['Training time', wall !== undefined ? formatWallTime(wall) : undefined],
    ['Patient pooling', meta.pooling],
    ['nvcc', meta.nvccVersion],
  ];
  const code = new Set(['Command', 'Run folder']);
  return `<table class="meta"><tbody>${rows
    .filter(([, v]) => v !== undefined && v !== '')
    .map(
      ([k, v]) =>
        `<tr><th>${escapeHtml(k)}</th><td>${code.has(k) ? `<code>${escapeHtml(v!)}</code>` : escapeHtml(v!)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

const STYLE =
  `
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1240px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; } ` +
  `h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
table.metrics td, table.metrics th { font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #555; font-size: 0.88em; margin: 0.2em 0; }
.warn { background: #fff4e5; border-left: 4px solid #f0a030; padding: 0.4em 0.8em; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
figure { margin: 0; }
code { font-size: 0.9em; word-break: break-all; }
`;

/** Renders the complete, self-contained report HTML. */
export async function renderReportHtml(input: ReportInput): Promise<string> {
  const maxPoints = input.maxPointsPerCurve ?? 1500;
  const title = input.title ?? `nvcc run report${input.meta.name ? `: ${input.meta.name}` : ''}`;
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(title)}</h1>`);
  parts.push(metadataTable(input.meta, input.records));
  const evaluation = input.evaluation;
  const warnings = [...(evaluation?.warnings ?? [])];
  if (warnings.length > 0)
    parts.push(`<div class="warn">${warnings.map((w) => `<p>${escapeHtml(w)}</p>`).join('')}</div>`);
  if (evaluation) {
    parts.push('<h2>Patient-level metrics</h2>');
    parts.push(metricsTable(evaluation));
    const rocSeries: RocSeries[] = evaluation.splits
      .filter((s) => (s.roc?.length ?? 0) > 1)
      .map((s) => ({
        label: `${s.split}: AUC ${percent(s.auc)}${ciLabel(s.aucCi)}`,
        points: s.roc!,
        ...(isNum(s.sensitivity) && isNum(s.specificity)
          ? { operating: { fpr: 1 - s.specificity, tpr: s.sensitivity } }
          : {}),
      }));
    const figures: string[] = [];
    if (rocSeries.length > 0) {
      figures.push(
        `<figure>` +
          `${await renderSvg(
            rocChartSpec(rocSeries, 'ROC curve (diamond: operating point at the chosen ' + 'threshold)'),
          )}</figure>`,
      );
    }
    for (const s of evaluation.splits) {
      figures.push(
        `<figure>` +
          `${await renderSvg(
            confusionChartSpec(
              s.confusion,
              `${s.split}: confusion matrix at threshold ` + `${fixed(s.threshold, 4)}`,
              input.meta.classNames,
            ),
          )}</figure>`,
      );
    }
    parts.push(`<h2>ROC and confusion matrices</h2><div class="charts">${figures.join('')}</div>`);
  }
  const stages = stageCurves(input.records);
  const smoothing = Math.min(0.999, Math.max(0, input.smoothing ?? 0.6));
  if (stages.length > 0) {
    parts.push('<h2>Training curves</h2>');
    for (const c of stages) {
      const chart = await stageChart(c, maxPoints, smoothing);
      parts.push(
        `<h3>Stage ${escapeHtml(c.stage)}</h3><p class="note">${c.epochs.length} epochs logged, ` +
          `${c.steps.length} steps` +
          `${c.stepsPerEpoch > 0 ? ` (${c.stepsPerEpoch} per epoch)` : ''}.</p>` +
          (chart ? `<figure class="stage">${chart}</figure>` : ''),
      );
    }
  }
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>${STYLE}</style></head><body>\n${parts.join('\n')}\n</body></html>\n`
  );
}

/**
 * Reads `log.jsonl` from the run folder (a truncated last line is ignored), renders the report
 * and writes `report.html` atomically; returns its path.
 */
export async function writeRunReport(
  runDir: string,
  input: Omit<ReportInput, 'records'> & { readonly records?: readonly LogRecord[] },
): Promise<string> {
  const logPath = path.join(runDir, RUN_FILES.log);
  const records = input.records ?? (fs.existsSync(logPath) ? readJsonl(logPath).records : []);
  const html = await renderReportHtml({ ...input, records });
  const out = path.join(runDir, RUN_FILES.report);
  await writeFileAtomic(out, html);
  return out;
}
