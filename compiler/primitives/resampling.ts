/**
 * Primitive records that change a map's size or a tensor's shape the PyTorch way:
 * ConvTranspose2d (a layer), bilinear upsampling with align_corners, and expand (broadcast to a
 * shape, e.g. a class token to the batch).
 * In: nothing. Out: `RESAMPLING`, their records (see types.ts for the fields). Holds afterwards:
 * each one's shape rule, MACs, diagram label and tfjs lowering are here and nowhere else.
 */
import type { CatalogueMessage } from '../../dsl/diagnostics/catalogue.js';
import { semantic } from '../report.js';
import { Dim, dimAdd, dimConst, dimMul, dimSub, formatShape, type Rational, rat, shapeSize } from '../symbolic.js';
import {
  B,
  d,
  F,
  I,
  intParam,
  PLAIN,
  pairParam,
  type Params,
  type PrimitiveRecord,
  shapeParam,
  sizeParam,
  tfjsCall,
} from './types.js';
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

/** `upsample_bilinear`'s H' and W': H scale, floor(H scale_factor) (PyTorch's), or the given size. */
function upsampledSizes(h: Dim, w: Dim, p: Params): [Dim, Dim] | CatalogueMessage {
  const scale = intParam(p, 'scale');
  if (scale > 0) return [dimMul(h, d(scale)), dimMul(w, d(scale))];
  const factor = intParam(p, 'scale_factor');
  if (factor > 0) {
    const side = (size: Dim): Dim | CatalogueMessage => {
      const n = size.asInt();
      if (n === undefined) {
        // As `windowOut` does: the symbolic terms times the factor are taken to be whole, so the
        // floor acts on the constant part (H / 4 + 3 by 1.5: 3 H / 8 + 4).
        const constantTerm = size.terms.find((t) => t.key === '');
        const c0 = constantTerm ? Number(constantTerm.coef.num) / Number(constantTerm.coef.den) : 0;
        const symbolic = constantTerm ? dimSub(size, dimConst(constantTerm.coef)) : size;
        return dimAdd(dimMul(symbolic, dimConst(decimalRational(factor))), d(Math.floor(c0 * factor)));
      }
      const out = Math.floor(n * factor);
      return out >= 1 ? d(out) : semantic('ShapeUpsampleEmpty', { size: n, factor, out });
    };
    const oh = side(h);
    if (!(oh instanceof Dim)) return oh;
    const ow = side(w);
    if (!(ow instanceof Dim)) return ow;
    return [oh, ow];
  }
  const [sh, sw] = pairParam(p, 'size');
  return [d(sh), d(sw)];
}

/** A float as the exact fraction of its shortest decimal spelling (1.5 -> 3/2, 0.3 -> 3/10). */
function decimalRational(x: number): Rational {
  const [mantissa, exponent] = x.toExponential().split('e') as [string, string];
  const [whole, fraction = ''] = mantissa.split('.') as [string, string?];
  const shift = Number(exponent) - fraction.length;
  const digits = BigInt(whole + fraction);
  return shift >= 0 ? rat(digits * 10n ** BigInt(shift)) : rat(digits, 10n ** BigInt(-shift));
}

/** The diagram's note of how the output size is set: `×2`, `×1.5`, `→ 7×9`. */
function upsampleLabel(a: Readonly<Record<string, unknown>>): string {
  if (typeof a.scale === 'number' && a.scale > 0) return `×${a.scale}`;
  if (typeof a.scale_factor === 'number' && a.scale_factor > 0) return `×${a.scale_factor}`;
  const size = Array.isArray(a.size) ? a.size : [a.size, a.size];
  return `→ ${size.join('×')}`;
}

/** The runtime's second argument: the integer scale as before, else `{ scaleFactor }` or `{ size }`. */
function upsampleSpec(a: Readonly<Record<string, unknown>>, value: (v: unknown) => string): string {
  if (typeof a.scale === 'number' && a.scale > 0) return value(a.scale);
  if (typeof a.scale_factor === 'number' && a.scale_factor > 0) return `{ scaleFactor: ${value(a.scale_factor)} }`;
  return `{ size: ${value(Array.isArray(a.size) ? a.size : [a.size, a.size])} }`;
}

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
      { name: 'scale', type: 'int', default: I(0), min: 0, doc: 'integer scale factor (0: not given)' },
      {
        name: 'align_corners',
        type: 'bool',
        default: B(false),
        doc: "PyTorch's align_corners: corner cells map onto corner cells (else cell centres, PyTorch's default)",
      },
      {
        name: 'scale_factor',
        type: 'float',
        default: F(0),
        min: 0,
        doc: "PyTorch's scale_factor, any positive number: H' = floor(H scale_factor) (0: not given)",
      },
      { name: 'size', type: 'size', lengths: [2], default: I(0), min: 0, doc: 'output n x n or [height, width]' },
    ],
    doc:
      "bilinear interpolation [B, H, W, C] -> [B, H', W', C] with PyTorch`s align_corners semantics; the " +
      'output size from an integer `scale`, a `scale_factor` or an explicit `size` (exactly one)',
    validate(p) {
      const given = ['scale', 'scale_factor', 'size'].filter((n) => sizeParam(p, n).some((v) => v !== 0));
      if (given.length === 1) return undefined;
      return {
        param: given[1] ?? 'scale',
        message:
          given.length === 0
            ? 'the output size needs one of scale, scale_factor or size'
            : `${given.join(' and ')} both set the output size`,
        help: 'give exactly one of `scale = 2`, `scale_factor = 1.5` or `size = [h, w]`',
      };
    },
    shape: spatialShape('upsample_bilinear', { sizes: upsampledSizes }),
    reference: {
      shape:
        "[B, H, W, C] -> [B, H', W', C]: H' = H * scale, floor(H * scale_factor) (a symbolic H is taken to make " +
        'it whole), or size',
      macs: '0',
      pytorch:
        '`F.interpolate(x, scale_factor = scale_factor, mode = "bilinear", align_corners = align_corners)` ' +
        '(recompute_scale_factor unset: without align_corners the source of output cell i is ' +
        '(i + 0.5) / scale_factor - 0.5), or `size = size`; `nn.Upsample(...)` alike (NCHW)',
    },
    torchAliases: ['UpsamplingBilinear2d'],
    diagram: {
      settings: () => undefined,
      opLine: (a) => `${upsampleLabel(a)}${a.align_corners === true ? ', align corners' : ''}`,
    },
    targets: {
      tfjs: tfjsCall((l) => [upsampleSpec(l.attrs, l.value), l.value(l.attrs.align_corners === true)]),
    },
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
