/**
 * Primitive records of PyTorch's batch-independent normalisations on channels-last maps:
 * GroupNorm and InstanceNorm2d (no running statistics), with PyTorch's eps default 1e-5, its
 * affine defaults (GroupNorm affine, InstanceNorm2d not) and parameter names `weight` / `bias`.
 * In: nothing. Out: `GROUP_NORMS`, their records (see types.ts for the fields). Holds afterwards:
 * each norm's weights, shape rule, diagram label and tfjs lowering are here and nowhere else.
 */
import { semantic } from '../report.js';
import { formatShape, type Shape } from '../symbolic.js';
import {
  always,
  B,
  boolParam,
  d,
  F,
  intParam,
  last,
  ONES,
  type Params,
  type PrimitiveRecord,
  rankError,
  type ShapeError,
  type WeightSpec,
  ZEROS,
} from './types.js';

const affineWeights = (p: Params): WeightSpec[] =>
  boolParam(p, 'affine')
    ? [
        { name: 'weight', shape: [intParam(p, 'dim')], init: ONES, noDecay: true },
        { name: 'bias', shape: [intParam(p, 'dim')], init: ZEROS, noDecay: true },
      ]
    : [];

function channelsError(callee: string, x: Shape, p: Params): ShapeError | undefined {
  const c = intParam(p, 'dim');
  if (last(x).equals(d(c))) return undefined;
  return {
    error: semantic('ShapeChannels', { callee, expected: c, found: String(last(x)), shape: formatShape(x) }),
    input: 0,
    help: `use \`${callee}(${callee === 'GroupNorm' ? `${intParam(p, 'groups')}, ` : ''}${last(x)})\``,
  };
}

const EPS = {
  name: 'eps',
  type: 'float',
  default: F(1e-5),
  above: 0,
  doc: 'added to the variance inside the square root',
} as const;

export const GROUP_NORMS: readonly PrimitiveRecord[] = [
  {
    name: 'GroupNorm',
    kind: 'layer',
    irName: 'group_norm',
    runtime: 'nv.GroupNorm',
    inputs: ['x'],
    params: [
      { name: 'groups', type: 'int', min: 1, doc: 'channel groups (contiguous), each normalised on its own' },
      { name: 'dim', type: 'int', min: 1, doc: 'channels (the last axis)' },
      EPS,
      { name: 'affine', type: 'bool', default: B(true), doc: 'learn a per-channel weight (ones) and bias (zeros)' },
    ],
    doc:
      'normalises each sample over every position and the channels of each group (biased variance), then the ' +
      'per-channel affine map',
    validate(p) {
      const g = intParam(p, 'groups');
      if (intParam(p, 'dim') % g === 0) return undefined;
      return { param: 'groups', message: `groups = ${g} must divide dim = ${intParam(p, 'dim')}` };
    },
    weights: affineWeights,
    shape([x], p) {
      if (x!.length < 2) return rankError('GroupNorm', 'at least a 2-D [B, ..., C] input', x!);
      return channelsError('GroupNorm', x!, p) ?? x!;
    },
    reference: {
      shape: '[B, ..., dim] -> [B, ..., dim]',
      macs: '0',
      pytorch: '`nn.GroupNorm(groups, dim, eps, affine)` on NCHW; nvcc is channels-last',
    },
    torchAliases: ['group_norm'],
    diagram: { settings: (p) => `${p.groups} groups, ${p.dim}` },
    targets: {
      tfjs: {
        supports: always,
        lower: {
          kind: 'layer',
          sparseMode: false,
          construct: (n, h) => ({
            args: [h.value(n.params.groups), h.value(n.params.dim)],
            options: [`eps: ${h.value(n.params.eps)}`, `affine: ${h.value(n.params.affine)}`],
          }),
        },
      },
    },
  },
  {
    name: 'InstanceNorm2d',
    kind: 'layer',
    irName: 'instance_norm2d',
    runtime: 'nv.InstanceNorm2d',
    inputs: ['x'],
    params: [
      { name: 'dim', type: 'int', min: 1, doc: 'channels (the last axis)' },
      EPS,
      { name: 'affine', type: 'bool', default: B(false), doc: 'learn a per-channel weight (ones) and bias (zeros)' },
    ],
    doc: "normalises each sample's channels over H and W (biased variance; no running statistics)",
    weights: affineWeights,
    shape([x], p) {
      if (x!.length !== 4) return rankError('InstanceNorm2d', 'a 4-D [B, H, W, C] input', x!);
      return channelsError('InstanceNorm2d', x!, p) ?? x!;
    },
    reference: {
      shape: '[B, H, W, dim] -> [B, H, W, dim]',
      macs: '0',
      pytorch: '`nn.InstanceNorm2d(dim, eps, affine)` (track_running_stats false) on NCHW; nvcc is NHWC',
    },
    torchAliases: ['instance_norm', 'InstanceNorm'],
    diagram: { settings: (p) => `${p.dim}` },
    targets: {
      tfjs: {
        supports: always,
        lower: {
          kind: 'layer',
          sparseMode: false,
          construct: (n, h) => ({
            args: [h.value(n.params.dim)],
            options: [`eps: ${h.value(n.params.eps)}`, `affine: ${h.value(n.params.affine)}`],
          }),
        },
      },
    },
  },
];
