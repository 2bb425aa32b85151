/**
 * Shared by the torchvision comparisons (test/runtime/torchvision-*.test.ts): the weights and
 * input both sides build from the same formula (test/fixtures/torchvision/generate.py's `fill`,
 * `uniform` and `signs`), and the sketches the fixtures store instead of whole tensors.
 * In: a built std/ model and a fixture. Out: the model with generated weights, the input batch,
 * sketches and their distances. Holds: the same float64 expressions as generate.py, so both
 * sides start from bit-identical float32 weights and input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as nv from '../../runtime/index.js';
import { transposeHost } from '../../runtime/io/layout.js';
import type { HostTensor } from '../../runtime/io/safetensors.js';
import { moduleTorchLayouts, torchShapeOf, torchStateToTfjs } from '../../runtime/io/torch-layout.js';
import { assignParameters } from '../../runtime/io/weights.js';

export const FIXTURES = 'test/fixtures/torchvision';
export const MODELS = path.join(FIXTURES, 'models.nvc');

/** A tensor's L2 norm and its dot products with k Rademacher vectors (generate.py's `sketch`). */
export interface Sketch {
  readonly norm: number;
  readonly dots: readonly number[];
}

export const readFixture = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as T;

export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** generate.py's `hashes`: lowbias32 of (fnv1a(key) + i * 0x9E3779B9) mod 2^32. */
function hashAt(seed: number, i: number): number {
  let x = (seed + Math.imul(i, 0x9e3779b9)) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x21f0aaad) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x735a2d97) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}

/** generate.py's `uniform`: the i-th value in [-1, 1) of the key's stream. */
export const uniformAt = (seed: number, i: number): number => (hashAt(seed, i) / 4294967296) * 2 - 1;

/**
 * generate.py's `fill`: the value of state_dict entry `key` (PyTorch layout); `normShift`: the
 * key is a BatchNorm bias and the training fixtures' shift (0.5 + 0.25 u) is wanted.
 */
export function fill(key: string, shape: readonly number[], dtype: 'float32' | 'int32', normShift = false): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const leaf = key.slice(key.lastIndexOf('.') + 1);
  if (leaf === 'num_batches_tracked')
    return { dtype: 'int32', shape: [...shape], data: Int32Array.of(fnv1a(key) % 1000) };
  if (dtype !== 'float32') throw new Error(`${key}: a ${dtype} tensor other than num_batches_tracked`);
  const seed = fnv1a(key);
  const data = new Float32Array(n);
  let scale = 0.05;
  let offset = 0;
  if (normShift) [offset, scale] = [0.5, 0.25];
  else if (leaf === 'running_var') [offset, scale] = [0.75, 0.25];
  else if (leaf === 'running_mean') scale = 0.1;
  else if (shape.length >= 2 && leaf !== 'class_token' && leaf !== 'pos_embedding')
    scale = Math.sqrt(3.0 / Math.floor(n / shape[0]!));
  else if (leaf === 'weight') [offset, scale] = [0.5, 0.25];
  // The same float64 expressions as generate.py (`offset + scale * u`; `u * scale` = `scale * u`).
  if (offset !== 0) for (let i = 0; i < n; i++) data[i] = offset + scale * uniformAt(seed, i);
  else for (let i = 0; i < n; i++) data[i] = scale * uniformAt(seed, i);
  return { dtype, shape: [...shape], data };
}

/** generate.py's `norm_shifts`: the BatchNorm biases (`bias` of a module with a running_mean). */
function normShifts(keys: readonly string[]): Set<string> {
  const parent = (k: string): string => k.slice(0, k.lastIndexOf('.'));
  const norms = new Set(keys.filter((k) => k.endsWith('.running_mean')).map(parent));
  return new Set(keys.filter((k) => k.endsWith('.bias') && norms.has(parent(k))));
}

/** Sets every parameter and buffer of `model` from `fill` (`shifted`: generate.py's randomise(shifted=True)). */
export function fillModel(model: nv.Module, name: string, shifted = false): void {
  const layouts = moduleTorchLayouts(model);
  const state = model.namedState();
  const shifts = shifted ? normShifts(state.map(([k]) => k)) : new Set<string>();
  const torchState = new Map(
    state.map(([k, v]) => [
      k,
      fill(k, torchShapeOf(v.shape, layouts.get(k) ?? 'same'), v.dtype as 'float32' | 'int32', shifts.has(k)),
    ]),
  );
  assignParameters(model, torchStateToTfjs(model, torchState, `${name} (generated)`), name);
}

/** The input batch [B, H, W, C] (generate.py draws it NCHW from the key "input"). */
export function inputBatch(shape: readonly number[]): nv.tf.Tensor {
  const [b, h, w, c] = shape as [number, number, number, number];
  const seed = fnv1a('input');
  const pixels = Float32Array.from({ length: b * c * h * w }, (_, i) => uniformAt(seed, i));
  const nchw: HostTensor = { dtype: 'float32', shape: [b, c, h, w], data: pixels };
  return nv.tf.tensor(transposeHost(nchw, [0, 2, 3, 1]).data, [b, h, w, c]);
}

/** The norm and the dot products with generate.py's `signs(key, n, k)` (bit j of a hash per element). */
export function sketchOf(key: string, data: ArrayLike<number>, k: number): Sketch {
  const seed = fnv1a(`${key}#`);
  let norm = 0;
  const dots = new Array<number>(k).fill(0);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    norm += v * v;
    const h = hashAt(seed, i);
    for (let j = 0; j < k; j++) dots[j]! += (h >>> j) & 1 ? v : -v;
  }
  return { norm: Math.sqrt(norm), dots };
}

/**
 * How far a sketched tensor is from the reference: estimated ||d|| and the norms' difference.
 * For d = got - want each <d, r_j> has mean 0 and variance ||d||^2 over the random signs, so
 * sqrt(mean_j <d, r_j>^2) estimates ||d||.
 */
export function sketchDistance(got: Sketch, want: Sketch): { dist: number; norms: number } {
  const sq = want.dots.reduce((s, w, j) => s + (got.dots[j]! - w) ** 2, 0) / want.dots.length;
  return { dist: Math.sqrt(sq), norms: Math.abs(got.norm - want.norm) };
}
