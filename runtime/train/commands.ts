/**
 * What `nvcc eval` and `nvcc predict` call: the evaluation entry points of evaluate.ts with the
 * data loaded from the run folder itself.
 * In: a run folder (config.json, data-stats.json, data-source.json, stage weights) and the
 * model factories of the program. Out: an evaluation of saved weights on a split, or a CSV of
 * per-patient probabilities for new patients. Holds afterwards: data are normalised with the
 * run's training statistics (never refitted), and the split assignment is the run's (same
 * dataset spec, same seed); nothing in the run folder changes except the requested output.
 */
import type { BackendRequest } from '../backend.js';
import { loadDataset } from '../data/index.js';
import { TrainingError } from './common.js';
import {
  DatasetTrainingData,
  DATA_STATS_FILE,
  imageInputNames,
  loadNewPatients,
  checkRecordedDataPaths,
  readDataSource,
  readDataStats,
} from './dataset-adapter.js';
import {
  evaluateCheckpoint,
  predict,
  readRunConfig,
  type CheckpointEvaluation,
  type EvaluateCheckpointOptions,
  type PredictResult,
} from './evaluate.js';
import type { ModelFactory } from './spec.js';
import type { TrainingData } from './data.js';

/** The run's dataset, loaded as during training but with the saved statistics. */
export async function loadRunData(runDir: string, baseDir?: string): Promise<TrainingData> {
  const config = readRunConfig(runDir);
  const stats = readDataStats(runDir);
  const base = baseDir ?? readDataSource(runDir)?.baseDir;
  checkRecordedDataPaths(runDir, config.dataset, base ?? process.cwd());
  const ds = await loadDataset(config.dataset, { ...(base ? { baseDir: base } : {}), ...(stats ? { stats } : {}) });
  return new DatasetTrainingData(ds, imageInputNames(config.spec, config.dataset));
}

/** `nvcc eval RUN_DIR [--split test] [--stage S] [--weights FILE|CHECKPOINT]`. */
export async function evaluateRunFolder(
  options: Omit<EvaluateCheckpointOptions, 'data'> & { readonly data?: TrainingData; readonly dataBaseDir?: string },
): Promise<CheckpointEvaluation> {
  const data = options.data ?? (await loadRunData(options.runDir, options.dataBaseDir));
  return evaluateCheckpoint({ ...options, data });
}

export interface PredictFromFilesOptions {
  readonly runDir: string;
  readonly models: Readonly<Record<string, ModelFactory>>;
  /** Lab table (CSV) of the new patients: the dataset's columns; the label column is not needed. */
  readonly table: string;
  /** Folder of their images, named as the dataset declares. */
  readonly images: string;
  readonly out: string;
  readonly stage?: string;
  readonly weights?: string;
  readonly backend?: BackendRequest;
  /** Where relative table/image paths start; default the cwd. */
  readonly baseDir?: string;
}

/** `nvcc predict RUN_DIR --table new.csv --images dir --out predictions.csv`. */
export async function predictFromFiles(options: PredictFromFilesOptions): Promise<PredictResult> {
  const config = readRunConfig(options.runDir);
  const stats = readDataStats(options.runDir);
  if (!stats)
    throw new TrainingError(
      `${options.runDir} has no ${DATA_STATS_FILE}: the run did not record its training statistics, so new ` +
        `data cannot be normalised like the training data`,
    );
  const patients = await loadNewPatients(
    config.spec,
    config.dataset,
    { table: options.table, images: options.images },
    stats,
    options.baseDir ? { baseDir: options.baseDir } : {},
  );
  return predict({
    runDir: options.runDir,
    models: options.models,
    patients,
    out: options.out,
    ...(options.stage ? { stage: options.stage } : {}),
    ...(options.weights ? { weights: options.weights } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
  });
}
