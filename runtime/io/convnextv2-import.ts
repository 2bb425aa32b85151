/**
 * Import of official PyTorch ConvNeXt-V2 checkpoints (safetensors) into an nvcc Module.
 * In: a safetensors file holding an official state dict: dense `ConvNeXtV2` keys, optionally
 * wrapped in `module.`/`model.` prefixes, or an FCMAE checkpoint (`encoder.` prefix, possibly in
 * the sparse MinkowskiEngine layout with `.kernel`, `.ln.`, `.linear.` and (1,C) biases).
 * Out: the Module's parameters (docs/CONVENTIONS.md names, NHWC layouts) assigned, and a report
 * of what was loaded and what was dropped, and why. Holds afterwards: either every parameter of
 * the module was assigned (except those `allowMissing` accepts), or nothing was and ONE
 * WeightsMismatchError lists the missing, unexpected and mis-shaped keys.
 *
 * The official FCMAE decoder (`proj.*`, `mask_token`, `decoder.<i>.*`, `pred.*` at the root) goes to
 * the std FCMAE program's `decoder.*` when the module has one (resuming pre-training).
 *
 * Conversions (PyTorch -> nvcc): conv (out,in,kh,kw) -> [kh,kw,in,out] (permute [2,3,1,0]);
 * depthwise (C,1,k,k) -> [k,k,C,1] ([2,3,0,1]); Linear (out,in) -> [in,out]; GRN gamma/beta
 * (1,1,1,C) or (1,C) -> [C]; mask_token (1,C,1,1) -> [C];
 * ME kernels (k^2,in,out) / (k^2,C), spatial index w*k+h, are first
 * turned into the dense PyTorch layout as the official remap_checkpoint_keys does.
 */
import { readFileSync } from 'node:fs';
import type { Module } from '../module.js';
import { transposeHost, reshapeHost } from './layout.js';
import { parseSafetensors, product, type HostTensor } from './safetensors.js';
import { assignParameters, WeightsMismatchError, type ShapeMismatch } from './weights.js';

export interface ConvNeXtImportOptions {
  /** Strip `encoder.` (FCMAE). 'auto' (default): when some key starts with `encoder.`. */
  readonly stripEncoder?: 'auto' | boolean;
  /** Model parameters allowed to keep their initial values (e.g. a new head when fine-tuning). */
  readonly allowMissing?: (path: string) => boolean;
  /** Checkpoint keys (after prefix stripping) to skip, e.g. a head with another class count. */
  readonly ignore?: (key: string) => boolean;
}

export interface ConvNeXtImportReport {
  readonly loaded: string[];
  readonly dropped: Array<{ key: string; reason: string }>;
  /** Model parameters left at their initial values (accepted by allowMissing). */
  readonly keptInitial: string[];
  readonly metadata: Record<string, string>;
}

const PICKLE_HINT =
  'PyTorch pickle checkpoints (.pt/.pth) are not supported: loading them means unpickling (arbitrary code) ' +
  'and needs Python. Convert once with: python -c "import torch; from safetensors.torch import save_file; sd ' +
  "= torch.load('IN.pt', map_location='cpu'); sd = sd.get('model', sd); save_file({k: v.contiguous() for k, v " +
  "in sd.items()}, 'OUT.safetensors')\"";

function looksLikePickle(path: string, bytes: Uint8Array): boolean {
  if (/\.(pt|pth|ckpt|bin|pkl)$/i.test(path)) return true;
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  const pickle = bytes[0] === 0x80 && bytes[1] !== undefined && bytes[1] >= 2 && bytes[1] <= 5;
  return zip || pickle;
}

/** Strips wrapper prefixes and renames sparse (MinkowskiEngine) parts to their dense names. */
function normaliseKey(key: string): string {
  let k = key;
  for (;;) {
    if (k.startsWith('module.')) k = k.slice(7);
    else if (k.startsWith('model.')) k = k.slice(6);
    else break;
  }
  return k;
}

function fromMinkowski(key: string, t: HostTensor): { key: string; tensor: HostTensor } {
  let k = key.replace(/\.ln\./g, '.').replace(/\.linear\./g, '.');
  let v = t;
  if (k.endsWith('.kernel')) {
    k = k.slice(0, -'.kernel'.length) + '.weight';
    const kk = Math.round(Math.sqrt(t.shape[0]!));
    if (kk * kk !== t.shape[0])
      throw new Error(`${key}: kernel of shape (${t.shape.join(', ')}) has no square spatial size`);
    if (t.shape.length === 2) {
      // (k^2, C) -> permute(1,0) -> (C,1,k,k) -> swap the two spatial axes
      const c = t.shape[1]!;
      v = transposeHost(reshapeHost(transposeHost(t, [1, 0]), [c, 1, kk, kk]), [0, 1, 3, 2]);
    } else if (t.shape.length === 3) {
      // (k^2, in, out) -> permute(2,1,0) -> (out,in,k,k) -> swap the two spatial axes
      const [, cin, cout] = t.shape as [number, number, number];
      v = transposeHost(reshapeHost(transposeHost(t, [2, 1, 0]), [cout, cin, kk, kk]), [0, 1, 3, 2]);
    } else {
      throw new Error(`${key}: unexpected kernel rank ${t.shape.length}`);
    }
  } else if (k.endsWith('.bias') && t.shape.length === 2 && t.shape[0] === 1) {
    v = reshapeHost(t, [t.shape[1]!]);
  }
  return { key: k, tensor: v };
}

/** Keys of the official FCMAE decoder half: `proj.*`, `mask_token`, `decoder.<i>.*`, `pred.*`. */
const FCMAE_DECODER_KEY = /^(proj\.|mask_token$|decoder\.\d+\.|pred\.)/;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** PyTorch-layout tensor -> nvcc layout for a parameter of shape `target`, or undefined. */
export function toNvcLayout(key: string, t: HostTensor, target: readonly number[]): HostTensor | undefined {
  const s = t.shape;
  if (s.length === 4 && target.length === 4) {
    const dw = [s[2]!, s[3]!, s[0]!, s[1]!];
    const conv = [s[2]!, s[3]!, s[1]!, s[0]!];
    const dwFits = s[1] === 1 && sameShape(dw, target);
    const convFits = sameShape(conv, target);
    if (dwFits && (!convFits || /dwconv/.test(key))) return transposeHost(t, [2, 3, 0, 1]);
    if (convFits) return transposeHost(t, [2, 3, 1, 0]);
    return undefined;
  }
  if (s.length === 2 && target.length === 2) {
    return sameShape([s[1]!, s[0]!], target) ? transposeHost(t, [1, 0]) : undefined;
  }
  if (target.length === 1 && /(^|\.)(gamma|beta|mask_token)$/.test(key)) {
    // GRN: official (1,1,1,C), sparse (1,C); the FCMAE mask token: (1,C,1,1).
    return product(s) === target[0] && s.filter((d) => d !== 1).length <= 1 ? reshapeHost(t, target) : undefined;
  }
  return sameShape(s, target) ? t : undefined;
}

/** Maps and converts an official state dict for `module`, throwing ONE error on any mismatch. */
export function convertConvNeXtV2State(
  module: Module,
  raw: ReadonlyMap<string, HostTensor>,
  source: string,
  options: ConvNeXtImportOptions = {},
): { tensors: Map<string, HostTensor>; dropped: Array<{ key: string; reason: string }>; keptInitial: string[] } {
  const params = new Map(module.namedParameters());
  const hasPrefix = (prefix: string) => [...params.keys()].some((k) => k.startsWith(prefix));
  const keys = [...raw.keys()].map((k) => [k, normaliseKey(k)] as const);
  const strip = options.stripEncoder ?? 'auto';
  const stripEncoder =
    strip === 'auto' ? keys.some(([, k]) => k.startsWith('encoder.')) && !hasPrefix('encoder.') : strip;
  const dropped: Array<{ key: string; reason: string }> = [];
  const unexpected: string[] = [];
  const misshaped: ShapeMismatch[] = [];
  const converted = new Map<string, HostTensor>();
  const origin = new Map<string, string>();
  const notes: string[] = [];

  for (const [original, normal] of keys) {
    let k = normal;
    if (stripEncoder) {
      if (k.startsWith('encoder.')) k = k.slice('encoder.'.length);
      else if (!params.has(k)) {
        dropped.push({ key: original, reason: 'FCMAE decoder/pre-training part, not in the encoder' });
        continue;
      }
    }
    const mapped = fromMinkowski(k, raw.get(original)!);
    k = mapped.key;
    // The official FCMAE keeps its decoder at the root (proj, mask_token, decoder.<i>, pred);
    // the std FCMAE program nests it under `decoder`.
    if (!params.has(k) && FCMAE_DECODER_KEY.test(k) && params.has(`decoder.${k}`)) k = `decoder.${k}`;
    if (options.ignore?.(k)) {
      dropped.push({ key: original, reason: 'ignored by option' });
      continue;
    }
    if ((k.startsWith('norm.') || k.startsWith('head.')) && !params.has(k) && !hasPrefix(k.split('.')[0] + '.')) {
      dropped.push({ key: original, reason: `classifier ${k.split('.')[0]}: the model has none` });
      continue;
    }
    const p = params.get(k);
    if (!p) {
      unexpected.push(original === k ? k : `${original} (as ${k})`);
      continue;
    }
    if (converted.has(k)) {
      unexpected.push(`${original} (duplicate of ${origin.get(k)})`);
      continue;
    }
    const target = p.variable.shape;
    const t = toNvcLayout(k, mapped.tensor, target);
    if (!t) {
      misshaped.push({
        key: `${k} (file shape in PyTorch layout)`,
        expected: [...target],
        found: [...mapped.tensor.shape],
      });
      continue;
    }
    converted.set(k, t);
    origin.set(k, original);
  }
  const missingAll = [...params.keys()].filter((k) => !converted.has(k));
  const missing = missingAll.filter((k) => !(options.allowMissing?.(k) ?? false));
  if (missing.length || unexpected.length || misshaped.length) {
    if (stripEncoder) notes.push('the `encoder.` prefix was stripped (FCMAE checkpoint)');
    if (missing.some((k) => k.startsWith('head.') || k.startsWith('norm.')))
      notes.push('released FCMAE (pt_only) checkpoints have no norm/head: pass allowMissing for them when fine-tuning');
    throw new WeightsMismatchError(source, missing, unexpected, misshaped, notes);
  }
  return { tensors: converted, dropped, keptInitial: missingAll };
}

export function importConvNeXtV2(
  module: Module,
  path: string,
  options: ConvNeXtImportOptions = {},
): ConvNeXtImportReport {
  const bytes = readFileSync(path);
  if (looksLikePickle(path, bytes)) throw new Error(`${path}: ${PICKLE_HINT}`);
  const file = parseSafetensors(bytes, path);
  const raw = new Map([...file.tensors].map(([k, e]) => [k, e.tensor] as const));
  const { tensors, dropped, keptInitial } = convertConvNeXtV2State(module, raw, path, options);
  const report = assignParameters(module, tensors, path, { strict: true, allowMissing: () => true });
  return { loaded: report.loaded, dropped, keptInitial, metadata: file.metadata };
}
