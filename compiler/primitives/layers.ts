/**
 * Primitive records of the layers: constructed with parameters, own weights, then applied to
 * tensors (Conv2d, DepthwiseConv2d, Linear, LayerNorm, Identity).
 * In: nothing. Out: `LAYERS`, their records (see types.ts for the fields). Holds afterwards:
 * each layer's weights, shape rule, MACs, diagram label and tfjs support and lowering are here
 * and nowhere else.
 */
import { semantic } from '../report.js';
import { type Dim, dimMul, formatShape, type Shape, shapeSize } from '../symbolic.js';
import {
  CONV_PADDING_DOC,
  convSizes,
  d,
  F,
  I,
  intParam,
  last,
  ONES,
  PLAIN,
  type ParamSchema,
  type Params,
  type ParamValue,
  type PrimitiveRecord,
  paddingParam,
  rankError,
  type TfjsLayerHelpers,
  W,
  ZEROS,
} from './types.js';
import {
  BIAS,
  validateGroups,
  kernelLayerOptions,
  DILATION,
  GROUPS,
  IN_CHANNELS,
  kernelParam,
  OUT_CHANNELS,
  param,
  spatialShape,
  strideParam,
  tfjsLayer,
  weightAndBias,
} from './spatial.js';

function linearMacs(_s: readonly Shape[], out: Shape, p: Params): Dim {
  return dimMul(shapeSize(out.slice(0, -1)), d(intParam(p, 'in') * intParam(p, 'out')));
}

/** The `padding` parameter of Conv2d and DepthwiseConv2d, with its default. */
const CONV_PADDING = (byDefault: ParamValue): ParamSchema => ({
  name: 'padding',
  type: 'size',
  enumValues: ['same', 'valid'],
  lengths: [2, 4],
  min: 0,
  default: byDefault,
  doc: CONV_PADDING_DOC,
});

const CONV_SHAPE = (cin: string, cout: string) =>
  `[B, H, W, ${cin}] -> [B, H', W', ${cout}]; H' = floor((H + top + bottom - dilation (kernel - 1) - 1) / stride) ` +
  "+ 1 (PyTorch's rule; W' alike), `same`: ceil(H / stride); a symbolic H is taken to be a multiple of the stride";

/** H' and W' of a convolution's input, from its kernel, stride, dilation and padding. */
function convSizesOf(h: Dim, w: Dim, p: Params) {
  const dilation = intParam(p, 'dilation') || 1;
  return convSizes(h, w, intParam(p, 'kernel'), intParam(p, 'stride'), dilation, paddingParam(p, 'padding'));
}

/** The diagram's note of a non-default padding and dilation (`pad 1`, `dil 2`). */
function convExtras(p: Readonly<Record<string, unknown>>): string {
  const pad = p.padding;
  const padText = typeof pad === 'number' ? ` pad ${pad}` : Array.isArray(pad) ? ` pad [${pad.join(', ')}]` : '';
  const dil = typeof p.dilation === 'number' && p.dilation !== 1 ? ` dil ${p.dilation}` : '';
  const groups = typeof p.groups === 'number' && p.groups !== 1 ? ` g${p.groups}` : '';
  return `${padText}${dil}${groups}`;
}

/** A padding argument as TypeScript: a word as a string, a number or list as itself. */
function paddingCode(v: unknown, h: TfjsLayerHelpers): string {
  return typeof v === 'string' ? h.string(v) : h.value(v);
}

/** `name: value` when the value is not the default 1 (keeps the common case's generated code short). */
function optional(name: string, v: unknown, h: TfjsLayerHelpers): string[] {
  return v === undefined || v === 1 ? [] : [`${name}: ${h.value(v)}`];
}

export const LAYERS: readonly PrimitiveRecord[] = [
  {
    name: 'Conv2d',
    kind: 'layer',
    irName: 'conv2d',
    runtime: 'nv.Conv2d',
    inputs: ['x'],
    params: [IN_CHANNELS, OUT_CHANNELS, kernelParam(), strideParam(), CONV_PADDING(W('valid')), DILATION, GROUPS, BIAS],
    doc: '2-D convolution over NHWC input; weight [k, k, in / groups, out]',
    validate: validateGroups,
    weights(p) {
      const k = intParam(p, 'kernel');
      const out = intParam(p, 'out');
      return weightAndBias(p, [k, k, intParam(p, 'in') / intParam(p, 'groups'), out], out);
    },
    shape: spatialShape('Conv2d', {
      channels: { expected: param('in'), message: (a) => semantic('ShapeConvChannels', a) },
      sizes: convSizesOf,
      outChannels: param('out'),
    }),
    macs(_s, out, p) {
      const k = intParam(p, 'kernel');
      return dimMul(shapeSize(out), d((k * k * intParam(p, 'in')) / intParam(p, 'groups')));
    },
    reference: {
      shape: CONV_SHAPE('in', 'out'),
      macs: "B * H' * W' * out * kernel * kernel * in / groups",
      pytorch:
        '`nn.Conv2d(in, out, kernel, stride, padding, dilation, groups, bias)` on NCHW; nvcc is NHWC and keeps ' +
        'the weight as [k, k, in / groups, out] (PyTorch: [out, in / groups, k, k]); `same` pads as TensorFlow ' +
        'does (PyTorch refuses it with a stride); [top, bottom, left, right] is `F.pad` then the convolution',
    },
    torchAliases: [],
    diagram: {
      settings: (p) =>
        `${p.in} → ${p.out}, ${p.kernel}×${p.kernel}` +
        `${p.stride !== undefined && p.stride !== 1 ? ` /${p.stride}` : ''}` +
        convExtras(p),
    },
    targets: {
      tfjs: tfjsLayer(true, (n, h) => ({
        args: [h.value(n.params.in), h.value(n.params.out)],
        options: kernelLayerOptions(n, h, [
          `stride: ${h.value(n.params.stride)}`,
          `padding: ${paddingCode(n.params.padding, h)}`,
          ...optional('dilation', n.params.dilation, h),
          ...optional('groups', n.params.groups, h),
        ]),
      })),
    },
  },
  {
    name: 'DepthwiseConv2d',
    kind: 'layer',
    irName: 'depthwise_conv2d',
    runtime: 'nv.DepthwiseConv2d',
    inputs: ['x'],
    params: [
      { name: 'dim', type: 'int', min: 1, doc: 'channels' },
      kernelParam(undefined, I(7)),
      strideParam(),
      CONV_PADDING(W('same')),
      DILATION,
      BIAS,
    ],
    doc: 'depthwise 2-D convolution; weight [k, k, dim, 1]',
    weights(p) {
      const k = intParam(p, 'kernel');
      const c = intParam(p, 'dim');
      return weightAndBias(p, [k, k, c, 1], c);
    },
    shape: spatialShape('DepthwiseConv2d', {
      channels: { expected: param('dim'), message: (a) => semantic('ShapeDepthwiseChannels', a) },
      sizes: convSizesOf,
    }),
    macs(_s, out, p) {
      const k = intParam(p, 'kernel');
      return dimMul(shapeSize(out), d(k * k));
    },
    reference: {
      shape: "[B, H, W, dim] -> [B, H', W', dim], H' and W' as for Conv2d",
      macs: "B * H' * W' * dim * kernel * kernel",
      pytorch:
        '`nn.Conv2d(dim, dim, kernel, stride, padding, dilation, groups = dim, bias = bias)`; weight ' +
        '[k, k, dim, 1] (PyTorch: [dim, 1, k, k])',
    },
    torchAliases: [],
    diagram: {
      settings: (p) =>
        `${p.dim}, ${p.kernel}×${p.kernel} depthwise` +
        `${p.stride !== undefined && p.stride !== 1 ? ` /${p.stride}` : ''}` +
        convExtras(p),
    },
    targets: {
      tfjs: tfjsLayer(true, (n, h) => ({
        args: [h.value(n.params.dim)],
        options: kernelLayerOptions(n, h, [
          ...optional('stride', n.params.stride, h),
          `padding: ${paddingCode(n.params.padding, h)}`,
          ...optional('dilation', n.params.dilation, h),
        ]),
      })),
    },
  },
  {
    name: 'Linear',
    kind: 'layer',
    irName: 'linear',
    runtime: 'nv.Linear',
    inputs: ['x'],
    params: [
      { name: 'in', type: 'int', min: 1, doc: 'input features (last axis)' },
      { name: 'out', type: 'int', min: 1, doc: 'output features' },
      BIAS,
    ],
    doc: 'affine map over the last axis; weight [in, out]',
    weights: (p) => weightAndBias(p, [intParam(p, 'in'), intParam(p, 'out')], intParam(p, 'out')),
    shape([x], p) {
      if (x!.length < 1) return rankError('Linear', 'at least a 1-D input', x!);
      const cin = intParam(p, 'in');
      if (!last(x!).equals(d(cin)))
        return {
          error: semantic('ShapeLinearFeatures', { expected: cin, found: String(last(x!)), shape: formatShape(x!) }),
          input: 0,
          help: `use \`Linear(${last(x!)}, ...)\``,
        };
      return [...x!.slice(0, -1), d(intParam(p, 'out'))];
    },
    macs: linearMacs,
    reference: {
      shape: '[..., in] -> [..., out]',
      macs: '(elements of x without its last axis) * in * out',
      pytorch: '`nn.Linear(in, out, bias = bias)`; weight [in, out] (PyTorch: [out, in])',
    },
    torchAliases: [],
    diagram: { settings: (p) => `${p.in} → ${p.out}` },
    targets: {
      // Linear acts per position: masked positions stay put, no sparse mode needed.
      tfjs: tfjsLayer(false, (n, h) => ({
        args: [h.value(n.params.in), h.value(n.params.out)],
        options: [`bias: ${h.value(n.params.bias)}`, ...h.inits()],
      })),
    },
  },
  {
    name: 'LayerNorm',
    kind: 'layer',
    irName: 'layer_norm',
    runtime: 'nv.LayerNorm',
    inputs: ['x'],
    params: [
      { name: 'dim', type: 'int', min: 1, doc: 'size of the last axis' },
      { name: 'eps', type: 'float', default: F(1e-6), above: 0, doc: 'added to the variance inside the square root' },
    ],
    doc: 'normalises the last axis (biased variance); weight [dim] = 1, bias [dim] = 0',
    weights(p) {
      const c = intParam(p, 'dim');
      return [
        { name: 'weight', shape: [c], init: ONES, noDecay: true },
        { name: 'bias', shape: [c], init: ZEROS, noDecay: true },
      ];
    },
    shape([x], p) {
      const c = intParam(p, 'dim');
      if (x!.length < 1 || !last(x!).equals(d(c)))
        return {
          error: semantic('ShapeLayerNormAxis', {
            expected: c,
            found: x!.length ? String(last(x!)) : 'a scalar',
            shape: formatShape(x!),
          }),
          input: 0,
          help: x!.length ? `use \`LayerNorm(${last(x!)})\`` : undefined,
        };
      return x!;
    },
    reference: {
      shape: '[..., dim] -> [..., dim]',
      macs: '0',
      pytorch: "`nn.LayerNorm(dim, eps = eps)` over the last axis (PyTorch's default eps is 1e-5, nvcc's 1e-6)",
    },
    torchAliases: [],
    diagram: { settings: (p) => (p.dim !== undefined ? `${p.dim}` : undefined) },
    targets: {
      tfjs: tfjsLayer(true, (n, h) => {
        if (
          n.weights.some(
            (w) => (w.name === 'weight' && w.init.kind !== 'ones') || (w.name === 'bias' && w.init.kind !== 'zeros'),
          )
        )
          h.fail('LayerNorm with a non-default initializer is not supported by the runtime');
        return { args: [h.value(n.params.dim)], options: [`eps: ${h.value(n.params.eps)}`] };
      }),
    },
  },
  {
    name: 'Identity',
    kind: 'layer',
    irName: 'identity',
    runtime: 'nv.Identity',
    inputs: ['x'],
    params: [],
    doc: 'returns its input',
    shape: ([x]) => x!,
    reference: { shape: 'x -> x', macs: '0', pytorch: '`nn.Identity()`' },
    torchAliases: [],
    diagram: PLAIN,
    targets: { tfjs: tfjsLayer(false, () => ({ args: [], options: [] })) },
  },
];
