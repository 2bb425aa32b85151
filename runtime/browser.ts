/**
 * nvcc runtime for the browser (and any JavaScript engine without Node's built-ins): what
 * generated model code and inference need, and nothing that reads files or loads native code.
 * Bundlers pick it for `nvcc/runtime` under the `browser` condition (package.json `exports`);
 * it is also exported as `nvcc/runtime/browser`.
 * Holds: re-exports only, each a subset of runtime/index.ts (the same modules, so a model class
 * built against either entry is the same code); its import graph reaches no `node:` module, no
 * Node-only package and no file loading (test/runtime/browser-entry.test.ts). Weights come in
 * as bytes: `loadWeightsFromBytes(model, new Uint8Array(await (await fetch(url)).arrayBuffer()))`.
 */
export * as tf from '@tensorflow/tfjs';

// --- module contract, initializers, functional ops, layers ---
export * from './module.js';
export * as init from './init.js';
export * from './ops/index.js';
export * from './layers/index.js';

// --- seeded RNG (initial values of parameters built before weights are assigned) ---
export { createRng, restoreRng, seed, hashString32, Xoshiro128, RNG_ALGORITHM } from './rng.js';

// --- weights from bytes: the safetensors format and all-or-nothing assignment ---
export {
  parseSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type HostTensor,
  type SafetensorsFile,
} from './io/safetensors-format.js';
export {
  assignParameters,
  loadWeightsFromBytes,
  WeightsMismatchError,
  type LoadReport,
} from './io/assign.js';

// --- generated-code support: origins, containers, functional primitives ---
export * from './codegen.js';
export { NvccError } from './errors.js';
export type { DatasetSpec } from './data/spec.js';
export type { TrainableModel, ModelFactory, TrainSpec, StageSpec, ModelRef } from './train/spec.js';
