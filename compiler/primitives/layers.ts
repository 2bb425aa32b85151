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
  always,
  B,
  boolParam,
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
  TRUNC,
  W,
  type WeightSpec,
  ZEROS,
} from './types.js';

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

/** H' and W' of a convolution's NHWC input, from its kernel, stride, dilation and padding. */
function convSizesOf(x: Shape, p: Params) {
  const dilation = intParam(p, 'dilation') || 1;
  return convSizes(x[1]!, x[2]!, intParam(p, 'kernel'), intParam(p, 'stride'), dilation, paddingParam(p, 'padding'));
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
    params: [
      { name: 'in', type: 'int', min: 1, doc: 'input channels' },
      { name: 'out', type: 'int', min: 1, doc: 'output channels' },
      { name: 'kernel', type: 'int', min: 1, doc: 'square kernel size' },
      { name: 'stride', type: 'int', default: I(1), min: 1, doc: 'stride' },
      CONV_PADDING(W('valid')),
      { name: 'dilation', type: 'int', default: I(1), min: 1, doc: 'spacing between kernel taps' },
      { name: 'groups', type: 'int', default: I(1), min: 1, doc: 'channel groups' },
      { name: 'bias', type: 'bool', default: B(true), doc: 'add a bias' },
    ],
    doc: '2-D convolution over NHWC input; weight [k, k, in / groups, out]',
    validate(p) {
      const g = intParam(p, 'groups');
      if (intParam(p, 'in') % g !== 0 || intParam(p, 'out') % g !== 0)
        return {
          param: 'groups',
          message: `groups = ${g} must divide both in = ${intParam(p, 'in')} and out = ${intParam(p, 'out')}`,
        };
      return undefined;
    },
    weights(p) {
      const k = intParam(p, 'kernel');
      const ws: WeightSpec[] = [
        {
          name: 'weight',
          shape: [k, k, intParam(p, 'in') / intParam(p, 'groups'), intParam(p, 'out')],
          init: TRUNC(0.02),
          noDecay: false,
        },
      ];
      if (boolParam(p, 'bias')) ws.push({ name: 'bias', shape: [intParam(p, 'out')], init: ZEROS, noDecay: true });
      return ws;
    },
    shape([x], p) {
      if (x!.length !== 4) return rankError('Conv2d', 'a 4-D [B, H, W, C] input', x!);
      const cin = intParam(p, 'in');
      if (!last(x!).equals(d(cin)))
        return {
          error: semantic('ShapeConvChannels', { expected: cin, found: String(last(x!)), shape: formatShape(x!) }),
          input: 0,
          help: `use \`Conv2d(${last(x!)}, ...)\``,
        };
      const hw = convSizesOf(x!, p);
      if (!Array.isArray(hw)) return { error: hw, input: 0 };
      return [x![0]!, hw[0], hw[1], d(intParam(p, 'out'))];
    },
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
      tfjs: {
        supports: always,
        lower: {
          kind: 'layer',
          sparseMode: true,
          construct: (n, h) => ({
            args: [h.value(n.params.in), h.value(n.params.out)],
            options: [
              `kernel: ${h.value(n.params.kernel)}`,
              `stride: ${h.value(n.params.stride)}`,
              `padding: ${paddingCode(n.params.padding, h)}`,
              ...optional('dilation', n.params.dilation, h),
              ...optional('groups', n.params.groups, h),
              `bias: ${h.value(n.params.bias)}`,
              ...h.inits(),
            ],
          }),
        },
      },
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
      { name: 'kernel', type: 'int', default: I(7), min: 1, doc: 'square kernel size' },
      { name: 'stride', type: 'int', default: I(1), min: 1, doc: 'stride' },
      CONV_PADDING(W('same')),
      { name: 'dilation', type: 'int', default: I(1), min: 1, doc: 'spacing between kernel taps' },
      { name: 'bias', type: 'bool', default: B(true), doc: 'add a bias' },
    ],
    doc: 'depthwise 2-D convolution; weight [k, k, dim, 1]',
    weights(p) {
      const k = intParam(p, 'kernel');
      const c = intParam(p, 'dim');
      const ws: WeightSpec[] = [{ name: 'weight', shape: [k, k, c, 1], init: TRUNC(0.02), noDecay: false }];
      if (boolParam(p, 'bias')) ws.push({ name: 'bias', shape: [c], init: ZEROS, noDecay: true });
      return ws;
    },
    shape([x], p) {
      if (x!.length !== 4) return rankError('DepthwiseConv2d', 'a 4-D [B, H, W, C] input', x!);
      const c = intParam(p, 'dim');
      if (!last(x!).equals(d(c)))
        return {
          error: semantic('ShapeDepthwiseChannels', { expected: c, found: String(last(x!)), shape: formatShape(x!) }),
          input: 0,
          help: `use \`DepthwiseConv2d(${last(x!)}, ...)\``,
        };
      const hw = convSizesOf(x!, p);
      if (!Array.isArray(hw)) return { error: hw, input: 0 };
      return [x![0]!, hw[0], hw[1], d(c)];
    },
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
      tfjs: {
        supports: always,
        lower: {
          kind: 'layer',
          sparseMode: true,
          construct: (n, h) => ({
            args: [h.value(n.params.dim)],
            options: [
              `kernel: ${h.value(n.params.kernel)}`,
              ...optional('stride', n.params.stride, h),
              `padding: ${paddingCode(n.params.padding, h)}`,
              ...optional('dilation', n.params.dilation, h),
              `bias: ${h.value(n.params.bias)}`,
              ...h.inits(),
            ],
          }),
        },
      },
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
      { name: 'bias', type: 'bool', default: B(true), doc: 'add a bias' },
    ],
    doc: 'affine map over the last axis; weight [in, out]',
    weights(p) {
      const ws: WeightSpec[] = [
        { name: 'weight', shape: [intParam(p, 'in'), intParam(p, 'out')], init: TRUNC(0.02), noDecay: false },
      ];
      if (boolParam(p, 'bias')) ws.push({ name: 'bias', shape: [intParam(p, 'out')], init: ZEROS, noDecay: true });
      return ws;
    },
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
      tfjs: {
        supports: always,
        lower: {
          kind: 'layer',
          // Linear acts per position: masked positions stay put, no sparse mode needed.
          sparseMode: false,
          construct: (n, h) => ({
            args: [h.value(n.params.in), h.value(n.params.out)],
            options: [`bias: ${h.value(n.params.bias)}`, ...h.inits()],
          }),
        },
      },
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
      tfjs: {
        supports: always,
        lower: {
          kind: 'layer',
          sparseMode: true,
          construct(n, h) {
            if (
              n.weights.some(
                (w) =>
                  (w.name === 'weight' && w.init.kind !== 'ones') || (w.name === 'bias' && w.init.kind !== 'zeros'),
              )
            )
              h.fail('LayerNorm with a non-default initializer is not supported by the runtime');
            return { args: [h.value(n.params.dim)], options: [`eps: ${h.value(n.params.eps)}`] };
          },
        },
      },
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
    targets: {
      tfjs: {
        supports: always,
        lower: { kind: 'layer', sparseMode: false, construct: () => ({ args: [], options: [] }) },
      },
    },
  },
];
