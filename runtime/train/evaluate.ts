/**
 * Scoring a model on a split, per-epoch validation, the final evaluation, and the two entry
 * points that work on a finished (or interrupted) run folder: `evaluateCheckpoint` and
 * `predict`.
 * In: a stage, a model with its weights, and samples (labelled for evaluation, unlabelled for
 * prediction). Out: losses, per-patient pooled scores, metrics with the threshold chosen on
 * the validation split (never on the split being reported), and a CSV of per-patient
 * probabilities. Holds afterwards: evaluation uses no training RNG stream (fixed masks from
 * the stage root, no augmentation, training = false), so scoring the same weights twice gives
 * the same numbers; every tensor created is disposed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parse as parseCsv } from 'csv-parse/sync';
import { initBackend, type BackendRequest } from '../backend.js';
import { assignParameters } from '../io/weights.js';
import { evaluateRun, poolByPatient, type RunEvaluation, type SplitScores } from '../metrics/index.js';
import { setInitRng, type ForwardContext } from '../module.js';
import { createRng } from '../rng.js';
import { writeFileAtomic } from '../run/atomic.js';
import { recordedPath } from '../run/recorded.js';
import { RUN_FILES } from '../run/rundir.js';
import { latestCheckpoint } from './checkpoint.js';
import {
  disposeBatch,
  hostToMap,
  imageInputOf,
  jsonNumbers,
  pick,
  poolingOf,
  stageRoot,
  TrainingError,
} from './common.js';
import { evaluationBatches, type Batch, type SplitName, type TrainingData } from './data.js';
import { drawMask, evaluationOutputs } from './objective.js';
import type { ModelFactory, PoolingKind, StageSpec, TrainableModel } from './spec.js';
import { intactCheckpoint, readCheckpointState, type RunConfig, type StageResult } from './state.js';

/** Samples to score: a split of TrainingData, or new (unlabelled) patients. */
export interface SampleSource {
  readonly size: number;
  load(indices: readonly number[]): Batch;
}

export function splitSource(data: TrainingData, split: SplitName): SampleSource {
  return { size: data.size(split), load: (indices) => data.load(split, indices) };
}

export interface SplitScoring {
  /** Mean loss per image (NaN without labels). */
  readonly loss: number;
  /** Per-patient pooled scores (supervised stages with labels). */
  readonly patients: SplitScores & { readonly patientIds: string[] };
  /** Per-image probabilities of the positive class, in sample order (supervised stages). */
  readonly images: { readonly patientIds: string[]; readonly probabilities: number[] };
}

/** Runs the model over `source` in order: no augmentation, no dropout, fixed masks. */
export async function scoreSource(
  stage: StageSpec,
  model: TrainableModel,
  source: SampleSource,
  runSeed: number,
  pooling: PoolingKind,
  maskLabel: string,
): Promise<SplitScoring> {
  const maskRng = stageRoot(runSeed, stage).fork(`eval-mask:${maskLabel}`);
  const dropoutRng = createRng(0);
  let lossSum = 0;
  let n = 0;
  const ids: string[] = [];
  const labels: number[] = [];
  const probs: number[] = [];
  let labelled = true;
  for (const indices of evaluationBatches(source.size, stage.batchSize)) {
    const batch = source.load(indices);
    try {
      const { loss, positive } = tf.tidy(() => {
        const inputs = pick(batch.inputs, stage.inputs);
        const mask = stage.mask ? drawMask(stage.mask, inputs[imageInputOf(stage)]!, maskRng) : undefined;
        const ctx: ForwardContext = { training: false, rng: dropoutRng, ...(mask ? { mask } : {}) };
        return evaluationOutputs(stage, model, ctx, inputs, batch.labels);
      });
      lossSum += (await loss.data())[0]! * indices.length;
      n += indices.length;
      loss.dispose();
      if (positive) {
        probs.push(...(await positive.data()));
        positive.dispose();
        ids.push(...batch.patientIds);
        if (batch.labels) labels.push(...((await batch.labels.data()) as Int32Array));
        else labelled = false;
      }
    } finally {
      disposeBatch(batch);
    }
  }
  const images = { patientIds: ids, probabilities: probs };
  if (stage.kind !== 'supervised' || ids.length === 0)
    return { loss: n > 0 ? lossSum / n : Number.NaN, patients: { labels: [], scores: [], patientIds: [] }, images };
  const pooled = poolByPatient(ids, labelled ? labels : ids.map(() => 0), probs, pooling);
  return {
    loss: n > 0 ? lossSum / n : Number.NaN,
    patients: {
      labels: labelled ? pooled.labels : [],
      scores: pooled.scores,
      imageCounts: pooled.imageCounts,
      patientIds: pooled.patientIds,
    },
    images,
  };
}

/** The numbers logged after every epoch: validation loss, and for supervised stages the metrics. */
export async function validationMetrics(
  stage: StageSpec,
  model: TrainableModel,
  data: TrainingData,
  config: RunConfig,
): Promise<Record<string, number>> {
  if (data.size('val') === 0) return {};
  const out = await scoreSource(
    stage,
    model,
    splitSource(data, 'val'),
    config.seed,
    poolingOf(stage, config.spec, config.dataset),
    'val',
  );
  if (stage.kind === 'masked') return { loss: out.loss };
  const evaluation = evaluateRun(
    { validation: out.patients },
    { rng: stageRoot(config.seed, stage).fork('evaluation'), resamples: 0 },
  );
  const v = evaluation.splits[0]!;
  const all: Record<string, number> = {
    loss: out.loss,
    auc: v.auc,
    accuracy: v.accuracy,
    sensitivity: v.sensitivity,
    specificity: v.specificity,
    threshold: evaluation.threshold,
  };
  const wanted = new Set<string>(['loss', 'threshold', ...stage.metrics]);
  return Object.fromEntries(Object.entries(all).filter(([k]) => wanted.has(k)));
}

/** One split's per-patient pooled scores, as written to a stage's `predictions.csv`. */
export interface SplitPredictions {
  readonly split: SplitName;
  readonly patientIds: readonly string[];
  /** Class indices (1 = positive). */
  readonly labels: ArrayLike<number>;
  /** Probability of the positive class, pooled over the patient's images. */
  readonly scores: ArrayLike<number>;
  readonly imageCounts?: ArrayLike<number>;
}

/** File name of a stage's per-patient scores (validation and test), next to its weights. */
export const PREDICTIONS_FILE = 'predictions.csv';

/**
 * `split,patient_id,label,images,score` rows (label: class name; score: probability of
 * `classes[1]`, the shortest decimal that reads back as the same number), so a study can compare
 * models patient by patient and recompute every figure, at-threshold scores included.
 */
export function predictionsCsv(predictions: readonly SplitPredictions[], classes: readonly string[]): string {
  const quote = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = ['split,patient_id,label,images,score'];
  for (const p of predictions) {
    p.patientIds.forEach((id, i) => {
      const label = classes[p.labels[i] as number] ?? String(p.labels[i]);
      lines.push(
        [p.split, quote(id), quote(label), String(p.imageCounts?.[i] ?? ''), String(p.scores[i] as number)].join(','),
      );
    });
  }
  return `${lines.join('\n')}\n`;
}

/** Reads a `predictions.csv` back: the rows of one split, labels as class indices of `classes`. */
export function parsePredictionsCsv(
  text: string,
  classes: readonly string[],
  split: SplitName,
  file: string,
): SplitPredictions {
  let rows: string[][];
  try {
    rows = parseCsv(text, { relax_column_count: false, skip_empty_lines: true }) as string[][];
  } catch (e) {
    throw new TrainingError(`${file}: ${(e as Error).message}`);
  }
  if (rows[0]?.join(',') !== 'split,patient_id,label,images,score')
    throw new TrainingError(`${file}: not a predictions file (header is \`${rows[0]?.join(',') ?? ''}\`)`);
  const out = {
    split,
    patientIds: [] as string[],
    labels: [] as number[],
    scores: [] as number[],
    imageCounts: [] as number[],
  };
  rows.slice(1).forEach(([rowSplit, id, labelName, images, scoreText], i) => {
    if (rowSplit !== split) return;
    const label = classes.indexOf(labelName!);
    const score = Number(scoreText);
    if (label < 0)
      throw new TrainingError(
        `${file}:${i + 2}, column label: \`${labelName}\` is not a class (${classes.join(', ')})`,
      );
    if (scoreText === '' || !Number.isFinite(score))
      throw new TrainingError(`${file}:${i + 2}, column score: \`${scoreText}\` is not a number`);
    out.patientIds.push(id!);
    out.labels.push(label);
    out.scores.push(score);
    out.imageCounts.push(Number(images));
  });
  return out;
}

export type FinalEvaluation =
  | { readonly kind: 'masked'; readonly loss: Readonly<Record<string, number>> }
  | (RunEvaluation & { readonly kind: 'supervised'; readonly loss: Readonly<Record<string, number>> })
  | { readonly kind: 'none'; readonly warning: string };

/**
 * Validation and the other splits with the threshold chosen on validation and a bootstrap CI.
 * `splits` lists the splits to report besides validation (default: test).
 */
export async function finalEvaluation(
  stage: StageSpec,
  model: TrainableModel,
  data: TrainingData,
  config: RunConfig,
  resamples: number,
  splits: readonly SplitName[] = ['test'],
  predictions?: SplitPredictions[],
): Promise<FinalEvaluation> {
  const wanted: SplitName[] = (['val', ...splits.filter((s) => s !== 'val')] as SplitName[]).filter(
    (s) => data.size(s) > 0,
  );
  const pooling = poolingOf(stage, config.spec, config.dataset);
  if (stage.kind === 'masked') {
    const loss: Record<string, number> = {};
    for (const s of wanted)
      loss[s] = (await scoreSource(stage, model, splitSource(data, s), config.seed, pooling, s)).loss;
    return { kind: 'masked', loss };
  }
  if (!wanted.includes('val'))
    return { kind: 'none', warning: 'no validation split: no threshold can be chosen, so no metrics' };
  const scored: Record<string, SplitScores> = {};
  const loss: Record<string, number> = {};
  for (const s of wanted) {
    const r = await scoreSource(stage, model, splitSource(data, s), config.seed, pooling, s);
    scored[s === 'val' ? 'validation' : s] = r.patients;
    loss[s] = r.loss;
    predictions?.push({ split: s, ...r.patients });
  }
  const evaluation = evaluateRun(scored as { validation: SplitScores } & Record<string, SplitScores>, {
    rng: stageRoot(config.seed, stage).fork('evaluation'),
    resamples,
  });
  return { kind: 'supervised', ...evaluation, loss };
}

// ---------------------------------------------------------------------------------------------
// Working on a run folder after (or during) training.

/** The resolved configuration of a run folder. */
export function readRunConfig(runDir: string): RunConfig {
  const path = join(runDir, RUN_FILES.configJson);
  if (existsSync(path)) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as RunConfig;
    } catch (e) {
      throw new TrainingError(`${path} is not valid JSON (${(e as Error).message}); the run's configuration is lost`);
    }
  }
  if (!latestCheckpoint(runDir))
    throw new TrainingError(`${runDir} is not a run folder (no ${RUN_FILES.configJson}, no checkpoint)`);
  return intactCheckpoint(runDir).state.config;
}

function finishedStages(runDir: string): StageResult[] {
  const path = join(runDir, RUN_FILES.metrics);
  if (!existsSync(path)) return [];
  return (JSON.parse(readFileSync(path, 'utf8')) as { stages: StageResult[] }).stages;
}

function chooseStage(config: RunConfig, name: string | undefined, supervisedOnly: boolean): StageSpec {
  const stages = config.spec.stages;
  if (name !== undefined) {
    const s = stages.find((x) => x.name === name);
    if (!s) throw new TrainingError(`the run has no stage '${name}' (stages: ${stages.map((x) => x.name).join(', ')})`);
    if (supervisedOnly && s.kind !== 'supervised')
      throw new TrainingError(`stage '${name}' is self-supervised; it gives no class probabilities`);
    return s;
  }
  const s = [...stages].reverse().find((x) => !supervisedOnly || x.kind === 'supervised');
  if (!s) throw new TrainingError('the run has no supervised stage');
  return s;
}

/**
 * Builds the stage's model and loads weights: a weights file, a checkpoint folder
 * (checkpoints/ckpt-N, whose stage must match), or by default the stage's final weights.
 */
function loadStageModel(
  runDir: string,
  config: RunConfig,
  stage: StageSpec,
  models: Readonly<Record<string, ModelFactory>>,
  weights?: string,
): { model: TrainableModel; source: string } {
  const factory = models[stage.model.factory];
  if (!factory) throw new TrainingError(`no model factory '${stage.model.factory}' for stage '${stage.name}'`);
  // The stage name comes from the run's config.json: its weights must stay inside the run folder.
  const defaultWeights = recordedPath(join('stages', stage.name, 'weights.safetensors'), {
    runDir,
    recordedIn: join(runDir, RUN_FILES.configJson),
    what: `the weights of stage '${stage.name}'`,
    kind: 'file',
    roots: [],
    mayBeMissing: true,
  });
  let file = weights ?? defaultWeights;
  if (existsSync(file) && statSync(file).isDirectory()) {
    const state = readCheckpointState(file);
    // The checkpoint written after the last stage holds no model: the run had finished, so its
    // weights are each stage's final weights.
    const afterTheEnd = !state.hasModel && state.stage === '';
    if (afterTheEnd) file = defaultWeights;
    else if (!state.hasModel || state.stage !== stage.name)
      throw new TrainingError(
        `checkpoint ${file} holds no weights of stage '${stage.name}' (it is at stage '${state.stage}')`,
      );
    else file = join(file, 'model.safetensors');
  }
  if (!existsSync(file))
    throw new TrainingError(`no weights for stage '${stage.name}' at ${file} (has the stage finished?)`);
  setInitRng(stageRoot(config.seed, stage).fork('init'));
  const model = factory.create();
  try {
    assignParameters(model, hostToMap(readFileSync(file), file), file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, source: file };
}

export interface EvaluateCheckpointOptions {
  readonly runDir: string;
  readonly models: Readonly<Record<string, ModelFactory>>;
  readonly data: TrainingData;
  /** Split reported besides validation; default test. */
  readonly split?: SplitName;
  /** Default: the last supervised stage (or the last stage, if none is supervised). */
  readonly stage?: string;
  /** A weights file or a checkpoint folder; default the stage's final weights. */
  readonly weights?: string;
  readonly backend?: BackendRequest;
  readonly bootstrapResamples?: number;
}

export interface CheckpointEvaluation {
  readonly stage: string;
  readonly weights: string;
  readonly evaluation: FinalEvaluation;
}

/** `nvcc eval`: scores saved weights on a split, with the threshold chosen on validation. */
export async function evaluateCheckpoint(options: EvaluateCheckpointOptions): Promise<CheckpointEvaluation> {
  await initBackend({ ...(options.backend ? { backend: options.backend } : {}), quiet: true });
  const config = readRunConfig(options.runDir);
  const stage =
    options.stage !== undefined
      ? chooseStage(config, options.stage, false)
      : chooseStage(
          config,
          undefined,
          config.spec.stages.some((s) => s.kind === 'supervised'),
        );
  const { model, source } = loadStageModel(options.runDir, config, stage, options.models, options.weights);
  try {
    const split = options.split ?? 'test';
    const evaluation = await finalEvaluation(
      stage,
      model,
      options.data,
      config,
      options.bootstrapResamples ?? 1000,
      split === 'val' ? [] : [split],
    );
    return { stage: stage.name, weights: source, evaluation };
  } finally {
    model.dispose();
  }
}

export interface PredictOptions {
  readonly runDir: string;
  readonly models: Readonly<Record<string, ModelFactory>>;
  /** The new patients (labels, if present, are ignored). */
  readonly patients: SampleSource;
  /** Where the CSV goes (written atomically). */
  readonly out: string;
  readonly stage?: string;
  readonly weights?: string;
  readonly backend?: BackendRequest;
  /** Class names for the header; default: the dataset's classes. */
  readonly classes?: readonly string[];
}

export interface PredictionRow {
  readonly patientId: string;
  readonly images: number;
  readonly probability: number;
  readonly predicted: string;
}

export interface PredictResult {
  readonly stage: string;
  readonly threshold: number;
  readonly thresholdSource: string;
  readonly rows: readonly PredictionRow[];
  readonly out: string;
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * `nvcc predict`: per-patient probability of the positive class for new patients, pooled as in
 * the run, and the class called at the threshold the run chose on its validation split.
 */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  await initBackend({ ...(options.backend ? { backend: options.backend } : {}), quiet: true });
  const config = readRunConfig(options.runDir);
  const stage = chooseStage(config, options.stage, true);
  const finished = finishedStages(options.runDir).find((s) => s.name === stage.name);
  const evaluation = finished?.evaluation as { threshold?: number | null; thresholdRule?: string } | undefined;
  const threshold = typeof evaluation?.threshold === 'number' ? evaluation.threshold : 0.5;
  const thresholdSource =
    typeof evaluation?.threshold === 'number'
      ? `chosen on validation (${evaluation.thresholdRule ?? 'rule not recorded'})`
      : 'fixed 0.5 (the run recorded no validation threshold)';
  const { model } = loadStageModel(options.runDir, config, stage, options.models, options.weights);
  try {
    const scored = await scoreSource(
      stage,
      model,
      options.patients,
      config.seed,
      poolingOf(stage, config.spec, config.dataset),
      'predict',
    );
    const classes = options.classes ?? config.dataset.label.classes.map((c) => c.name);
    const [negative, positive] = [classes[0] ?? 'negative', classes[1] ?? 'positive'];
    const rows: PredictionRow[] = scored.patients.patientIds.map((id, i) => {
      const p = scored.patients.scores[i] as number;
      return {
        patientId: id,
        images: scored.patients.imageCounts![i] as number,
        probability: p,
        predicted: p >= threshold ? positive : negative,
      };
    });
    const header = [config.dataset.id, 'images', `p_${positive}`, 'predicted'];
    const lines = [
      header.map(csvCell).join(','),
      ...rows.map((r) =>
        [csvCell(r.patientId), String(r.images), String(r.probability), csvCell(r.predicted)].join(','),
      ),
    ];
    await writeFileAtomic(options.out, `${lines.join('\n')}\n`);
    return { stage: stage.name, threshold, thresholdSource, rows, out: options.out };
  } finally {
    model.dispose();
  }
}

export { jsonNumbers };
