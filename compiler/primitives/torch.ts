/**
 * The torch target's rule of every primitive: one entry per record of this registry, keyed by
 * the primitive's surface name (`Conv2d`, `gelu`), attached to the records as `targets.torch`
 * (index.ts). Used by `nvcc check --target torch` (the elaborator runs `supports`) and by the
 * PyTorch emitter (compiler/emit/torch/model.ts calls `lower`).
 * In: a primitive's resolved parameters (typed, for `supports`; JSON, as the IR's `params` and
 * op `attrs`, for `lower`) and, for function primitives, the Python expressions of its
 * arguments. Out: `supports(params)` (undefined when the torch target can express this use with
 * the tfjs runtime's semantics, else the parameter at fault, why and the fix) and `lower`: for a
 * layer primitive the Python expression constructing its nvcc_layers module, for a function
 * primitive the Python expression applying it.
 * Holds afterwards: every record has a torch rule (test/emit/torch-lowering.test.ts); the
 * generated expressions only use `torch`, `F` (torch.nn.functional) and `nv` (nvcc_layers), and
 * give the values of the tfjs runtime function of the same primitive (runtime/ops,
 * runtime/codegen.ts) on NHWC activations.
 */

import { always, type TargetRule } from './types.js';

/** A weight's init spec, as the IR holds it. */
export interface InitSpec {
  readonly kind: string;
  readonly args: Readonly<Record<string, number>>;
}

export interface LayerLowering {
  readonly params: Readonly<Record<string, unknown>>;
  /** Init specs of the layer's weights by weight name. */
  readonly inits: Readonly<Record<string, InitSpec>>;
  readonly sparse: boolean;
}

export interface CallLowering {
  /** Python expressions of the tensor inputs, in the primitive's input order. */
  readonly args: readonly string[];
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Python expressions of the op's output dims (symbolic dims bound at run time). */
  readonly outDims: () => readonly string[];
  /** The Python expression of the module's training flag. */
  readonly training: string;
}

/** How the PyTorch emitter writes a primitive: a layer's constructor or a function's call. */
export type TorchLowerFn =
  | { readonly layer: (l: LayerLowering) => string }
  | { readonly call: (c: CallLowering) => string };

/** The torch target's rule of one primitive (the record's `targets.torch`). */
export type TorchLowering = TargetRule<TorchLowerFn>;

/** A Python literal for a JSON value. */
export function pyValue(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return "float('nan')";
    if (!Number.isFinite(v)) return v > 0 ? "float('inf')" : "float('-inf')";
    return Object.is(v, -0) ? '-0.0' : String(v);
  }
  if (typeof v === 'string')
    return JSON.stringify(v)
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029');
  if (Array.isArray(v)) return v.length === 1 ? `(${pyValue(v[0])},)` : `(${v.map(pyValue).join(', ')})`;
  if (typeof v === 'object')
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyValue(k)}: ${pyValue(x)}`)
      .join(', ')}}`;
  throw new Error(`internal: no Python literal for a ${typeof v}`);
}

const num = (v: unknown, d: number) => (typeof v === 'number' ? v : d);
const ints = (v: unknown): number[] => (Array.isArray(v) ? v.map((x) => Number(x)) : []);

/** `name=value` unless the value is the default 1 (keeps the common case's generated code short). */
const notOne = (name: string, v: unknown): string[] => (v === undefined || v === 1 ? [] : [`${name}=${pyValue(v)}`]);

/** An int-or-pair argument as [height, width]. */
const pairOf = (v: unknown): number[] => (Array.isArray(v) ? ints(v) : [num(v, 0), num(v, 0)]);

/** Pool window arguments; stride 0 is the kernel (PyTorch's default); dilation and ceil_mode when set. */
const windowArgs = (p: Readonly<Record<string, unknown>>) => {
  const k = num(p.kernel, 1);
  return [
    `${pyValue(k)}, stride=${pyValue(num(p.stride, 0) || k)}, padding=${pyValue(num(p.padding, 0))}`,
    ...notOne('dilation', p.dilation),
    ...(p.ceil_mode === true ? ['ceil_mode=True'] : []),
  ].join(', ');
};

/** `('trunc_normal', {'std': 0.02})`, sorted keys so the text depends only on the spec. */
function initTuple(init: InitSpec): string {
  const keys = Object.keys(init.args).sort();
  return `(${pyValue(init.kind)}, {${keys.map((k) => `${pyValue(k)}: ${pyValue(init.args[k])}`).join(', ')}})`;
}

const isDefaultWeightInit = (i: InitSpec | undefined) =>
  !i || (i.kind === 'trunc_normal' && Object.keys(i.args).length === 1 && i.args.std === 0.02);
const isZeros = (i: InitSpec | undefined) => !i || i.kind === 'zeros';

function initArgs(l: LayerLowering): string[] {
  const out: string[] = [];
  if (!isDefaultWeightInit(l.inits.weight)) out.push(`weight_init=${initTuple(l.inits.weight!)}`);
  if (!isZeros(l.inits.bias)) out.push(`bias_init=${initTuple(l.inits.bias!)}`);
  return out;
}

const KNOWN_INITS = new Set(['zeros', 'ones', 'constant', 'normal', 'uniform', 'trunc_normal']);

/** Init kinds nvcc_layers.init_ knows (the same set as the tfjs emitter's initExpr). */
export function supportsInit(init: InitSpec): boolean {
  return KNOWN_INITS.has(init.kind);
}

export { initTuple };

const unary = (expr: (x: string) => string): TorchLowering => ({
  supports: always,
  lower: { call: (c) => expr(c.args[0]!) },
});

/** `a + b`: a bare Python number as the first operand is fine for every operator here. */
const binary = (op: string): TorchLowering => ({
  supports: always,
  lower: { call: (c) => `(${c.args[0]} ${op} ${c.args[1]})` },
});

const reduction = (fn: string): TorchLowering => ({
  supports: always,
  lower: {
    call: (c) => `${fn}(${c.args[0]}, dim=${pyValue(ints(c.attrs.axes))}, keepdim=${pyValue(c.attrs.keep === true)})`,
  },
});

/** nn.BatchNorm on channels-last input (nvcc_layers.BatchNorm): PyTorch's own running statistics. */
const batchNorm = (): TorchLowering => ({
  supports: always,
  lower: {
    layer: (l) =>
      `nv.BatchNorm(${[
        pyValue(l.params.dim),
        `eps=${pyValue(num(l.params.eps, 1e-5))}`,
        `momentum=${pyValue(num(l.params.momentum, 0.1))}`,
        `affine=${pyValue(l.params.affine !== false)}`,
      ].join(', ')})`,
  },
});

export const TORCH_RULES: Readonly<Record<string, TorchLowering>> = {
  Conv2d: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.Conv2d(${[
          pyValue(l.params.in),
          pyValue(l.params.out),
          `kernel=${pyValue(l.params.kernel)}`,
          `stride=${pyValue(l.params.stride ?? 1)}`,
          `padding=${pyValue(l.params.padding ?? 'valid')}`,
          ...notOne('dilation', l.params.dilation),
          ...notOne('groups', l.params.groups),
          `bias=${pyValue(l.params.bias !== false)}`,
          ...(l.sparse ? ['sparse=True'] : []),
          ...initArgs(l),
        ].join(', ')})`,
    },
  },
  DepthwiseConv2d: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.DepthwiseConv2d(${[
          pyValue(l.params.dim),
          `kernel=${pyValue(l.params.kernel ?? 7)}`,
          ...notOne('stride', l.params.stride),
          `padding=${pyValue(l.params.padding ?? 'same')}`,
          ...notOne('dilation', l.params.dilation),
          `bias=${pyValue(l.params.bias !== false)}`,
          ...(l.sparse ? ['sparse=True'] : []),
          ...initArgs(l),
        ].join(', ')})`,
    },
  },
  Linear: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.Linear(${[
          pyValue(l.params.in),
          pyValue(l.params.out),
          `bias=${pyValue(l.params.bias !== false)}`,
          ...initArgs(l),
        ].join(', ')})`,
    },
  },
  LayerNorm: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.LayerNorm(${[
          pyValue(l.params.dim),
          `eps=${pyValue(num(l.params.eps, 1e-6))}`,
          ...(l.sparse ? ['sparse=True'] : []),
        ].join(', ')})`,
    },
  },
  BatchNorm1d: batchNorm(),
  BatchNorm2d: batchNorm(),
  Identity: { supports: always, lower: { layer: () => 'nv.Identity()' } },
  ConvTranspose2d: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.ConvTranspose2d(${[
          pyValue(l.params.in),
          pyValue(l.params.out),
          `kernel=${pyValue(l.params.kernel)}`,
          `stride=${pyValue(l.params.stride ?? 1)}`,
          `padding=${pyValue(l.params.padding ?? 0)}`,
          `output_padding=${pyValue(l.params.output_padding ?? 0)}`,
          `bias=${pyValue(l.params.bias !== false)}`,
          ...initArgs(l),
          ...notOne('groups', l.params.groups),
          ...notOne('dilation', l.params.dilation),
        ].join(', ')})`,
    },
  },
  GroupNorm: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.GroupNorm(${pyValue(l.params.groups)}, ${pyValue(l.params.dim)}, ` +
        `eps=${pyValue(num(l.params.eps, 1e-5))}, affine=${pyValue(l.params.affine !== false)})`,
    },
  },
  InstanceNorm2d: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.InstanceNorm2d(${pyValue(l.params.dim)}, eps=${pyValue(num(l.params.eps, 1e-5))}, ` +
        `affine=${pyValue(l.params.affine === true)})`,
    },
  },
  upsample_bilinear: {
    supports: always,
    lower: {
      call: (c) => {
        const corners = pyValue(c.attrs.align_corners === true);
        if (typeof c.attrs.scale === 'number' && c.attrs.scale > 0)
          return `nv.upsample_bilinear(${c.args[0]}, ${pyValue(c.attrs.scale)}, ${corners})`;
        if (typeof c.attrs.scale_factor === 'number' && c.attrs.scale_factor > 0)
          return `nv.upsample_bilinear(${c.args[0]}, None, ${corners}, scale_factor=${pyValue(c.attrs.scale_factor)})`;
        return `nv.upsample_bilinear(${c.args[0]}, None, ${corners}, size=${pyValue(pairOf(c.attrs.size))})`;
      },
    },
  },
  expand: { supports: always, lower: { call: (c) => `${c.args[0]}.expand(${c.outDims().join(', ')})` } },
  MaxPool2d: {
    supports: always,
    lower: { layer: (l) => `nv.MaxPool2d(${windowArgs(l.params)})` },
  },
  AvgPool2d: {
    supports: always,
    lower: {
      layer: (l) =>
        `nv.AvgPool2d(${windowArgs(l.params)}, count_include_pad=${pyValue(l.params.count_include_pad !== false)})`,
    },
  },
  AdaptiveAvgPool2d: {
    supports: always,
    lower: { layer: (l) => `nv.AdaptiveAvgPool2d(${pyValue(pairOf(l.params.output_size))})` },
  },
  gelu: unary((x) => `F.gelu(${x})`),
  relu: unary((x) => `torch.relu(${x})`),
  sigmoid: unary((x) => `torch.sigmoid(${x})`),
  tanh: unary((x) => `torch.tanh(${x})`),
  relu6: unary((x) => `F.relu6(${x})`),
  silu: unary((x) => `F.silu(${x})`),
  hardswish: unary((x) => `F.hardswish(${x})`),
  hardsigmoid: unary((x) => `F.hardsigmoid(${x})`),
  leaky_relu: {
    supports: always,
    lower: { call: (c) => `F.leaky_relu(${c.args[0]}, ${pyValue(num(c.attrs.negative_slope, 0.01))})` },
  },
  sqrt: unary((x) => `torch.sqrt(${x})`),
  rsqrt: unary((x) => `torch.rsqrt(${x})`),
  square: unary((x) => `torch.square(${x})`),
  exp: unary((x) => `torch.exp(${x})`),
  log: unary((x) => `torch.log(${x})`),
  abs: unary((x) => `torch.abs(${x})`),
  neg: unary((x) => `torch.neg(${x})`),
  softmax: {
    supports: always,
    lower: { call: (c) => `torch.softmax(${c.args[0]}, dim=${pyValue(c.attrs.axis ?? -1)})` },
  },
  drop_path: {
    supports: always,
    lower: { call: (c) => `nv.drop_path(${c.args[0]}, ${pyValue(num(c.attrs.rate, 0))}, ${c.training})` },
  },
  visible: unary((x) => `nv.visible(${x})`),
  masked_statistics: {
    supports: always,
    lower: {
      call: (c) => `nv.masked_statistics(${c.args[0]}, ${pyValue(String(c.attrs.pooling ?? 'sample'))})`,
    },
  },
  dropout: {
    supports: always,
    lower: { call: (c) => `nv.dropout(${c.args[0]}, ${pyValue(num(c.attrs.p, 0))}, ${c.training})` },
  },
  add: binary('+'),
  sub: binary('-'),
  mul: binary('*'),
  div: binary('/'),
  pow: { supports: always, lower: { call: (c) => `torch.pow(${c.args[0]}, ${c.args[1]})` } },
  mean: reduction('torch.mean'),
  sum: reduction('torch.sum'),
  max: reduction('torch.amax'),
  min: reduction('torch.amin'),
  reshape: { supports: always, lower: { call: (c) => `${c.args[0]}.reshape(${c.outDims().join(', ')})` } },
  transpose: {
    supports: always,
    lower: { call: (c) => `${c.args[0]}.permute(${ints(c.attrs.perm).join(', ')})` },
  },
  tokens: unary((x) => `${x}.flatten(1, 2)`),
  untokens: { supports: always, lower: { call: (c) => `${c.args[0]}.reshape(${c.outDims().join(', ')})` } },
  global_avg_pool: unary((x) => `torch.mean(${x}, dim=(1, 2))`),
  global_max_pool: unary((x) => `torch.amax(${x}, dim=(1, 2))`),
  matmul: {
    supports: always,
    lower: {
      call: (c) => {
        const a = c.attrs.transpose_a === true ? `${c.args[0]}.transpose(-1, -2)` : c.args[0];
        const b = c.attrs.transpose_b === true ? `${c.args[1]}.transpose(-1, -2)` : c.args[1];
        return `torch.matmul(${a}, ${b})`;
      },
    },
  },
  concat: {
    supports: always,
    lower: { call: (c) => `torch.cat([${c.args.join(', ')}], dim=${pyValue(c.attrs.axis ?? -1)})` },
  },
  slice: {
    supports: always,
    lower: {
      call: (c) => {
        const length = num(c.attrs.end, 0) - num(c.attrs.start, 0);
        return `${c.args[0]}.narrow(${pyValue(c.attrs.axis)}, ${pyValue(c.attrs.start)}, ${pyValue(length)})`;
      },
    },
  },
  patchify: { supports: always, lower: { call: (c) => `nv.patchify(${c.args[0]}, ${pyValue(c.attrs.patch)})` } },
  unpatchify: {
    supports: always,
    lower: {
      call: (c) => {
        const [, h, w, ch] = c.outDims();
        const p = pyValue(c.attrs.patch);
        return `nv.unpatchify(${c.args[0]}, ${p}, ${h} // ${p}, ${w} // ${p}, ${ch})`;
      },
    },
  },
  upsample_nearest: {
    supports: always,
    lower: { call: (c) => `nv.upsample_nearest(${c.args[0]}, ${pyValue(c.attrs.scale)})` },
  },
  attention: {
    supports: always,
    lower: { call: (c) => `nv.attention(${c.args.join(', ')}, ${pyValue(c.attrs.heads ?? 1)})` },
  },
  roll: {
    supports: always,
    lower: {
      call: (c) => {
        const axes = Array.isArray(c.attrs.axes) ? ints(c.attrs.axes) : [1, 2];
        const shifts = axes.map(() => num(c.attrs.shift, 0));
        return `torch.roll(${c.args[0]}, shifts=${pyValue(shifts)}, dims=${pyValue(axes)})`;
      },
    },
  },
  relative_position_bias: {
    supports: always,
    lower: { call: (c) => `nv.relative_position_bias(${c.args[0]}, ${pyValue(c.attrs.window)})` },
  },
  shift_window_mask: {
    supports: always,
    lower: {
      call: (c) => `nv.shift_window_mask(${c.args[0]}, ${pyValue(c.attrs.window)}, ${pyValue(c.attrs.shift)})`,
    },
  },
  patch_mask: unary((x) => `nv.patch_mask(${x})`),
};
