/**
 * The nvcc intermediate representation: the only contract between the front end and everything
 * downstream.
 * In: produced by compiler/elaborate/ (forward graphs, module trees, via compiler/ir/build.ts)
 * and compiler/program.ts (datasets, train stages, variants) once a program checks without
 * errors. Out: consumed by the code emitters (compiler/emit), the diagram emitter
 * (compiler/diagram), the trainer's spec lowering (compiler/builder/lower.ts), the override
 * schema (compiler/schema/overrides.ts) and `nvcc summary` (compiler/summary.ts). Holds
 * afterwards: every shape is symbolic (`Dim`), every op, module and weight has the origin span
 * of the .nvc source that produced it, every weight has a concrete integer shape, and a
 * primitive node names its record (compiler/primitives/) so its rules can be applied again;
 * nothing here refers to the elaborator's objects.
 *
 * Design, by consumer:
 * - A `ModuleNode` tree per model instance: one node per block / primitive layer / list, with
 *   its resolved constant params, weights (name, shape, init, frozen, noDecay), ordered
 *   children (their keys are the parameter-path segments of docs/CONVENTIONS.md), `sparse`
 *   flags and `repeat` groups (diagram collapse). A code emitter writes one class per distinct
 *   `forwardKey`; weights become fields, children become child modules.
 * - A `ForwardGraph` per distinct block instantiation (keyed by structural fingerprint, so 27
 *   identical blocks share one graph): SSA ops `%3 = linear[pwconv1](%2) : [B, 56, 56, 160]`.
 *   `op` is a primitive's IR name (see the records in compiler/primitives/, `irName`), or `call` for a
 *   sub-block / list / sequential (the `target` is the dotted child path relative to the
 *   block, e.g. `enc.stages.0`), `param` for reading a weight, `const` for a scalar and
 *   `input` for a forward parameter. `ports` names each input (`q`, `kv`) for multi-input
 *   nodes. Symbols (`B`, `H`) are local to the graph; they are bound at each call site.
 * - `ProgramIR`: models (top-level model declarations instantiated with their defaults when
 *   they have no required parameters), datasets, trains with stages (settings evaluated to
 *   JSON, the stage's model instantiated), and the variant that was applied.
 * - Provenance (`ParamExpr`): next to a concrete value that a block computed from its own
 *   declaration's parameters, the expression it was computed by (`4 * dim`, `dims[i - 1]`,
 *   `eps`): a child's arguments (`argExprs`, over the parent block's parameters), a block
 *   weight's dims (`shapeExprs`), a repeat count, an op's attributes and constants (`exprs`)
 *   and the annotated shapes of a forward's inputs and outputs. Evaluated with the block's
 *   concrete parameters an expression gives exactly the concrete value beside it; a value
 *   with no expression is a constant of the declaration's body or was computed in a way the
 *   elaborator does not track (`linspace`, a member of a layer argument), so it must be baked.
 *   Code emitters use it to write one class per declaration taking those parameters
 *   (compiler/emit/classes.ts).
 */
import type { Span } from '../../dsl/span.js';
import type { Dim, Shape } from '../symbolic.js';

/**
 * A constant parameter value as the elaborator resolved it, with its type kept (the JSON
 * `params` of a node lose the int/float distinction and the arguments of layer parameters).
 * Layers given as parameters keep their type name and their own arguments; values that are
 * neither constants nor layers (blocks, functions, settings constructors) keep only their JSON.
 */
export type IRValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'string'; readonly value: string }
  /** A bare word accepted where an enum is expected (`same`, `zeros`). */
  | { readonly kind: 'word'; readonly name: string }
  | { readonly kind: 'list'; readonly items: readonly IRValue[] }
  | { readonly kind: 'record'; readonly entries: ReadonlyMap<string, IRValue> }
  /** A symbolic dimension (`B`, `H / 4`). */
  | { readonly kind: 'dim'; readonly dim: Dim }
  | { readonly kind: 'layer'; readonly typeName: string; readonly args: ReadonlyMap<string, IRValue> }
  | { readonly kind: 'opaque'; readonly json: unknown };

/** The kinds of module-tree node (see `ModuleNode.kind`). */
export type ModuleKind =
  /** A primitive layer from the records (Conv2d, Linear, ...). */
  | 'primitive'
  /** A parameterless primitive function used as a layer (`gelu`, `mean(axes = [1, 2])`). */
  | 'function'
  /** An instance of a user or std `block`/`model`. */
  | 'block'
  /** `a >> b`: children applied in order. */
  | 'sequential'
  /** `repeat N X` or `[x, y]`: children `0..N-1`; applying it applies them in order. */
  | 'list';

/** The arithmetic operators a provenance expression keeps (`numeric` of the elaborator). */
export type ParamOperator = '+' | '-' | '*' | '/' | '//' | '%' | '**';

/**
 * How a constant was computed from the parameters of the block declaration it was computed in
 * (see "Provenance" above). `int` says whether the result is an integer, as the elaborator
 * typed it (an exact `/` of two ints is an int).
 */
export type ParamExpr =
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'literal'; readonly value: number | string | boolean; readonly int?: boolean }
  | { readonly kind: 'neg'; readonly operand: ParamExpr; readonly int: boolean }
  | {
      readonly kind: 'binary';
      readonly op: ParamOperator;
      readonly left: ParamExpr;
      readonly right: ParamExpr;
      readonly int: boolean;
    }
  /** An item of a list parameter (`dims[i]`); the index is never negative. */
  | { readonly kind: 'index'; readonly list: ParamExpr; readonly index: ParamExpr };

export interface Op {
  /** SSA id; printed `%id`. */
  readonly id: number;
  readonly op: string;
  /** Sub-layer or weight path relative to the block (`pwconv1`, `enc.stages.0`, `gamma`). */
  readonly target?: string;
  readonly inputs: readonly number[];
  /** Port name per input, for nodes whose inputs play different roles (`q`, `kv`). */
  readonly ports?: readonly string[];
  /** Constant attributes (axes, eps, heads, scalar value...), JSON. */
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Provenance of attributes (`value` of a `const`, `rate` of `drop_path`) over the block's
   *  parameters; absent when no attribute came from them. */
  readonly exprs?: Readonly<Record<string, ParamExpr>>;
  readonly shape: Shape;
  /** Multiply-accumulates of this op (symbolic in the graph's symbols); 0 for cheap ops. */
  readonly macs: Dim;
  /** The op runs a `sparse` layer (masked while a stage has a mask policy). */
  readonly sparse: boolean;
  readonly span: Span;
}

export interface GraphValue {
  readonly name: string;
  readonly id: number;
  readonly shape: Shape;
  /** Per axis, the annotation's expression over the block's parameters (`dim` in
   *  `[B, H, W, dim]`), null for an axis that is a symbol or a constant; absent when none is. */
  readonly shapeExprs?: readonly (ParamExpr | null)[];
}

export interface ForwardGraph {
  /** Block name. */
  readonly block: string;
  /** Structural fingerprint of the instantiation this graph was checked for. */
  readonly key: string;
  readonly inputs: readonly GraphValue[];
  readonly outputs: readonly GraphValue[];
  readonly ops: readonly Op[];
  readonly span: Span;
}

export interface WeightNode {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: { readonly kind: string; readonly args: Readonly<Record<string, number>> };
  readonly frozen: boolean;
  readonly noDecay: boolean;
  /** Per dim, its expression over the owning block's parameters (null where none); absent
   *  when no dim has one (always for primitive layers' weights, which their runtime builds). */
  readonly shapeExprs?: readonly (ParamExpr | null)[];
  /** Where the weight was declared (a block's `param`) or the primitive layer that owns it. */
  readonly span: Span;
}

/** Saved, never trained state (BatchNorm's `running_mean`): not a parameter, not counted. */
export interface BufferNode {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: { readonly kind: string; readonly args: Readonly<Record<string, number>> };
  readonly dtype: 'float32' | 'int32';
  readonly span: Span;
}

export interface ModuleNode {
  /** Dotted path from the model root ("" for the root). */
  readonly path: string;
  readonly kind: ModuleKind;
  readonly typeName: string;
  /** The primitive record's id (its surface name, a key of PRIMITIVES) for primitive and
   *  function nodes; undefined for blocks and lists. */
  readonly primitive?: string;
  /** Runtime name for primitives (`nv.Conv2d`); undefined for blocks and lists. */
  readonly runtime?: string;
  /** Resolved constant parameters as JSON (layers given as parameters print as `<Type>`). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The same parameters with their types: what primitive rules and the override schema read. */
  readonly args: ReadonlyMap<string, IRValue>;
  /** Provenance of `args`: for the arguments the enclosing block computed from its own
   *  parameters, the expression over them (`in = dim`, `out = 4 * dim`); absent when none. A
   *  layer given to the enclosing block as an argument was built elsewhere and has none. */
  readonly argExprs?: ReadonlyMap<string, ParamExpr>;
  readonly weights: readonly WeightNode[];
  /** Buffers, in PyTorch's state_dict order after the weights; absent when there are none. */
  readonly buffers?: readonly BufferNode[];
  readonly children: readonly ModuleNode[];
  readonly sparse: boolean;
  /** A block declared `unmasked`: it and its whole subtree run without the stage's patch mask. */
  readonly unmasked?: true;
  readonly repeat?: { readonly count: number; readonly index?: string; readonly countExpr?: ParamExpr };
  /** Key into `ModelIR.graphs` for blocks. */
  readonly forwardKey?: string;
  /** For blocks: the name in the block's declaration (`block ConvNeXtV2Block`) and its doc comment. */
  readonly decl?: { readonly nameSpan: Span; readonly doc?: string };
  /** Where the node was built (the call or `repeat` that instantiated it). */
  readonly span: Span;
}

export interface ModelIR {
  readonly name: string;
  readonly root: ModuleNode;
  /** Forward graphs by key, in first-use order. */
  readonly graphs: ReadonlyMap<string, ForwardGraph>;
}

export interface DatasetIR {
  readonly name: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly fieldGroups: Readonly<Record<string, readonly FieldIR[]>>;
  readonly span: Span;
}

export interface FieldIR {
  readonly name: string;
  readonly type: 'number' | 'binary' | 'category';
  /** Transforms and options after the type, in order (`log1p`, `standardize`, ...). */
  readonly modifiers: readonly unknown[];
  /** Category levels. */
  readonly levels?: readonly string[];
  /** Width of this field in the encoded vector. */
  readonly width: number;
}

export interface HandOverIR {
  /** Parameter-path prefix in this stage's model (`enc`). */
  readonly to: string;
  /** Source stage and path in its model (`pretrain`, `encoder`). */
  readonly fromStage: string;
  readonly fromPath: string;
}

export interface StageIR {
  readonly name: string;
  readonly model: ModelIR;
  /** Every setting except `model`, evaluated to JSON. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly mask?: Readonly<Record<string, unknown>>;
  readonly handOver: readonly HandOverIR[];
  /** Parameter-path prefixes frozen in this stage. */
  readonly frozen: readonly string[];
  readonly span: Span;
}

export interface TrainIR {
  readonly name: string;
  readonly dataset: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly stages: readonly StageIR[];
  readonly span: Span;
}

export interface ProgramIR {
  readonly file: string;
  readonly variant?: string;
  readonly models: readonly ModelIR[];
  readonly datasets: readonly DatasetIR[];
  readonly trains: readonly TrainIR[];
}
