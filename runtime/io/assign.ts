/**
 * Assigning weights to a Module's parameters and buffers, all or nothing, from host tensors or
 * from the bytes of a safetensors file; no file system (the browser runtime entry uses it;
 * runtime/io/weights.ts adds saving and loading files, and re-exports this).
 * In: a Module and host tensors keyed by path (or safetensors bytes). Out: a LoadReport.
 * Holds afterwards: either every tensor was assigned or none; on any disagreement ONE
 * WeightsMismatchError lists missing, unexpected and mis-shaped keys (with both shapes); weights
 * holding NaN or infinity are refused (SafetensorsError) before any is assigned.
 */
import * as tf from '@tensorflow/tfjs';
import { NvccError } from '../errors.js';
import type { Module } from '../module.js';
import { type HostTensor, parseSafetensors, SafetensorsError } from './safetensors-format.js';

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

/**
 * Assigns the weights in safetensors bytes (a fetched file, a dropped file's contents) to the
 * module, as loadWeights does for a file: strict by default, all or nothing. `source` names the
 * bytes in error messages.
 */
export function loadWeightsFromBytes(
  module: Module,
  bytes: Uint8Array,
  source = '<weights>',
  options: { readonly strict?: boolean } = {},
): LoadReport {
  const file = parseSafetensors(bytes, source);
  const tensors = new Map([...file.tensors].map(([k, e]) => [k, e.tensor] as const));
  const report = assignParameters(module, tensors, source, { strict: options.strict ?? true });
  return { ...report, metadata: file.metadata };
}
