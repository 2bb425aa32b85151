/**
 * A trained model's weights as the official PyTorch ConvNeXt-V2 state dict
 * (`nvcc export RUN_DIR --format torch`).
 * In: the model's IR (to know which layer owns each parameter) and its weights in the tfjs
 * layout (a run's `stages/<stage>/weights.safetensors`), optionally a child path whose subtree
 * moves to the root (`enc`: the MED-NVC models keep the encoder under `enc.`).
 * Out: the state dict in PyTorch's layouts under the official names: conv weights
 * [out, in, kh, kw], depthwise [C, 1, k, k], Linear [out, in], GRN gamma/beta [1, 1, 1, C]
 * (the official GRN shape), everything else as stored.
 * Holds afterwards: either every parameter of the IR was found with its IR shape and nothing
 * else was in the file, or one ExportMismatchError lists every missing, unexpected and
 * mis-shaped key; the result has one tensor per IR weight.
 */
import { NvccError } from '../../../runtime/errors.js';
import type { ModelIR, ModuleNode } from '../../ir/ir.js';
import type { HostTensor } from '../../../runtime/io/safetensors.js';
import { reshapeHost } from '../../../runtime/io/layout.js';
import { toTorch, torchLayoutKind, type TorchLayoutKind } from '../../../runtime/io/torch-layout.js';

/** Weights that are not the model's (a data error: the file, not the program, is wrong). */
export class ExportMismatchError extends NvccError {
  constructor(
    source: string,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly misshaped: readonly string[],
  ) {
    const parts = [
      missing.length ? `missing: ${missing.join(', ')}` : '',
      unexpected.length ? `unexpected: ${unexpected.join(', ')}` : '',
      misshaped.length ? `mis-shaped: ${misshaped.join(', ')}` : '',
    ].filter(Boolean);
    super('data', `${source} does not hold this model's weights (${parts.join('; ')})`);
    this.name = 'ExportMismatchError';
  }
}

interface WeightInfo {
  readonly shape: readonly number[];
  readonly kind: TorchLayoutKind;
  /** An official GRN parameter, stored [1, 1, 1, C]. */
  readonly grn: boolean;
}

function weightInfo(root: ModuleNode): Map<string, WeightInfo> {
  const out = new Map<string, WeightInfo>();
  const visit = (node: ModuleNode) => {
    for (const w of node.weights) {
      const path = node.path ? `${node.path}.${w.name}` : w.name;
      const kind = node.kind === 'primitive' ? torchLayoutKind(node.primitive ?? node.typeName, w.name) : 'same';
      const grn = node.kind === 'block' && node.typeName === 'GRN' && (w.name === 'gamma' || w.name === 'beta');
      out.set(path, { shape: w.shape, kind, grn });
    }
    for (const c of node.children) visit(c);
  };
  visit(root);
  return out;
}

export interface OfficialExportOptions {
  /** A child path whose parameters move to the root (`enc`). */
  readonly strip?: string;
  /** Names the weights in error messages. */
  readonly source?: string;
}

export function officialTorchState(
  model: ModelIR,
  weights: ReadonlyMap<string, HostTensor>,
  options: OfficialExportOptions = {},
): Map<string, HostTensor> {
  const info = weightInfo(model.root);
  const source = options.source ?? 'the weights';
  const missing = [...info.keys()].filter((k) => !weights.has(k));
  const unexpected = [...weights.keys()].filter((k) => !info.has(k));
  const misshaped: string[] = [];
  for (const [k, t] of weights) {
    const i = info.get(k);
    if (i && (i.shape.length !== t.shape.length || i.shape.some((d, j) => d !== t.shape[j])))
      misshaped.push(`${k} [${t.shape.join(', ')}] (model: [${i.shape.join(', ')}])`);
  }
  if (missing.length || unexpected.length || misshaped.length)
    throw new ExportMismatchError(source, missing, unexpected, misshaped);
  const prefix = options.strip ? `${options.strip.replace(/\.$/, '')}.` : undefined;
  if (prefix && ![...info.keys()].some((k) => k.startsWith(prefix)))
    throw new ExportMismatchError(source, [`${prefix}* (the --strip path holds no parameter)`], [], []);
  const out = new Map<string, HostTensor>();
  for (const [k, i] of info) {
    let t = toTorch(weights.get(k)!, i.kind, k);
    if (i.grn) t = reshapeHost(t, [1, 1, 1, t.shape[0]!]);
    const key = prefix && k.startsWith(prefix) ? k.slice(prefix.length) : k;
    if (out.has(key))
      throw new ExportMismatchError(source, [], [], [`${key} (two parameters map to it after --strip)`]);
    out.set(key, t);
  }
  return out;
}
