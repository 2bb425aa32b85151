/**
 * Training a .nvc program into a run folder: what `nvcc train`, `demo` and `experiment` run.
 * In: a program (file, variant, overrides) and run options (backend, run folder or one to
 * resume, seed). Out: a run folder (runtime/train/runner.ts) with log, checkpoints, metrics,
 * report.html, and `program.json` naming the source, variant and overrides it was built from
 * (so `nvcc eval/predict RUN_DIR` can rebuild the model code), and the run's result.
 * Holds afterwards: the order is compile (no disk) -> load and validate the data -> build (the
 * code generator's cache folder) -> create the run folder -> train; so a refused run (bad spec,
 * bad data, bad options) writes nothing and says so, and a failure of the machine during
 * training (disk full, read-only folder) names the run folder that keeps what was written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadableCopyOf, type LoadedProgram } from '../compiler/builder/build.js';
import type { BackendRequest } from '../runtime/backend.js';
import type { DatasetSpec } from '../runtime/data/spec.js';
import { keeping, UserError } from '../runtime/errors.js';
import { encodeSafetensors } from '../runtime/io/safetensors.js';
import {
  createProgressDisplay,
  createRunDir,
  formatWallTime,
  RUN_FILES,
  writeFileAtomicSync,
} from '../runtime/run/index.js';
import {
  abortOnSignals,
  type DatasetTrainingData,
  latestCheckpoint,
  type RunResult,
  readRunConfig,
  resume,
  runTraining,
} from '../runtime/train/index.js';
import {
  type CheckedProgram,
  checkProgram,
  dataBaseDir,
  loadProgram,
  loadProgramData,
  type ProgramOptions,
} from './program.js';
import { type PreparedInit, parseInitFlags, prepareInitWeights } from './init-weights.js';

/** Recorded in every run folder: what the run was built from. */
export const PROGRAM_FILE = 'program.json';

export interface ProgramRecord {
  /** Absolute path of the .nvc entry file. */
  readonly file: string;
  readonly variant: string | null;
  readonly overrides: Readonly<Record<string, unknown>>;
  /** The build's cache key when the run started. */
  readonly cacheKey: string;
  /**
   * sha256 of the program's sources when the run started (absent in runs made before it was
   * recorded). The cache key also changes with nvcc itself, so only this says whether the
   * .nvc changed.
   */
  readonly specHash?: string;
}

function pct(x: number | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : 'n/a';
}

/** The test-split line of a finished run: AUC with its CI, accuracy, sensitivity, specificity. */
export function finalSummary(result: RunResult): { line: string; auc?: number; accuracy?: number } {
  const last = [...result.stages].reverse().find((s) => s.kind === 'supervised');
  const ev = last?.evaluation as unknown as
    | {
        kind?: string;
        splits?: {
          split: string;
          auc: number;
          aucCi?: { lower: number; upper: number };
          accuracy: number;
          sensitivity: number;
          specificity: number;
          nPatients: number;
        }[];
        warning?: string;
      }
    | undefined;
  const test = ev?.splits?.find((s) => s.split === 'test') ?? ev?.splits?.find((s) => s.split !== 'validation');
  if (!last || !test)
    return { line: ev?.warning ? `no test metrics: ${ev.warning}` : 'no supervised stage was evaluated' };
  const ci =
    test.aucCi && Number.isFinite(test.aucCi.lower)
      ? ` (95% CI ${pct(test.aucCi.lower)}-${pct(test.aucCi.upper)})`
      : '';
  return {
    line:
      `stage ${last.name}, ${test.split} split (${test.nPatients} patients): AUC ${pct(test.auc)}${ci}, ` +
      `ACC ${pct(test.accuracy)}, sensitivity ${pct(test.sensitivity)}, specificity ${pct(test.specificity)}`,
    auc: test.auc,
    accuracy: test.accuracy,
  };
}

export interface TrainOptions extends ProgramOptions {
  readonly backend?: BackendRequest;
  readonly out?: string;
  readonly resume?: string;
  readonly seed?: number;
  /** Parent of generated run folders; default `runs`. */
  readonly runsRoot?: string;
  /** Progress lines: default a bar on a terminal, plain lines otherwise. */
  readonly quiet?: boolean;
  /** Bootstrap resamples of the final CI; default the runner's (1000). */
  readonly bootstrapResamples?: number;
  /** Reuse already loaded data (experiment runs several variants on one dataset). */
  readonly data?: DatasetTrainingData;
  /** Train on this dataset declaration instead of the program's (experiment's k-fold splits). */
  readonly datasetSpec?: DatasetSpec;
  /** Where messages go; default stdout. */
  readonly log?: (line: string) => void;
  /** The command line as typed, for the report's header. */
  readonly command?: string;
  /** `--threads N`: threads for the training steps (default NVCC_THREADS, else every core). */
  readonly threads?: number;
  /** `--init STAGE[.PATH]=FILE` values: stages that start from an official checkpoint (workflow/init-weights.ts). */
  readonly init?: readonly string[];
}

/** Folder of a run that holds the converted `--init` checkpoints, one file per stage. */
export const INIT_DIR = 'init';

/** Writes the converted checkpoints into RUN/init/; returns the files per stage, relative to the run. */
export function writeInitWeights(runDir: string, prepared: readonly PreparedInit[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const p of prepared) {
    const rel = path.join(INIT_DIR, `${p.stage}.safetensors`);
    fs.mkdirSync(path.join(runDir, INIT_DIR), { recursive: true });
    writeFileAtomicSync(
      path.join(runDir, rel),
      encodeSafetensors(p.tensors, {
        format: 'nvcc-init',
        stage: p.stage,
        source: path.resolve(p.request.file),
        ...(p.request.path ? { module: p.request.path } : {}),
      }),
    );
    files[p.stage] = rel;
  }
  return files;
}

/** One line per stage started from a checkpoint: what was loaded, dropped and left at its initial value. */
export function describeInit(prepared: readonly PreparedInit[]): string[] {
  return prepared.map((p) => {
    const target = `stage ${p.stage}${p.request.path ? ` (${p.request.path})` : ''}`;
    const kept = p.keptInitial.length ? `; initial values kept for ${p.keptInitial.join(', ')}` : '';
    const dropped = p.dropped.length ? `; ${p.dropped.length} checkpoint tensors dropped (${dropReasons(p)})` : '';
    return `nvcc: ${target} starts from ${p.request.file}: ${p.tensors.size} tensors${kept}${dropped}`;
  });
}

function dropReasons(p: PreparedInit): string {
  return [...new Set(p.dropped.map((d) => d.reason))].join('; ');
}

export interface TrainOutcome {
  readonly result: RunResult;
  readonly runDir: string;
  readonly program: LoadedProgram;
  readonly wallSeconds: number;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Trains the program (`nvcc train`, also `demo` and `experiment`). */
export async function trainProgram(o: TrainOptions): Promise<TrainOutcome> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = Date.now();
  if (o.resume !== undefined && o.out !== undefined)
    throw new UserError('--resume continues an existing run folder; it cannot be combined with --out');
  if (o.resume !== undefined && o.seed !== undefined)
    throw new UserError('--seed cannot change the seed of a run being resumed');
  if (o.resume !== undefined && o.init?.length)
    throw new UserError('--init starts a run; a resumed run keeps the weights it started from');
  // Resuming: the run folder must exist and look like a run before anything else.
  if (o.resume !== undefined) createRunDir({ resume: true, path: o.resume });
  const compiled = await checkProgram(o);
  const checked: CheckedProgram = o.datasetSpec ? { ...compiled, datasetSpec: o.datasetSpec } : compiled;
  if (o.resume !== undefined) {
    const stored = readRunConfig(o.resume);
    if (!sameJson(stored.spec, checked.trainSpec) || !sameJson(stored.dataset, checked.datasetSpec)) {
      throw new UserError(
        `cannot resume ${o.resume}: ${o.file}${o.variant ? ` (variant ${o.variant})` : ''} no longer ` +
          `describes the run that was started there ` +
          `(its training or dataset settings differ from ${path.join(o.resume, RUN_FILES.configJson)}); ` +
          'pass the same file, --variant and --set as the original run, or start a new run',
      );
    }
  }
  // Data first: a refused dataset stops here, before the build or the run folder is written.
  const data = o.data ?? (await loadProgramData(o.file, checked));
  const program = await loadProgram(o);
  // Checkpoints that do not fit the models are refused here too, before the run folder is made.
  const inits = await prepareInitWeights(
    parseInitFlags(o.init ?? [], checked.trainSpec),
    checked.trainSpec,
    program.factories,
    o.backend,
  );
  const progress = o.quiet ? undefined : createProgressDisplay();
  // Worker threads import the same generated factories the main thread trains, against the
  // same runtime: a copy whose runtime import names this process's runtime entry.
  const workerCopy = loadableCopyOf(program.outDir);
  const threading = {
    workerModels: path.join(workerCopy, 'train.js'),
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
  };
  const abort = abortOnSignals(['SIGINT', 'SIGTERM'], () =>
    process.stderr.write(
      '\nnvcc: stopping after this step and writing a checkpoint (press Ctrl-C again to quit at once)\n',
    ),
  );
  // The report's header names the command that made the run.
  const reportMeta = { command: o.command ?? 'nvcc', ...(o.variant ? { variant: o.variant } : {}) };
  // A failure of the machine from here on leaves a run folder; whether it can be continued
  // depends on the checkpoints that were complete when it failed.
  const keptIn = (runDir: string) => () => {
    let latest: { path: string } | undefined;
    try {
      latest = latestCheckpoint(runDir);
    } catch {
      return `the run folder ${runDir} keeps what was written before the failure`;
    }
    return latest
      ? `the run folder ${runDir} can continue from its last checkpoint, ${path.basename(latest.path)} ` +
          `(${resumeCommand(o.file, o.variant, o.overrides ?? {}, runDir)})`
      : `the run folder ${runDir} holds no checkpoint to continue from; start the run again`;
  };
  try {
    let result: RunResult;
    let runDir: string;
    if (o.resume !== undefined) {
      runDir = o.resume;
      log(`nvcc: resuming ${runDir}`);
      const resumed = runDir;
      result = await keeping(keptIn(resumed), () =>
        resume(resumed, {
          models: program.factories,
          ...threading,
          data,
          dataBaseDir: dataBaseDir(o.file),
          ...(o.backend ? { backend: o.backend } : {}),
          ...(progress ? { progress } : {}),
          signal: abort.signal,
          ...(o.bootstrapResamples !== undefined ? { bootstrapResamples: o.bootstrapResamples } : {}),
          reportMeta,
        }),
      );
    } else {
      const stem = path.basename(o.file).replace(/\.nvc$/, '');
      const dir = createRunDir(
        o.out !== undefined
          ? { path: o.out, name: `${stem}${o.variant ? `-${o.variant}` : ''}` }
          : { root: o.runsRoot ?? 'runs', name: `${stem}${o.variant ? `-${o.variant}` : ''}` },
      );
      const newRun = dir.path;
      runDir = newRun;
      const record: ProgramRecord = {
        file: path.resolve(o.file),
        variant: o.variant ?? null,
        overrides: o.overrides ?? {},
        cacheKey: program.manifest.cacheKey,
        specHash: program.manifest.specHash,
      };
      writeFileAtomicSync(path.join(runDir, PROGRAM_FILE), `${JSON.stringify(record, null, 2)}\n`);
      const init = writeInitWeights(runDir, inits);
      log(`nvcc: training ${checked.trainSpec.name}${o.variant ? ` (variant ${o.variant})` : ''} into ${runDir}`);
      for (const line of describeInit(inits)) log(line);
      result = await keeping(keptIn(newRun), () =>
        runTraining({
          spec: checked.trainSpec,
          dataset: checked.datasetSpec,
          models: program.factories,
          ...threading,
          runDir,
          data,
          dataBaseDir: dataBaseDir(o.file),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          ...(Object.keys(init).length ? { init } : {}),
          ...(o.backend ? { backend: o.backend } : {}),
          ...(progress ? { progress } : {}),
          signal: abort.signal,
          ...(o.bootstrapResamples !== undefined ? { bootstrapResamples: o.bootstrapResamples } : {}),
          reportMeta,
        }),
      );
    }
    return { result, runDir, program, wallSeconds: (Date.now() - started) / 1000 };
  } finally {
    abort.dispose();
    fs.rmSync(workerCopy, { recursive: true, force: true });
  }
}

/** The command that continues an interrupted or failed run. */
export function resumeCommand(
  file: string,
  variant: string | undefined,
  overrides: Readonly<Record<string, unknown>>,
  runDir: string,
): string {
  const sets = Object.entries(overrides)
    .map(([k, v]) => ` --set '${k}=${typeof v === 'string' ? v : JSON.stringify(v)}'`)
    .join('');
  return `nvcc train ${file}${variant ? ` --variant ${variant}` : ''}${sets} --resume ${runDir}`;
}

/** What to tell the user when a run ends: interrupted (how to resume) or the test metrics and the report. */
export function describeOutcome(
  o: TrainOutcome,
  file: string,
  variant?: string,
  overrides: Readonly<Record<string, unknown>> = {},
): string[] {
  if (o.result.status === 'interrupted')
    return [
      `nvcc: interrupted; a checkpoint was written. Continue with:\n  ` +
        `${resumeCommand(file, variant, overrides, o.runDir)}`,
    ];
  const training = o.result.elapsed !== undefined ? `training ${formatWallTime(o.result.elapsed)}, ` : '';
  return [
    `nvcc: done: ${training}${o.wallSeconds.toFixed(1)} s in all. ${finalSummary(o.result).line}`,
    `nvcc: run folder ${o.runDir}`,
    ...(o.result.report ? [`nvcc: report ${path.resolve(o.result.report)}`] : []),
  ];
}
