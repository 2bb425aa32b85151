/**
 * Saving and loading a Module's parameters.
 * In: a Module (runtime/module.ts) and a path `<dir>/<name>.safetensors`. Out: the weights file
 * (F32/I32 tensors keyed by parameter path, buffers such as BatchNorm's running statistics
 * included under their own paths, atomic write) and a manifest `<dir>/<name>.json`
 * (parameter paths, shapes, dtypes, sha256 of the weights file, nvcc version, optional spec
 * hash); assigning the tensors is runtime/io/assign.ts. Holds afterwards: `loadWeights` either
 * assigns every parameter or none; on any disagreement it throws ONE WeightsMismatchError listing
 * missing, unexpected and mis-shaped keys (with both shapes). A manifest beside the file is
 * checked against the file's sha256.
 * Weights holding NaN or infinity are refused (SafetensorsError) before any is assigned.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { Module } from '../module.js';
import { packagePath } from '../package-root.js';
import { writeFileAtomicSync } from '../run/atomic.js';
import { assignParameters, type LoadReport } from './assign.js';
import { encodeSafetensors, parseSafetensors, type HostTensor } from './safetensors.js';

export {
  assignParameters,
  loadWeightsFromBytes,
  refuseNonFinite,
  WeightsMismatchError,
  type LoadReport,
  type ShapeMismatch,
} from './assign.js';

export interface WeightsManifest {
  readonly format: 'nvcc-weights';
  readonly formatVersion: 1;
  readonly nvccVersion: string;
  readonly weightsFile: string;
  readonly sha256: string;
  readonly specHash?: string;
  readonly parameters: ReadonlyArray<{ path: string; shape: number[]; dtype: string }>;
  readonly metadata: Record<string, string>;
}

export interface SaveWeightsMeta {
  /** Hash of the .nvc spec the module was built from. */
  readonly specHash?: string;
  /** Free-form string metadata stored in the file and the manifest. */
  readonly metadata?: Record<string, string>;
}

let cachedVersion: string | undefined;
export function nvccVersion(): string {
  if (cachedVersion) return cachedVersion;
  try {
    const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version?: string };
    cachedVersion = pkg.version ?? 'unknown';
  } catch {
    cachedVersion = 'unknown';
  }
  return cachedVersion;
}

/** `<dir>/<name>.safetensors` -> `<dir>/<name>.json`. */
export function manifestPathFor(weightsPath: string): string {
  return weightsPath.endsWith('.safetensors')
    ? weightsPath.slice(0, -'.safetensors'.length) + '.json'
    : `${weightsPath}.json`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads every parameter and buffer of `module` to the host, keyed by path. */
export async function moduleToHost(module: Module): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [path, v] of module.namedState()) out.set(path, await variableToHost(v));
  return out;
}

export async function variableToHost(v: tf.Tensor): Promise<HostTensor> {
  if (v.dtype === 'float32') return { dtype: 'float32', shape: [...v.shape], data: (await v.data()) as Float32Array };
  if (v.dtype === 'int32') return { dtype: 'int32', shape: [...v.shape], data: (await v.data()) as Int32Array };
  throw new Error(`cannot save a ${v.dtype} tensor`);
}

export async function saveWeights(module: Module, path: string, meta: SaveWeightsMeta = {}): Promise<WeightsManifest> {
  const tensors = await moduleToHost(module);
  const metadata: Record<string, string> = {
    format: 'nvcc-weights',
    nvcc_version: nvccVersion(),
    ...(meta.specHash ? { spec_hash: meta.specHash } : {}),
    ...(meta.metadata ?? {}),
  };
  const bytes = encodeSafetensors(tensors, metadata);
  writeFileAtomicSync(path, bytes);
  const manifest: WeightsManifest = {
    format: 'nvcc-weights',
    formatVersion: 1,
    nvccVersion: nvccVersion(),
    weightsFile: basename(path),
    sha256: sha256Hex(bytes),
    ...(meta.specHash ? { specHash: meta.specHash } : {}),
    parameters: [...tensors].map(([p, t]) => ({ path: p, shape: [...t.shape], dtype: t.dtype })),
    metadata: meta.metadata ?? {},
  };
  writeFileAtomicSync(manifestPathFor(path), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export interface LoadWeightsOptions {
  /** Default true: missing or unexpected keys refuse the load. Mis-shaped keys always refuse. */
  readonly strict?: boolean;
  /** Check the manifest's sha256 when a manifest exists beside the file. Default true. */
  readonly verifyManifest?: boolean;
}

export async function loadWeights(module: Module, path: string, options: LoadWeightsOptions = {}): Promise<LoadReport> {
  if (!existsSync(path)) throw new Error(`${path}: weights file not found`);
  const bytes = readFileSync(path);
  const manifestPath = manifestPathFor(path);
  if ((options.verifyManifest ?? true) && existsSync(manifestPath)) {
    let manifest: Partial<WeightsManifest>;
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Partial<WeightsManifest>;
    } catch (e) {
      throw new Error(`${manifestPath}: manifest is not valid JSON (${(e as Error).message})`);
    }
    if (manifest.format === 'nvcc-weights' && manifest.sha256 && manifest.weightsFile === basename(path)) {
      const actual = sha256Hex(bytes);
      if (actual !== manifest.sha256)
        throw new Error(
          `${path}: sha256 ${actual} does not match the manifest ${manifestPath} (${manifest.sha256}); the ` +
            `file was changed, is corrupt, or a save was interrupted between the weights and the manifest`,
        );
    }
  }
  const file = parseSafetensors(bytes, path);
  const tensors = new Map([...file.tensors].map(([k, e]) => [k, e.tensor] as const));
  const report = assignParameters(module, tensors, path, { strict: options.strict ?? true });
  return { ...report, metadata: file.metadata };
}
