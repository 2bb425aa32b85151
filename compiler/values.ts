/**
 * Compile-time values and the module tree of instantiated layers.
 * In: nothing (type definitions plus small helpers). Out: `Value`, the result of evaluating any
 * .nvc expression at compile time, and `LayerInstance`, one node of a model's module tree.
 * Holds afterwards: a `LayerInstance` has fully resolved constant parameters, weights with
 * concrete integer shapes, ordered children, and (for blocks) its checked forward graph.
 */
import type { Span } from '../dsl/span.js';
import type { BlockDecl, InterfaceDecl } from '../dsl/ast.js';
import type { Dim, Shape } from './symbolic.js';
import type { PrimitiveDef } from './primitives/index.js';
import type { ForwardGraph, ParamExpr } from './ir/ir.js';

/**
 * Provenance of a constant: the expression over the parameters of one block instantiation
 * (`frame`, a number unique to it) that computed it. Only values computed inside that
 * instantiation carry its frame; ir/build.ts keeps an expression only where its frame is the
 * enclosing block's, so a value that travelled to another block (a layer argument's member)
 * is never read as that block's parameter.
 */
export interface Sym {
  readonly frame: number;
  readonly expr: ParamExpr;
}

export type Value =
  | { readonly kind: 'int'; readonly value: number; readonly sym?: Sym }
  | { readonly kind: 'float'; readonly value: number; readonly sym?: Sym }
  | { readonly kind: 'bool'; readonly value: boolean; readonly sym?: Sym }
  | { readonly kind: 'string'; readonly value: string; readonly sym?: Sym }
  /** A bare word that names no binding, accepted where an enum is expected (`same`, `zeros`). */
  | { readonly kind: 'word'; readonly name: string; readonly span: Span; readonly sym?: Sym }
  | { readonly kind: 'list'; readonly items: readonly Value[]; readonly sym?: Sym }
  | { readonly kind: 'record'; readonly entries: ReadonlyMap<string, Value> }
  /** A symbolic dimension (`B`, `H / 4`) used inside a forward body. */
  | { readonly kind: 'dim'; readonly dim: Dim }
  /** `via`: read through a parameter typed by this interface (only its members may be used). */
  | { readonly kind: 'layer'; readonly layer: LayerInstance; readonly via?: InterfaceDecl }
  | { readonly kind: 'block'; readonly decl: BlockDecl; readonly module: string }
  | { readonly kind: 'prim'; readonly prim: PrimitiveDef }
  /** A compile-time helper function (`linspace`, `len`, `cumsum`, ...). */
  | { readonly kind: 'builtin'; readonly name: string }
  /** A call to a settings constructor (`lion(lr = 5e-5)`, `random_patches(...)`). */
  | {
      readonly kind: 'config';
      readonly name: string;
      readonly args: ReadonlyMap<string, Value>;
      readonly positional: readonly Value[];
      readonly span: Span;
    }
  /** A tensor inside a forward body: SSA value id and its shape (undefined after an error). */
  | { readonly kind: 'tensor'; readonly id: number; readonly shape: Shape | undefined; readonly span: Span }
  /** A reference to a stage's model (`pretrain`) or one of its sub-layers (`pretrain.encoder`). */
  | {
      readonly kind: 'stageref';
      readonly stage: string;
      readonly path: readonly string[];
      readonly layer: LayerInstance;
      readonly span: Span;
    }
  /** The result of an expression that already failed; produces no further diagnostics. */
  | { readonly kind: 'error' };

export const ERROR: Value = { kind: 'error' };

export interface WeightInstance {
  readonly name: string;
  readonly shape: readonly number[];
  /** `zeros`, `ones`, `normal(std = 0.02)`, `trunc_normal(std = 0.02)`, ... as JSON. */
  readonly init: InitSpec;
  readonly frozen: boolean;
  /** Excluded from weight decay (biases, norms, GRN gamma/beta, tokens). */
  readonly noDecay: boolean;
  /** Per dim, its provenance in the owning block (block weights only). */
  readonly shapeSyms?: readonly (Sym | undefined)[];
  readonly span: Span;
}

/** A buffer of a primitive layer (BatchNorm's running statistics): saved, never trained. */
export interface BufferInstance {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: InitSpec;
  readonly dtype: 'float32' | 'int32';
  readonly span: Span;
}

export interface InitSpec {
  readonly kind: string;
  readonly args: Readonly<Record<string, number>>;
}

export type LayerKind =
  /** A primitive layer from the table (Conv2d, Linear, ...). */
  | 'primitive'
  /** A parameterless primitive function used as a layer (`gelu`, `mean(axes = [1, 2])`). */
  | 'function'
  /** An instance of a user or std `block`/`model`. */
  | 'block'
  /** `a >> b`: children applied in order. */
  | 'sequential'
  /** `repeat N X` or `[x, y]`: children `0..N-1`; applying it applies them in order. */
  | 'list';

export interface LayerInstance {
  readonly kind: LayerKind;
  /** Primitive name, block name, or `Sequential` / `List`. */
  readonly typeName: string;
  readonly prim?: PrimitiveDef;
  readonly decl?: BlockDecl;
  /** Module file the block was declared in. */
  readonly module?: string;
  /** Resolved constant parameters (block params, primitive constructor args, function attrs). */
  readonly params: ReadonlyMap<string, Value>;
  readonly weights: readonly WeightInstance[];
  /** Saved, never trained state (running statistics); absent when there is none. */
  readonly buffers?: readonly BufferInstance[];
  readonly children: ReadonlyMap<string, LayerInstance>;
  /** Marked `sparse` where it was declared: runs masked while a stage has a mask policy. */
  sparse: boolean;
  /** For `repeat`: the repeat count and the index variable, so diagrams can collapse it. */
  readonly repeat?: { readonly count: number; readonly index?: string; readonly countSym?: Sym };
  /** For blocks: the instantiation's provenance frame (see `Sym`). */
  readonly frame?: number;
  /** For blocks: the checked forward graph (shared between identical instances). */
  forward?: ForwardGraph;
  /** Structural fingerprint: equal fingerprints mean equal structure and constant params. */
  readonly fingerprint: string;
  readonly span: Span;
}

/** The provenance of a value, if it has one. */
export function symOf(v: Value): Sym | undefined {
  return 'sym' in v ? v.sym : undefined;
}

/** The value with this provenance (or none); kinds that carry no provenance are returned as is. */
export function withSym(v: Value, sym: Sym | undefined): Value {
  switch (v.kind) {
    case 'int':
    case 'float':
    case 'bool':
    case 'string':
    case 'word':
    case 'list': {
      const { sym: _old, ...rest } = v;
      return (sym ? { ...rest, sym } : rest) as Value;
    }
    default:
      return v;
  }
}

export function isNumber(v: Value): v is { kind: 'int' | 'float'; value: number; sym?: Sym } {
  return v.kind === 'int' || v.kind === 'float';
}

/** Human name of a value's type, for messages. */
export function typeOfValue(v: Value): string {
  switch (v.kind) {
    case 'int':
    case 'float':
    case 'bool':
    case 'string':
      return v.kind;
    case 'word':
      return `word \`${v.name}\``;
    case 'list':
      if (v.items.length > 0 && v.items.every((i) => i.kind === 'int')) return 'int[]';
      if (v.items.length > 0 && v.items.every(isNumber)) return 'float[]';
      return 'list';
    case 'record':
      return 'record';
    case 'dim':
      return 'dimension';
    case 'layer':
      return `layer ${v.layer.typeName}`;
    case 'block':
      return `block ${v.decl.name.name} (not called)`;
    case 'prim':
      return `${v.prim.kind} ${v.prim.name}`;
    case 'builtin':
      return `function ${v.name}`;
    case 'config':
      return `${v.name}(...)`;
    case 'tensor':
      return 'tensor';
    case 'stageref':
      return `stage reference ${[v.stage, ...v.path].join('.')}`;
    case 'error':
      return 'error';
  }
}

/** Converts a constant value to JSON (for the IR, stage settings and fingerprints). */
export function valueToJson(v: Value): unknown {
  switch (v.kind) {
    case 'int':
    case 'float':
    case 'bool':
    case 'string':
      return v.value;
    case 'word':
      return v.name;
    case 'list':
      return v.items.map(valueToJson);
    case 'record':
      return Object.fromEntries([...v.entries].map(([k, x]) => [k, valueToJson(x)]));
    case 'dim':
      return v.dim.toString();
    case 'layer':
      return { layer: v.layer.typeName, fingerprint: v.layer.fingerprint };
    case 'block':
      return { block: v.decl.name.name };
    case 'prim':
      return { primitive: v.prim.name };
    case 'builtin':
      return { builtin: v.name };
    case 'config': {
      const out: Record<string, unknown> = { type: v.name };
      if (v.positional.length > 0) out.args = v.positional.map(valueToJson);
      for (const [k, x] of v.args) out[k] = valueToJson(x);
      return out;
    }
    case 'tensor':
      return { tensor: v.id };
    case 'stageref':
      return { from: [v.stage, ...v.path].join('.') };
    case 'error':
      return null;
  }
}

/** Stable text of a constant value (IR printer, summaries): `[3, 3, 9, 3]`, `1e-6`, `same`. */
export function formatValue(v: Value): string {
  switch (v.kind) {
    case 'float':
      return Number.isInteger(v.value) ? v.value.toFixed(1) : String(v.value);
    case 'int':
    case 'bool':
      return String(v.value);
    case 'string':
      return JSON.stringify(v.value);
    case 'word':
      return v.name;
    case 'list':
      return `[${v.items.map(formatValue).join(', ')}]`;
    case 'record':
      return `{${[...v.entries].map(([k, x]) => `${k} = ${formatValue(x)}`).join(', ')}}`;
    case 'dim':
      return v.dim.toString();
    case 'layer':
      return v.layer.typeName;
    case 'config':
      return (
        `${v.name}(` +
        `${[...v.positional.map(formatValue), ...[...v.args].map(([k, x]) => `${k} = ${formatValue(x)}`)].join(', ')})`
      );
    default:
      return typeOfValue(v);
  }
}
