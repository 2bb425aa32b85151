/**
 * Weight layouts of the two engines: the tfjs runtime's (docs/CONVENTIONS.md) and PyTorch's.
 * In: a Module (its layer classes say which layout each parameter has) and host tensors in either
 * layout. Out: the same values in the other layout, under the same keys. Holds afterwards:
 * fromTorchLayout(k, toTorchLayout(k, t), t.shape) equals t for every kind, so checkpoints move
 * between the engines both ways; the table is the one compiler/emit/torch/python/nvcc_layout.py
 * applies on the Python side:
 *   linear     tfjs [in, out]            torch [out, in]
 *   conv       tfjs [kh, kw, in, out]    torch [out, in, kh, kw]     (permute 3, 2, 0, 1)
 *   depthwise  tfjs [k, k, C, 1]         torch [C, 1, k, k]          (permute 2, 3, 0, 1)
 *   grn        tfjs [C]                  torch [1, 1, 1, C]          (GRN gamma / beta)
 *   token      tfjs [C]                  torch [1, C, 1, 1]          (FCMAE mask_token)
 *   plain      the same shape in both
 */
import { Conv2d, DepthwiseConv2d } from '../layers/conv.js';
import { FcmaeDecoder } from '../layers/fcmae.js';
import { Linear } from '../layers/linear.js';
import { GRN } from '../layers/norm.js';
import type { Module } from '../module.js';
import { reshapeHost, transposeHost } from './layout.js';
import type { HostTensor } from './safetensors.js';
import { moduleToHost, WeightsMismatchError, type ShapeMismatch } from './weights.js';

export type TorchLayoutKind = 'linear' | 'conv' | 'depthwise' | 'grn' | 'token' | 'plain';

function kindOf(owner: Module, leaf: string): TorchLayoutKind {
  if (leaf === 'weight' && owner instanceof Linear) return 'linear';
  if (leaf === 'weight' && owner instanceof DepthwiseConv2d) return 'depthwise';
  if (leaf === 'weight' && owner instanceof Conv2d) return 'conv';
  if ((leaf === 'gamma' || leaf === 'beta') && owner instanceof GRN) return 'grn';
  if (leaf === 'mask_token' && owner instanceof FcmaeDecoder) return 'token';
  return 'plain';
}

/** The layout kind of every parameter of `module`, by parameter path. */
export function torchLayoutKinds(module: Module): Map<string, TorchLayoutKind> {
  const out = new Map<string, TorchLayoutKind>();
  const visit = (m: Module, prefix: string): void => {
    for (const [name] of m.namedParameters()) if (!name.includes('.')) out.set(prefix + name, kindOf(m, name));
    for (const [name, child] of m.children()) visit(child, `${prefix}${name}.`);
  };
  visit(module, '');
  return out;
}

/** The PyTorch shape of a parameter of tfjs shape `shape`. */
export function torchShape(kind: TorchLayoutKind, shape: readonly number[]): number[] {
  switch (kind) {
    case 'linear':
      return [shape[1]!, shape[0]!];
    case 'conv':
      return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
    case 'depthwise':
      return [shape[2]!, shape[3]!, shape[0]!, shape[1]!];
    case 'grn':
      return [1, 1, 1, shape[0]!];
    case 'token':
      return [1, shape[0]!, 1, 1];
    case 'plain':
      return [...shape];
  }
}

export function toTorchLayout(kind: TorchLayoutKind, t: HostTensor): HostTensor {
  switch (kind) {
    case 'linear':
      return transposeHost(t, [1, 0]);
    case 'conv':
      return transposeHost(t, [3, 2, 0, 1]);
    case 'depthwise':
      return transposeHost(t, [2, 3, 0, 1]);
    case 'grn':
    case 'token':
      return reshapeHost(t, torchShape(kind, t.shape));
    case 'plain':
      return t;
  }
}

/**
 * A PyTorch-layout tensor in the tfjs layout for a parameter of tfjs shape `shape`, or undefined
 * when its shape does not fit that parameter.
 */
export function fromTorchLayout(
  kind: TorchLayoutKind,
  t: HostTensor,
  shape: readonly number[],
): HostTensor | undefined {
  const expected = torchShape(kind, shape);
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) return undefined;
  switch (kind) {
    case 'linear':
      return transposeHost(t, [1, 0]);
    case 'conv':
      return transposeHost(t, [2, 3, 1, 0]);
    case 'depthwise':
      return transposeHost(t, [2, 3, 0, 1]);
    case 'grn':
    case 'token':
      return reshapeHost(t, shape);
    case 'plain':
      return t;
  }
}

/** The module's parameters as a PyTorch state dict (keys unchanged), e.g. for `export --format torch`. */
export async function moduleToTorchState(module: Module): Promise<Map<string, HostTensor>> {
  const kinds = torchLayoutKinds(module);
  const host = await moduleToHost(module);
  return new Map([...host].map(([k, t]) => [k, toTorchLayout(kinds.get(k) ?? 'plain', t)] as const));
}

/**
 * A PyTorch-layout state dict (the torch engine's files, or a state dict the generated nn.Module
 * wrote) in the tfjs layout for `module`; throws one WeightsMismatchError listing every missing,
 * unexpected and mis-shaped key.
 */
export function torchStateToTfjs(
  module: Module,
  state: ReadonlyMap<string, HostTensor>,
  source: string,
): Map<string, HostTensor> {
  const kinds = torchLayoutKinds(module);
  const shapes = new Map(module.namedParameters().map(([k, p]) => [k, p.variable.shape] as const));
  const out = new Map<string, HostTensor>();
  const unexpected: string[] = [];
  const misshaped: ShapeMismatch[] = [];
  for (const [key, t] of state) {
    const shape = shapes.get(key);
    if (!shape) {
      unexpected.push(key);
      continue;
    }
    const kind = kinds.get(key) ?? 'plain';
    const converted = fromTorchLayout(kind, t, shape);
    if (!converted)
      misshaped.push({ key: `${key} (PyTorch layout)`, expected: torchShape(kind, shape), found: [...t.shape] });
    else out.set(key, converted);
  }
  const missing = [...shapes.keys()].filter((k) => !state.has(k));
  if (missing.length || unexpected.length || misshaped.length)
    throw new WeightsMismatchError(source, missing, unexpected, misshaped, []);
  return out;
}
