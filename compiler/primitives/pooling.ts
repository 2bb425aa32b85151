/**
 * Primitive records of the pooling layers (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d): weightless
 * layers with PyTorch's names, arguments and output sizes, on NHWC maps.
 * In: nothing. Out: `POOLING`, their records (see types.ts for the fields). Holds afterwards:
 * each pool's shape rule (PyTorch's floor((H + 2p - d (k - 1) - 1) / s) + 1, or its ceiling with
 * ceil_mode when the last window starts inside the input or the left padding; adaptive pooling's
 * output size as given), diagram label and tfjs lowering are here and nowhere else.
 */
import { Dim, dimAdd, dimConst, dimDiv, dimSub } from '../symbolic.js';
import {
  B,
  boolParam,
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
import { semantic } from '../report.js';
import { DILATION, kernelParam, spatialShape, strideParam, tfjsLayer } from './spatial.js';

/** PyTorch's stride default is the kernel; 0 stands for it. */
const strideOf = (p: Params) => intParam(p, 'stride') || intParam(p, 'kernel');

function windowParams(what: string): ParamSchema[] {
  return [
    kernelParam(`square ${what} window size`),
    strideParam('step between windows (0: the kernel size)', I(0), 0),
    { name: 'padding', type: 'int', default: I(0), min: 0, doc: 'cells added on every side (at most kernel / 2)' },
  ];
}

const CEIL_MODE: ParamSchema = {
  name: 'ceil_mode',
  type: 'bool',
  default: B(false),
  doc: "round the output size up (PyTorch's ceil_mode): a last, partial window if it starts inside the input",
};

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

/**
 * A pool's output size along one axis (PyTorch's pooling_output_shape): the window spans
 * d (k - 1) + 1 cells; floor((size + 2 pad - span) / stride) + 1, or with ceil_mode the ceiling,
 * less one when the last window would start past the input and the left padding
 * ((out - 1) stride >= size + pad). A symbolic size's terms are taken to be multiples of the
 * stride, as `windowOut` does, so the rounding acts on its constant part.
 */
function pooledOut(size: Dim, span: number, stride: number, pad: number, ceil: boolean): Dim | CatalogueMessage {
  if (!ceil) return windowOut(size, span, stride, 2 * pad);
  const constantTerm = size.terms.find((t) => t.key === '');
  const c0 = constantTerm ? Number(constantTerm.coef.num) / Number(constantTerm.coef.den) : 0;
  let steps = Math.ceil((c0 + 2 * pad - span) / stride);
  if (steps * stride >= c0 + pad) steps -= 1;
  if (size.isConstant() && steps < 0)
    return semantic('ShapeWindowTooLarge', { kernel: span, size: c0, padded: c0 + 2 * pad });
  const symbolic = constantTerm ? dimSub(size, dimConst(constantTerm.coef)) : size;
  return dimAdd(dimDiv(symbolic, d(stride))!, d(steps + 1));
}

/** H' and W' of a pool's input, from its kernel, stride, padding, dilation and ceil_mode. */
function pooledSizes(h: Dim, w: Dim, p: Params): [Dim, Dim] | CatalogueMessage {
  const span = (intParam(p, 'dilation') || 1) * (intParam(p, 'kernel') - 1) + 1;
  const s = strideOf(p);
  const pad = intParam(p, 'padding');
  const ceil = boolParam(p, 'ceil_mode');
  const dilation = intParam(p, 'dilation') || 1;
  // A dilated window's refusal says how its span comes about (`kernel 7` alone would puzzle).
  const refusal = (size: Dim, out: CatalogueMessage) => {
    if (dilation === 1 || !size.isConstant()) return out;
    const n = size.asInt() ?? 0;
    return semantic('ShapeDilatedWindowTooLarge', {
      kernel: intParam(p, 'kernel'),
      dilation,
      span,
      padded: n + 2 * pad,
    });
  };
  const oh = pooledOut(h, span, s, pad, ceil);
  if (!(oh instanceof Dim)) return refusal(h, oh);
  const ow = pooledOut(w, span, s, pad, ceil);
  if (!(ow instanceof Dim)) return refusal(w, ow);
  return [oh, ow];
}

function windowSettings(p: Readonly<Record<string, unknown>>): string {
  const k = Number(p.kernel);
  const s = Number(p.stride) || k;
  const pad = Number(p.padding ?? 0);
  const dil = typeof p.dilation === 'number' && p.dilation !== 1 ? ` dil ${p.dilation}` : '';
  return `${k}×${k}${s !== 1 ? ` /${s}` : ''}${pad ? ` pad ${pad}` : ''}${dil}${p.ceil_mode === true ? ' ceil' : ''}`;
}

/** The runtime options; dilation and ceilMode only when set (the common case's code stays as it was). */
const windowOptions = (params: Readonly<Record<string, unknown>>, value: (v: unknown) => string) => [
  `kernel: ${value(params.kernel)}`,
  `stride: ${value(params.stride ?? 0)}`,
  `padding: ${value(params.padding ?? 0)}`,
  ...(typeof params.dilation === 'number' && params.dilation !== 1 ? [`dilation: ${value(params.dilation)}`] : []),
  ...(params.ceil_mode === true ? ['ceilMode: true'] : []),
];

const WINDOW_SHAPE =
  "[B, H, W, C] -> [B, H', W', C], H' = floor((H + 2 padding - span) / stride) + 1 with span = dilation " +
  "(kernel - 1) + 1 (W' alike); with ceil_mode the ceiling, less one when the last window would start at or " +
  'past H + padding (it must start inside the input or the left padding); a symbolic H is taken to be a ' +
  'multiple of the stride';

export const POOLING: readonly PrimitiveRecord[] = [
  {
    name: 'MaxPool2d',
    kind: 'layer',
    irName: 'max_pool2d',
    runtime: 'nv.MaxPool2d',
    inputs: ['x'],
    params: [...windowParams('max'), DILATION, CEIL_MODE],
    doc:
      'max over k x k windows of NHWC maps, taps `dilation` apart (nn.MaxPool2d; the padding never wins the ' +
      'max); H -> floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1 (ceil with ceil_mode)',
    validate: validateWindow,
    shape: spatialShape('MaxPool2d', { sizes: pooledSizes }),
    reference: {
      shape: WINDOW_SHAPE,
      macs: '0',
      pytorch:
        '`nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode = ceil_mode)` on NCHW; nvcc is NHWC and ' +
        '`stride = 0` stands for the kernel; no return_indices',
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
      CEIL_MODE,
    ],
    doc:
      'mean over k x k windows of NHWC maps (nn.AvgPool2d); H -> floor((H + 2 padding - kernel) / stride) + 1 ' +
      '(ceil with ceil_mode; a last, partial window divides by its cells up to H + padding, or by its input ' +
      'cells alone without count_include_pad)',
    validate: validateWindow,
    shape: spatialShape('AvgPool2d', { sizes: pooledSizes }),
    reference: {
      shape: WINDOW_SHAPE,
      macs: '0',
      pytorch:
        '`nn.AvgPool2d(kernel, stride, padding, ceil_mode = ceil_mode, count_include_pad = count_include_pad)` ' +
        'on NCHW (no dilation there either); nvcc is NHWC, `stride = 0` stands for the kernel, and ' +
        'count_include_pad comes before ceil_mode when given by position; no divisor_override',
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
