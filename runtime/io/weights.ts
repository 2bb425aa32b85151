/**
 * Saving and loading a Module's parameters.
 * In: a Module (runtime/module.ts) and a path `<dir>/<name>.safetensors`. Out: the weights file
 * (F32/I32 tensors keyed by parameter path, buffers such as BatchNorm's running statistics
 * included under their own paths, atomic write) and a manifest `<dir>/<name>.json`
 * (parameter paths, shapes, dtypes, sha256 of the weights file, nvcc version, optional spec
 * hash). Holds afterwards: `loadWeights` either assigns every parameter or none; on any
 * disagreement it throws ONE WeightsMismatchError listing missing, unexpected and mis-shaped
 * keys (with both shapes). A manifest beside the file is checked against the file's sha256.
 * Weights holding NaN or infinity are refused (SafetensorsError) before any is assigned.
 */
import { NvccError } from '../errors.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Module } from '../module.js';
import { packagePath } from '../package-root.js';
import { writeFileAtomicSync } from '../run/atomic.js';
import { encodeSafetensors, parseSafetensors, SafetensorsError, type HostTensor } from './safetensors.js';

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

export interface ShapeMismatch {
  readonly key: string;
  readonly expected: readonly number[];
  readonly found: readonly number[];
}

export class WeightsMismatchError extends NvccError {
  constructor(
    readonly source: string,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly misshaped: readonly ShapeMismatch[],
    readonly notes: readonly string[] = [],
  ) {
    super('data', formatMismatch(source, missing, unexpected, misshaped, notes));
    this.name = 'WeightsMismatchError';
  }
}

function listShort(items: readonly string[], limit = 40): string {
  const shown = items.slice(0, limit).map((s) => `    ${s}`);
  if (items.length > limit) shown.push(`    ... and ${items.length - limit} more`);
  return shown.join('\n');
}

function formatMismatch(
  source: string,
  missing: readonly string[],
  unexpected: readonly string[],
  misshaped: readonly ShapeMismatch[],
  notes: readonly string[],
): string {
  const parts = [`${source}: refusing to load: the weights do not match the model (nothing was loaded)`];
  if (missing.length) parts.push(`  missing in the file (${missing.length}):\n${listShort(missing)}`);
  if (unexpected.length) parts.push(`  unexpected in the file (${unexpected.length}):\n${listShort(unexpected)}`);
  if (misshaped.length) {
    parts.push(
      `  wrong shape (${misshaped.length}):\n` +
        `${listShort(
          misshaped.map(
            (m) => `${m.key}: model expects [${m.expected.join(', ')}], file has ` + `[${m.found.join(', ')}]`,
          ),
        )}`,
    );
  }
  for (const n of notes) parts.push(`  note: ${n}`);
  return parts.join('\n');
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

export interface LoadReport {
  readonly loaded: string[];
  readonly missing: string[];
  readonly unexpected: string[];
  readonly metadata: Record<string, string>;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Assigns host tensors to the module's parameters and buffers, all or nothing. Used by loadWeights and by
 * the checkpoint importer after key mapping and layout conversion.
 */
export function assignParameters(
  module: Module,
  tensors: ReadonlyMap<string, HostTensor>,
  source: string,
  options: { strict?: boolean; allowMissing?: (path: string) => boolean; notes?: string[] } = {},
): LoadReport {
  const strict = options.strict ?? true;
  const params = new Map<string, { variable: tf.Variable }>(
    module.namedState().map(([k, variable]) => [k, { variable }] as const),
  );
  const missing = [...params.keys()].filter((k) => !tensors.has(k));
  const unexpected = [...tensors.keys()].filter((k) => !params.has(k));
  const misshaped: ShapeMismatch[] = [];
  const dtypeNotes: string[] = [];
  for (const [k, t] of tensors) {
    const p = params.get(k);
    if (!p) continue;
    if (!sameShape(p.variable.shape, t.shape))
      misshaped.push({ key: k, expected: [...p.variable.shape], found: [...t.shape] });
    else if (p.variable.dtype !== t.dtype)
      dtypeNotes.push(`'${k}' is ${t.dtype} in the file but ${p.variable.dtype} in the model`);
  }
  const blockingMissing = strict ? missing.filter((k) => !(options.allowMissing?.(k) ?? false)) : [];
  const blockingUnexpected = strict ? unexpected : [];
  if (blockingMissing.length || blockingUnexpected.length || misshaped.length || dtypeNotes.length) {
    throw new WeightsMismatchError(source, blockingMissing, blockingUnexpected, misshaped, [
      ...dtypeNotes,
      ...(options.notes ?? []),
    ]);
  }
  refuseNonFinite(tensors, source, (k) => params.has(k));
  const loaded: string[] = [];
  for (const [k, t] of tensors) {
    const p = params.get(k);
    if (!p) continue;
    tf.tidy(() => p.variable.assign(tf.tensor(t.data, [...t.shape], t.dtype)));
    loaded.push(k);
  }
  return { loaded, missing, unexpected, metadata: {} };
}

/**
 * Refuses tensors holding NaN or infinity (a corrupt file, or one saved from a diverged run):
 * loaded, they would only surface later as NaN probabilities. Counts per tensor, first few named.
 */
export function refuseNonFinite(
  tensors: ReadonlyMap<string, HostTensor>,
  source: string,
  include: (key: string) => boolean = () => true,
): void {
  const bad: string[] = [];
  for (const [k, t] of tensors) {
    if (t.dtype !== 'float32' || !include(k)) continue;
    let nan = 0;
    let inf = 0;
    for (const v of t.data as Float32Array) {
      if (Number.isNaN(v)) nan++;
      else if (v === Infinity || v === -Infinity) inf++;
    }
    if (nan + inf > 0) bad.push(`'${k}' (${nan} NaN, ${inf} infinite of ${t.data.length})`);
  }
  if (bad.length === 0) return;
  const shown = bad.slice(0, 5).join(', ') + (bad.length > 5 ? ` and ${bad.length - 5} more tensors` : '');
  throw new SafetensorsError(
    source,
    `non-finite values in ${shown}; the file is corrupt or was saved from a diverged run (nothing was loaded)`,
  );
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
