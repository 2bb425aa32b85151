/**
 * The shape of a primitive record, and the helpers records share.
 * In: nothing (types, parameter accessors, shape helpers). Out: `PrimitiveRecord`, the one
 * record per built-in layer or tensor function that every stage reads (parameter schema, shape
 * and MAC rules, weights, doc, diagram label, and per target a support predicate and a
 * lowering), plus the accessors rules read parameters with. Holds afterwards: a rule reads its
 * parameters only through the accessors, so the elaborator's values and the IR's typed `args`
 * can both be passed.
 *
 * Cost convention: `macs` counts multiply-accumulates (the fvcore / README "FLOPs" convention,
 * reference doc section 2) for convolutions, linear layers, matmul and attention only. Norms,
 * activations and element-wise ops count 0, so the ConvNeXt-V2 figures at 224 are the
 * "conv and linear MACs alone" column (0.547 G for atto).
 */
import type { CatalogueMessage } from '../../dsl/diagnostics/catalogue.js';
import type { Span } from '../../dsl/span.js';
import type { IRValue, WeightNode } from '../ir/ir.js';
import { semantic } from '../report.js';
import { Dim, dimAdd, dimConst, dimDiv, dimSub, formatShape, type Shape } from '../symbolic.js';

/** `size`: an int, or a list of ints of one of `lengths` (default [2]), or one of `enumValues`
 *  when it has any (`padding = 1`, `padding = [1, 2]`, `padding = same`). */
export type ParamType = 'int' | 'float' | 'bool' | 'string' | 'int[]' | 'shape' | 'enum' | 'size' | 'any';

/** A default parameter value (the subset of the elaborator's `Value` a default can be). */
export type ParamValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'word'; readonly name: string; readonly span: Span }
  | { readonly kind: 'list'; readonly items: readonly ParamValue[] };

export interface ParamSchema {
  readonly name: string;
  readonly type: ParamType;
  readonly enumValues?: readonly string[];
  /** For `size`: the lengths a list may have (an int alone is always accepted). Default [2]. */
  readonly lengths?: readonly number[];
  /** Default; a required parameter has none. */
  readonly default?: ParamValue;
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

/**
 * A buffer: state saved and loaded with the weights under its own name (BatchNorm's
 * `running_mean`), never trained, decayed or counted as a parameter; the runtime layer that owns
 * it updates it. Starts at a constant (`zeros`, `ones`).
 */
export interface BufferSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: { readonly kind: string; readonly args: Readonly<Record<string, number>> };
  readonly dtype: 'float32' | 'int32';
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

/** Why a target cannot run a primitive with the given parameters. */
export interface Unsupported {
  /** The parameter at fault (the diagnostic points at its argument). */
  readonly param: string;
  readonly message: string;
  /** The fix. */
  readonly help: string;
}

/** What a target knows about one primitive. `L` is the target's lowering type. */
export interface TargetRule<L> {
  /** undefined when the target can run the primitive with these parameters. `nvcc check` runs
   *  it for every target it checks for, so check refuses exactly what build would refuse. */
  supports(p: Params): Unsupported | undefined;
  readonly lower: L;
}

// ---------------------------------------------------------------------------------------------
// The tfjs target (compiler/emit/model.ts)

/** A layer primitive's node as the tfjs emitter hands it to the record's lowering. */
export interface TfjsLayerNode {
  readonly params: Readonly<Record<string, unknown>>;
  readonly weights: readonly WeightNode[];
}

/** Code helpers of the tfjs emitter, passed to layer lowerings. */
export interface TfjsLayerHelpers {
  /** A JSON value as a TypeScript literal. */
  value(v: unknown): string;
  string(s: string): string;
  /** `weightInit: ...` / `biasInit: ...` options for non-default initialisers of weight/bias. */
  inits(): string[];
  /** Refuses the node (a build error at its origin). */
  fail(message: string): never;
}

/** A function primitive's call as the tfjs emitter hands it to the record's lowering. */
export interface TfjsCall {
  /** The runtime callee (`nv.gelu`). */
  readonly rt: string;
  /** Tensor argument expressions. */
  readonly args: readonly string[];
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly out: Shape;
  readonly inShapes: readonly Shape[];
  /** A dimension as an expression (symbols bound from the inputs at run time). */
  readonly dim: (d: Dim) => string;
  /** A JSON value as a TypeScript literal. */
  readonly value: (v: unknown) => string;
}

export type TfjsLowering =
  | {
      readonly kind: 'layer';
      /** Positional constructor arguments and options (in this order), as code. */
      construct(node: TfjsLayerNode, h: TfjsLayerHelpers): { readonly args: string[]; readonly options: string[] };
      /** The runtime layer has a sparse (masked) mode, switched on for `sparse` layers. */
      readonly sparseMode: boolean;
    }
  | { readonly kind: 'call'; call(l: TfjsCall): string };

/** Every target's rule for a primitive. tfjs is required; other targets add their own key. */
export interface Targets {
  readonly tfjs: TargetRule<TfjsLowering>;
  readonly [target: string]: TargetRule<unknown> | undefined;
}

// ---------------------------------------------------------------------------------------------
// The record

/** How diagrams (compiler/diagram/graph.ts) draw the primitive. */
export interface DiagramRule {
  /** The settings line under a layer node (`40 → 160`), from the node's JSON params. */
  settings(p: Readonly<Record<string, unknown>>): string | undefined;
  /** An operator symbol (`+`) drawn instead of the name when called in a forward body. */
  readonly symbol?: string;
  /** The line under the op node of a call in a forward body, from the op's attributes. */
  opLine?(attrs: Readonly<Record<string, unknown>>): string | undefined;
}

export interface PrimitiveRecord {
  /** Surface name (`Conv2d`, `gelu`); also the record's id in the IR (`ModuleNode.primitive`). */
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
  /** Weights with their names, shapes and initialisers (layers only). */
  weights?(p: Params): WeightSpec[];
  /** Buffers (running statistics) with their names, shapes and starting values (layers only). */
  buffers?(p: Params): BufferSpec[];
  shape(inputs: readonly Shape[], p: Params): Shape | ShapeError;
  macs?(inputs: readonly Shape[], out: Shape, p: Params): Dim;
  readonly diagram: DiagramRule;
  readonly targets: Targets;
  /** Its entry in docs/primitives.md (generated from the records: `npm run gen:primitives-doc`). */
  readonly reference: PrimitiveReference;
  /**
   * The names PyTorch users write for it, without the `nn.` / `F.` / `torch.` prefix (`GELU` for
   * `gelu`, `BatchNorm2d` for `BatchNorm`): an unknown name that is one of them gets "did you
   * mean" this record, so a record that exists is the only thing ever suggested.
   */
  readonly torchAliases: readonly string[];
}

/** What docs/primitives.md says of a primitive beyond its parameters and `doc`. */
export interface PrimitiveReference {
  /** The shape rule in words, input to output (`[B, H, W, in] -> [B, H', W', out]`, H' spelt out). */
  readonly shape: string;
  /** The MAC count (the convention at the top of this file); `0` for what it does not count. */
  readonly macs: string;
  /** The PyTorch equivalent, with the differences that matter (NHWC layout, defaults). */
  readonly pytorch: string;
}

/** The name the elaborator and older code use. */
export type PrimitiveDef = PrimitiveRecord;

// ---------------------------------------------------------------------------------------------
// Helpers for records

const BUILTIN: Span = { file: '<builtin>', start: 0, end: 0 };
export const I = (value: number): ParamValue => ({ kind: 'int', value });
export const F = (value: number): ParamValue => ({ kind: 'float', value });
export const B = (value: boolean): ParamValue => ({ kind: 'bool', value });
export const W = (name: string): ParamValue => ({ kind: 'word', name, span: BUILTIN });

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
/** A `size` parameter's numbers: an int n is [n], a list its items; [] for a word. */
export function sizeParam(p: Params, name: string): number[] {
  const v = paramAt(p, name);
  if (v?.kind === 'int' || v?.kind === 'float') return [v.value];
  return intListParam(p, name);
}

/** A `size` parameter of two axes (height, width): an int n is [n, n]. */
export function pairParam(p: Params, name: string): [number, number] {
  const v = sizeParam(p, name);
  return v.length === 1 ? [v[0]!, v[0]!] : [v[0] ?? 0, v[1] ?? 0];
}

/** A convolution's `padding` (`same`, `valid`, p, [ph, pw], [top, bottom, left, right]): `same` or the cells
 *  added [top, bottom, left, right]. */
export function paddingParam(p: Params, name: string): 'same' | [number, number, number, number] {
  const word = wordParam(p, name);
  if (word === 'same') return 'same';
  const v = word === 'valid' ? [0] : sizeParam(p, name);
  if (v.length === 4) return [v[0]!, v[1]!, v[2]!, v[3]!];
  if (v.length === 2) return [v[0]!, v[0]!, v[1]!, v[1]!];
  return [v[0] ?? 0, v[0] ?? 0, v[0] ?? 0, v[0] ?? 0];
}

/** The `padding` parameter of the convolutions: PyTorch's forms plus TensorFlow's `same`. */
export const CONV_PADDING_DOC =
  '`valid` (0), `same` (ceil(H / stride), the odd cell at the end, as TensorFlow), p on every side, [ph, pw], ' +
  'or [top, bottom, left, right]';

/**
 * Spatial output sizes (H', W') of a convolution with a kernel k dilated by `dilation` (its
 * window covers dilation (k - 1) + 1 cells), or the shape message refusing it.
 */
export function convSizes(
  h: Dim,
  w: Dim,
  kernel: number,
  stride: number,
  dilation: number,
  padding: 'same' | readonly number[],
): [Dim, Dim] | CatalogueMessage {
  const window = dilation * (kernel - 1) + 1;
  const oh =
    padding === 'same' ? convOut(h, window, stride, 'same') : windowOut(h, window, stride, padding[0]! + padding[1]!);
  if (!(oh instanceof Dim)) return oh;
  const ow =
    padding === 'same' ? convOut(w, window, stride, 'same') : windowOut(w, window, stride, padding[2]! + padding[3]!);
  if (!(ow instanceof Dim)) return ow;
  return [oh, ow];
}

/** A `shape` parameter: a list of dims (ints or symbolic dims). */
export function shapeParam(p: Params, name: string): Shape {
  const v = paramAt(p, name);
  if (v?.kind !== 'list') return [];
  return v.items.map((x) => (x.kind === 'dim' ? x.dim : dimConst(x.kind === 'int' ? x.value : 0)));
}

export const d = (n: number) => dimConst(n);
export const ZERO = dimConst(0);
export const TRUNC = (std: number) => ({ kind: 'trunc_normal', args: { std } });
export const ZEROS = { kind: 'zeros', args: {} };
export const ONES = { kind: 'ones', args: {} };

/** Every parameter value is supported. */
export const always = (): undefined => undefined;
/** Drawn by name, with no settings line. */
export const PLAIN: DiagramRule = { settings: () => undefined };

/** A tfjs function lowering: the runtime callee applied to the tensors and then `extra`. */
export function tfjsCall(extra: (l: TfjsCall) => string[] = () => []): TargetRule<TfjsLowering> {
  return { supports: always, lower: { kind: 'call', call: (l) => `${l.rt}(${[...l.args, ...extra(l)].join(', ')})` } };
}

export function rankError(name: string, expected: string, got: Shape, input = 0, help?: string): ShapeError {
  return { error: semantic('ShapeWrongRank', { callee: name, expected, found: formatShape(got) }), input, help };
}

export function last(s: Shape): Dim {
  return s[s.length - 1]!;
}

/** Normalises a possibly negative axis; undefined when out of range. */
export function normAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

/**
 * Output size of a window of `kernel` cells (dilation included) sliding by `stride` over `size`
 * cells padded by `padTotal` in all: PyTorch's floor((size + padTotal - kernel) / stride) + 1.
 * For a symbolic size c + (terms in symbols), the symbolic terms are taken to be multiples of
 * the stride (an image side divisible by the network's total stride), so the floor acts on the
 * constant part only: (terms) / stride + floor((c + padTotal - kernel) / stride) + 1. A 1x1
 * stride-2 convolution maps H to H / 2, and H / 4 - 1 to H / 8 (PyTorch's value whenever 8
 * divides H); a size whose terms the stride does not divide gives a fractional dim that the
 * caller refuses (NVC3006) instead of a wrong shape.
 */
export function windowOut(size: Dim, kernel: number, stride: number, padTotal: number): Dim | CatalogueMessage {
  const c = size.constantValue();
  if (c) {
    const n = Number(c.num) / Number(c.den);
    if (n + padTotal < kernel)
      return padTotal === 0
        ? semantic('ShapeSmallerThanKernel', { size: n, kernel })
        : semantic('ShapeWindowTooLarge', { kernel, size: n, padded: n + padTotal });
    return d(Math.floor((n + padTotal - kernel) / stride) + 1);
  }
  const constantTerm = size.terms.find((t) => t.key === '');
  const c0 = constantTerm ? Number(constantTerm.coef.num) / Number(constantTerm.coef.den) : 0;
  const symbolic = constantTerm ? dimSub(size, dimConst(constantTerm.coef)) : size;
  return dimAdd(dimDiv(symbolic, d(stride))!, d(Math.floor((c0 + padTotal - kernel) / stride) + 1));
}

/** Spatial output size of a convolution with `same` (TensorFlow's: ceil(size / stride)) or `valid` padding. */
export function convOut(size: Dim, kernel: number, stride: number, padding: string): Dim | CatalogueMessage {
  if (padding === 'same') {
    const out = dimDiv(size, d(stride))!;
    const c = size.constantValue();
    if (c) return d(Math.ceil(Number(c.num) / Number(c.den) / stride));
    return out;
  }
  return windowOut(size, kernel, stride, 0);
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
