/**
 * Primitive records that change a map's size or a tensor's shape the PyTorch way:
 * ConvTranspose2d (a layer), bilinear upsampling with align_corners, and expand (broadcast to a
 * shape, e.g. a class token to the batch).
 * In: nothing. Out: `RESAMPLING`, their records (see types.ts for the fields). Holds afterwards:
 * each one's shape rule, MACs, diagram label and tfjs lowering are here and nowhere else.
 */
import { semantic } from '../report.js';
import { type Dim, dimAdd, dimMul, dimSub, formatShape, shapeSize } from '../symbolic.js';
import { B, d, I, intParam, PLAIN, type PrimitiveRecord, shapeParam, tfjsCall } from './types.js';
import {
  BIAS,
  DILATION,
  GROUPS,
  validateGroups,
  kernelLayerOptions,
  IN_CHANNELS,
  kernelParam,
  OUT_CHANNELS,
  param,
  spatialShape,
  strideParam,
  tfjsLayer,
  weightAndBias,
} from './spatial.js';

export const RESAMPLING: readonly PrimitiveRecord[] = [
  {
    name: 'ConvTranspose2d',
    kind: 'layer',
    irName: 'conv_transpose2d',
    runtime: 'nv.ConvTranspose2d',
    inputs: ['x'],
    params: [
      IN_CHANNELS,
      OUT_CHANNELS,
      kernelParam(),
      strideParam('stride (the upsampling factor)'),
      { name: 'padding', type: 'int', default: I(0), min: 0, doc: 'rows and columns cut from every side' },
      {
        name: 'output_padding',
        type: 'int',
        default: I(0),
        min: 0,
        doc: 'rows and columns added at the bottom and right (< stride or < dilation)',
      },
      GROUPS,
      BIAS,
      DILATION,
    ],
    doc:
      'transposed 2-D convolution over NHWC input (the gradient of a strided Conv2d); weight ' +
      '[k, k, out / groups, in]',
    validate(p) {
      const op = intParam(p, 'output_padding');
      const s = intParam(p, 'stride');
      const dilation = intParam(p, 'dilation') || 1;
      if (op >= s && op >= dilation)
        return {
          param: 'output_padding',
          message:
            `output_padding = ${op} must be smaller than the stride ${s}` +
            `${dilation === 1 ? '' : ` or the dilation ${dilation}`} (PyTorch refuses it too)`,
          help: `use output_padding <= ${Math.max(s, dilation) - 1}`,
        };
      return validateGroups(p);
    },
    weights(p) {
      const k = intParam(p, 'kernel');
      const out = intParam(p, 'out');
      return weightAndBias(p, [k, k, out / (intParam(p, 'groups') || 1), intParam(p, 'in')], out);
    },
    shape: spatialShape('ConvTranspose2d', {
      channels: {
        expected: param('in'),
        message: (a) => semantic('ShapeChannels', { callee: 'ConvTranspose2d', ...a }),
      },
      sizes(h, w, p) {
        const s = intParam(p, 'stride');
        const k = intParam(p, 'kernel');
        const dilation = intParam(p, 'dilation') || 1;
        const span = dilation * (k - 1) + 1;
        const grow = span - 2 * intParam(p, 'padding') + intParam(p, 'output_padding');
        const side = (size: Dim) => dimAdd(dimMul(dimSub(size, d(1)), d(s)), d(grow));
        const out: [Dim, Dim] = [side(h), side(w)];
        const tooSmall = out.find((v) => v.isConstant() && (v.asInt() ?? 0) < 1);
        if (tooSmall)
          return dilation === 1
            ? semantic('ShapeWindowTooLarge', {
                kernel: k,
                size: Number(h.asInt() ?? 0),
                padded: Number(tooSmall.asInt() ?? 0),
              })
            : semantic('ShapeTransposedTooSmall', {
                kernel: k,
                dilation,
                span,
                padding: intParam(p, 'padding'),
              });
        return out;
      },
      outChannels: param('out'),
    }),
    macs([x], _out, p) {
      const k = intParam(p, 'kernel');
      return dimMul(shapeSize(x!), d((k * k * intParam(p, 'out')) / (intParam(p, 'groups') || 1)));
    },
    reference: {
      shape:
        "[B, H, W, in] -> [B, H', W', out], H' = (H - 1) stride - 2 padding + dilation (kernel - 1) + " +
        "output_padding + 1 (W' alike)",
      macs: 'B * H * W * in * out / groups * kernel * kernel (every input cell meets every tap of its group)',
      pytorch:
        '`nn.ConvTranspose2d(in, out, kernel, stride, padding, output_padding, groups, bias, dilation)` on ' +
        'NCHW; nvcc is NHWC and keeps the weight as [k, k, out / groups, in] (PyTorch: [in, out / groups, k, k])',
    },
    torchAliases: ['conv_transpose2d', 'ConvTranspose'],
    diagram: {
      settings: (p) =>
        `${p.in} → ${p.out}, ${p.kernel}×${p.kernel} ×${p.stride ?? 1} transposed` +
        `${p.padding ? ` pad ${p.padding}` : ''}${p.output_padding ? ` out+${p.output_padding}` : ''}` +
        `${typeof p.dilation === 'number' && p.dilation !== 1 ? ` dil ${p.dilation}` : ''}` +
        `${typeof p.groups === 'number' && p.groups !== 1 ? ` g${p.groups}` : ''}`,
    },
    targets: {
      tfjs: tfjsLayer(false, (n, h) => ({
        args: [h.value(n.params.in), h.value(n.params.out)],
        options: kernelLayerOptions(n, h, [
          `stride: ${h.value(n.params.stride ?? 1)}`,
          `padding: ${h.value(n.params.padding ?? 0)}`,
          `outputPadding: ${h.value(n.params.output_padding ?? 0)}`,
          ...(typeof n.params.groups === 'number' && n.params.groups !== 1 ? [`groups: ${n.params.groups}`] : []),
          ...(typeof n.params.dilation === 'number' && n.params.dilation !== 1
            ? [`dilation: ${n.params.dilation}`]
            : []),
        ]),
      })),
    },
  },
  {
    name: 'upsample_bilinear',
    kind: 'function',
    irName: 'upsample_bilinear',
    runtime: 'nv.upsampleBilinear',
    inputs: ['x'],
    params: [
      { name: 'scale', type: 'int', min: 1, doc: 'integer scale factor' },
      {
        name: 'align_corners',
        type: 'bool',
        default: B(false),
        doc: "PyTorch's align_corners: corner cells map onto corner cells (else cell centres, PyTorch's default)",
      },
    ],
    doc: 'bilinear interpolation [B, H, W, C] -> [B, H * s, W * s, C] with PyTorch`s align_corners semantics',
    shape: spatialShape('upsample_bilinear', {
      sizes: (h, w, p) => [dimMul(h, d(intParam(p, 'scale'))), dimMul(w, d(intParam(p, 'scale')))],
    }),
    reference: {
      shape: '[B, H, W, C] -> [B, H * scale, W * scale, C]',
      macs: '0',
      pytorch:
        '`F.interpolate(x, scale_factor = scale, mode = "bilinear", align_corners = align_corners)`, ' +
        '`nn.Upsample(scale_factor = scale, mode = "bilinear", align_corners = align_corners)` (NCHW)',
    },
    torchAliases: ['UpsamplingBilinear2d'],
    diagram: {
      settings: () => undefined,
      opLine: (a) => `×${a.scale}${a.align_corners === true ? ', align corners' : ''}`,
    },
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.scale), l.value(l.attrs.align_corners === true)]) },
  },
  {
    name: 'expand',
    kind: 'function',
    irName: 'expand',
    runtime: 'nv.expand',
    inputs: ['x'],
    params: [
      {
        name: 'shape',
        type: 'shape',
        doc: 'the shape to broadcast to; dims may be symbolic (`[B, 1, dim]`), -1 keeps the axis',
      },
    ],
    doc:
      'x broadcast to a shape without copying its meaning: each axis of x is 1 (repeated) or the target size, ' +
      'new axes are added in front (Tensor.expand; a class token `expand(cls_token, [B, 1, dim])`)',
    shape([x], p) {
      const target = shapeParam(p, 'shape');
      const offset = target.length - x!.length;
      if (offset < 0)
        return { error: semantic('ShapeExpandRank', { from: formatShape(x!), to: formatShape(target) }), input: 0 };
      const out: Dim[] = [];
      for (let i = 0; i < target.length; i++) {
        const want = target[i]!;
        const have = i >= offset ? x![i - offset]! : undefined;
        if (want.asInt() === -1) {
          if (!have)
            return {
              error: semantic('ShapeExpand', {
                from: formatShape(x!),
                to: formatShape(target),
                axis: i,
                size: 'new',
                target: -1,
              }),
              input: 0,
            };
          out.push(have);
        } else if (!have || have.equals(want) || have.asInt() === 1) out.push(want);
        else
          return {
            error: semantic('ShapeExpand', {
              from: formatShape(x!),
              to: formatShape(target),
              axis: i,
              size: String(have),
              target: String(want),
            }),
            input: 0,
          };
      }
      return out;
    },
    reference: {
      shape: 'x -> shape (each axis of x 1 or the target size; -1 keeps it; new axes in front)',
      macs: '0',
      pytorch: '`x.expand(*shape)`',
    },
    torchAliases: ['expand_as', 'broadcast_to'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [`[${l.out.map(l.dim).join(', ')}]`]) },
  },
];
