/**
 * `nvcc report RUN`: report.html of a run folder of either engine, made again from its files.
 * In: a run folder (or a checkpoint folder or weights file inside one) whose training finished:
 * config.json, metrics.json, log.jsonl. Out: RUN/report.html; for a torch-engine run also its
 * final evaluation recomputed from the stages' predictions.csv into metrics.json first.
 * Holds afterwards: the same functions write the report as the end of training does
 * (`writeReportOfRun`; `finishTorchRun` for torch runs, with the bootstrap resamples the run was
 * finished with), so a finished run's report comes out byte for byte the same; a torch run
 * trained with torchrun on a machine without Node is finished here.
 */
import * as path from 'node:path';
import { readRunSummary, writeReportOfRun } from '../runtime/train/run-report.js';
import { finishTorchRun } from '../runtime/train/torch-engine.js';
import { resolveRunTarget } from './run-folder.js';

export interface ReportedRun {
  readonly runDir: string;
  readonly report: string;
  readonly engine: 'tfjs' | 'torch';
}

/** The bootstrap resamples of the run's last evaluation with confidence intervals, if any. */
function resamplesOf(stages: readonly { readonly evaluation?: unknown }[]): number | undefined {
  for (const stage of [...stages].reverse()) {
    const splits = (stage.evaluation as { splits?: { aucCi?: { resamples?: unknown } }[] } | undefined)?.splits;
    const resamples = splits?.find((s) => typeof s.aucCi?.resamples === 'number')?.aucCi?.resamples;
    if (typeof resamples === 'number') return resamples;
  }
  return undefined;
}

export async function reportRun(target: string): Promise<ReportedRun> {
  const resolved = resolveRunTarget(target).runDir;
  // The report names the run folder as the user wrote it, as training does with its --out.
  const runDir = path.resolve(target) === resolved ? target : resolved;
  const { summary } = readRunSummary(runDir);
  if (summary.engine === 'torch') {
    const report = (await finishTorchRun(runDir, resamplesOf(summary.stages) ?? 1000))!;
    return { runDir, report, engine: 'torch' };
  }
  return { runDir, report: await writeReportOfRun(runDir), engine: 'tfjs' };
}
