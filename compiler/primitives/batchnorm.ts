/**
 * Primitive records of batch normalisation: BatchNorm2d ([B, H, W, C]) and BatchNorm1d ([B, C]
 * or [B, L, C]), channels on the last axis like every nvcc layer.
 * In: nothing. Out: `BATCH_NORMS`, their records (see types.ts for the fields). Holds
 * afterwards: PyTorch's semantics and state_dict names: parameters `weight` (ones) and `bias`
 * (zeros), buffers `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked`
 * (int scalar); eps 1e-5 and momentum 0.1 by default; training normalises with the batch mean
 * and biased variance and moves the running statistics (unbiased variance), evaluation uses the
 * running ones (runtime/layers/batchnorm.ts, the torch target's nn.BatchNorm). No MACs (norms
 * count 0, types.ts).
 */
import { semantic } from '../report.js';
import { formatShape, type Shape } from '../symbolic.js';
import {
  always,
  B,
  boolParam,
  type BufferSpec,
  d,
  F,
  intParam,
  last,
  ONES,
  type ParamSchema,
  type Params,
  type PrimitiveRecord,
  rankError,
  type ShapeError,
  type WeightSpec,
  ZEROS,
} from './types.js';

const PARAMS: readonly ParamSchema[] = [
  { name: 'dim', type: 'int', min: 1, doc: "channels (the last axis; PyTorch's `num_features`)" },
  { name: 'eps', type: 'float', default: F(1e-5), above: 0, doc: 'added to the variance inside the square root' },
  {
    name: 'momentum',
    type: 'float',
    default: F(0.1),
    min: 0,
    max: 1,
    doc: 'weight of the batch in the running statistics: running = (1 - momentum) * running + momentum * batch',
  },
  { name: 'affine', type: 'bool', default: B(true), doc: 'learn a per-channel `weight` and `bias`' },
];

function weights(p: Params): WeightSpec[] {
  if (!boolParam(p, 'affine')) return [];
  const c = intParam(p, 'dim');
  return [
    { name: 'weight', shape: [c], init: ONES, noDecay: true },
    { name: 'bias', shape: [c], init: ZEROS, noDecay: true },
  ];
}

function buffers(p: Params): BufferSpec[] {
  const c = intParam(p, 'dim');
  return [
    { name: 'running_mean', shape: [c], init: ZEROS, dtype: 'float32' },
    { name: 'running_var', shape: [c], init: ONES, dtype: 'float32' },
    { name: 'num_batches_tracked', shape: [], init: ZEROS, dtype: 'int32' },
  ];
}

function channelsOk(name: string, x: Shape, p: Params): ShapeError | undefined {
  const c = intParam(p, 'dim');
  if (last(x).equals(d(c))) return undefined;
  return {
    error: semantic('ShapeBatchNormChannels', {
      callee: name,
      expected: c,
      found: String(last(x)),
      shape: formatShape(x),
    }),
    input: 0,
    help: `use \`${name}(${last(x)})\``,
  };
}

function record(name: 'BatchNorm1d' | 'BatchNorm2d', ranks: readonly number[], expected: string): PrimitiveRecord {
  return {
    name,
    kind: 'layer',
    irName: name === 'BatchNorm2d' ? 'batch_norm2d' : 'batch_norm1d',
    runtime: 'nv.BatchNorm',
    inputs: ['x'],
    params: PARAMS,
    doc:
      `batch normalisation of ${expected} over every axis but the last (PyTorch's \`${name}\`, channels last); ` +
      'weight [dim] = 1, bias [dim] = 0, buffers running_mean, running_var, num_batches_tracked',
    weights,
    buffers,
    shape([x], p) {
      if (!ranks.includes(x!.length)) return rankError(name, expected, x!);
      return channelsOk(name, x!, p) ?? x!;
    },
    reference: {
      shape: `${expected.replace(/^a /, '').replace(' input', '')} -> the same shape`,
      macs: '0 (norms count no MACs)',
      pytorch:
        `\`nn.${name}(dim, eps, momentum, affine)\` with the channels moved to the last axis; same state_dict ` +
        '(weight, bias, running_mean, running_var, num_batches_tracked); training normalises with the batch ' +
        'statistics and updates the running ones, evaluation (validation, test, predict) reads them',
    },
    torchAliases: name === 'BatchNorm2d' ? ['batch_norm', 'SyncBatchNorm'] : [],
    diagram: { settings: (p) => (p.dim !== undefined ? `${p.dim}` : undefined) },
    targets: {
      tfjs: {
        supports: always,
        lower: {
          kind: 'layer',
          // No masked mode: under a patch mask the statistics include the removed positions.
          sparseMode: false,
          construct(n, h) {
            if (
              n.weights.some(
                (w) =>
                  (w.name === 'weight' && w.init.kind !== 'ones') || (w.name === 'bias' && w.init.kind !== 'zeros'),
              )
            )
              h.fail(`${name} with a non-default initializer is not supported by the runtime`);
            return {
              args: [h.value(n.params.dim)],
              options: [
                `eps: ${h.value(n.params.eps)}`,
                `momentum: ${h.value(n.params.momentum)}`,
                `affine: ${h.value(n.params.affine)}`,
              ],
            };
          },
        },
      },
    },
  };
}

export const BATCH_NORMS: readonly PrimitiveRecord[] = [
  record('BatchNorm2d', [4], 'a 4-D [B, H, W, C] input'),
  record('BatchNorm1d', [2, 3], 'a 2-D [B, C] or 3-D [B, L, C] input'),
];
