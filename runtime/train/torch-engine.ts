/**
 * The torch engine seen from nvcc: data preparation, launch, and the finish of a run.
 * In: a built torch package folder (`nvcc build --target torch`), the train declaration and the
 * dataset it reads, a run folder, and the launch settings (processes per node, nodes, rendezvous
 * endpoint, device, the Python interpreter). Out: `train_spec.json` in the package and the data
 * shards (runtime/train/shards.ts) written once; the command line that starts the trainer
 * (`python <pkg>/train.py`, or torchrun through the package's `nvcc_torchrun.py` for several
 * processes or machines); and, once training ended, the run folder finished as the tfjs engine
 * finishes it: the final evaluation recomputed from each supervised stage's predictions.csv by
 * runtime/metrics (threshold chosen on validation, bootstrap CIs) into metrics.json, and
 * report.html. Holds afterwards: the trainer only reads the package folder, the shard folder and
 * the run folder, so the same folders can be copied to a GPU cluster without Node and run there;
 * `finishTorchRun` depends only on the run folder, so `nvcc report` works on a run trained
 * elsewhere.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { DatasetSpec } from '../data/spec.js';
import { evaluateRun, type SplitScores } from '../metrics/index.js';
import { writeFileAtomic } from '../run/atomic.js';
import { RUN_FILES } from '../run/rundir.js';
import { readJsonl } from '../run/jsonl.js';
import { EVENTS_PREFIX, findEventFile, ScalarLog } from '../run/scalars.js';
import { jsonNumbers, stageRoot, TrainingError } from './common.js';
import { imageInputNames, loadTrainingData, type DatasetTrainingData } from './dataset-adapter.js';
import { parsePredictionsCsv, PREDICTIONS_FILE } from './evaluate.js';
import { type RunReportHeader, writeReportOfRun } from './run-report.js';
import { writeDataShards, type ShardManifest } from './shards.js';
import type { TrainSpec } from './spec.js';
import type { RunConfig, StageResult } from './state.js';

export const TORCH_SPEC_FILE = 'train_spec.json';

export interface PrepareTorchRunOptions {
  readonly spec: TrainSpec;
  readonly dataset: DatasetSpec;
  /** The built package folder; train_spec.json is written into it. */
  readonly packageDir: string;
  /** Where the shards go (default `<packageDir>/data`, where the trainer looks by default). */
  readonly dataDir?: string;
  /** Where the dataset's relative paths start (the .nvc file's folder). */
  readonly dataBaseDir?: string;
  readonly samplesPerShard?: number;
  /** The dataset already loaded (and validated) for this spec; default: loaded here. */
  readonly data?: DatasetTrainingData;
}

/** Writes train_spec.json and the data shards; bad data is refused (DataRefusedError) before anything is written. */
export async function prepareTorchRun(options: PrepareTorchRunOptions): Promise<ShardManifest> {
  const data =
    options.data ??
    (await loadTrainingData(
      options.spec,
      options.dataset,
      options.dataBaseDir ? { baseDir: options.dataBaseDir } : {},
    ));
  await writeFileAtomic(
    join(options.packageDir, TORCH_SPEC_FILE),
    `${JSON.stringify({ train: options.spec, dataset: options.dataset }, null, 2)}\n`,
  );
  return writeDataShards(
    data.dataset,
    imageInputNames(options.spec, options.dataset),
    options.dataDir ?? join(options.packageDir, 'data'),
    options.samplesPerShard !== undefined ? { samplesPerShard: options.samplesPerShard } : {},
  );
}

export interface TorchLaunch {
  /** The package folder (any name: train.py runs as a script and imports its neighbours). */
  readonly packageDir: string;
  readonly runDir: string;
  /** Default `<packageDir>/data`. */
  readonly dataDir?: string;
  /** Python with torch; default $NVCC_PYTHON, else `python3`. */
  readonly python?: string;
  /** Processes on this machine (GPUs); default 1. */
  readonly nproc?: number;
  /** Machines; default 1. Several need `rdzvEndpoint`, and each machine runs the same command. */
  readonly nnodes?: number;
  /** `host:port` of the c10d rendezvous (one of the machines). */
  readonly rdzvEndpoint?: string;
  /** Rendezvous id shared by the machines of one run; default the run folder's name. */
  readonly rdzvId?: string;
  readonly device?: 'auto' | 'cuda' | 'cpu';
  readonly resume?: boolean;
  /** Further trainer flags (`--no-bf16`, `--compile`, `--seed N`, ...). */
  readonly trainerArgs?: readonly string[];
}

export interface Command {
  readonly command: string;
  readonly args: string[];
  /** The package folder. */
  readonly cwd: string;
}

/** The command line that starts the trainer for `launch`. */
export function torchLaunchCommand(launch: TorchLaunch): Command {
  const pkgDir = resolve(launch.packageDir);
  const script = join(pkgDir, 'train.py');
  const nproc = launch.nproc ?? 1;
  const nnodes = launch.nnodes ?? 1;
  if (!(Number.isInteger(nproc) && nproc >= 1))
    throw new TrainingError(`--nproc must be a positive integer, got ${nproc}`);
  if (!(Number.isInteger(nnodes) && nnodes >= 1))
    throw new TrainingError(`--nnodes must be a positive integer, got ${nnodes}`);
  if (nnodes > 1 && !launch.rdzvEndpoint)
    throw new TrainingError('--nnodes > 1 needs --rdzv-endpoint HOST:PORT (a machine every node reaches)');
  const trainer = [
    '--run',
    resolve(launch.runDir),
    '--data',
    resolve(launch.dataDir ?? join(pkgDir, 'data')),
    ...(launch.device ? ['--device', launch.device] : []),
    ...(launch.resume ? ['--resume'] : []),
    ...(launch.trainerArgs ?? []),
  ];
  const python = launch.python ?? process.env.NVCC_PYTHON ?? 'python3';
  if (nproc === 1 && nnodes === 1) return { command: python, args: [script, ...trainer], cwd: pkgDir };
  const rendezvous =
    nnodes === 1
      ? ['--standalone']
      : [
          '--rdzv_backend',
          'c10d',
          '--rdzv_endpoint',
          launch.rdzvEndpoint!,
          '--rdzv_id',
          launch.rdzvId ?? basename(resolve(launch.runDir)),
        ];
  return {
    command: python,
    args: [
      join(pkgDir, 'nvcc_torchrun.py'),
      '--nnodes',
      String(nnodes),
      '--nproc_per_node',
      String(nproc),
      ...rendezvous,
      script,
      ...trainer,
    ],
    cwd: pkgDir,
  };
}

/** Runs the trainer with the terminal attached; resolves with its exit code. */
export function runTorchEngine(launch: TorchLaunch): Promise<number> {
  const { command, args, cwd } = torchLaunchCommand(launch);
  return new Promise((resolveExit, reject) => {
    const child = spawn(command, args, { cwd, stdio: 'inherit' });
    child.on('error', (e) =>
      reject(
        new TrainingError(
          `cannot start ${command} (${e.message}); the torch engine needs Python with PyTorch (set ` +
            `NVCC_PYTHON or --python)`,
        ),
      ),
    );
    child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 128 : 1)));
  });
}

/**
 * Finishes a torch-engine run folder: per supervised stage the final evaluation from its
 * predictions.csv (runtime/metrics evaluateRun, `resamples` bootstrap resamples, the stage's
 * `evaluation` RNG fork, as the tfjs runner), written into metrics.json with the report's
 * `header` (default: the one metrics.json holds), then report.html by `writeReportOfRun`, as the
 * tfjs runner ends. Finishing a finished run again (same `resamples`) gives the same evaluation and report.
 * Returns the report's path.
 */
export async function finishTorchRun(
  runDir: string,
  resamples = 1000,
  report = true,
  header?: RunReportHeader,
): Promise<string | undefined> {
  const configPath = join(runDir, RUN_FILES.configJson);
  const metricsPath = join(runDir, RUN_FILES.metrics);
  if (!existsSync(configPath) || !existsSync(metricsPath))
    throw new TrainingError(`${runDir} is not a finished run (no ${RUN_FILES.configJson} or ${RUN_FILES.metrics})`);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as RunConfig;
  const metrics = JSON.parse(readFileSync(metricsPath, 'utf8')) as {
    stages: StageResult[];
    report?: RunReportHeader;
    [k: string]: unknown;
  };
  const classes = config.dataset.label.classes.map((c) => c.name);
  const stages = metrics.stages.map((result) => {
    const stage = config.spec.stages.find((s) => s.name === result.name);
    const file = join(runDir, 'stages', result.name, PREDICTIONS_FILE);
    if (stage?.kind !== 'supervised' || !existsSync(file)) return result;
    const text = readFileSync(file, 'utf8');
    const splits: Record<string, SplitScores> = {};
    for (const split of ['val', 'test'] as const) {
      const p = parsePredictionsCsv(text, classes, split, file);
      if (p.patientIds.length > 0) splits[split === 'val' ? 'validation' : split] = p;
    }
    if (!splits.validation) return result;
    const evaluation = evaluateRun(splits as { validation: SplitScores } & Record<string, SplitScores>, {
      rng: stageRoot(config.seed, stage).fork('evaluation'),
      resamples,
    });
    const previous = (result.evaluation ?? {}) as { loss?: unknown };
    const full = { kind: 'supervised', ...evaluation, ...(previous.loss ? { loss: previous.loss } : {}) };
    return { ...result, evaluation: full as never };
  });
  const reportHeader: RunReportHeader = { ...(header ?? metrics.report ?? {}), backend: 'torch' };
  await writeFileAtomic(
    metricsPath,
    `${JSON.stringify({ ...metrics, stages, report: reportHeader }, jsonNumbers, 2)}\n`,
  );
  // TensorBoard events and metrics.csv from the trainer's log, as the tfjs engine keeps them.
  const logPath = join(runDir, RUN_FILES.log);
  if (existsSync(logPath)) {
    const previous = findEventFile(runDir);
    const stamp = previous ? Number(basename(previous).slice(EVENTS_PREFIX.length).split('.')[0]) : Number.NaN;
    const elapsed = typeof metrics.elapsed === 'number' ? metrics.elapsed : 0;
    const runStart = Number.isFinite(stamp) ? stamp : Date.now() / 1000 - elapsed;
    new ScalarLog(runDir, { runStart, existing: readJsonl(logPath).records }).close();
  }
  return report ? writeReportOfRun(runDir) : undefined;
}
