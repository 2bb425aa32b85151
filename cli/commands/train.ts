/**
 * `nvcc train FILE [--variant V] [--set k=v]... [--config f.yaml] [--backend B] [--out RUN_DIR]
 * [--resume RUN_DIR] [--seed N]`, and the pieces `eval`, `predict`, `experiment` and `demo` share.
 * In: a .nvc program (plus variant and overrides). Out: a run folder (runtime/train/runner.ts)
 * with log, checkpoints, metrics, report.html, and `program.json` naming the source, variant and
 * overrides it was built from (so `nvcc eval/predict RUN_DIR` can rebuild the model code).
 * Holds afterwards: the order is compile (no disk) -> load and validate the data -> build (the
 * code generator's cache folder) -> create the run folder -> train; so a refused run (bad spec,
 * bad data, bad flags) writes nothing and exits 1 with a diagnostic or a message naming file,
 * row and column. Known failures are messages, never stack traces.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderDiagnostics, shouldUseColor } from '../../dsl/diagnostics/render.js';
import type { BackendRequest } from '../../runtime/backend.js';
import { BackendError } from '../../runtime/backend.js';
import type { DatasetSpec } from '../../runtime/data/spec.js';
import { DataRefusedError } from '../../runtime/data/errors.js';
import {
  createProgressDisplay,
  createRunDir,
  formatWallTime,
  RunDirError,
  RUN_FILES,
  writeFileAtomicSync,
} from '../../runtime/run/index.js';
import {
  abortOnSignals,
  HandoverError,
  loadTrainingData,
  readRunConfig,
  resume,
  runTraining,
  TrainingError,
  type DatasetTrainingData,
  type RunResult,
  type TrainSpec,
} from '../../runtime/train/index.js';
import { WeightsMismatchError } from '../../runtime/io/weights.js';
import { SafetensorsError } from '../../runtime/io/safetensors.js';
import { NvcRuntimeError } from '../../runtime/codegen.js';
import {
  BuildRefused,
  compileBuild,
  defaultOutDir,
  loadBuiltProgram,
  overrideSchemaOf,
  type LoadedProgram,
} from '../../compiler/builder/build.js';
import { parseSetArgs, readConfigFile } from '../../compiler/schema/overrides.js';
import { UserError } from '../main.js';

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

/** A refusal already explained to the user (diagnostics printed); exit 1. */
export class Refused extends Error {
  constructor(message = 'refused') {
    super(message);
    this.name = 'Refused';
  }
}

const BACKENDS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export function parseBackend(value: string | undefined): BackendRequest | undefined {
  if (value === undefined) return undefined;
  if (!(BACKENDS as readonly string[]).includes(value))
    throw new UserError(`--backend must be one of ${BACKENDS.join(', ')}, found \`${value}\``);
  return value as BackendRequest;
}

export function parseSeed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new UserError(`--seed must be a non-negative integer, found \`${value}\``);
  return Number(value);
}

/**
 * Overrides from `--config f.yaml` then `--set path=value` (later wins), read with the code
 * generator's parsers (compiler/schema/overrides.ts); the build validates them against the
 * program's override schema before compiling.
 */
export async function parseOverrides(
  file: string,
  variant: string | undefined,
  sets: readonly string[],
  configFile?: string,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  if (configFile !== undefined) {
    if (!fs.existsSync(configFile)) throw new UserError(`--config ${configFile}: no such file`);
    const known = new Set((await overrideSchemaOf(file, variant)).schema?.tunables.keys() ?? []);
    const r = readConfigFile(configFile, known);
    problems.push(...r.problems.map((p) => p.message));
    Object.assign(out, r.overrides);
  }
  const s = parseSetArgs(sets);
  problems.push(...s.problems.map((p) => p.message));
  Object.assign(out, s.overrides);
  if (problems.length > 0) throw new UserError(problems.join('\n'));
  return out;
}

export interface ProgramOptions {
  readonly file: string;
  readonly variant?: string;
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** Build folder; default the code generator's (`defaultOutDir`). */
  readonly buildDir?: string;
}

export interface CheckedProgram {
  readonly trainSpec: TrainSpec;
  readonly datasetSpec: DatasetSpec;
}

function printDiagnostics(result: {
  diagnostics: readonly import('../../dsl/diagnostics/diagnostic.js').Diagnostic[];
  files: ReadonlyMap<string, import('../../dsl/span.js').SourceFile>;
}): void {
  process.stderr.write(
    renderDiagnostics([...result.diagnostics], (p) => result.files.get(p), { color: shouldUseColor(process.stderr) }) +
      '\n',
  );
}

function buildDirOf(o: ProgramOptions): string {
  return o.buildDir ?? defaultOutDir(o.file, o.variant, o.overrides);
}

/** Compiles without writing anything; prints diagnostics and throws Refused on errors. */
export async function checkProgram(o: ProgramOptions): Promise<CheckedProgram> {
  if (!fs.existsSync(o.file)) throw new UserError(`${o.file}: no such file`);
  const overrides = o.overrides ?? {};
  const { result, compiled, problems } = await compileBuild(
    o.file,
    {
      ...(o.variant !== undefined ? { variant: o.variant } : {}),
      ...(Object.keys(overrides).length ? { overrides } : {}),
    },
    buildDirOf(o),
  );
  if (result.diagnostics.some((d) => d.severity === 'error') || !compiled) {
    if (result.diagnostics.length > 0) printDiagnostics(result);
    for (const p of problems) process.stderr.write(`error: ${p.origin ? `${p.origin}: ` : ''}${p.message}\n`);
    throw new Refused();
  }
  const trainSpec = compiled.trainSpecs[0];
  if (!trainSpec) throw new UserError(`${o.file} has no \`train\` declaration; nothing to train`);
  const datasetSpec = compiled.datasetSpecs.find((d) => d.name === trainSpec.dataset);
  if (!datasetSpec)
    throw new UserError(
      `${o.file}: train \`${trainSpec.name}\` reads dataset \`${trainSpec.dataset}\`, which the file does not declare`,
    );
  return { trainSpec, datasetSpec };
}

/** Builds (or reuses the cached build of) the program and imports its model code. */
export async function buildProgram(o: ProgramOptions): Promise<LoadedProgram> {
  const overrides = o.overrides ?? {};
  try {
    return await loadBuiltProgram(o.file, {
      ...(o.variant !== undefined ? { variant: o.variant } : {}),
      ...(Object.keys(overrides).length ? { overrides } : {}),
      outDir: buildDirOf(o),
    });
  } catch (e) {
    if (e instanceof BuildRefused) {
      if (e.result.diagnostics.length > 0) printDiagnostics(e.result);
      for (const p of e.result.problems)
        process.stderr.write(`error: ${p.origin ? `${p.origin}: ` : ''}${p.message}\n`);
      throw new Refused();
    }
    throw e;
  }
}

/** Relative data paths in a program start at the program's folder. */
export function dataBaseDir(file: string): string {
  return path.resolve(path.dirname(file));
}

/** Loads and validates the program's data (DataRefusedError names file, row, column). */
export async function loadProgramData(file: string, checked: CheckedProgram): Promise<DatasetTrainingData> {
  return loadTrainingData(checked.trainSpec, checked.datasetSpec, { baseDir: dataBaseDir(file) });
}

/** One line per known failure kind; returns false for a bug (an unexpected exception). */
export function reportKnownError(err: unknown): boolean {
  if (err instanceof Refused) return true;
  if (err instanceof DataRefusedError) {
    process.stderr.write(`error: the data were refused; nothing was written.\n${err.message}\n`);
    return true;
  }
  if (
    err instanceof UserError ||
    err instanceof TrainingError ||
    err instanceof RunDirError ||
    err instanceof BackendError ||
    err instanceof HandoverError ||
    err instanceof WeightsMismatchError ||
    err instanceof SafetensorsError
  ) {
    process.stderr.write(`error: ${err.message}\n`);
    return true;
  }
  if (err instanceof NvcRuntimeError) {
    process.stderr.write(`error: ${err.message}\n`);
    return true;
  }
  return false;
}

/** Runs `body`; known failures print a message and give exit 1, others are rethrown (exit 2). */
export async function guarded(
  setExit: (code: number) => void,
  body: () => Promise<number | undefined> | Promise<void>,
): Promise<void> {
  try {
    const code = await body();
    setExit(code ?? 0);
  } catch (err) {
    if (reportKnownError(err)) {
      setExit(1);
      return;
    }
    throw err;
  }
}

/** The command line as typed, quoted where a shell would need it, for the report's header. */
function commandLine(): string {
  const quote = (a: string) => (/^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['nvcc', ...process.argv.slice(2).map(quote)].join(' ');
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
    line: `stage ${last.name}, ${test.split} split (${test.nPatients} patients): AUC ${pct(test.auc)}${ci}, ACC ${pct(test.accuracy)}, sensitivity ${pct(test.sensitivity)}, specificity ${pct(test.specificity)}`,
    auc: test.auc,
    accuracy: test.accuracy,
  };
}

export interface TrainCommandOptions extends ProgramOptions {
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

/** The body of `nvcc train` (also used by `demo` and `experiment`). */
export async function trainProgram(o: TrainCommandOptions): Promise<TrainOutcome> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = Date.now();
  if (o.resume !== undefined && o.out !== undefined)
    throw new UserError('--resume continues an existing run folder; it cannot be combined with --out');
  if (o.resume !== undefined && o.seed !== undefined)
    throw new UserError('--seed cannot change the seed of a run being resumed');
  // Resuming: the run folder must exist and look like a run before anything else.
  if (o.resume !== undefined) createRunDir({ resume: true, path: o.resume });
  const compiled = await checkProgram(o);
  const checked: CheckedProgram = o.datasetSpec ? { ...compiled, datasetSpec: o.datasetSpec } : compiled;
  if (o.resume !== undefined) {
    const stored = readRunConfig(o.resume);
    if (!sameJson(stored.spec, checked.trainSpec) || !sameJson(stored.dataset, checked.datasetSpec)) {
      throw new UserError(
        `cannot resume ${o.resume}: ${o.file}${o.variant ? ` (variant ${o.variant})` : ''} no longer describes the run that was started there ` +
          `(its training or dataset settings differ from ${path.join(o.resume, RUN_FILES.configJson)}); ` +
          'pass the same file, --variant and --set as the original run, or start a new run',
      );
    }
  }
  // Data first: a refused dataset stops here, before the build or the run folder is written.
  const data = o.data ?? (await loadProgramData(o.file, checked));
  const program = await buildProgram(o);
  const progress = o.quiet ? undefined : createProgressDisplay();
  const abort = abortOnSignals(['SIGINT', 'SIGTERM'], () =>
    process.stderr.write(
      '\nnvcc: stopping after this step and writing a checkpoint (press Ctrl-C again to quit at once)\n',
    ),
  );
  try {
    let result: RunResult;
    let runDir: string;
    if (o.resume !== undefined) {
      runDir = o.resume;
      log(`nvcc: resuming ${runDir}`);
      result = await resume(runDir, {
        models: program.factories,
        data,
        dataBaseDir: dataBaseDir(o.file),
        ...(o.backend ? { backend: o.backend } : {}),
        ...(progress ? { progress } : {}),
        signal: abort.signal,
        ...(o.bootstrapResamples !== undefined ? { bootstrapResamples: o.bootstrapResamples } : {}),
        reportMeta: { command: commandLine(), ...(o.variant ? { variant: o.variant } : {}) },
      });
    } else {
      const stem = path.basename(o.file).replace(/\.nvc$/, '');
      const dir = createRunDir(
        o.out !== undefined
          ? { path: o.out, name: `${stem}${o.variant ? `-${o.variant}` : ''}` }
          : { root: o.runsRoot ?? 'runs', name: `${stem}${o.variant ? `-${o.variant}` : ''}` },
      );
      runDir = dir.path;
      const record: ProgramRecord = {
        file: path.resolve(o.file),
        variant: o.variant ?? null,
        overrides: o.overrides ?? {},
        cacheKey: program.manifest.cacheKey,
        specHash: program.manifest.specHash,
      };
      writeFileAtomicSync(path.join(runDir, PROGRAM_FILE), `${JSON.stringify(record, null, 2)}\n`);
      log(`nvcc: training ${checked.trainSpec.name}${o.variant ? ` (variant ${o.variant})` : ''} into ${runDir}`);
      result = await runTraining({
        spec: checked.trainSpec,
        dataset: checked.datasetSpec,
        models: program.factories,
        runDir,
        data,
        dataBaseDir: dataBaseDir(o.file),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.backend ? { backend: o.backend } : {}),
        ...(progress ? { progress } : {}),
        signal: abort.signal,
        ...(o.bootstrapResamples !== undefined ? { bootstrapResamples: o.bootstrapResamples } : {}),
        reportMeta: { command: commandLine(), ...(o.variant ? { variant: o.variant } : {}) },
      });
    }
    return { result, runDir, program, wallSeconds: (Date.now() - started) / 1000 };
  } finally {
    abort.dispose();
  }
}

/** Prints the outcome of a run: interrupted (how to resume) or the test metrics and the report. */
export function printOutcome(
  o: TrainOutcome,
  file: string,
  variant?: string,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  overrides: Readonly<Record<string, unknown>> = {},
): void {
  if (o.result.status === 'interrupted') {
    const sets = Object.entries(overrides)
      .map(([k, v]) => ` --set '${k}=${typeof v === 'string' ? v : JSON.stringify(v)}'`)
      .join('');
    log(
      `nvcc: interrupted; a checkpoint was written. Continue with:\n  nvcc train ${file}${variant ? ` --variant ${variant}` : ''}${sets} --resume ${o.runDir}`,
    );
    return;
  }
  const training = o.result.elapsed !== undefined ? `training ${formatWallTime(o.result.elapsed)}, ` : '';
  log(`nvcc: done: ${training}${o.wallSeconds.toFixed(1)} s in all. ${finalSummary(o.result).line}`);
  log(`nvcc: run folder ${o.runDir}`);
  if (o.result.report) log(`nvcc: report ${path.resolve(o.result.report)}`);
}

export async function trainCommand(
  file: string,
  opts: {
    variant?: string;
    set: string[];
    config?: string;
    backend?: string;
    out?: string;
    resume?: string;
    seed?: string;
    quiet?: boolean;
    engine?: string;
    nproc?: string;
    nnodes?: string;
    rdzvEndpoint?: string;
    device?: string;
    python?: string;
  },
  setExit: (code: number) => void,
): Promise<void> {
  await guarded(setExit, async () => {
    if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
    const engine = opts.engine ?? 'tfjs';
    if (engine !== 'tfjs' && engine !== 'torch') throw new UserError(`--engine must be tfjs or torch, got '${engine}'`);
    const torchOnly = ['nproc', 'nnodes', 'rdzvEndpoint', 'device', 'python'] as const;
    if (engine === 'tfjs' && torchOnly.some((k) => opts[k] !== undefined))
      throw new UserError('--nproc, --nnodes, --rdzv-endpoint, --device and --python belong to --engine torch');
    const overrides = await parseOverrides(file, opts.variant, opts.set, opts.config);
    if (engine === 'torch') {
      const { trainWithTorch, parseTorchFlags } = await import('./train-torch.js');
      const { code } = await trainWithTorch({
        file,
        ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
        overrides,
        ...(opts.backend !== undefined ? { backend: parseBackend(opts.backend)! } : {}),
        ...(opts.out !== undefined ? { out: opts.out } : {}),
        ...(opts.resume !== undefined ? { resume: opts.resume } : {}),
        ...(parseSeed(opts.seed) !== undefined ? { seed: parseSeed(opts.seed)! } : {}),
        ...(opts.quiet ? { quiet: true } : {}),
        ...parseTorchFlags(opts),
      });
      return code;
    }
    const outcome = await trainProgram({
      file,
      ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
      overrides,
      ...(parseBackend(opts.backend) ? { backend: parseBackend(opts.backend)! } : {}),
      ...(opts.out !== undefined ? { out: opts.out } : {}),
      ...(opts.resume !== undefined ? { resume: opts.resume } : {}),
      ...(parseSeed(opts.seed) !== undefined ? { seed: parseSeed(opts.seed)! } : {}),
      ...(opts.quiet ? { quiet: true } : {}),
    });
    printOutcome(outcome, file, opts.variant, undefined, overrides);
    return outcome.result.status === 'interrupted' ? 130 : 0;
  });
}
