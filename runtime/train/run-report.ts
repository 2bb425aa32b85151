/**
 * report.html of a run folder, made from the folder's files alone.
 * In: a run folder of either engine holding config.json (the resolved configuration),
 * metrics.json (the run summary: stages with their final evaluations, elapsed seconds, and the
 * header lines the training command recorded under `report`) and log.jsonl.
 * Out: RUN/report.html, through runtime/report's `writeRunReport`.
 * Holds afterwards: both engines end training by writing metrics.json and then calling
 * `writeReportOfRun`, and `nvcc report RUN` calls the same function, so a regenerated report is
 * byte for byte the one training wrote (as long as the run folder is named the same way).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportEvaluation, RunMetadata } from '../report/index.js';
import { RUN_FILES, RunDirError } from '../run/rundir.js';
import type { RunConfig, StageResult } from './state.js';

/** What the command that trained a run knows and the run's files do not; stored in metrics.json. */
export interface RunReportHeader {
  /** The command line as typed. */
  readonly command?: string;
  readonly variant?: string;
  /** The tfjs backend that trained, or `torch`. */
  readonly backend?: string;
  /** Class names, negative first, when they are not the dataset's label classes. */
  readonly classNames?: readonly [string, string];
}

/** The run summary as both engines write metrics.json. */
export interface RunSummaryFile {
  readonly name?: string;
  readonly seed?: number;
  readonly elapsed?: number;
  /** `torch` for runs of the torch engine. */
  readonly engine?: string;
  readonly stages: readonly StageResult[];
  readonly report?: RunReportHeader;
}

function readJsonFile<T>(file: string, runDir: string): T {
  if (!existsSync(file))
    throw new RunDirError(`${runDir} is not a finished run: it has no ${file.slice(runDir.length + 1)}`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    throw new RunDirError(`${file} is not valid JSON`);
  }
}

/** The run's configuration and summary; a folder without them is refused with what is missing. */
export function readRunSummary(runDir: string): { config: RunConfig; summary: RunSummaryFile } {
  const config = readJsonFile<RunConfig>(join(runDir, RUN_FILES.configJson), runDir);
  const summary = readJsonFile<RunSummaryFile>(join(runDir, RUN_FILES.metrics), runDir);
  if (!Array.isArray(summary.stages))
    throw new RunDirError(`${join(runDir, RUN_FILES.metrics)} has no stage list: it is not a run summary`);
  return { config, summary };
}

/** The last supervised stage with a patient-level evaluation: the one the report's metrics belong to. */
function evaluatedStage(config: RunConfig, summary: RunSummaryFile): StageResult | undefined {
  const kindOf = (r: StageResult) => r.kind ?? config.spec.stages.find((s) => s.name === r.name)?.kind;
  return [...summary.stages]
    .reverse()
    .find(
      (r) => kindOf(r) === 'supervised' && r.evaluation && typeof r.evaluation === 'object' && 'splits' in r.evaluation,
    );
}

/** Writes RUN/report.html from config.json, metrics.json and log.jsonl; returns its path. */
export async function writeReportOfRun(runDir: string): Promise<string> {
  const { config, summary } = readRunSummary(runDir);
  const header = summary.report ?? {};
  const evaluated = evaluatedStage(config, summary);
  const classes = config.dataset.label.classes.map((c) => c.name);
  const classNames = header.classNames ?? (classes.length === 2 ? ([classes[0]!, classes[1]!] as const) : undefined);
  const backend = header.backend ?? (summary.engine === 'torch' ? 'torch' : undefined);
  const meta: RunMetadata = {
    name: config.spec.name,
    seed: config.seed,
    ...(typeof summary.elapsed === 'number' ? { wallTimeSeconds: summary.elapsed } : {}),
    runDir,
    ...(header.command !== undefined ? { command: header.command } : {}),
    ...(header.variant !== undefined ? { variant: header.variant } : {}),
    ...(evaluated ? { evaluatedStage: evaluated.name } : {}),
    ...(classNames ? { classNames } : {}),
    pooling: String(config.spec.pooling ?? config.dataset.pool),
    ...(backend !== undefined ? { backend } : {}),
  };
  // Loaded here, not at the top: the report's charts pull in vega and vega-lite, which runs
  // without a report (tests, resume of a finished run) never need.
  const { writeRunReport } = await import('../report/index.js');
  return writeRunReport(runDir, {
    meta,
    ...(evaluated ? { evaluation: evaluated.evaluation as unknown as ReportEvaluation } : {}),
  });
}
