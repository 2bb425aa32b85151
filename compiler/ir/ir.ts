/**
 * The nvcc intermediate representation.
 * In: produced by compiler/elaborate.ts (forward graphs, module trees) and compiler/program.ts
 * (datasets, train stages, variants) once a program checks without errors. Out: consumed by
 * the TypeScript emitter (issue 4), the diagram emitter (issue 7), the trainer (via
 * compiler/lower-specs.ts) and `nvcc summary`. Holds afterwards: every shape is symbolic
 * (`Dim`), every op has the origin span of the .nvc expression that produced it, and every
 * weight has a concrete integer shape.
 *
 * Design, by consumer:
 * - A `ModuleNode` tree per model instance: one node per block / primitive layer / list, with
 *   its resolved constant params, weights (name, shape, init, frozen, noDecay), ordered
 *   children (their keys are the parameter-path segments of docs/CONVENTIONS.md), `sparse`
 *   flags and `repeat` groups (diagram collapse). A code emitter writes one class per distinct
 *   `forwardKey`; weights become fields, children become child modules.
 * - A `ForwardGraph` per distinct block instantiation (keyed by structural fingerprint, so 27
 *   identical blocks share one graph): SSA ops `%3 = linear[pwconv1](%2) : [B, 56, 56, 160]`.
 *   `op` is a primitive's IR name (see compiler/primitives.ts `irName`), or `call` for a
 *   sub-block / list / sequential (the `target` is the dotted child path relative to the
 *   block, e.g. `enc.stages.0`), `param` for reading a weight, `const` for a scalar and
 *   `input` for a forward parameter. `ports` names each input (`q`, `kv`) for multi-input
 *   nodes. Symbols (`B`, `H`) are local to the graph; they are bound at each call site.
 * - `ProgramIR`: models (top-level model declarations instantiated with their defaults when
 *   they have no required parameters), datasets, trains with stages (settings evaluated to
 *   JSON, the stage's model instantiated), and the variant that was applied.
 */
import type { Span } from '../../dsl/span.js';
import type { Dim, Shape } from '../symbolic.js';
import type { LayerInstance } from '../values.js';

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
}

export interface ModuleNode {
  /** Dotted path from the model root ("" for the root). */
  readonly path: string;
  readonly kind: LayerInstance['kind'];
  readonly typeName: string;
  /** Runtime name for primitives (`nv.Conv2d`); undefined for blocks and lists. */
  readonly runtime?: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly weights: readonly WeightNode[];
  readonly children: readonly ModuleNode[];
  readonly sparse: boolean;
  /** A block declared `unmasked`: it and its whole subtree run without the stage's patch mask. */
  readonly unmasked?: true;
  readonly repeat?: { readonly count: number; readonly index?: string };
  /** Key into `ModelIR.graphs` for blocks. */
  readonly forwardKey?: string;
  readonly span: Span;
}

export interface ModelIR {
  readonly name: string;
  readonly root: ModuleNode;
  /** Forward graphs by key, in first-use order. */
  readonly graphs: ReadonlyMap<string, ForwardGraph>;
  /** The instance the IR was built from (for summaries and hand-over checks). */
  readonly instance: LayerInstance;
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
