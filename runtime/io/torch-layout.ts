/**
 * Weight layouts between the tfjs engine (docs/CONVENTIONS.md: NHWC, Linear [in, out]) and the
 * torch engine (PyTorch's own layouts, the code of `nvcc build --target torch`).
 * In: host tensors keyed by parameter path, and the layout kind of each path (from a runtime
 * Module tree with `moduleTorchLayouts`, or from the IR). Out: the same tensors in the other
 * engine's layout, under the same paths. Holds afterwards: `fromTorch(toTorch(t, k), k)` is `t`
 * for every kind; paths are never renamed (both engines use the official ConvNeXt-V2 names).
 *
 * Kinds: `conv2d` weight [kh, kw, in, out] <-> [out, in, kh, kw] (permute [3, 2, 0, 1]; also
 * ConvTranspose2d's [kh, kw, out, in] <-> [in, out, kh, kw]);
 * `depthwise` weight [k, k, C, 1] <-> [C, 1, k, k] ([2, 3, 0, 1]); `linear` weight
 * [in, out] <-> [out, in]; `same` everything else (biases, norms, GRN, tokens, tables).
 * compiler/emit/torch/python/nvcc_layout.py is the Python twin (the torch engine writes its
 * weights and optimizer slots in the tfjs layout through it, so run folders of both engines hold
 * the same files); `moduleToTorchState` / `torchStateToTfjs` convert whole modules.
 */
import { Conv2d, ConvTranspose2d, DepthwiseConv2d } from '../layers/conv.js';
import { Linear } from '../layers/linear.js';
import type { Module } from '../module.js';
import { transposeHost } from './layout.js';
import type { HostTensor } from './safetensors.js';
import { moduleToHost, WeightsMismatchError, type ShapeMismatch } from './weights.js';

export type TorchLayoutKind = 'conv2d' | 'depthwise' | 'linear' | 'same';

const TO_TORCH: Readonly<Record<Exclude<TorchLayoutKind, 'same'>, readonly number[]>> = {
  conv2d: [3, 2, 0, 1],
  depthwise: [2, 3, 0, 1],
  linear: [1, 0],
};

const FROM_TORCH: Readonly<Record<Exclude<TorchLayoutKind, 'same'>, readonly number[]>> = {
  conv2d: [2, 3, 1, 0],
  depthwise: [2, 3, 0, 1],
  linear: [1, 0],
};

/** The layout kind of a primitive layer's weight (by the layer's .nvc type name). */
export function torchLayoutKind(layerType: string, weightName: string): TorchLayoutKind {
  if (weightName !== 'weight') return 'same';
  // ConvTranspose2d's [k, k, out, in] <-> [in, out, k, k] is the same permutation.
  if (layerType === 'Conv2d' || layerType === 'ConvTranspose2d') return 'conv2d';
  if (layerType === 'DepthwiseConv2d') return 'depthwise';
  if (layerType === 'Linear') return 'linear';
  return 'same';
}

function convert(t: HostTensor, kind: TorchLayoutKind, perms: typeof TO_TORCH, path: string): HostTensor {
  if (kind === 'same') return t;
  const perm = perms[kind];
  if (t.shape.length !== perm.length)
    throw new Error(`${path}: a ${kind} weight must have rank ${perm.length}, got [${t.shape.join(', ')}]`);
  return transposeHost(t, perm);
}

/** One tensor from the tfjs layout to PyTorch's. */
export function toTorch(t: HostTensor, kind: TorchLayoutKind, path = 'tensor'): HostTensor {
  return convert(t, kind, TO_TORCH, path);
}

/** One tensor from PyTorch's layout to the tfjs one. */
export function fromTorch(t: HostTensor, kind: TorchLayoutKind, path = 'tensor'): HostTensor {
  return convert(t, kind, FROM_TORCH, path);
}

/** Every parameter path of a runtime Module tree with a layout other than `same`. */
export function moduleTorchLayouts(module: Module, prefix = ''): Map<string, TorchLayoutKind> {
  const out = new Map<string, TorchLayoutKind>();
  const visit = (m: Module, p: string): void => {
    const kind: TorchLayoutKind | undefined =
      m instanceof Conv2d || m instanceof ConvTranspose2d
        ? 'conv2d'
        : m instanceof DepthwiseConv2d
          ? 'depthwise'
          : m instanceof Linear
            ? 'linear'
            : undefined;
    if (kind) out.set(`${p}weight`, kind);
    for (const [name, c] of m.children()) visit(c, `${p}${name}.`);
  };
  visit(module, prefix);
  return out;
}

/** A whole state: every tensor converted by its path's kind (`same` when the path is not listed). */
export function stateToTorch(
  state: ReadonlyMap<string, HostTensor>,
  layouts: ReadonlyMap<string, TorchLayoutKind>,
): Map<string, HostTensor> {
  return new Map([...state].map(([p, t]) => [p, toTorch(t, layouts.get(p) ?? 'same', p)]));
}

export function stateFromTorch(
  state: ReadonlyMap<string, HostTensor>,
  layouts: ReadonlyMap<string, TorchLayoutKind>,
): Map<string, HostTensor> {
  return new Map([...state].map(([p, t]) => [p, fromTorch(t, layouts.get(p) ?? 'same', p)]));
}

/** The PyTorch shape of a tensor of tfjs shape `shape` and layout `kind`. */
export function torchShapeOf(shape: readonly number[], kind: TorchLayoutKind): number[] {
  if (kind === 'same') return [...shape];
  return TO_TORCH[kind].map((axis) => shape[axis]!);
}

/**
 * The module's parameters as a PyTorch state dict of the torch target (same keys), e.g. to start
 * the torch engine from tfjs weights.
 */
export async function moduleToTorchState(module: Module): Promise<Map<string, HostTensor>> {
  return stateToTorch(await moduleToHost(module), moduleTorchLayouts(module));
}

/**
 * A torch-target state dict (the torch engine's weights, or `state_dict()` of the generated
 * nn.Module) in the tfjs layout for `module`. Refuses with one WeightsMismatchError listing every
 * missing, unexpected and mis-shaped key, before converting anything.
 */
export function torchStateToTfjs(
  module: Module,
  state: ReadonlyMap<string, HostTensor>,
  source: string,
): Map<string, HostTensor> {
  const layouts = moduleTorchLayouts(module);
  const shapes = new Map(module.namedState().map(([k, v]) => [k, v.shape] as const));
  const unexpected = [...state.keys()].filter((k) => !shapes.has(k));
  const missing = [...shapes.keys()].filter((k) => !state.has(k));
  const misshaped: ShapeMismatch[] = [];
  for (const [key, t] of state) {
    const shape = shapes.get(key);
    if (!shape) continue;
    const expected = torchShapeOf(shape, layouts.get(key) ?? 'same');
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i]))
      misshaped.push({ key: `${key} (PyTorch layout)`, expected, found: [...t.shape] });
  }
  if (missing.length || unexpected.length || misshaped.length)
    throw new WeightsMismatchError(source, missing, unexpected, misshaped);
  return stateFromTorch(state, layouts);
}
