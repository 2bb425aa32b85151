/**
 * The primitive table: the one place that knows each built-in layer and tensor function.
 * In: nothing. Out: `PRIMITIVES`, a map from surface name (`Conv2d`, `gelu`) to its parameter
 * schema (names, types, defaults, ranges), shape rule, weights, multiply-accumulate count and
 * runtime name. Holds afterwards: the elaborator, the summary and the emitters consult only
 * this table, so adding a primitive means adding one entry here (and its runtime function).
 *
 * Cost convention: `macs` counts multiply-accumulates (the fvcore / README "FLOPs" convention,
 * reference doc section 2) for convolutions, linear layers, matmul and attention only. Norms,
 * activations and element-wise ops count 0, so the ConvNeXt-V2 figures at 224 are the
 * "conv and linear MACs alone" column (0.547 G for atto).
 */
import {
  Dim,
  dimAdd,
  dimConst,
  dimDiv,
  dimMul,
  dimSub,
  formatShape,
  isExactInteger,
  shapeSize,
  shapesEqual,
  type Shape,
} from './symbolic.js';
import type { IRValue } from './ir/ir.js';
import type { Value } from './values.js';
import type { CatalogueMessage } from '../dsl/diagnostics/catalogue.js';
import { semantic } from './report.js';

export type ParamType = 'int' | 'float' | 'bool' | 'string' | 'int[]' | 'shape' | 'enum' | 'any';

export interface ParamSchema {
  readonly name: string;
  readonly type: ParamType;
  readonly enumValues?: readonly string[];
  /** Default; a required parameter has none. */
  readonly default?: Value;
  /** Inclusive lower bound for numbers (and every element of int[]). */
  readonly min?: number;
  /** Exclusive lower bound. */
  readonly above?: number;
  readonly max?: number;
  /** Strict upper bound. */
  readonly below?: number;
  readonly doc: string;
}

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: { readonly kind: string; readonly args: Readonly<Record<string, number>> };
  readonly noDecay: boolean;
}

export interface ShapeError {
  /** What is wrong, as a shape-rule entry of the diagnostic catalogue (catalogue-shapes.ts). */
  readonly error: CatalogueMessage;
  /** Which tensor input is at fault (index into inputs). */
  readonly input?: number;
  readonly help?: string;
}

/**
 * Resolved parameters by name. Rules read them through the accessors below (`intParam`, ...),
 * so both the elaborator's values and the IR's `args` (compiler/ir/ir.ts) can be passed.
 */
export type Params = ReadonlyMap<string, { readonly kind: string }>;

export interface PrimitiveDef {
  readonly name: string;
  /** `layer`: constructed with params, owns weights, then applied to tensors. `function`:
   *  applied directly to tensors, attributes given as extra arguments. */
  readonly kind: 'layer' | 'function';
  /** Op name in the IR (`conv2d`, `linear`, `gelu`). */
  readonly irName: string;
  /** Name exported by runtime/index.ts. */
  readonly runtime: string;
  /** Tensor inputs, in positional order. A name ending in `...` takes a list of tensors. */
  readonly inputs: readonly string[];
  /** Optional tensor inputs (may be omitted). */
  readonly optionalInputs?: readonly string[];
  readonly params: readonly ParamSchema[];
  readonly doc: string;
  /** Checks across parameters (e.g. groups divides channels); message or undefined. */
  validate?(p: Params): { param: string; message: string; help?: string } | undefined;
  weights?(p: Params): WeightSpec[];
  shape(inputs: readonly Shape[], p: Params): Shape | ShapeError;
  macs?(inputs: readonly Shape[], out: Shape, p: Params): Dim;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const I = (value: number): Value => ({ kind: 'int', value });
const F = (value: number): Value => ({ kind: 'float', value });
const B = (value: boolean): Value => ({ kind: 'bool', value });
const W = (name: string): Value => ({ kind: 'word', name, span: { file: '<builtin>', start: 0, end: 0 } });

/** A parameter as a rule reads it: the IR's typed value (the elaborator's `Value` has the same
 *  shape for every kind a primitive parameter can take). */
function paramAt(p: Params, name: string): IRValue | undefined {
  return p.get(name) as IRValue | undefined;
}

export function intParam(p: Params, name: string): number {
  const v = paramAt(p, name);
  if (v && (v.kind === 'int' || v.kind === 'float')) return v.value;
  return 0;
}
export function boolParam(p: Params, name: string): boolean {
  const v = paramAt(p, name);
  return v?.kind === 'bool' ? v.value : false;
}
export function wordParam(p: Params, name: string): string {
  const v = paramAt(p, name);
  return v?.kind === 'word' ? v.name : v?.kind === 'string' ? v.value : '';
}
export function intListParam(p: Params, name: string): number[] {
  const v = paramAt(p, name);
  if (v?.kind !== 'list') return [];
  return v.items.map((x) => (x.kind === 'int' || x.kind === 'float' ? x.value : 0));
}
/** A `shape` parameter: a list of dims (ints or symbolic dims). */
export function shapeParam(p: Params, name: string): Shape {
  const v = paramAt(p, name);
  if (v?.kind !== 'list') return [];
  return v.items.map((x) => (x.kind === 'dim' ? x.dim : dimConst(x.kind === 'int' ? x.value : 0)));
}

const d = (n: number) => dimConst(n);
const ZERO = dimConst(0);
const TRUNC = (std: number) => ({ kind: 'trunc_normal', args: { std } });
const ZEROS = { kind: 'zeros', args: {} };
const ONES = { kind: 'ones', args: {} };

function rankError(name: string, expected: string, got: Shape, input = 0, help?: string): ShapeError {
  return { error: semantic('ShapeWrongRank', { callee: name, expected, found: formatShape(got) }), input, help };
}

function last(s: Shape): Dim {
  return s[s.length - 1]!;
}

/** Normalises a possibly negative axis; undefined when out of range. */
export function normAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

/** Spatial output size of a convolution. */
function convOut(size: Dim, kernel: number, stride: number, padding: string): Dim | CatalogueMessage {
  if (padding === 'same') {
    const out = dimDiv(size, d(stride))!;
    const c = size.constantValue();
    if (c) return d(Math.ceil(Number(c.num) / Number(c.den) / stride));
    return out;
  }
  const span = dimSub(size, d(kernel));
  const c = size.constantValue();
  if (c) {
    const n = Number(c.num) / Number(c.den);
    if (n < kernel) return semantic('ShapeSmallerThanKernel', { size: n, kernel });
    return d(Math.floor((n - kernel) / stride) + 1);
  }
  return dimAdd(dimDiv(span, d(stride))!, d(1));
}

/** Numpy-style broadcasting of two shapes. */
export function broadcast(a: Shape, b: Shape): Shape | ShapeError {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i];
    const y = b[b.length - rank + i];
    if (!x) out.push(y!);
    else if (!y) out.push(x);
    else if (x.equals(y)) out.push(x);
    else if (x.asInt() === 1) out.push(y);
    else if (y.asInt() === 1) out.push(x);
    else
      return {
        error: semantic('ShapeNoBroadcast', {
          left: formatShape(a),
          right: formatShape(b),
          axis: i - rank,
          leftSize: String(x),
          rightSize: String(y),
        }),
        input: 1,
        help: 'broadcasting needs equal sizes or 1 on each axis, aligned from the right',
      };
  }
  return out;
}

const elementwise = (name: string, doc: string): PrimitiveDef => ({
  name,
  kind: 'function',
  irName: name,
  runtime: `nv.${name}`,
  inputs: ['a', 'b'],
  params: [],
  doc,
  shape: (s) => broadcast(s[0]!, s[1]!),
});

const unary = (name: string, doc: string, params: ParamSchema[] = []): PrimitiveDef => ({
  name,
  kind: 'function',
  irName: name,
  runtime: `nv.${name}`,
  inputs: ['x'],
  params,
  doc,
  shape: (s) => s[0]!,
});

const reduction = (name: string): PrimitiveDef => ({
  name,
  kind: 'function',
  irName: name,
  runtime: `nv.${name}`,
  inputs: ['x'],
  params: [
    {
      name: 'axes',
      type: 'int[]',
      default: { kind: 'list', items: [I(-1)] },
      doc: 'axes to reduce (negative counts from the end)',
    },
    { name: 'keep', type: 'bool', default: B(false), doc: 'keep reduced axes with size 1' },
  ],
  doc: `${name} over the given axes`,
  shape(s, p) {
    const x = s[0]!;
    const axes = new Set<number>();
    for (const a of intListParam(p, 'axes')) {
      const n = normAxis(a, x.length);
      if (n === undefined)
        return {
          error: semantic('ShapeReduceAxis', { axis: a, rank: x.length, shape: formatShape(x) }),
          input: 0,
        };
      axes.add(n);
    }
    const keep = boolParam(p, 'keep');
    const out: Dim[] = [];
    x.forEach((dim, i) => {
      if (!axes.has(i)) out.push(dim);
      else if (keep) out.push(d(1));
    });
    return out;
  },
});

function linearMacs(_s: readonly Shape[], out: Shape, p: Params): Dim {
  return dimMul(shapeSize(out.slice(0, -1)), d(intParam(p, 'in') * intParam(p, 'out')));
}

// ---------------------------------------------------------------------------------------------
// The table

const list: PrimitiveDef[] = [
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
      { name: 'padding', type: 'enum', enumValues: ['same', 'valid'], default: W('valid'), doc: '`same` or `valid`' },
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
      const k = intParam(p, 'kernel');
      const s = intParam(p, 'stride');
      const pad = wordParam(p, 'padding');
      const h = convOut(x![1]!, k, s, pad);
      const w = convOut(x![2]!, k, s, pad);
      if (!(h instanceof Dim)) return { error: h, input: 0 };
      if (!(w instanceof Dim)) return { error: w, input: 0 };
      return [x![0]!, h, w, d(intParam(p, 'out'))];
    },
    macs(_s, out, p) {
      const k = intParam(p, 'kernel');
      return dimMul(shapeSize(out), d((k * k * intParam(p, 'in')) / intParam(p, 'groups')));
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
      { name: 'padding', type: 'enum', enumValues: ['same', 'valid'], default: W('same'), doc: '`same` or `valid`' },
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
      const k = intParam(p, 'kernel');
      const s = intParam(p, 'stride');
      const pad = wordParam(p, 'padding');
      const h = convOut(x![1]!, k, s, pad);
      const w = convOut(x![2]!, k, s, pad);
      if (!(h instanceof Dim)) return { error: h, input: 0 };
      if (!(w instanceof Dim)) return { error: w, input: 0 };
      return [x![0]!, h, w, d(c)];
    },
    macs(_s, out, p) {
      const k = intParam(p, 'kernel');
      return dimMul(shapeSize(out), d(k * k));
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
  },
  unary('gelu', 'exact (erf) GELU'),
  unary('relu', 'max(x, 0)'),
  unary('sigmoid', 'logistic sigmoid'),
  unary('tanh', 'hyperbolic tangent'),
  unary('sqrt', 'element-wise square root'),
  unary('rsqrt', 'element-wise 1 / sqrt(x)'),
  unary('square', 'element-wise x * x'),
  unary('exp', 'element-wise e^x'),
  unary('log', 'element-wise natural logarithm'),
  unary('abs', 'element-wise absolute value'),
  unary('neg', 'element-wise negation'),
  {
    ...unary('softmax', 'softmax along one axis', [{ name: 'axis', type: 'int', default: I(-1), doc: 'axis' }]),
    shape([x], p) {
      if (normAxis(intParam(p, 'axis'), x!.length) === undefined)
        return {
          error: semantic('ShapeAxisOutOfRange', { axis: intParam(p, 'axis'), shape: formatShape(x!) }),
          input: 0,
        };
      return x!;
    },
  },
  {
    ...unary('drop_path', 'stochastic depth: drops whole samples with probability `rate` while training', [
      { name: 'rate', type: 'float', default: F(0), min: 0, below: 1, doc: 'drop probability' },
    ]),
    runtime: 'nv.dropPath',
  },
  {
    ...unary(
      'visible',
      'x with the removed positions of the patch mask set to zero while a stage has a mask policy, x itself otherwise: statistics that must see only visible positions (GRN) and the masked-zero invariant of sparse execution use it',
    ),
    shape: ([x]) =>
      x!.length === 4 ? x! : { error: semantic('ShapeVisibleNeedsNHWC', { shape: formatShape(x!) }), input: 0 },
  },
  unary('dropout', 'drops elements with probability `p` while training', [
    { name: 'p', type: 'float', default: F(0), min: 0, below: 1, doc: 'drop probability' },
  ]),
  elementwise('add', 'a + b with broadcasting'),
  elementwise('sub', 'a - b with broadcasting'),
  elementwise('mul', 'a * b with broadcasting'),
  elementwise('div', 'a / b with broadcasting'),
  elementwise('pow', 'a ** b with broadcasting'),
  reduction('mean'),
  reduction('sum'),
  reduction('max'),
  reduction('min'),
  {
    name: 'reshape',
    kind: 'function',
    irName: 'reshape',
    runtime: 'nv.reshape',
    inputs: ['x'],
    params: [{ name: 'shape', type: 'shape', doc: 'the new shape; dims may be symbolic (`[B, 1, 256]`)' }],
    doc: 'reshape keeping the element count',
    shape([x], p) {
      const target = shapeParam(p, 'shape');
      if (!shapeSize(target).equals(shapeSize(x!)))
        return {
          error: semantic('ShapeReshapeSize', {
            from: formatShape(x!),
            fromSize: String(shapeSize(x!)),
            to: formatShape(target),
            toSize: String(shapeSize(target)),
          }),
          input: 0,
        };
      return target;
    },
  },
  {
    name: 'transpose',
    kind: 'function',
    irName: 'transpose',
    runtime: 'nv.permute',
    inputs: ['x'],
    params: [{ name: 'perm', type: 'int[]', doc: 'permutation of the axes' }],
    doc: 'permute axes',
    shape([x], p) {
      const perm = intListParam(p, 'perm');
      const sorted = [...perm].sort((a, b) => a - b);
      if (perm.length !== x!.length || sorted.some((v, i) => v !== i))
        return {
          error: semantic('ShapeNotPermutation', {
            perm: JSON.stringify(perm),
            rank: x!.length,
            shape: formatShape(x!),
          }),
          input: 0,
        };
      return perm.map((i) => x![i]!);
    },
  },
  {
    name: 'tokens',
    kind: 'function',
    irName: 'tokens',
    runtime: 'nv.tokens',
    inputs: ['x'],
    params: [],
    doc: '[B, H, W, C] -> [B, H * W, C] (row-major)',
    shape([x]) {
      if (x!.length !== 4) return rankError('tokens', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, dimMul(x![1]!, x![2]!), x![3]!];
    },
  },
  {
    name: 'untokens',
    kind: 'function',
    irName: 'untokens',
    runtime: 'nv.untokens',
    inputs: ['x'],
    params: [{ name: 'shape', type: 'shape', doc: 'the grid shape [B, H, W, C]' }],
    doc: '[B, H * W, C] -> [B, H, W, C]',
    shape([x], p) {
      const t = shapeParam(p, 'shape');
      if (x!.length !== 3)
        return rankError(
          'untokens',
          'a 3-D [B, N, C] token input',
          x!,
          0,
          x!.length === 4 ? 'the input is already a grid; drop `untokens`' : undefined,
        );
      if (t.length !== 4) return { error: semantic('ShapeUntokensTarget', { shape: formatShape(t) }) };
      const want: Shape = [t[0]!, dimMul(t[1]!, t[2]!), t[3]!];
      if (!shapesEqual(want, x!))
        return {
          error: semantic('ShapeUntokensTokens', {
            target: formatShape(t),
            expected: formatShape(want),
            found: formatShape(x!),
          }),
          input: 0,
        };
      return t;
    },
  },
  {
    name: 'global_avg_pool',
    kind: 'function',
    irName: 'global_avg_pool',
    runtime: 'nv.globalAvgPool',
    inputs: ['x'],
    params: [],
    doc: '[B, H, W, C] -> [B, C] (mean over H and W)',
    shape([x]) {
      if (x!.length !== 4) return rankError('global_avg_pool', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, x![3]!];
    },
  },
  {
    name: 'global_max_pool',
    kind: 'function',
    irName: 'global_max_pool',
    runtime: 'nv.globalMaxPool',
    inputs: ['x'],
    params: [],
    doc: '[B, H, W, C] -> [B, C] (max over H and W)',
    shape([x]) {
      if (x!.length !== 4) return rankError('global_max_pool', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, x![3]!];
    },
  },
  {
    name: 'matmul',
    kind: 'function',
    irName: 'matmul',
    runtime: 'nv.matmul',
    inputs: ['a', 'b'],
    params: [
      { name: 'transpose_a', type: 'bool', default: B(false), doc: 'use a with its last two axes swapped' },
      { name: 'transpose_b', type: 'bool', default: B(false), doc: 'use b with its last two axes swapped' },
    ],
    doc: 'batched matrix product over the last two axes',
    shape([a, b], p) {
      if (a!.length < 2) return rankError('matmul', 'at least 2-D operands', a!, 0);
      if (b!.length < 2) return rankError('matmul', 'at least 2-D operands', b!, 1);
      const ta = boolParam(p, 'transpose_a');
      const tb = boolParam(p, 'transpose_b');
      const [m, ka] = ta ? [a![a!.length - 1]!, a![a!.length - 2]!] : [a![a!.length - 2]!, a![a!.length - 1]!];
      const [kb, n] = tb ? [b![b!.length - 1]!, b![b!.length - 2]!] : [b![b!.length - 2]!, b![b!.length - 1]!];
      if (!ka.equals(kb))
        return {
          error: semantic('ShapeMatmulInner', {
            left: String(ka),
            right: String(kb),
            leftShape: formatShape(a!),
            rightShape: formatShape(b!),
          }),
          input: 1,
          help: 'transpose one operand with `transpose_a` / `transpose_b`',
        };
      const batch = broadcast(a!.slice(0, -2), b!.slice(0, -2));
      if ('error' in batch) return batch;
      return [...batch, m, n];
    },
    macs([a], out, p) {
      const k = boolParam(p, 'transpose_a') ? a![a!.length - 2]! : a![a!.length - 1]!;
      return dimMul(shapeSize(out), k);
    },
  },
  {
    name: 'concat',
    kind: 'function',
    irName: 'concat',
    runtime: 'nv.concat',
    inputs: ['xs...'],
    params: [{ name: 'axis', type: 'int', default: I(-1), doc: 'axis to join along' }],
    doc: 'joins tensors along one axis',
    shape(xs, p) {
      const first = xs[0]!;
      const axis = normAxis(intParam(p, 'axis'), first.length);
      if (axis === undefined)
        return {
          error: semantic('ShapeAxisOutOfRange', { axis: intParam(p, 'axis'), shape: formatShape(first) }),
          input: 0,
        };
      let size = ZERO;
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        if (x.length !== first.length || x.some((dim, j) => j !== axis && !dim.equals(first[j]!)))
          return {
            error: semantic('ShapeConcatAxes', {
              axis: intParam(p, 'axis'),
              first: formatShape(first),
              other: formatShape(x),
            }),
            input: i,
          };
        size = dimAdd(size, x[axis]!);
      }
      return first.map((dim, j) => (j === axis ? size : dim));
    },
  },
  {
    name: 'slice',
    kind: 'function',
    irName: 'slice',
    runtime: 'nv.slice',
    inputs: ['x'],
    params: [
      { name: 'axis', type: 'int', doc: 'axis' },
      { name: 'start', type: 'int', min: 0, doc: 'first index' },
      { name: 'end', type: 'int', min: 0, doc: 'one past the last index' },
    ],
    doc: 'x[start:end] along one axis',
    shape([x], p) {
      const axis = normAxis(intParam(p, 'axis'), x!.length);
      if (axis === undefined)
        return {
          error: semantic('ShapeAxisOutOfRange', { axis: intParam(p, 'axis'), shape: formatShape(x!) }),
          input: 0,
        };
      const start = intParam(p, 'start');
      const end = intParam(p, 'end');
      const size = x![axis]!.asInt();
      if (end <= start || (size !== undefined && end > size))
        return { error: semantic('ShapeSliceEmpty', { start, end, axis, shape: formatShape(x!) }), input: 0 };
      return x!.map((dim, j) => (j === axis ? d(end - start) : dim));
    },
  },
  {
    name: 'patchify',
    kind: 'function',
    irName: 'patchify',
    runtime: 'nv.patchify',
    inputs: ['x'],
    params: [{ name: 'patch', type: 'int', min: 1, doc: 'patch side' }],
    doc: '[B, H, W, C] -> [B, (H / p) * (W / p), p * p * C], patches row-major, (row, col, channel) inside',
    shape([x], p) {
      if (x!.length !== 4) return rankError('patchify', 'a 4-D [B, H, W, C] input', x!);
      const pp = intParam(p, 'patch');
      const h = dimDiv(x![1]!, d(pp))!;
      const w = dimDiv(x![2]!, d(pp))!;
      if ((h.isConstant() && !isExactInteger(h)) || (w.isConstant() && !isExactInteger(w)))
        return {
          error: semantic('ShapePatchNotDividing', { patch: pp, height: String(x![1]), width: String(x![2]) }),
          input: 0,
        };
      return [x![0]!, dimMul(h, w), dimMul(d(pp * pp), x![3]!)];
    },
  },
  {
    name: 'unpatchify',
    kind: 'function',
    irName: 'unpatchify',
    runtime: 'nv.unpatchify',
    inputs: ['x'],
    params: [
      { name: 'patch', type: 'int', min: 1, doc: 'patch side' },
      { name: 'grid', type: 'shape', doc: 'patch grid [h, w]' },
    ],
    doc: '[B, h * w, p * p * C] -> [B, h * p, w * p, C]',
    shape([x], p) {
      const pp = intParam(p, 'patch');
      const g = shapeParam(p, 'grid');
      if (x!.length !== 3) return rankError('unpatchify', 'a 3-D [B, L, p * p * C] input', x!);
      if (g.length !== 2) return { error: semantic('ShapeGridNotPair') };
      if (!dimMul(g[0]!, g[1]!).equals(x![1]!))
        return {
          error: semantic('ShapeGridPatches', {
            grid: formatShape(g),
            patches: String(dimMul(g[0]!, g[1]!)),
            tokens: String(x![1]),
          }),
          input: 0,
        };
      const c = dimDiv(x![2]!, d(pp * pp))!;
      if (c.isConstant() && !isExactInteger(c))
        return { error: semantic('ShapePatchValues', { values: String(x![2]), patch: pp }), input: 0 };
      return [x![0]!, dimMul(g[0]!, d(pp)), dimMul(g[1]!, d(pp)), c];
    },
  },
  {
    name: 'upsample_nearest',
    kind: 'function',
    irName: 'upsample_nearest',
    runtime: 'nv.upsampleNearest',
    inputs: ['x'],
    params: [{ name: 'scale', type: 'int', min: 1, doc: 'integer scale factor' }],
    doc: '[B, H, W, C] -> [B, H * s, W * s, C]',
    shape([x], p) {
      if (x!.length !== 4) return rankError('upsample_nearest', 'a 4-D [B, H, W, C] input', x!);
      const s = d(intParam(p, 'scale'));
      return [x![0]!, dimMul(x![1]!, s), dimMul(x![2]!, s), x![3]!];
    },
  },
  {
    name: 'attention',
    kind: 'function',
    irName: 'attention',
    runtime: 'nv.multiHeadAttention',
    inputs: ['q', 'k', 'v'],
    params: [
      { name: 'heads', type: 'int', default: I(1), min: 1, doc: 'number of heads; must divide the feature width' },
    ],
    doc:
      'multi-head scaled dot-product attention: q [B, N, D], k [B, M, D], v [B, M, Dv] -> [B, N, Dv]. ' +
      'Splits D and Dv into `heads`, softmax(q k^T / sqrt(D / heads)) v per head, merges heads. ' +
      'The runtime lowers it to reshape + matmul(transpose_b) + softmax + matmul.',
    shape([q, k, v], p) {
      if (q!.length !== 3)
        return rankError(
          'attention',
          'token queries [B, N, D]',
          q!,
          0,
          q!.length === 4 ? 'insert `tokens(...)` to turn the grid into tokens' : undefined,
        );
      if (k!.length !== 3)
        return rankError(
          'attention',
          'token keys [B, M, D]',
          k!,
          1,
          k!.length === 4
            ? 'insert `tokens(...)`'
            : k!.length === 2
              ? 'insert `reshape([B, 1, ...])` to make one token'
              : undefined,
        );
      if (v!.length !== 3) return rankError('attention', 'token values [B, M, Dv]', v!, 2);
      if (!q![2]!.equals(k![2]!))
        return { error: semantic('ShapeAttentionWidth', { queries: String(q![2]), keys: String(k![2]) }), input: 1 };
      if (!k![1]!.equals(v![1]!))
        return { error: semantic('ShapeAttentionTokens', { keys: String(k![1]), values: String(v![1]) }), input: 2 };
      const b = broadcast([q![0]!], [k![0]!]);
      if ('error' in b) return b;
      const h = intParam(p, 'heads');
      const dq = q![2]!.asInt();
      if (dq !== undefined && dq % h !== 0)
        return {
          error: semantic('ShapeHeadsNotDividing', { heads: h, width: dq }),
          help: `use a head count that divides ${dq}`,
        };
      return [q![0]!, q![1]!, v![2]!];
    },
    macs([q, k, v], _out) {
      return dimAdd(shapeSize([q![0]!, q![1]!, k![1]!, q![2]!]), shapeSize([q![0]!, q![1]!, k![1]!, v![2]!]));
    },
  },
  {
    name: 'roll',
    kind: 'function',
    irName: 'roll',
    runtime: 'nv.roll',
    inputs: ['x'],
    params: [
      { name: 'shift', type: 'int', doc: 'positions to move towards higher indices (negative: lower), cyclically' },
      {
        name: 'axes',
        type: 'int[]',
        default: { kind: 'list', items: [I(1), I(2)] },
        doc: 'axes to shift (default the H and W axes of NHWC)',
      },
    ],
    doc: "cyclic shift along axes (torch.roll's convention); Swin's shifted windows",
    shape([x], p) {
      for (const a of intListParam(p, 'axes'))
        if (normAxis(a, x!.length) === undefined)
          return { error: semantic('ShapeAxisOutOfRange', { axis: a, shape: formatShape(x!) }), input: 0 };
      return x!;
    },
  },
  {
    name: 'relative_position_bias',
    kind: 'function',
    irName: 'relative_position_bias',
    runtime: 'nv.relativePositionBias',
    inputs: ['table'],
    params: [{ name: 'window', type: 'int', min: 1, doc: 'window side w' }],
    doc: "Swin's relative position bias: a table [(2w-1)^2, heads] gathered by the offset of every pair of window positions into [heads, w*w, w*w]",
    shape([t], p) {
      const w = intParam(p, 'window');
      if (t!.length !== 2) return rankError('relative_position_bias', `a 2-D table [${(2 * w - 1) ** 2}, heads]`, t!);
      const rows = t![0]!.asInt();
      if (rows !== undefined && rows !== (2 * w - 1) ** 2)
        return {
          error: semantic('ShapeBiasTableRows', { window: w, rows: (2 * w - 1) ** 2, found: String(rows) }),
          input: 0,
        };
      return [t![1]!, d(w * w), d(w * w)];
    },
  },
  {
    name: 'shift_window_mask',
    kind: 'function',
    irName: 'shift_window_mask',
    runtime: 'nv.shiftWindowMask',
    inputs: ['x'],
    params: [
      { name: 'window', type: 'int', min: 1, doc: 'window side w' },
      { name: 'shift', type: 'int', min: 0, doc: 'the cyclic shift applied before windowing (0: no mask)' },
    ],
    doc: "additive attention mask of shifted windows for x's H x W map: [(H / w) * (W / w), w*w, w*w], -100 between positions from different regions, 0 elsewhere (all 0 when shift = 0)",
    shape([x], p) {
      if (x!.length !== 4) return rankError('shift_window_mask', 'a 4-D [B, H, W, C] input', x!);
      const w = intParam(p, 'window');
      const h = dimDiv(x![1]!, d(w))!;
      const ww = dimDiv(x![2]!, d(w))!;
      if ((h.isConstant() && !isExactInteger(h)) || (ww.isConstant() && !isExactInteger(ww)))
        return {
          error: semantic('ShapeWindowNotDividing', { window: w, height: String(x![1]), width: String(x![2]) }),
          input: 0,
        };
      if (intParam(p, 'shift') >= w)
        return { error: semantic('ShapeShiftTooLarge', { shift: intParam(p, 'shift'), window: w }) };
      return [dimMul(h, ww), d(w * w), d(w * w)];
    },
  },
  {
    name: 'patch_mask',
    kind: 'function',
    irName: 'patch_mask',
    runtime: 'nv.patchMask',
    inputs: ['x'],
    params: [],
    doc: "the stage's patch mask resampled (nearest) to x's grid: [B, H, W, C] -> [B, H, W, 1], 1 = removed; all zeros when the stage has no mask policy",
    shape([x]) {
      if (x!.length !== 4) return rankError('patch_mask', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, x![1]!, x![2]!, d(1)];
    },
  },
];

export const PRIMITIVES: ReadonlyMap<string, PrimitiveDef> = new Map(list.map((p) => [p.name, p]));

/** Binary operators in forward bodies map onto these primitives. */
export const BINARY_PRIMITIVE: Readonly<Record<string, string>> = {
  '+': 'add',
  '-': 'sub',
  '*': 'mul',
  '/': 'div',
  '**': 'pow',
};
