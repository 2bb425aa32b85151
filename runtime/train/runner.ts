/**
 * The staged training engine.
 * In: a TrainSpec (runtime/train/spec.ts), the dataset it names (DatasetSpec, or already loaded
 * TrainingData), one ModelFactory per model reference, and a run folder. Out: per stage, a
 * trained model whose final (or kept-best) weights are in `stages/<name>/weights.safetensors`,
 * per-epoch validation metrics and a final validation/test evaluation in `log.jsonl` and
 * `metrics.json`, checkpoints in `checkpoints/ckpt-<seq>/`. Holds afterwards: every random
 * choice comes from a named RNG stream of the stage (init, data, augment, mask, dropout,
 * modality_dropout) whose state is in every checkpoint, so `resume` (or runTraining with
 * resume: true) continues from the newest complete checkpoint and, on a deterministic backend,
 * ends with the same weights bit for bit as an uninterrupted run; no step leaves tensors behind.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { basename, join, resolve as resolvePath } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendRequest } from '../backend.js';
import type { DatasetSpec } from '../data/spec.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { assignParameters, moduleToHost, saveWeights } from '../io/weights.js';
import { setInitRng, type Parameter, type Rng } from '../module.js';
import {
  AdamW,
  Lion,
  buildSchedule,
  decodeOptimizerState,
  encodeOptimizerState,
  isNoDecay,
  type Optimizer,
  type PhaseSpec,
  type Schedule,
} from '../optim/index.js';
import { createRng, restoreRng } from '../rng.js';
import { writeFileAtomic } from '../run/atomic.js';
import { saveResolvedConfig } from '../run/config.js';
import { JsonlLogger, type LogRecord, readJsonl } from '../run/jsonl.js';
import { EVENTS_PREFIX, findEventFile, ScalarLog } from '../run/scalars.js';
import { RUN_FILES } from '../run/rundir.js';
import type { ProgressDisplay } from '../run/progress.js';
import type { RunReportHeader } from './run-report.js';
import { acquireRunLock } from '../run/lock.js';
import { recordedPath } from '../run/recorded.js';
import { latestCheckpoint, pruneCheckpoints, readCheckpointFile, STATE_FILE, writeCheckpoint } from './checkpoint.js';
import { batchIndices, epochOrder, stepsPerEpoch, type TrainingData } from './data.js';
import {
  applyHandover,
  formatHandoverReport,
  formatHandoverSummary,
  freezeModules,
  type HandoverReport,
} from './handover.js';
import { trainingStep, type StepContext } from './step.js';
import { ParallelGradients, resolveThreads } from './parallel.js';
import { disposeBatch, hostToMap, jsonNumbers, stageRoot, TrainingError } from './common.js';
import {
  finalEvaluation,
  PREDICTIONS_FILE,
  predictionsCsv,
  validationMetrics,
  type SplitPredictions,
} from './evaluate.js';
import {
  DatasetTrainingData,
  loadTrainingData,
  readDataSource,
  saveDataSource,
  saveDataStats,
} from './dataset-adapter.js';
import type { ModelFactory, StageSpec, TrainableModel, TrainSpec } from './spec.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  fileDigest,
  intactCheckpoint,
  STREAMS,
  type BestState,
  type CheckpointState,
  type RunConfig,
  type StageResult,
  type StreamName,
} from './state.js';

export { TrainingError, stageRoot };

function bestFileName(epoch: number): string {
  return `best-epoch-${epoch}.safetensors`;
}

export type TrainEvent =
  | {
      readonly type: 'stage-start';
      readonly stage: string;
      readonly index: number;
      readonly epochs: number;
      readonly stepsPerEpoch: number;
      readonly parameters: number;
      readonly trainable: number;
      readonly resumedAt?: { epoch: number; step: number };
      readonly handover?: HandoverReport;
      readonly handoverTable?: string;
    }
  | {
      readonly type: 'step';
      readonly stage: string;
      readonly epoch: number;
      readonly step: number;
      readonly stepsPerEpoch: number;
      readonly globalStep: number;
      readonly loss: number;
      readonly lr: number;
    }
  | {
      readonly type: 'epoch';
      readonly stage: string;
      readonly epoch: number;
      readonly epochs: number;
      readonly trainLoss: number;
      readonly metrics: Readonly<Record<string, number>>;
    }
  | { readonly type: 'best'; readonly stage: string; readonly best: BestState }
  | { readonly type: 'checkpoint'; readonly path: string; readonly seq: number }
  | { readonly type: 'stage-end'; readonly stage: string; readonly result: StageResult }
  | { readonly type: 'interrupted'; readonly checkpoint: string };

export interface RunTrainingOptions {
  readonly spec: TrainSpec;
  readonly dataset: DatasetSpec;
  readonly models: Readonly<Record<string, ModelFactory>>;
  readonly runDir: string;
  /** Default: the NVCC_BACKEND environment variable, else auto. */
  readonly backend?: BackendRequest;
  /** Overrides spec.seed (`nvcc train --seed`). */
  readonly seed?: number;
  /** Per stage, weights to start from before the hand-over (RunConfig.init); kept in the run's config. */
  readonly init?: Readonly<Record<string, string>>;
  /** Continue the newest checkpoint in runDir instead of starting. */
  readonly resume?: boolean;
  readonly onEvent?: (event: TrainEvent) => void;
  /** The loaded dataset; default: loaded (and validated) from `dataset` by the data runtime. */
  readonly data?: TrainingData;
  /** Where relative paths of `dataset` start (the .nvc file's folder); default the cwd. */
  readonly dataBaseDir?: string;
  /** Aborting stops after the current step, writes a checkpoint and returns status 'interrupted'. */
  readonly signal?: AbortSignal;
  /** Complete checkpoints to keep (the newest ones); default 2. */
  readonly keepCheckpoints?: number;
  /** Bootstrap resamples of the final AUC confidence interval; default 1000. */
  readonly bootstrapResamples?: number;
  /** Where progress goes (the CLI passes createProgressDisplay()); default: nowhere. */
  readonly progress?: ProgressDisplay;
  /** Write report.html when the run completes; default true. */
  readonly report?: boolean;
  /** Where warnings go (a damaged checkpoint skipped on resume); default stderr. */
  readonly warn?: (message: string) => void;
  /** What report.html's header says about how the run was started (the command line, the variant). */
  readonly reportMeta?: { readonly command?: string; readonly variant?: string };
  /**
   * Threads for the training steps (`nvcc train --threads`); default NVCC_THREADS, else every
   * core. More than one needs `workerModels` and a wasm or cpu backend (the native tensorflow
   * backend threads its own kernels); see runtime/train/parallel.ts.
   */
  readonly threads?: number;
  /** Where worker threads import the stage factories from (the built train.js). Without it: one thread. */
  readonly workerModels?: string;
}

export interface RunResult {
  readonly status: 'completed' | 'interrupted';
  readonly runDir: string;
  readonly stages: readonly StageResult[];
  /** Path of report.html when one was written. */
  readonly report?: string;
  /** Seconds of training (all processes of a resumed run), as metrics.json and report.html give it. */
  readonly elapsed?: number;
}

/** The random streams of one stage (each a fork of the stage root by name). */
export interface Streams {
  readonly init: Rng;
  readonly data: Rng;
  readonly augment: Rng;
  readonly mask: Rng;
  readonly dropout: Rng;
  readonly modality_dropout: Rng;
}

export function freshStreams(root: Rng): Streams {
  return Object.fromEntries(STREAMS.map((k) => [k, root.fork(k)])) as unknown as Streams;
}

function restoreStreams(states: CheckpointState['rng']): Streams {
  return Object.fromEntries(STREAMS.map((k) => [k, restoreRng(states[k])])) as unknown as Streams;
}

function streamStates(s: Streams): Record<StreamName, ReturnType<Rng['state']>> {
  return Object.fromEntries(STREAMS.map((k) => [k, s[k].state()])) as Record<StreamName, ReturnType<Rng['state']>>;
}

/** Validates a spec against the models and the data before anything is written. */
export function checkSpec(spec: TrainSpec, models: Readonly<Record<string, ModelFactory>>): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  spec.stages.forEach((s, i) => {
    const where = `stage '${s.name}'`;
    if (seen.has(s.name)) problems.push(`${where}: a stage of this name already exists`);
    if (!models[s.model.factory])
      problems.push(
        `${where}: no model factory '${s.model.factory}' (have: ${Object.keys(models).join(', ') || 'none'})`,
      );
    if (!(Number.isInteger(s.epochs) && s.epochs > 0))
      problems.push(`${where}: epochs must be a positive integer, got ${s.epochs}`);
    if (!(Number.isInteger(s.batchSize) && s.batchSize > 0))
      problems.push(`${where}: batch must be a positive integer, got ${s.batchSize}`);
    if (s.microBatch !== undefined && !(Number.isInteger(s.microBatch) && s.microBatch > 0))
      problems.push(`${where}: micro_batch must be a positive integer, got ${s.microBatch}`);
    if ((s.kind === 'masked') !== (s.mask !== undefined))
      problems.push(`${where}: kind '${s.kind}' ${s.mask ? 'has' : 'lacks'} a mask policy`);
    if (s.kind === 'masked' && s.loss.kind !== 'masked_mse')
      problems.push(`${where}: a masked stage needs masked_mse, got ${s.loss.kind}`);
    if (s.kind === 'supervised' && s.loss.kind !== 'cross_entropy')
      problems.push(`${where}: a supervised stage needs cross_entropy, got ${s.loss.kind}`);
    if (s.mask && !(s.mask.ratio >= 0 && s.mask.ratio < 1))
      problems.push(`${where}: mask ratio must be in [0, 1), got ${s.mask.ratio}`);
    if (s.modalityDropout && !(s.modalityDropout.p >= 0 && s.modalityDropout.p <= 1))
      problems.push(`${where}: modality_dropout p must be in [0, 1]`);
    for (const m of s.modalityDropout?.modalities ?? [])
      if (!s.inputs.includes(m))
        problems.push(
          `${where}: modality_dropout names '${m}', which is not among the inputs [${s.inputs.join(', ')}]`,
        );
    if (s.keepBest && s.kind === 'supervised') {
      const metric = s.keepBest.metric.slice('val.'.length);
      if (metric !== 'loss' && !s.metrics.includes(metric as never))
        problems.push(
          `${where}: keep_best = ${s.keepBest.metric}, but '${metric}' is not in metrics [${s.metrics.join(', ')}]`,
        );
    }
    if (s.loss.kind === 'masked_mse' && !s.inputs.includes(s.loss.input))
      problems.push(`${where}: the masked_mse target '${s.loss.input}' is not among the inputs`);
    for (const h of s.handover) {
      const j = spec.stages.findIndex((x) => x.name === h.from);
      if (j < 0 || j >= i) problems.push(`${where}: weights from '${h.from}', which is not an earlier stage`);
    }
    if (s.keepBest && s.kind === 'masked' && s.keepBest.metric !== 'val.loss')
      problems.push(`${where}: a masked stage can keep the best only by val.loss`);
    seen.add(s.name);
  });
  if (spec.stages.length === 0) problems.push('the train declaration has no stages');
  if (problems.length > 0) throw new TrainingError(`cannot train ${spec.name}:\n  ${problems.join('\n  ')}`);
}

export function buildOptimizer(stage: StageSpec): Optimizer {
  const o = stage.optimizer;
  const noDecay = (path: string, p: Parameter): boolean =>
    o.noDecay.some((rule) => {
      switch (rule.kind) {
        case 'official':
          return isNoDecay(rule.rule, path, p);
        case 'flagged':
          return p.noDecay;
        case 'rank1':
          return p.variable.shape.length <= 1;
        case 'suffix':
          return path.endsWith(rule.suffix);
        case 'prefix':
          return path.startsWith(rule.prefix);
      }
    });
  const common = {
    weightDecay: o.weightDecay,
    noDecay,
    ...(o.clipGradNorm !== undefined ? { clipGradNorm: o.clipGradNorm } : {}),
  };
  return o.kind === 'lion'
    ? new Lion({ ...common, beta1: o.betas[0], beta2: o.betas[1] })
    : new AdamW({ ...common, beta1: o.betas[0], beta2: o.betas[1], ...(o.eps !== undefined ? { eps: o.eps } : {}) });
}

/** The stage's learning rate per step (also what `nvcc schedule` samples). */
export function buildStageSchedule(stage: StageSpec, steps: number): Schedule {
  const phases: PhaseSpec[] = stage.schedule.map((p) => ({ ...p }));
  return buildSchedule(phases.length === 0 ? 'constant' : phases, {
    baseLr: stage.optimizer.lr,
    stepsPerEpoch: steps,
    epochs: stage.epochs,
  });
}

/** Runs (or resumes) every stage of `spec`. */
export async function runTraining(options: RunTrainingOptions): Promise<RunResult> {
  checkSpec(options.spec, options.models);
  resolveThreads(options.threads); // a bad --threads or NVCC_THREADS is refused before any work
  await initBackend({ ...(options.backend ? { backend: options.backend } : {}), quiet: true });
  // Bad data is refused here (DataRefusedError naming file, row and column), before the run
  // folder is created, so nothing is written for a refused run.
  const data =
    options.data ??
    (await loadTrainingData(
      options.spec,
      options.dataset,
      options.dataBaseDir ? { baseDir: options.dataBaseDir } : {},
    ));
  const config: RunConfig = {
    spec: options.spec,
    dataset: options.dataset,
    seed: options.seed ?? options.spec.seed,
    ...(options.init && Object.keys(options.init).length > 0 ? { init: options.init } : {}),
  };
  return new Runner(options, data, config).run();
}

/**
 * For the CLI: an AbortSignal that fires on the first SIGINT/SIGTERM, so the runner stops after
 * the current step and writes a checkpoint; a second signal exits at once (exit code 130).
 * Call `dispose()` when training returns.
 */
export function abortOnSignals(
  signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
  onFirst?: (signal: NodeJS.Signals) => void,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    onFirst?.(sig);
    controller.abort();
  };
  for (const s of signals) process.on(s, handler);
  return { signal: controller.signal, dispose: () => signals.forEach((s) => process.off(s, handler)) };
}

function warnOnStderr(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/** Continues the run in `runDir` from its newest checkpoint, with the configuration stored there. */
export async function resume(
  runDir: string,
  options: Omit<RunTrainingOptions, 'spec' | 'dataset' | 'runDir' | 'resume' | 'seed'>,
): Promise<RunResult> {
  const state = intactCheckpoint(runDir).state;
  // Relative data paths start where they started for the run, unless the caller says otherwise.
  const baseDir = options.dataBaseDir ?? readDataSource(runDir)?.baseDir;
  return runTraining({
    ...options,
    ...(baseDir ? { dataBaseDir: baseDir } : {}),
    spec: state.config.spec,
    dataset: state.config.dataset,
    seed: state.config.seed,
    ...(state.config.init ? { init: state.config.init } : {}),
    runDir,
    resume: true,
  });
}

class Runner {
  private logger!: JsonlLogger;
  private scalars: ScalarLog | undefined;
  private seq = 0;
  private elapsedBefore = 0;
  private readonly startedAt = Date.now();
  private finished: StageResult[] = [];

  constructor(
    private readonly options: RunTrainingOptions,
    private readonly data: TrainingData,
    private readonly config: RunConfig,
  ) {}

  private emit(event: TrainEvent): void {
    this.options.onEvent?.(event);
  }

  private elapsed(): number {
    return this.elapsedBefore + (Date.now() - this.startedAt) / 1000;
  }

  /** TensorBoard events and metrics.csv follow the log; a resumed run keeps its event file's name. */
  private openScalarLog(existing: readonly LogRecord[]): void {
    const previous = findEventFile(this.options.runDir);
    const stamp = previous ? Number(basename(previous).slice(EVENTS_PREFIX.length).split('.')[0]) : Number.NaN;
    const runStart = Number.isFinite(stamp) ? stamp : Date.now() / 1000;
    this.scalars = new ScalarLog(this.options.runDir, { runStart, existing });
    const scalars = this.scalars;
    this.logger.onRecord((record) => scalars.add(record));
  }

  /**
   * Runs holding the run folder's lock (runtime/run/lock.ts): a second process training or
   * resuming the same folder is refused naming the holder; a lock left by a killed process is
   * stale and taken over.
   */
  async run(): Promise<RunResult> {
    const { runDir } = this.options;
    if (!this.options.resume) mkdirSync(runDir, { recursive: true });
    const lock = acquireRunLock(runDir, this.options.resume ? 'train --resume' : 'train');
    try {
      return await this.runLocked();
    } finally {
      lock.release();
    }
  }

  private async runLocked(): Promise<RunResult> {
    const { runDir } = this.options;
    const spec = this.config.spec;
    let resumeState: CheckpointState | undefined;
    let resumePath: string | undefined;
    if (this.options.resume) {
      const latest = intactCheckpoint(runDir, this.options.warn ?? warnOnStderr, true);
      resumePath = latest.path;
      resumeState = latest.state;
      if (JSON.stringify(resumeState.config) !== JSON.stringify(this.config)) {
        throw new TrainingError(
          `cannot resume ${runDir}: the configuration differs from the one the run started with (see ` +
            `${join(runDir, RUN_FILES.configJson)})`,
        );
      }
      this.seq = resumeState.seq;
      this.elapsedBefore = resumeState.elapsed;
      this.finished = [...resumeState.finished];
      const logPath = join(runDir, RUN_FILES.log);
      // Steps after the checkpoint will be taken again; their log lines are cut so each appears once.
      if (existsSync(logPath) && statSync(logPath).size > resumeState.logBytes)
        truncateSync(logPath, resumeState.logBytes);
      this.logger = JsonlLogger.open(logPath, { resume: true });
      this.openScalarLog(readJsonl(logPath).records);
      this.logger.log({
        type: 'resume',
        checkpoint: latest.path,
        ...(latest.setAside.length ? { damaged: latest.setAside } : {}),
        stage: resumeState.stage,
        epoch: resumeState.epoch + 1,
        step: resumeState.step,
        elapsed: resumeState.elapsed,
      });
    } else {
      mkdirSync(runDir, { recursive: true });
      if (latestCheckpoint(runDir))
        throw new TrainingError(`${runDir} already holds a run; resume it or choose another folder`);
      await saveResolvedConfig(runDir, this.config);
      // eval and predict normalise new data with the training split's statistics.
      if (this.data instanceof DatasetTrainingData) {
        await saveDataStats(runDir, this.data.dataset.stats);
        await saveDataSource(runDir, resolvePath(this.options.dataBaseDir ?? '.'));
      }
      this.logger = JsonlLogger.open(join(runDir, RUN_FILES.log));
      this.openScalarLog([]);
      this.logger.log({
        type: 'run',
        name: spec.name,
        dataset: spec.dataset,
        seed: this.config.seed,
        stages: spec.stages.map((s) => s.name),
      });
    }
    try {
      const first = resumeState?.stageIndex ?? 0;
      for (let i = first; i < spec.stages.length; i++) {
        const fromCheckpoint =
          i === first && resumeState?.hasModel ? { state: resumeState, path: resumePath! } : undefined;
        const outcome = await this.runStage(i, fromCheckpoint);
        if (outcome === 'interrupted') return { status: 'interrupted', runDir, stages: this.finished };
      }
      if (first < spec.stages.length) {
        // A final checkpoint past the last stage: resuming a finished run redoes nothing.
        const done = freshStreams(createRng(this.config.seed).fork('done'));
        await this.checkpoint({
          stageIndex: spec.stages.length,
          stage: '',
          epoch: 0,
          step: 0,
          stageStep: 0,
          order: null,
          epochLoss: { sum: 0, count: 0 },
          rng: streamStates(done),
          best: null,
          hasModel: false,
        });
      }
      // One measurement of the run's duration for metrics.json, report.html and the console.
      const elapsed = this.elapsed();
      await this.writeSummary(elapsed);
      const report = this.options.report === false ? undefined : await this.writeReport();
      return { status: 'completed', runDir, stages: this.finished, elapsed, ...(report ? { report } : {}) };
    } finally {
      this.logger.close();
      this.scalars?.close();
    }
  }

  private async runStage(
    index: number,
    resumeFrom: { state: CheckpointState; path: string } | undefined,
  ): Promise<'done' | 'interrupted'> {
    const spec = this.config.spec;
    const stage = spec.stages[index]!;
    const trainSize = this.data.size('train');
    const steps = stepsPerEpoch(trainSize, stage.batchSize);
    if (steps === 0) throw new TrainingError(`stage '${stage.name}': the train split is empty`);
    if (stage.keepBest && this.data.size('val') === 0)
      throw new TrainingError(
        `stage '${stage.name}': keep_best = ${stage.keepBest.metric} needs a validation split, and it is empty`,
      );
    const schedule = buildStageSchedule(stage, steps);

    const streams = resumeFrom
      ? restoreStreams(resumeFrom.state.rng)
      : freshStreams(stageRoot(this.config.seed, stage));
    // The model is always built from a fresh init stream so its construction is the same
    // whether or not the weights are then replaced from a checkpoint.
    setInitRng(stageRoot(this.config.seed, stage).fork('init'));
    const model = this.options.models[stage.model.factory]!.create();
    const optimizer = buildOptimizer(stage);
    let handover: HandoverReport | undefined;
    let epoch = 0;
    let step = 0;
    let stageStep = 0;
    let order: number[] | null = null;
    let lossSum = 0;
    let lossCount = 0;
    /** Samples seen this epoch and, per modality, how many had it thrown (random throw). */
    let thrown: Record<string, number> = {};
    let best: BestState | null = null;
    let parallel: ParallelGradients | undefined;
    try {
      if (resumeFrom) {
        const { state, path } = resumeFrom;
        assignParameters(
          model,
          hostToMap(readCheckpointFile(path, 'model.safetensors'), `${path}/model.safetensors`),
          `${path}/model.safetensors`,
        );
        optimizer.loadState(
          decodeOptimizerState(readCheckpointFile(path, 'optimizer.safetensors'), `${path}/optimizer.safetensors`),
        );
        ({ epoch, step, stageStep } = state);
        order = state.order ? [...state.order] : null;
        lossSum = state.epochLoss.sum;
        lossCount = state.epochLoss.count;
        thrown = { ...(state.epochLoss.thrown ?? {}) };
        best = state.best;
      } else {
        const init = this.config.init?.[stage.name];
        // Before the hand-over, as the torch trainer: handed-over weights win where both give one.
        if (init) {
          const file = recordedPath(init, {
            runDir: this.options.runDir,
            recordedIn: join(this.options.runDir, RUN_FILES.configJson),
            what: `stage ${stage.name}'s init weights`,
            kind: 'file',
          });
          assignParameters(model, hostToMap(readFileSync(file), file), file, { strict: false });
          this.logger.log({ type: 'init', stage: stage.name, file: init });
        }
        if (stage.handover.length > 0) handover = this.handOver(model, stage);
      }
      const progress = this.options.progress;
      progress?.startStage({
        stage: stage.name,
        epochs: stage.epochs,
        stepsPerEpoch: steps,
        epoch: Math.min(epoch, stage.epochs - 1) + 1,
        step,
      });
      if (handover)
        progress?.message(
          `stage ${stage.name}: weights handed over (every tensor in log.jsonl)\n${formatHandoverSummary(handover)}`,
        );
      const frozen = freezeModules(model, stage.freeze);
      if (frozen.length > 0)
        progress?.message(
          `stage ${stage.name}: ${frozen.length} parameter tensors frozen (${stage.freeze.join(', ')})`,
        );
      const params = model.namedParameters();
      const trainable = params.filter(([, p]) => p.trainable);
      this.emit({
        type: 'stage-start',
        stage: stage.name,
        index,
        epochs: stage.epochs,
        stepsPerEpoch: steps,
        parameters: model.parameterCount(),
        trainable: trainable.reduce((n, [, p]) => n + p.variable.size, 0),
        ...(resumeFrom ? { resumedAt: { epoch, step } } : {}),
        ...(handover ? { handover, handoverTable: formatHandoverReport(handover) } : {}),
      });
      if (!resumeFrom) {
        this.logger.log({
          type: 'stage',
          stage: stage.name,
          kind: stage.kind,
          model: stage.model.className,
          parameters: model.parameterCount(),
          frozen,
          groups: optimizer.groups(params),
          stepsPerEpoch: steps,
          ...(handover
            ? {
                handover: handover.loaded.map((e) => ({
                  source: `${e.fromStage}.${e.source}`,
                  target: e.target,
                  shape: e.shape,
                  count: e.count,
                })),
                fresh: handover.fresh.map((f) => f.path),
              }
            : {}),
        });
      }
      const varToPath = new Map(params.map(([path, p]) => [p.variable.name, path] as const));
      const varList = trainable.map(([, p]) => p.variable);
      parallel = await this.startThreads(stage, model);
      const stepContext: StepContext = {
        stage,
        model,
        optimizer,
        params,
        varList,
        varToPath,
        ...(parallel ? { gradients: parallel } : {}),
      };
      const everySteps = spec.checkpointEverySteps;

      const snapshot = async (): Promise<string> =>
        this.checkpoint(
          {
            stageIndex: index,
            stage: stage.name,
            epoch,
            step,
            stageStep,
            order,
            epochLoss: { sum: lossSum, count: lossCount, thrown },
            rng: streamStates(streams),
            best,
            hasModel: true,
          },
          model,
          optimizer,
        );

      while (epoch < stage.epochs) {
        if (order === null) {
          order = epochOrder(streams.data, trainSize);
          lossSum = 0;
          lossCount = 0;
          thrown = {};
        }
        while (step < steps) {
          // Let the event loop run once per step: a step's awaits resolve as microtasks only,
          // so without this a SIGINT handler (and any timer) would wait for the next file write.
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.options.signal?.aborted) {
            const path = await snapshot();
            this.logger.log({ type: 'interrupted', stage: stage.name, epoch: epoch + 1, step, checkpoint: path });
            this.emit({ type: 'interrupted', checkpoint: path });
            return 'interrupted';
          }
          const lr = schedule.at(stageStep);
          const batch = this.data.load(
            'train',
            batchIndices(order, step, stage.batchSize),
            stage.augment && Object.keys(stage.augment).length > 0
              ? { spec: stage.augment, rng: streams.augment }
              : undefined,
          );
          let loss: number;
          try {
            const out = await trainingStep(stepContext, batch, streams, lr);
            loss = out.loss;
            if (out.thrown) for (const [k, v] of Object.entries(out.thrown)) thrown[k] = (thrown[k] ?? 0) + v;
          } finally {
            disposeBatch(batch);
          }
          if (!Number.isFinite(loss)) {
            throw new TrainingError(
              `stage '${stage.name}', epoch ${epoch + 1}, step ${step + 1}: the loss is ${loss}; lower the ` +
                `learning rate (now ${lr}) or check the data`,
            );
          }
          step++;
          stageStep++;
          lossSum += loss;
          lossCount++;
          this.logger.step({
            stage: stage.name,
            epoch: epoch + 1,
            step,
            globalStep: stageStep,
            loss,
            lr,
            elapsed: this.elapsed(),
          });
          this.emit({
            type: 'step',
            stage: stage.name,
            epoch: epoch + 1,
            step,
            stepsPerEpoch: steps,
            globalStep: stageStep,
            loss,
            lr,
          });
          progress?.update({ epoch: epoch + 1, step, loss, lr });
          if (everySteps && stageStep % everySteps === 0 && step < steps) await snapshot();
        }
        // Epoch end: validate, keep the best, log, checkpoint at the boundary.
        const metrics = await validationMetrics(stage, model, this.data, this.config);
        const trainLoss = lossSum / lossCount;
        epoch++;
        step = 0;
        order = null;
        if (stage.keepBest) {
          const key = stage.keepBest.metric.slice('val.'.length);
          const value = metrics[key];
          if (value === undefined)
            throw new TrainingError(
              `stage '${stage.name}': keep_best = ${stage.keepBest.metric}, but that metric is not computed ` +
                `(add it to metrics)`,
            );
          const better =
            Number.isFinite(value) &&
            (best === null || (stage.keepBest.mode === 'max' ? value > best.value : value < best.value));
          if (better) {
            best = { metric: stage.keepBest.metric, mode: stage.keepBest.mode, value, epoch };
            // One file per improving epoch: a process killed after writing it but before the
            // checkpoint leaves a file no checkpoint refers to, never a wrong "best".
            await saveWeights(model, this.stagePath(stage.name, bestFileName(epoch)), {
              metadata: { stage: stage.name, epoch: String(epoch), [stage.keepBest.metric]: String(value) },
            });
            this.emit({ type: 'best', stage: stage.name, best });
          }
        }
        this.logger.epoch({
          stage: stage.name,
          epoch,
          trainLoss,
          lr: schedule.at(Math.max(0, stageStep - 1)),
          metrics,
          elapsed: this.elapsed(),
          ...(best ? { best } : {}),
          ...(stage.modalityDropout && stage.modalityDropout.p > 0 ? { randomThrow: thrown } : {}),
        });
        this.logger.sync();
        this.emit({ type: 'epoch', stage: stage.name, epoch, epochs: stage.epochs, trainLoss, metrics });
        progress?.endEpoch({ epoch, trainLoss, metrics });
        await snapshot();
      }

      // Stage end: restore the kept best, evaluate on validation and test, hand over.
      if (best) {
        const bestPath = this.stagePath(stage.name, bestFileName(best.epoch));
        assignParameters(model, hostToMap(readFileSync(bestPath), bestPath), bestPath);
        await saveWeights(model, this.stagePath(stage.name, 'best.safetensors'), {
          metadata: { stage: stage.name, epoch: String(best.epoch), [best.metric]: String(best.value) },
        });
        for (const f of readdirSync(join(this.options.runDir, 'stages', stage.name))) {
          if (/^best-epoch-\d+\.(safetensors|json)$/.test(f))
            rmSync(join(this.options.runDir, 'stages', stage.name, f), { force: true });
        }
      }
      const weights = join('stages', stage.name, 'weights.safetensors');
      await saveWeights(model, this.stagePath(stage.name, 'weights.safetensors'), {
        metadata: {
          stage: stage.name,
          ...(best ? { kept_best: `${best.metric}=${best.value} at epoch ${best.epoch}` } : {}),
        },
      });
      const predictions: SplitPredictions[] = [];
      const evaluation = await finalEvaluation(
        stage,
        model,
        this.data,
        this.config,
        this.options.bootstrapResamples ?? 1000,
        ['test'],
        predictions,
      );
      if (predictions.length > 0)
        await writeFileAtomic(
          this.stagePath(stage.name, PREDICTIONS_FILE),
          predictionsCsv(predictions, this.data.classes),
        );
      const result: StageResult = {
        name: stage.name,
        kind: stage.kind,
        epochs: stage.epochs,
        weights,
        ...(best ? { best } : {}),
        evaluation: evaluation as never,
      };
      this.finished.push(result);
      this.logger.log({ type: 'stage-end', stage: stage.name, weights, ...(best ? { best } : {}), evaluation });
      this.emit({ type: 'stage-end', stage: stage.name, result });
      // A boundary checkpoint: the next stage starts fresh from here on resume.
      const next = this.config.spec.stages[index + 1];
      if (next) {
        const nextStreams = freshStreams(stageRoot(this.config.seed, next));
        await this.checkpoint({
          stageIndex: index + 1,
          stage: next.name,
          epoch: 0,
          step: 0,
          stageStep: 0,
          order: null,
          epochLoss: { sum: 0, count: 0 },
          rng: streamStates(nextStreams),
          best: null,
          hasModel: false,
        });
      }
      return 'done';
    } finally {
      await parallel?.close();
      this.options.progress?.endStage();
      optimizer.dispose();
      model.dispose();
    }
  }

  /** Worker threads for the stage's steps, when more than one thread is asked for and possible. */
  private async startThreads(stage: StageSpec, model: TrainableModel): Promise<ParallelGradients | undefined> {
    const threads = Math.min(resolveThreads(this.options.threads), stage.batchSize);
    const backend = tf.getBackend();
    if (threads <= 1 || !this.options.workerModels || (backend !== 'wasm' && backend !== 'cpu')) return undefined;
    const engine = await ParallelGradients.start({
      threads,
      stage,
      model,
      source: { module: this.options.workerModels, table: 'factories' },
    });
    this.options.progress?.message(`stage ${stage.name}: training steps on ${threads} threads (${tf.getBackend()})`);
    return engine;
  }

  private stagePath(stage: string, file: string): string {
    const dir = join(this.options.runDir, 'stages', stage);
    mkdirSync(dir, { recursive: true });
    return join(dir, file);
  }

  private handOver(model: TrainableModel, stage: StageSpec): HandoverReport {
    const sources = new Map<string, Map<string, tf.Tensor>>();
    const created: tf.Tensor[] = [];
    try {
      for (const h of stage.handover) {
        const done = this.finished.find((r) => r.name === h.from);
        if (!done)
          throw new TrainingError(
            `stage '${stage.name}': stage '${h.from}' has not finished, so it has no weights to hand over`,
          );
        const file = recordedPath(done.weights, {
          runDir: this.options.runDir,
          recordedIn: 'the checkpoint state',
          what: `the weights of stage '${h.from}'`,
          kind: 'file',
          roots: [],
        });
        const host = hostToMap(readFileSync(file), file);
        const tensors = new Map<string, tf.Tensor>();
        for (const [k, t] of host) {
          const x = tf.tensor(t.data, [...t.shape], t.dtype);
          created.push(x);
          tensors.set(k, x);
        }
        sources.set(h.from, tensors);
      }
      return applyHandover(model, stage.handover, sources);
    } finally {
      for (const t of created) t.dispose();
    }
  }

  private async checkpoint(
    position: Omit<CheckpointState, 'format' | 'version' | 'seq' | 'logBytes' | 'elapsed' | 'finished' | 'config'>,
    model?: TrainableModel,
    optimizer?: Optimizer,
  ): Promise<string> {
    this.logger.sync();
    const logPath = join(this.options.runDir, RUN_FILES.log);
    const state: CheckpointState = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      seq: this.seq + 1,
      ...position,
      logBytes: existsSync(logPath) ? statSync(logPath).size : 0,
      elapsed: this.elapsed(),
      finished: this.finished,
      config: this.config,
    };
    const files = new Map<string, Uint8Array | string>();
    if (model && optimizer) {
      files.set(
        'model.safetensors',
        encodeSafetensors(await moduleToHost(model), { format: 'nvcc-weights', stage: position.stage }),
      );
      files.set('optimizer.safetensors', encodeOptimizerState(await optimizer.state()));
    }
    // Digests of the tensor files let a resume tell a damaged checkpoint from an intact one.
    const digests = Object.fromEntries([...files].map(([name, bytes]) => [name, fileDigest(bytes)]));
    files.set(STATE_FILE, `${JSON.stringify({ ...state, files: digests })}\n`);
    const path = await writeCheckpoint(this.options.runDir, state.seq, files);
    this.seq = state.seq;
    pruneCheckpoints(this.options.runDir, this.options.keepCheckpoints ?? 2);
    this.emit({ type: 'checkpoint', path, seq: state.seq });
    return path;
  }

  /** report.html over the whole log, from the run summary just written (as `nvcc report` makes it). */
  private async writeReport(): Promise<string> {
    const { writeReportOfRun } = await import('./run-report.js');
    return writeReportOfRun(this.options.runDir);
  }

  private async writeSummary(elapsed: number): Promise<void> {
    const classes = this.data.classes;
    // What report.html's header says and the run's files do not, kept so `nvcc report` says it too.
    const report: RunReportHeader = {
      ...(this.options.reportMeta ?? {}),
      backend: tf.getBackend(),
      ...(classes.length === 2 ? { classNames: [classes[0]!, classes[1]!] as const } : {}),
    };
    const summary = {
      name: this.config.spec.name,
      seed: this.config.seed,
      elapsed,
      stages: this.finished,
      report,
    };
    await writeFileAtomic(join(this.options.runDir, RUN_FILES.metrics), `${JSON.stringify(summary, jsonNumbers, 2)}\n`);
  }
}
