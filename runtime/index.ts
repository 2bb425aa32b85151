/**
 * nvcc runtime: the single entry point compiler-generated model code imports
 * (`import * as nv from '<runtime>/index.js'`).
 * Holds: re-exports only; owners of each area add their own lines in the marked sections.
 */
export * as tf from '@tensorflow/tfjs';

// --- module contract (runtime/module.ts) ---
export * from './module.js';

// --- initializers, functional ops, layers (runtime/init.ts, runtime/ops, runtime/layers) ---
export * as init from './init.js';
export * from './ops/index.js';
export * from './layers/index.js';

// --- backend selection and wasm training kernels (runtime/backend.ts, runtime/kernels): owner adds exports here ---

// --- seeded RNG (runtime/rng.ts): owner adds exports here ---
export {
  createRng,
  restoreRng,
  seed,
  randInt,
  shuffle,
  permutation,
  choice,
  fillNormal,
  fillUniform,
  hashString32,
  Xoshiro128,
  RNG_ALGORITHM,
} from './rng.js';

// --- optimizers and LR schedules (runtime/optim/**): owner adds exports here ---
export {
  Lion,
  AdamW,
  SlotOptimizer,
  isNoDecay,
  buildSchedule,
  ScheduleError,
  encodeOptimizerState,
  decodeOptimizerState,
  readOptimizerState,
  writeOptimizerState,
  type Optimizer,
  type OptimizerOptions,
  type OptimizerState,
  type NoDecayRule,
  type ParameterGroups,
  type LionOptions,
  type AdamWOptions,
  type PhaseSpec,
  type Schedule,
  type ScheduleContext,
  type ScheduleSpec,
} from './optim/index.js';

// --- weight I/O (runtime/io/**): owner adds exports here ---
export {
  readSafetensors,
  writeSafetensors,
  parseSafetensors,
  encodeSafetensors,
  writeFileAtomic,
  SafetensorsError,
  type HostTensor,
  type SafetensorsFile,
} from './io/safetensors.js';
export {
  saveWeights,
  loadWeights,
  loadWeightsFromBytes,
  assignParameters,
  manifestPathFor,
  WeightsMismatchError,
  type WeightsManifest,
  type LoadReport,
  type LoadWeightsOptions,
  type SaveWeightsMeta,
} from './io/weights.js';
export {
  importConvNeXtV2,
  convertConvNeXtV2State,
  type ConvNeXtImportOptions,
  type ConvNeXtImportReport,
} from './io/convnextv2-import.js';
export { fcmaeToOfficial, saveOfficialFcmae, type FcmaeExportOptions } from './io/fcmae-export.js';

// --- generated-code support (runtime/codegen.ts): origins, containers, functional primitives ---
export * from './codegen.js';
export type { DatasetSpec } from './data/spec.js';

// --- training contracts generated models implement (runtime/train/spec.ts; engine: runtime/train/index.ts) ---
export type { TrainableModel, ModelFactory, TrainSpec, StageSpec, ModelRef } from './train/spec.js';
