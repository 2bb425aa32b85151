/**
 * The training plan before anything trains (`nvcc schedule`): every stage's learning rate over
 * its epochs, stages laid end to end.
 * In: a program's train declaration (its stages). Out: the plan as text (per stage: epochs,
 * batch, optimizer, each schedule phase with its lr at start and end, what the stage masks,
 * freezes, throws and hands over), as CSV (stage, epoch in the stage, epoch overall, lr;
 * `points` per epoch) or as an SVG chart.
 * Holds afterwards: every lr is the value of the runtime's own schedule function, the one the
 * trainer calls before each step, at that fraction of an epoch, so the preview is what
 * training will do whatever the number of steps per epoch.
 */
import { limits, raiseHint } from '../compiler/limits.js';
import { UserError } from '../runtime/errors.js';
import { buildStageSchedule } from '../runtime/train/runner.js';
import type { StageSpec, TrainSpec } from '../runtime/train/spec.js';

export type ScheduleFormat = 'text' | 'csv' | 'svg';

/** One sampled point of a stage's learning rate. */
export interface LrPoint {
  readonly stage: string;
  /** Epochs into the stage (fractional). */
  readonly epoch: number;
  /** Epochs since the first stage began. */
  readonly overall: number;
  readonly lr: number;
}

/** The stage's lr at `points` evenly spaced fractions of each epoch, plus its last step. */
export function sampleStage(stage: StageSpec, points: number, offset: number): LrPoint[] {
  // The schedule is a function of the fractional epoch; with `points` steps per epoch its
  // steps fall exactly on the sampled fractions.
  const schedule = buildStageSchedule(stage, points);
  const out: LrPoint[] = [];
  for (let step = 0; step <= schedule.totalSteps; step++) {
    const epoch = step / points;
    out.push({
      stage: stage.name,
      epoch,
      overall: offset + epoch,
      lr: schedule.at(Math.min(step, schedule.totalSteps - 1)),
    });
  }
  return out;
}

const num = (x: number) =>
  x === 0
    ? '0'
    : Math.abs(x) >= 1e-2 && Math.abs(x) < 1e4
      ? String(Number(x.toPrecision(4)))
      : x.toExponential(2).replace(/\.?0+e/, 'e');

function phaseLines(stage: StageSpec): string[] {
  const phases = stage.schedule;
  if (phases.length === 0) return [`constant lr ${num(stage.optimizer.lr)} for ${stage.epochs} epochs`];
  // Sampled at a fine grid to read each phase's level at its ends from the runtime's function.
  const perEpoch = 1000;
  const schedule = buildStageSchedule(stage, perEpoch);
  const lines: string[] = [];
  let start = 0;
  phases.forEach((p, i) => {
    const length = p.epochs ?? (i === phases.length - 1 ? stage.epochs - start : 0);
    const first = Math.round(start * perEpoch);
    const last = Math.max(first, Math.round((start + length) * perEpoch) - 1);
    const args = Object.entries(p)
      .filter(([k]) => k !== 'kind')
      .map(([k, v]) => `${k} ${typeof v === 'number' ? num(v) : String(v)}`)
      .join(', ');
    lines.push(
      `${p.kind}${args ? ` (${args})` : ''}: epochs ${num(start)}-${num(start + length)}, lr ` +
        `${num(schedule.at(first))} -> ${num(schedule.at(last))}`,
    );
    start += length;
  });
  return lines;
}

/** The text plan: per stage its settings, phases and what it masks, freezes and hands over. */
export function schedulePlanText(stages: readonly StageSpec[]): string {
  const out: string[] = [];
  let offset = 0;
  for (const s of stages) {
    out.push(
      `stage ${s.name} (${s.kind}): epochs ${num(offset)}-${num(offset + s.epochs)} overall, ${s.epochs} ` +
        `epochs, batch ${s.batchSize}${s.microBatch ? ` in micro-batches of ${s.microBatch}` : ''}, ` +
        `${s.optimizer.kind} lr ${num(s.optimizer.lr)}` +
        `${s.optimizer.weightDecay ? `, weight decay ${num(s.optimizer.weightDecay)}` : ''}`,
    );
    for (const line of phaseLines(s)) out.push(`  ${line}`);
    if (s.mask) out.push(`  mask: ${s.mask.kind} ratio ${num(s.mask.ratio)}, patch ${s.mask.patch}`);
    if (s.freeze.length) out.push(`  frozen: ${s.freeze.join(', ')}`);
    if (s.modalityDropout)
      out.push(
        `  random throw: p ${num(s.modalityDropout.p)}, fill ${num(s.modalityDropout.fill)}, over ` +
          `${s.modalityDropout.modalities.join(', ')}`,
      );
    const handed = s.handover.flatMap((h) =>
      h.modules.map((m) => `${h.from}${m.source ? `.${m.source}` : ''} -> ${m.target || '(model)'}`),
    );
    if (handed.length) out.push(`  weights from: ${handed.join(', ')}`);
    offset += s.epochs;
  }
  out.push(`total: ${num(offset)} epochs in ${stages.length} stage${stages.length === 1 ? '' : 's'}`);
  return out.join('\n') + '\n';
}

/** 12 significant digits: far below float32's resolution, without the binary noise of `0.1 + 0.2`. */
function decimal(x: number): string {
  return String(Number(x.toPrecision(12)));
}

export function scheduleCsv(points: readonly LrPoint[]): string {
  const rows = points.map((p) => `${p.stage},${decimal(p.epoch)},${decimal(p.overall)},${decimal(p.lr)}`);
  return `${['stage,epoch,overall_epoch,lr', ...rows].join('\n')}\n`;
}

/**
 * Refuses a csv or svg plan of more samples than the limit (compiler/limits.ts) before any is
 * made: each sample is a row or a chart point, and `epochs = 1000000` with 20 points per epoch
 * would be gigabytes.
 */
export function checkSampleCount(stages: readonly StageSpec[], points: number): void {
  const epochs = stages.reduce((n, s) => n + s.epochs, 0);
  const samples = stages.reduce((n, s) => n + s.epochs * points + 1, 0);
  const limit = limits().scheduleSamples;
  if (samples > limit.value)
    throw new UserError(
      `the plan would have ${samples} samples (${epochs} epochs x --points ${points}), more than the limit of ` +
        `${limit.value}; lower --points or raise the limit with the environment variable ${raiseHint(limit, samples)}`,
    );
}

/** Every stage's lr at `points` samples per epoch, stages laid end to end. */
export function sampleTraining(stages: readonly StageSpec[], points: number): LrPoint[] {
  const sampled: LrPoint[] = [];
  let offset = 0;
  for (const s of stages) {
    sampled.push(...sampleStage(s, points, offset));
    offset += s.epochs;
  }
  return sampled;
}

/** An SVG chart of the sampled learning rates, one line per stage; `title` names the program. */
export async function scheduleSvg(points: readonly LrPoint[], title: string, logY: boolean): Promise<string> {
  const { lineChartSpec, renderSvg } = await import('../runtime/report/charts.js');
  const svg = await renderSvg(
    lineChartSpec(
      points.map((p) => ({ x: p.overall, y: p.lr, series: p.stage })),
      {
        title,
        xTitle: 'epoch (stages end to end)',
        yTitle: 'learning rate',
        ...(logY ? { logY: true } : {}),
        width: 640,
      },
    ),
  );
  // Inline markup for HTML drops the namespace; a standalone file needs it back.
  return svg.replace(/^<svg\b/, '<svg xmlns="http://www.w3.org/2000/svg"') + '\n';
}

/** The plan of a train declaration in one of the formats; `variant` goes into the chart's title. */
export async function renderSchedule(
  train: TrainSpec,
  format: ScheduleFormat,
  options: { readonly points: number; readonly variant?: string | undefined; readonly logY?: boolean | undefined },
): Promise<string> {
  if (format === 'text') return schedulePlanText(train.stages);
  checkSampleCount(train.stages, options.points);
  const sampled = sampleTraining(train.stages, options.points);
  if (format === 'csv') return scheduleCsv(sampled);
  const title = `${train.name}${options.variant ? ` (variant ${options.variant})` : ''}: learning rate by stage`;
  return scheduleSvg(sampled, title, options.logY ?? false);
}
