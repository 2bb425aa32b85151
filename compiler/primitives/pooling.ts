/**
 * Primitive records of the pooling layers (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d): weightless
 * layers with PyTorch's names, arguments and output sizes, on NHWC maps.
 * In: nothing. Out: `POOLING`, their records (see types.ts for the fields). Holds afterwards:
 * each pool's shape rule (PyTorch's floor((H + 2p - k) / s) + 1, ceil_mode false; adaptive
 * pooling's output size as given), diagram label and tfjs lowering are here and nowhere else.
 */
import { Dim } from '../symbolic.js';
import {
  B,
  d,
  I,
  intParam,
  pairParam,
  type Params,
  type ParamSchema,
  type PrimitiveRecord,
  windowOut,
} from './types.js';
import type { CatalogueMessage } from '../../dsl/diagnostics/catalogue.js';
import { kernelParam, spatialShape, strideParam, tfjsLayer } from './spatial.js';

/** PyTorch's stride default is the kernel; 0 stands for it. */
const strideOf = (p: Params) => intParam(p, 'stride') || intParam(p, 'kernel');

function windowParams(what: string): ParamSchema[] {
  return [
    kernelParam(`square ${what} window size`),
    strideParam('step between windows (0: the kernel size)', I(0), 0),
    { name: 'padding', type: 'int', default: I(0), min: 0, doc: 'cells added on every side (at most kernel / 2)' },
  ];
}

function validateWindow(p: Params) {
  const k = intParam(p, 'kernel');
  const pad = intParam(p, 'padding');
  if (2 * pad > k)
    return {
      param: 'padding',
      message: `padding = ${pad} is more than half the kernel ${k} (PyTorch refuses it too)`,
      help: `use padding <= ${Math.floor(k / 2)}`,
    };
  return undefined;
}

/** H' and W' of a pool's input: PyTorch's floor((H + 2 padding - kernel) / stride) + 1. */
function pooledSizes(h: Dim, w: Dim, p: Params): [Dim, Dim] | CatalogueMessage {
  const k = intParam(p, 'kernel');
  const s = strideOf(p);
  const pad = intParam(p, 'padding');
  const oh = windowOut(h, k, s, 2 * pad);
  if (!(oh instanceof Dim)) return oh;
  const ow = windowOut(w, k, s, 2 * pad);
  if (!(ow instanceof Dim)) return ow;
  return [oh, ow];
}

function windowSettings(p: Readonly<Record<string, unknown>>): string {
  const k = Number(p.kernel);
  const s = Number(p.stride) || k;
  const pad = Number(p.padding ?? 0);
  return `${k}×${k}${s !== 1 ? ` /${s}` : ''}${pad ? ` pad ${pad}` : ''}`;
}

const windowOptions = (params: Readonly<Record<string, unknown>>, value: (v: unknown) => string) => [
  `kernel: ${value(params.kernel)}`,
  `stride: ${value(params.stride ?? 0)}`,
  `padding: ${value(params.padding ?? 0)}`,
];

const WINDOW_SHAPE =
  "[B, H, W, C] -> [B, H', W', C], H' = floor((H + 2 padding - kernel) / stride) + 1 (W' alike); a symbolic H " +
  'is taken to be a multiple of the stride';

export const POOLING: readonly PrimitiveRecord[] = [
  {
    name: 'MaxPool2d',
    kind: 'layer',
    irName: 'max_pool2d',
    runtime: 'nv.MaxPool2d',
    inputs: ['x'],
    params: [...windowParams('max')],
    doc:
      'max over k x k windows of NHWC maps (nn.MaxPool2d; the padding never wins the max); ' +
      'H -> floor((H + 2 padding - kernel) / stride) + 1',
    validate: validateWindow,
    shape: spatialShape('MaxPool2d', { sizes: pooledSizes }),
    reference: {
      shape: WINDOW_SHAPE,
      macs: '0',
      pytorch:
        '`nn.MaxPool2d(kernel, stride, padding)` (ceil_mode false, no dilation) on NCHW; nvcc is NHWC and ' +
        '`stride = 0` stands for the kernel',
    },
    torchAliases: ['max_pool2d', 'MaxPool'],
    diagram: { settings: (p) => `max ${windowSettings(p)}` },
    targets: { tfjs: tfjsLayer(false, (n, h) => ({ args: [], options: windowOptions(n.params, h.value) })) },
  },
  {
    name: 'AvgPool2d',
    kind: 'layer',
    irName: 'avg_pool2d',
    runtime: 'nv.AvgPool2d',
    inputs: ['x'],
    params: [
      ...windowParams('average'),
      {
        name: 'count_include_pad',
        type: 'bool',
        default: B(true),
        doc: 'padded zeros count in the divisor (PyTorch default)',
      },
    ],
    doc: 'mean over k x k windows of NHWC maps (nn.AvgPool2d); H -> floor((H + 2 padding - kernel) / stride) + 1',
    validate: validateWindow,
    shape: spatialShape('AvgPool2d', { sizes: pooledSizes }),
    reference: {
      shape: WINDOW_SHAPE,
      macs: '0',
      pytorch:
        '`nn.AvgPool2d(kernel, stride, padding, count_include_pad = count_include_pad)` (ceil_mode false) on ' +
        'NCHW; nvcc is NHWC and `stride = 0` stands for the kernel',
    },
    torchAliases: ['avg_pool2d', 'AvgPool'],
    diagram: { settings: (p) => `avg ${windowSettings(p)}` },
    targets: {
      tfjs: tfjsLayer(false, (n, h) => ({
        args: [],
        options: [
          ...windowOptions(n.params, h.value),
          `countIncludePad: ${h.value(n.params.count_include_pad ?? true)}`,
        ],
      })),
    },
  },
  {
    name: 'AdaptiveAvgPool2d',
    kind: 'layer',
    irName: 'adaptive_avg_pool2d',
    runtime: 'nv.AdaptiveAvgPool2d',
    inputs: ['x'],
    params: [{ name: 'output_size', type: 'size', lengths: [2], min: 1, doc: 'output n (n x n) or [height, width]' }],
    doc:
      "mean over PyTorch's adaptive bins (nn.AdaptiveAvgPool2d): output row i averages input rows " +
      'floor(i H / out) to ceil((i + 1) H / out); [B, H, W, C] -> [B, out_h, out_w, C]',
    shape: spatialShape('AdaptiveAvgPool2d', {
      sizes: (_h, _w, p) => {
        const [oh, ow] = pairParam(p, 'output_size');
        return [d(oh), d(ow)];
      },
    }),
    reference: {
      shape: '[B, H, W, C] -> [B, out_h, out_w, C] (any H, W)',
      macs: '0',
      pytorch: '`nn.AdaptiveAvgPool2d(output_size)` on NCHW; nvcc is NHWC',
    },
    torchAliases: ['adaptive_avg_pool2d', 'AdaptiveAvgPool'],
    diagram: {
      settings: (p) => {
        const size = Array.isArray(p.output_size) ? p.output_size : [p.output_size, p.output_size];
        return `adaptive avg → ${size.join('×')}`;
      },
    },
    targets: { tfjs: tfjsLayer(false, (n, h) => ({ args: [h.value(n.params.output_size)], options: [] })) },
  },
];
