/**
 * Public entry of the staged training engine, for the CLI (`nvcc train/eval/predict`) and tests.
 * Generated model code needs only the contracts in spec.ts (re-exported as types from
 * runtime/index.ts); this entry also pulls in data loading and metrics; the report (vega,
 * vega-lite) loads when a run writes report.html.
 */
export * from './spec.js';
export {
  runTraining,
  resume,
  checkSpec,
  abortOnSignals,
  type RunTrainingOptions,
  type RunResult,
  type TrainEvent,
} from './runner.js';
export { TrainingError, stageRoot } from './common.js';
export { firstMaskedBatch, type MaskedBatchPreview } from './preview.js';
export {
  evaluateCheckpoint,
  predict,
  readRunConfig,
  splitSource,
  scoreSource,
  type CheckpointEvaluation,
  type EvaluateCheckpointOptions,
  type FinalEvaluation,
  type PredictOptions,
  type PredictResult,
  type PredictionRow,
  type SampleSource,
} from './evaluate.js';
export {
  DatasetTrainingData,
  loadTrainingData,
  loadNewPatients,
  readDataStats,
  readDataSource,
  imageInputNames,
  DATA_STATS_FILE,
  DATA_SOURCE_FILE,
} from './dataset-adapter.js';
export { evaluateRunFolder, loadRunData, predictFromFiles, type PredictFromFilesOptions } from './commands.js';
export type { Batch, SplitName, TrainingData } from './data.js';
export {
  applyHandover,
  formatHandoverReport,
  freezeModules,
  HandoverError,
  type HandoverEntry,
  type HandoverReport,
} from './handover.js';
export { randomThrow, type ThrowResult } from './modality-dropout.js';
export { listCheckpoints, latestCheckpoint, CHECKPOINT_DIR } from './checkpoint.js';
export type { BestState, CheckpointState, RunConfig, StageResult } from './state.js';
