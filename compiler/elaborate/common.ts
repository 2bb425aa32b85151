/**
 * Elaboration, shared vocabulary: the types the passes exchange (`Ctx`, `TypeSpec`, bind schemas,
 * hand-over records), the per-forward `GraphBuilder`, and small pure helpers on values and dims.
 * In: nothing but the value/dim/primitive modules. Out: types, constants and pure functions.
 * Holds afterwards: nothing here keeps state; a `GraphBuilder` belongs to one forward trace.
 */
import type { InterfaceDecl } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import type { Op } from '../ir/ir.js';
import type { ParamSchema } from '../primitives/index.js';
import type { Scope } from '../scope.js';
import { type Dim, dimConst, type Shape } from '../symbolic.js';
import { valueToJson, type LayerInstance, type Value, type WeightInstance } from '../values.js';

// ---------------------------------------------------------------------------------------------
// Types

/** The type a parameter accepts. */
export interface TypeSpec {
  readonly base: 'int' | 'float' | 'bool' | 'string' | 'layer' | 'shape' | 'enum' | 'size' | 'any';
  readonly list: boolean;
  /** For `layer`: the block name required (undefined: any layer). */
  readonly block?: string;
  /** For `layer`: the interface the block must provide (compiler/elaborate/interfaces.ts). */
  readonly iface?: InterfaceDecl;
  /** For `enum`: the words; for `size`: the words accepted besides numbers (`same`). */
  readonly enumValues?: readonly string[];
  /** For `size`: the lengths a list may have (an int alone is always accepted). */
  readonly lengths?: readonly number[];
}

export interface BindSchema {
  readonly name: string;
  readonly type: TypeSpec;
  readonly range?: Pick<ParamSchema, 'min' | 'above' | 'max' | 'below'>;
  readonly hasDefault: boolean;
  readonly span?: Span;
}

export interface HandOverRecord {
  readonly to: string;
  readonly fromStage: string;
  readonly fromPath: string;
  readonly span: Span;
}

export interface Ctx {
  readonly scope: Scope;
  /** Present inside forward bodies. */
  readonly graph?: GraphBuilder;
  /** Inside dataset/train/stage settings: unknown names are words, unknown calls configs. */
  readonly settings?: boolean;
  /** Forward signature mode: unknown capitalised names become dimension symbols. */
  readonly signature?: Map<string, Dim>;
  /** Collects hand-overs bound by the top-level call of a stage's `model` setting. */
  readonly handOvers?: HandOverRecord[];
}

export const BUILTINS = new Set([
  'linspace',
  'len',
  'sum',
  'cumsum',
  'take',
  'range',
  'min',
  'max',
  'int',
  'float',
  'mean',
]);
/** Names that are tensor reductions when given a tensor, compile-time helpers otherwise. */
export const OVERLOADED = new Set(['sum', 'max', 'min', 'mean']);
export const INIT_KINDS: Readonly<Record<string, readonly string[]>> = {
  zeros: [],
  ones: [],
  normal: ['std', 'mean'],
  trunc_normal: ['std'],
  uniform: ['low', 'high'],
  constant: ['value'],
};

export interface LayerStats {
  readonly size: number;
  readonly depth: number;
}

export class GraphBuilder {
  readonly ops: Op[] = [];
  private nextId = 0;
  readonly paths = new Map<LayerInstance, string>();
  readonly weightValues = new Map<string, Value>();

  constructor(
    readonly owner: LayerInstance,
    readonly weights: ReadonlyMap<string, Pick<WeightInstance, 'shape' | 'span'>>,
  ) {
    for (const [k, c] of owner.children) this.paths.set(c, k);
  }

  emit(op: Omit<Op, 'id'>): number {
    const id = this.nextId++;
    this.ops.push({ id, ...op });
    return id;
  }
}

export const ZERO = dimConst(0);

export function intValue(n: number): Value {
  return { kind: 'int', value: n };
}

/** A dim that is a constant integer becomes an int value; otherwise a dim value. */
export function dimValue(d: Dim): Value {
  const n = d.asInt();
  return n !== undefined ? intValue(n) : { kind: 'dim', dim: d };
}

export function toDim(v: Value): Dim | undefined {
  if (v.kind === 'int') return dimConst(v.value);
  if (v.kind === 'dim') return v.dim;
  return undefined;
}

export function typeName(t: TypeSpec): string {
  const base =
    t.base === 'layer'
      ? (t.block ?? t.iface?.name.name ?? 'layer')
      : t.base === 'enum'
        ? (t.enumValues ?? []).map((e) => `\`${e}\``).join(' | ')
        : t.base === 'size'
          ? [...(t.enumValues ?? []).map((e) => `\`${e}\``), 'int', ...(t.lengths ?? []).map((n) => `int[${n}]`)].join(
              ' | ',
            )
          : t.base;
  return t.list ? `${base}[]` : base;
}

export function rangeText(r: BindSchema['range']): string {
  const parts: string[] = [];
  if (r?.min !== undefined) parts.push(`>= ${r.min}`);
  if (r?.above !== undefined) parts.push(`> ${r.above}`);
  if (r?.max !== undefined) parts.push(`<= ${r.max}`);
  if (r?.below !== undefined) parts.push(`< ${r.below}`);
  return parts.join(' and ');
}

export function inRange(n: number, r: BindSchema['range']): boolean {
  if (!r) return true;
  if (r.min !== undefined && n < r.min) return false;
  if (r.above !== undefined && n <= r.above) return false;
  if (r.max !== undefined && n > r.max) return false;
  if (r.below !== undefined && n >= r.below) return false;
  return true;
}

export function primTypeSpec(p: ParamSchema): TypeSpec {
  switch (p.type) {
    case 'int[]':
      return { base: 'int', list: true };
    case 'enum':
      return { base: 'enum', list: false, enumValues: p.enumValues ?? [] };
    case 'size':
      return { base: 'size', list: false, enumValues: p.enumValues ?? [], lengths: p.lengths ?? [2] };
    default:
      return { base: p.type, list: false };
  }
}

export function stableJson(v: Value): string {
  return JSON.stringify(valueToJson(v));
}

// ---------------------------------------------------------------------------------------------

/** A help line for a shape mismatch: the rank or the first differing axis. */
export function shapeHelp(expected: Shape, found: Shape): string | undefined {
  if (expected.length === 4 && found.length === 3)
    return 'the input is a token sequence; insert `untokens(...)` to turn it back into a grid';
  if (expected.length === 3 && found.length === 4)
    return 'the input is a grid; insert `tokens(v)` to turn it into a token sequence';
  if (expected.length !== found.length) return `expected rank ${expected.length}, found rank ${found.length}`;
  const i = expected.findIndex((d, j) => !d.equals(found[j]!));
  if (i === expected.length - 1) return `the last axis is ${found[i]}; the callee was built for ${expected[i]}`;
  return undefined;
}
