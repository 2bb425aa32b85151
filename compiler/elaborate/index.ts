/**
 * Elaboration: constant evaluation, block instantiation and symbolic shape inference.
 * In: module scopes (compiler/scope.ts) and expressions to evaluate (block calls from models
 * and stages). Out: `Value`s; for block calls a `LayerInstance` tree whose every block carries
 * a checked `ForwardGraph` (SSA ops with symbolic shapes and origin spans); diagnostics in the
 * Reporter (NVC2xxx names, NVC3xxx shapes, NVC4xxx arguments). Holds afterwards:
 * - block parameters, defaults, `repeat N [as i]`, comprehensions, `for` loops and conditional
 *   expressions are fully evaluated (loops unrolled), so every weight shape is an integer;
 * - a forward body is checked once per distinct instantiation (structural fingerprint) against
 *   its declared signature; callers only see the signature (symbols bound by unification);
 * - a value whose evaluation failed is `ERROR` (or a tensor with an undefined shape) and never
 *   causes a second diagnostic: cascades are suppressed.
 *
 * This file is the elaboration context: `Elaborator` owns all state of one elaboration (caches,
 * budget, the instantiation stack, chain marks) and nothing lives at module level. The work is
 * done by the passes beside it — lookup.ts (names), constants.ts (expressions), calls.ts
 * (members, calls, builtins), coerce.ts (types and parameter binding), instantiate.ts (layer
 * trees), trace.ts (forward graphs), shapes.ts (shapes and MACs), budget.ts (limits) — each a
 * set of functions taking the context first; the methods below only forward to them, so the
 * passes reach each other through the context rather than through a web of imports.
 */
import type { Arg, BlockDecl, CallExpr, Expr, ForwardDecl, Stmt, TensorType, TypeExpr } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import type { ImportHinter } from '../import-hints.js';
import type { ForwardGraph } from '../ir/ir.js';
import { DEFAULT_TARGETS, type PrimitiveDef, type ShapeError } from '../primitives/index.js';
import { ElaborationBudget } from '../limits.js';
import type { Reporter } from '../report.js';
import type { Scope, ModuleScope, TopBinding } from '../scope.js';
import type { Dim, Shape } from '../symbolic.js';
import type { InitSpec, LayerInstance, Sym, Value } from '../values.js';
import type { TypeSpec, BindSchema, Ctx, LayerStats } from './common.js';
import type { BlockParts } from './interfaces.js';
import { unknownWord, visibleNames, lookupName, topValue } from './lookup.js';
import { evaluate, evalExpr, constInt, evalBinary, numeric } from './constants.js';
import { exhaust, chargeItems, chargeLayers, expansionOf } from './budget.js';
import { evalMember, index, evalArgs, evalCall, applyValue, builtin } from './calls.js';
import { typeSpec, coerce, bind, bindPrimParams } from './coerce.js';
import {
  fingerprintOf,
  makeList,
  functionLayer,
  asLayer,
  constructPrimitive,
  instantiateBlock,
  evalInit,
  evalShape,
} from './instantiate.js';
import { elaborateForward, execBlock, asTensorInput, producerLabels, applyLayer } from './trace.js';
import { applyPrim, reportShapeError, layerShape, totalMacs } from './shapes.js';

export { INIT_KINDS, primTypeSpec, type Ctx, type HandOverRecord, type TypeSpec } from './common.js';

export class Elaborator {
  /** Forward graphs by instance fingerprint. */
  readonly graphs = new Map<string, ForwardGraph>();
  /** Total MACs per forward graph key (computed once). */
  readonly graphMacs = new Map<string, Dim>();
  /** Values of top-level constants, each evaluated once. */
  readonly constValues = new Map<TopBinding, Value>();
  /** Constants being evaluated now (a repeat is a recursive definition). */
  readonly evaluatingConsts = new Set<TopBinding>();
  /** Blocks being instantiated now, innermost last (a repeat is recursion). */
  readonly instantiating: BlockDecl[] = [];
  /** Depth, steps and layers used so far, against compiler/limits.ts. */
  readonly budget = new ElaborationBudget();
  /** Expanded size and depth of the layer trees made so far (absent: a leaf, 1 and 1). */
  readonly layerStats = new WeakMap<LayerInstance, LayerStats>();
  /** Scopes of words (unresolved names), for did-you-mean when a word turns out to be an error. */
  readonly wordScopes = new WeakMap<object, Scope>();
  /** Sequential layers built by one `a >> b >> c` chain (so the chain flattens into one list). */
  readonly chains = new WeakSet<LayerInstance>();
  /** Body scope and named forwards of each block instance, for part calls and interfaces. */
  readonly blockParts = new WeakMap<LayerInstance, BlockParts>();
  /** Blocks an instantiation reached (even one whose arguments failed); the others get their
   *  names checked on their own (names.ts). */
  readonly instantiated = new Set<BlockDecl>();
  /** The last provenance frame handed out (one per block instantiation; values.ts `Sym`). */
  lastFrame = 0;
  /** The module that declares a name, as the file using it would import it (`CrossAttention` ->
   *  `std/attention`, or a project file `./fusion`): an unknown name found there is reported
   *  with that import as the fix (compiler/import-hints.ts). */
  importHint: ImportHinter = () => undefined;

  constructor(
    readonly scopes: ReadonlyMap<string, ModuleScope>,
    readonly reporter: Reporter,
    /** The code-generation targets whose support predicates every primitive use must pass. */
    readonly targets: readonly string[] = DEFAULT_TARGETS,
  ) {}

  unknownWord(v: Value & { kind: 'word' }, extraCandidates: readonly string[] = []): Value {
    return unknownWord(this, v, extraCandidates);
  }

  visibleNames(scope: Scope): string[] {
    return visibleNames(scope);
  }

  lookupName(name: string, span: Span, ctx: Ctx): Value {
    return lookupName(this, name, span, ctx);
  }

  topValue(b: TopBinding, span: Span): Value {
    return topValue(this, b, span);
  }

  eval(e: Expr, ctx: Ctx): Value {
    return evaluate(this, e, ctx);
  }

  exhaust(
    kind: 'ElaborationTooLong' | 'EvaluationTooDeep' | 'LayersTooDeep' | 'TooManyLayers' | 'ListTooLong',
    span: Span,
    count = 0,
  ): Value {
    return exhaust(this, kind, span, count);
  }

  chargeItems(count: number, span: Span): boolean {
    return chargeItems(this, count, span);
  }

  chargeLayers(count: number, span: Span): boolean {
    return chargeLayers(this, count, span);
  }

  expansionOf(children: ReadonlyMap<string, LayerInstance>, span: Span): LayerStats | undefined {
    return expansionOf(this, children, span);
  }

  evalExpr(e: Expr, ctx: Ctx): Value {
    return evalExpr(this, e, ctx);
  }

  constInt(e: Expr, ctx: Ctx, what: string, evaluated?: Value): number | undefined {
    return constInt(this, e, ctx, what, evaluated);
  }

  evalBinary(op: string, le: Expr, re: Expr, span: Span, opSpan: Span, ctx: Ctx): Value {
    return evalBinary(this, op, le, re, span, opSpan, ctx);
  }

  numeric(
    op: string,
    l: { kind: 'int' | 'float'; value: number; sym?: Sym },
    r: { kind: 'int' | 'float'; value: number; sym?: Sym },
    span: Span,
    opSpan: Span,
  ): Value {
    return numeric(this, op, l, r, span, opSpan);
  }

  evalMember(objExpr: Expr, prop: string, propSpan: Span, span: Span, ctx: Ctx): Value {
    return evalMember(this, objExpr, prop, propSpan, span, ctx);
  }

  index(obj: Value, idx: Value, idxSpan: Span, span: Span, ctx: Ctx): Value {
    return index(this, obj, idx, idxSpan, span, ctx);
  }

  evalArgs(
    args: readonly Arg[],
    ctx: Ctx,
  ): {
    positional: { value: Value; span: Span }[];
    named: Map<string, { value: Value; span: Span; nameSpan: Span }>;
    dup: boolean;
  } {
    return evalArgs(this, args, ctx);
  }

  evalCall(e: CallExpr, ctx: Ctx, pipeInput: Value | undefined): Value {
    return evalCall(this, e, ctx, pipeInput);
  }

  applyValue(
    callee: Value,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
    ctx: Ctx,
  ): Value {
    return applyValue(this, callee, positional, named, span, calleeSpan, ctx);
  }

  builtin(
    name: string,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span }>,
    span: Span,
  ): Value {
    return builtin(this, name, positional, named, span);
  }

  typeSpec(t: TypeExpr, scope: Scope): TypeSpec {
    return typeSpec(this, t, scope);
  }

  coerce(
    v: Value,
    t: TypeSpec,
    name: string,
    callee: string,
    span: Span,
    range: BindSchema['range'],
    ctx?: Ctx,
    schemaList = false,
  ): Value | undefined {
    return coerce(this, v, t, name, callee, span, range, ctx, schemaList);
  }

  bind(
    callee: string,
    schema: readonly BindSchema[],
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
    ctx?: Ctx,
  ): Map<string, Value> | undefined {
    return bind(this, callee, schema, positional, named, span, calleeSpan, ctx);
  }

  bindPrimParams(
    prim: PrimitiveDef,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
  ): Map<string, Value> | undefined {
    return bindPrimParams(this, prim, positional, named, span, calleeSpan);
  }

  fingerprintOf(typeName: string, params: ReadonlyMap<string, Value>, extra = ''): string {
    return fingerprintOf(typeName, params, extra);
  }

  makeList(
    kind: 'list' | 'sequential',
    children: Map<string, LayerInstance>,
    span: Span,
    repeat?: { count: number; index?: string; countSym?: Sym },
  ): LayerInstance | undefined {
    return makeList(this, kind, children, span, repeat);
  }

  functionLayer(prim: PrimitiveDef, params: Map<string, Value>, span: Span): LayerInstance {
    return functionLayer(this, prim, params, span);
  }

  asLayer(v: Value, span: Span): LayerInstance | undefined {
    return asLayer(this, v, span);
  }

  constructPrimitive(
    prim: PrimitiveDef,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
    _ctx: Ctx,
  ): Value {
    return constructPrimitive(this, prim, positional, named, span, calleeSpan, _ctx);
  }

  instantiateBlock(
    decl: BlockDecl,
    module: string,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
    ctx: Ctx,
  ): Value {
    return instantiateBlock(this, decl, module, positional, named, span, calleeSpan, ctx);
  }

  evalInit(e: Expr | undefined, ctx: Ctx): InitSpec | undefined {
    return evalInit(this, e, ctx);
  }

  evalShape(t: TensorType, ctx: Ctx, what: string, syms?: (Sym | undefined)[]): Shape | undefined {
    return evalShape(this, t, ctx, what, syms);
  }

  elaborateForward(
    fwd: ForwardDecl,
    blockScope: Scope,
    owner: LayerInstance,
    blockName: string,
    key: string,
  ): ForwardGraph | undefined {
    return elaborateForward(this, fwd, blockScope, owner, blockName, key);
  }

  execBlock(body: readonly Stmt[], ctx: Ctx): { returned?: { value: Value; span: Span } } {
    return execBlock(this, body, ctx);
  }

  asTensorInput(v: Value, ctx: Ctx, span: Span): (Value & { kind: 'tensor' }) | undefined {
    return asTensorInput(this, v, ctx, span);
  }

  producerLabels(
    inputs: readonly (Value & { kind: 'tensor' })[],
    which: number | undefined,
    consumer: Span,
  ): { span: Span; message: string }[] {
    return producerLabels(inputs, which, consumer);
  }

  applyPrim(
    prim: PrimitiveDef,
    tensorArgs: Value[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    ctx: Ctx,
    restPositional: { value: Value; span: Span }[] = [],
    fixedParams?: ReadonlyMap<string, Value>,
    operator?: string,
    argSpans?: Span[],
    layerPath?: string,
    sparse = false,
  ): Value {
    return applyPrim(
      this,
      prim,
      tensorArgs,
      named,
      span,
      ctx,
      restPositional,
      fixedParams,
      operator,
      argSpans,
      layerPath,
      sparse,
    );
  }

  reportShapeError(
    _prim: PrimitiveDef,
    r: ShapeError,
    inputs: readonly (Value & { kind: 'tensor' })[],
    span: Span,
    operator?: string,
  ): void {
    reportShapeError(this, _prim, r, inputs, span, operator);
  }

  layerShape(
    layer: LayerInstance,
    inputs: readonly Shape[],
    named: ReadonlyMap<string, Shape>,
  ):
    | { shape: Shape; macs: Dim; outputs?: readonly Shape[] }
    | (ShapeError & { path?: string; argument?: { param: string; expected: Shape; found: Shape } }) {
    return layerShape(this, layer, inputs, named);
  }

  totalMacs(g: ForwardGraph): Dim {
    return totalMacs(this, g);
  }

  applyLayer(
    layer: LayerInstance,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    ctx: Ctx,
  ): Value {
    return applyLayer(this, layer, positional, named, span, ctx);
  }
}
