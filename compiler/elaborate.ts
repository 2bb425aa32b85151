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
 */
import type {
  Arg,
  BlockDecl,
  CallExpr,
  Expr,
  ForwardDecl,
  NamedType,
  Param,
  Stmt,
  TensorType,
  TypeExpr,
} from '../dsl/ast.js';
import type { CatalogueMessage } from '../dsl/diagnostics/catalogue.js';
import type { Span } from '../dsl/span.js';
import type { ForwardGraph, GraphValue, Op } from './ir/ir.js';
import {
  BINARY_PRIMITIVE,
  DEFAULT_TARGETS,
  PRIMITIVES,
  broadcast,
  type ParamSchema,
  type PrimitiveDef,
  type ShapeError,
} from './primitives/index.js';
import { ElaborationBudget, FIXED_LIMITS, raiseHint } from './limits.js';
import { closest, didYouMean, type Reporter, semantic } from './report.js';
import { Scope, type ModuleScope, type TopBinding } from './scope.js';
import {
  type Dim,
  dimAdd,
  dimConst,
  dimDiv,
  dimMul,
  dimNeg,
  dimSub,
  dimSubst,
  dimSym,
  formatShape,
  isExactInteger,
  shapesEqual,
  type Shape,
  unify,
} from './symbolic.js';
import {
  ERROR,
  formatValue,
  isNumber,
  typeOfValue,
  valueToJson,
  type InitSpec,
  type LayerInstance,
  type Value,
  type WeightInstance,
} from './values.js';

// ---------------------------------------------------------------------------------------------
// Types

/** The type a parameter accepts. */
export interface TypeSpec {
  readonly base: 'int' | 'float' | 'bool' | 'string' | 'layer' | 'shape' | 'enum' | 'any';
  readonly list: boolean;
  /** For `layer`: the block name required (undefined: any layer). */
  readonly block?: string;
  readonly enumValues?: readonly string[];
}

interface BindSchema {
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

const BUILTINS = new Set(['linspace', 'len', 'sum', 'cumsum', 'take', 'range', 'min', 'max', 'int', 'float', 'mean']);
/** Names that are tensor reductions when given a tensor, compile-time helpers otherwise. */
const OVERLOADED = new Set(['sum', 'max', 'min', 'mean']);
export const INIT_KINDS: Readonly<Record<string, readonly string[]>> = {
  zeros: [],
  ones: [],
  normal: ['std', 'mean'],
  trunc_normal: ['std'],
  uniform: ['low', 'high'],
  constant: ['value'],
};

interface LayerStats {
  readonly size: number;
  readonly depth: number;
}

class GraphBuilder {
  readonly ops: Op[] = [];
  private nextId = 0;
  readonly paths = new Map<LayerInstance, string>();
  readonly weightValues = new Map<string, Value>();

  constructor(
    readonly owner: LayerInstance,
    readonly weights: ReadonlyMap<string, WeightInstance>,
  ) {
    for (const [k, c] of owner.children) this.paths.set(c, k);
  }

  emit(op: Omit<Op, 'id'>): number {
    const id = this.nextId++;
    this.ops.push({ id, ...op });
    return id;
  }
}

const ZERO = dimConst(0);

function intValue(n: number): Value {
  return { kind: 'int', value: n };
}

/** A dim that is a constant integer becomes an int value; otherwise a dim value. */
function dimValue(d: Dim): Value {
  const n = d.asInt();
  return n !== undefined ? intValue(n) : { kind: 'dim', dim: d };
}

function toDim(v: Value): Dim | undefined {
  if (v.kind === 'int') return dimConst(v.value);
  if (v.kind === 'dim') return v.dim;
  return undefined;
}

function typeName(t: TypeSpec): string {
  const base =
    t.base === 'layer'
      ? (t.block ?? 'layer')
      : t.base === 'enum'
        ? (t.enumValues ?? []).map((e) => `\`${e}\``).join(' | ')
        : t.base;
  return t.list ? `${base}[]` : base;
}

function rangeText(r: BindSchema['range']): string {
  const parts: string[] = [];
  if (r?.min !== undefined) parts.push(`>= ${r.min}`);
  if (r?.above !== undefined) parts.push(`> ${r.above}`);
  if (r?.max !== undefined) parts.push(`<= ${r.max}`);
  if (r?.below !== undefined) parts.push(`< ${r.below}`);
  return parts.join(' and ');
}

function inRange(n: number, r: BindSchema['range']): boolean {
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
    default:
      return { base: p.type, list: false };
  }
}

function stableJson(v: Value): string {
  return JSON.stringify(valueToJson(v));
}

// ---------------------------------------------------------------------------------------------

export class Elaborator {
  /** Forward graphs by instance fingerprint. */
  readonly graphs = new Map<string, ForwardGraph>();
  private readonly graphMacs = new Map<string, Dim>();
  private readonly constValues = new Map<TopBinding, Value>();
  private readonly evaluatingConsts = new Set<TopBinding>();
  private readonly instantiating: BlockDecl[] = [];
  /** Depth, steps and layers used so far, against compiler/limits.ts. */
  readonly budget = new ElaborationBudget();
  /** Expanded size and depth of the layer trees made so far (absent: a leaf, 1 and 1). */
  private readonly layerStats = new WeakMap<LayerInstance, LayerStats>();
  /** Scopes of words (unresolved names), for did-you-mean when a word turns out to be an error. */
  private readonly wordScopes = new WeakMap<object, Scope>();

  constructor(
    readonly scopes: ReadonlyMap<string, ModuleScope>,
    readonly reporter: Reporter,
    /** The code-generation targets whose support predicates every primitive use must pass. */
    readonly targets: readonly string[] = DEFAULT_TARGETS,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Names

  /** Reports a word (an unresolved name) as NVC2001 and returns ERROR. */
  unknownWord(v: Value & { kind: 'word' }, extraCandidates: readonly string[] = []): Value {
    const scope = this.wordScopes.get(v);
    const head = v.name.split('.')[0]!;
    const candidates = [...(scope ? this.visibleNames(scope) : []), ...extraCandidates];
    this.reporter.error('UnknownName', v.span, { name: head }, { help: [didYouMean(head, candidates)] });
    return ERROR;
  }

  visibleNames(scope: Scope): string[] {
    return [...scope.allNames(), ...PRIMITIVES.keys(), ...BUILTINS];
  }

  private lookupName(name: string, span: Span, ctx: Ctx): Value {
    const g = ctx.graph;
    if (g?.weights.has(name)) {
      const cached = g.weightValues.get(name);
      if (cached) return cached;
      const w = g.weights.get(name)!;
      const shape = w.shape.map((n) => dimConst(n));
      const id = g.emit({
        op: 'param',
        target: name,
        inputs: [],
        attrs: {},
        shape,
        macs: ZERO,
        sparse: false,
        span: w.span,
      });
      const v: Value = { kind: 'tensor', id, shape, span: w.span };
      g.weightValues.set(name, v);
      return v;
    }
    const local = ctx.scope.lookupLocal(name);
    if (local) return local.value;
    const top = ctx.scope.moduleScope.names.get(name);
    if (top) return this.topValue(top, span);
    const prim = PRIMITIVES.get(name);
    // In settings, `max`, `mean` and friends are plain words (`pool = max`).
    if (prim && !ctx.settings) return { kind: 'prim', prim };
    if (BUILTINS.has(name) && !ctx.settings) return { kind: 'builtin', name };
    if (ctx.signature && /^[A-Z]/.test(name)) {
      const d = dimSym(name);
      ctx.signature.set(name, d);
      ctx.scope.define(name, { kind: 'dim', dim: d }, span);
      return { kind: 'dim', dim: d };
    }
    const word: Value = { kind: 'word', name, span };
    this.wordScopes.set(word, ctx.scope);
    return word;
  }

  private topValue(b: TopBinding, span: Span): Value {
    switch (b.kind) {
      case 'failed':
        return ERROR;
      case 'block':
        return { kind: 'block', decl: b.decl, module: b.module };
      case 'const': {
        const cached = this.constValues.get(b);
        if (cached) return cached;
        if (this.evaluatingConsts.has(b)) {
          this.reporter.error(
            'RecursiveDefinition',
            span,
            { name: b.decl.name.name },
            { labels: [{ span: b.decl.name.span, message: 'defined here' }] },
          );
          return ERROR;
        }
        this.evaluatingConsts.add(b);
        const scope = new Scope(undefined, this.scopes.get(b.module)!, 'module');
        let v = this.eval(b.decl.value, { scope });
        if (b.decl.type && v.kind !== 'error')
          v =
            this.coerce(
              v,
              this.typeSpec(b.decl.type, scope),
              b.decl.name.name,
              'const',
              b.decl.value.span,
              undefined,
            ) ?? ERROR;
        this.evaluatingConsts.delete(b);
        this.constValues.set(b, v);
        return v;
      }
      default:
        return { kind: 'word', name: b.decl.name.name, span };
    }
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  /** Evaluates an expression, charging the budget (compiler/limits.ts) for its depth and work. */
  eval(e: Expr, ctx: Ctx): Value {
    const budget = this.budget;
    if (budget.exhausted) return ERROR;
    if (++budget.steps > budget.limits.evalSteps.value) return this.exhaust('ElaborationTooLong', e.span);
    if (budget.depth >= FIXED_LIMITS.evalDepth) return this.exhaust('EvaluationTooDeep', e.span);
    budget.depth++;
    try {
      return this.evalExpr(e, ctx);
    } finally {
      budget.depth--;
    }
  }

  /**
   * Reports the first crossed limit and stops elaboration: `eval` yields ERROR from now on.
   * `count` is the size asked for, for a list.
   */
  private exhaust(
    kind: 'ElaborationTooLong' | 'EvaluationTooDeep' | 'LayersTooDeep' | 'TooManyLayers' | 'ListTooLong',
    span: Span,
    count = 0,
  ): Value {
    const budget = this.budget;
    if (budget.exhausted) return ERROR;
    budget.exhausted = true;
    const { evalSteps, layers, listItems } = budget.limits;
    switch (kind) {
      case 'EvaluationTooDeep':
        this.reporter.error(kind, span, { limit: FIXED_LIMITS.evalDepth });
        break;
      case 'LayersTooDeep':
        this.reporter.error(kind, span, { limit: FIXED_LIMITS.layerDepth });
        break;
      case 'ListTooLong':
        this.reporter.error(kind, span, { limit: listItems.value, count, raise: raiseHint(listItems, count) });
        break;
      case 'TooManyLayers':
        this.reporter.error(kind, span, { limit: layers.value, raise: raiseHint(layers, count) });
        break;
      case 'ElaborationTooLong':
        this.reporter.error(kind, span, { limit: evalSteps.value, raise: raiseHint(evalSteps, count) });
        break;
    }
    return ERROR;
  }

  /** Charges a list of `count` items about to be made; false (reported) when it is too long. */
  private chargeItems(count: number, span: Span): boolean {
    const budget = this.budget;
    if (budget.exhausted) return false;
    if (count > budget.limits.listItems.value) {
      this.exhaust('ListTooLong', span, count);
      return false;
    }
    budget.steps += Math.max(0, count);
    if (budget.steps > budget.limits.evalSteps.value) {
      this.exhaust('ElaborationTooLong', span);
      return false;
    }
    return true;
  }

  /** Charges `count` layers about to be made; false (reported) past the layer limit. */
  private chargeLayers(count: number, span: Span): boolean {
    const budget = this.budget;
    if (budget.exhausted) return false;
    budget.layers += count;
    if (budget.layers > budget.limits.layers.value) {
      this.exhaust('TooManyLayers', span, budget.layers);
      return false;
    }
    return true;
  }

  /**
   * Size and depth of the layer tree about to get `children`, as the emitter and the diagram will
   * expand it (a layer used twice counts twice); false (reported) past the layer or depth limit.
   * Sizes are kept per layer, so the check costs one step per child. Without it `[l, l]` nested
   * a few dozen times would make a tree (and a fingerprint) of billions of layers.
   */
  private expansionOf(children: ReadonlyMap<string, LayerInstance>, span: Span): LayerStats | undefined {
    let size = 1;
    let depth = 1;
    for (const c of children.values()) {
      const stats = this.layerStats.get(c) ?? { size: 1, depth: 1 };
      size += stats.size;
      depth = Math.max(depth, stats.depth + 1);
    }
    if (size > this.budget.limits.layers.value) {
      this.exhaust('TooManyLayers', span, size);
      return undefined;
    }
    if (depth > FIXED_LIMITS.layerDepth) {
      this.exhaust('LayersTooDeep', span);
      return undefined;
    }
    return { size, depth };
  }

  private evalExpr(e: Expr, ctx: Ctx): Value {
    switch (e.kind) {
      case 'Number':
        return e.isInt ? intValue(e.value) : { kind: 'float', value: e.value };
      case 'String':
        return { kind: 'string', value: e.value };
      case 'Bool':
        return { kind: 'bool', value: e.value };
      case 'Missing':
        return ERROR;
      case 'Name':
        return this.lookupName(e.name, e.span, ctx);
      case 'List':
        return { kind: 'list', items: e.items.map((i) => this.eval(i, ctx)) };
      case 'Record': {
        const entries = new Map<string, Value>();
        for (const s of e.entries) {
          if (entries.has(s.key.name)) {
            const first = e.entries.find((x) => x.key.name === s.key.name)!;
            this.reporter.error(
              'DuplicateDefinition',
              s.key.span,
              { name: s.key.name, scope: 'record' },
              { labels: [{ span: first.key.span, message: 'first defined here' }] },
            );
            continue;
          }
          entries.set(s.key.name, this.eval(s.value, ctx));
        }
        return { kind: 'record', entries };
      }
      case 'Range': {
        const from = this.constInt(e.from, ctx, 'a range bound');
        const to = this.constInt(e.to, ctx, 'a range bound');
        if (from === undefined || to === undefined) return ERROR;
        if (!this.chargeItems(to - from, e.span)) return ERROR;
        const items: Value[] = [];
        for (let i = from; i < to; i++) items.push(intValue(i));
        return { kind: 'list', items };
      }
      case 'Unary': {
        const v = this.eval(e.operand, ctx);
        if (v.kind === 'error') return v;
        if (v.kind === 'word') return this.unknownWord(v);
        if (e.op === 'not') {
          if (v.kind === 'bool') return { kind: 'bool', value: !v.value };
          this.reporter.error('NotNeedsBool', e.span, { found: typeOfValue(v) });
          return ERROR;
        }
        if (isNumber(v)) return { kind: v.kind, value: -v.value };
        if (v.kind === 'dim') return dimValue(dimNeg(v.dim));
        if (v.kind === 'tensor') return this.applyPrim(PRIMITIVES.get('neg')!, [v], new Map(), e.span, ctx);
        this.reporter.error('CannotNegate', e.span, { found: typeOfValue(v) });
        return ERROR;
      }
      case 'Binary':
        return this.evalBinary(e.op, e.left, e.right, e.span, e.opSpan, ctx);
      case 'Call':
        return this.evalCall(e, ctx, undefined);
      case 'Pipe': {
        const input = this.eval(e.value, ctx);
        if (e.fn.kind === 'Call') return this.evalCall(e.fn, ctx, input);
        const fn = this.eval(e.fn, ctx);
        // The op's origin is the applied layer (`|> dwconv`), so each stage of a chain has its own.
        return this.applyValue(fn, [{ value: input, span: e.value.span }], new Map(), e.fn.span, e.fn.span, ctx);
      }
      case 'Member':
        return this.evalMember(e.object, e.property.name, e.property.span, e.span, ctx);
      case 'Index': {
        const obj = this.eval(e.object, ctx);
        if (obj.kind === 'error') return obj;
        const idx = this.eval(e.index, ctx);
        if (idx.kind === 'error') return idx;
        if (obj.kind === 'word') return ctx.settings ? obj : this.unknownWord(obj);
        if (idx.kind === 'word') return this.unknownWord(idx);
        return this.index(obj, idx, e.index.span, e.span, ctx);
      }
      case 'Repeat': {
        const count = this.constInt(e.count, ctx, 'a repeat count');
        if (count === undefined) return ERROR;
        if (count < 0) {
          this.reporter.error('OutOfRange', e.count.span, {
            name: 'count',
            callee: 'repeat',
            range: '>= 0',
            value: count,
          });
          return ERROR;
        }
        // Each copy is at least one layer: a count past what is left is refused before any copy.
        if (count > this.budget.limits.layers.value - this.budget.layers) {
          this.chargeLayers(count, e.count.span);
          return ERROR;
        }
        const children = new Map<string, LayerInstance>();
        for (let i = 0; i < count; i++) {
          const scope = new Scope(ctx.scope, ctx.scope.moduleScope, 'repeat');
          if (e.index) scope.define(e.index.name, intValue(i), e.index.span);
          const v = this.eval(e.body, { ...ctx, scope });
          const layer = this.asLayer(v, e.body.span);
          if (!layer) return ERROR;
          children.set(String(i), layer);
        }
        const list = this.makeList('list', children, e.span, { count, index: e.index?.name });
        return list ? { kind: 'layer', layer: list } : ERROR;
      }
      case 'Conditional': {
        const test = this.eval(e.test, ctx);
        if (test.kind === 'error') return test;
        if (test.kind !== 'bool') {
          if (test.kind === 'word') return this.unknownWord(test);
          this.reporter.error('ConditionNotBool', e.test.span, { found: typeOfValue(test) });
          return ERROR;
        }
        return this.eval(test.value ? e.then : e.otherwise, ctx);
      }
      case 'Comprehension': {
        const range = this.eval(e.range, ctx);
        if (range.kind === 'error') return range;
        if (range.kind !== 'list') {
          this.reporter.error('ComprehensionRangeNotList', e.range.span, { found: typeOfValue(range) });
          return ERROR;
        }
        const items: Value[] = [];
        for (const item of range.items) {
          const scope = new Scope(ctx.scope, ctx.scope.moduleScope, 'comprehension');
          scope.define(e.variable.name, item, e.variable.span);
          items.push(this.eval(e.element, { ...ctx, scope }));
        }
        return { kind: 'list', items };
      }
    }
  }

  constInt(e: Expr, ctx: Ctx, what: string): number | undefined {
    const v = this.eval(e, ctx);
    if (v.kind === 'error') return undefined;
    if (v.kind === 'word') {
      this.unknownWord(v);
      return undefined;
    }
    if (v.kind !== 'int') {
      this.reporter.error('NotConstantInt', e.span, { what, found: typeOfValue(v) });
      return undefined;
    }
    return v.value;
  }

  private evalBinary(op: string, le: Expr, re: Expr, span: Span, opSpan: Span, ctx: Ctx): Value {
    const l = this.eval(le, ctx);
    const r = this.eval(re, ctx);
    if (l.kind === 'error' || r.kind === 'error') return ERROR;
    if (op === 'then') {
      const parts = [...(l.kind === 'config' && l.name === 'then' ? l.positional : [l]), r];
      return { kind: 'config', name: 'then', positional: parts, args: new Map(), span };
    }
    if (l.kind === 'word' && !ctx.settings) return this.unknownWord(l);
    if (r.kind === 'word' && !ctx.settings) return this.unknownWord(r);
    if (op === '>>') {
      const a = this.asLayer(l, le.span);
      const b = this.asLayer(r, re.span);
      if (!a || !b) return ERROR;
      const children = new Map<string, LayerInstance>();
      const items = [
        ...(a.kind === 'sequential' && a.span.end <= opSpan.start && isChain(a) ? [...a.children.values()] : [a]),
        b,
      ];
      items.forEach((c, i) => children.set(String(i), c));
      const seq = this.makeList('sequential', children, span);
      if (!seq) return ERROR;
      chains.add(seq);
      return { kind: 'layer', layer: seq };
    }
    if (l.kind === 'tensor' || r.kind === 'tensor') {
      const prim = BINARY_PRIMITIVE[op];
      if (!prim) {
        this.reporter.error('TensorOperatorUndefined', opSpan, { op });
        return ERROR;
      }
      return this.applyPrim(PRIMITIVES.get(prim)!, [l, r], new Map(), span, ctx, undefined, undefined, op, [
        le.span,
        re.span,
      ]);
    }
    if (
      (l.kind === 'dim' || r.kind === 'dim') &&
      (toDim(l) || l.kind === 'float') &&
      (toDim(r) || r.kind === 'float')
    ) {
      const a = toDim(l);
      const b = toDim(r);
      if (!a || !b) {
        this.reporter.error('NonIntegerDim', span, {
          what: 'a dimension',
          value: formatValue(l.kind === 'float' ? l : r),
        });
        return ERROR;
      }
      switch (op) {
        case '+':
          return dimValue(dimAdd(a, b));
        case '-':
          return dimValue(dimSub(a, b));
        case '*':
          return dimValue(dimMul(a, b));
        case '/':
        case '//': {
          const q = dimDiv(a, b);
          if (!q) {
            this.reporter.error('InexactDimDivision', span, { left: String(a), right: String(b) });
            return ERROR;
          }
          return dimValue(q);
        }
        case '==':
          return { kind: 'bool', value: a.equals(b) };
        case '!=':
          return { kind: 'bool', value: !a.equals(b) };
      }
      this.reporter.error('OperatorNotOnDims', opSpan, { op });
      return ERROR;
    }
    if (isNumber(l) && isNumber(r)) return this.numeric(op, l, r, span, opSpan);
    if (op === '==' || op === '!=') {
      const eq = stableJson(l) === stableJson(r);
      return { kind: 'bool', value: op === '==' ? eq : !eq };
    }
    if ((op === 'and' || op === 'or') && l.kind === 'bool' && r.kind === 'bool')
      return { kind: 'bool', value: op === 'and' ? l.value && r.value : l.value || r.value };
    if (op === '+' && l.kind === 'list' && r.kind === 'list')
      return this.chargeItems(l.items.length + r.items.length, span)
        ? { kind: 'list', items: [...l.items, ...r.items] }
        : ERROR;
    if (op === '+' && l.kind === 'string' && r.kind === 'string') return { kind: 'string', value: l.value + r.value };
    if (ctx.settings && (l.kind === 'word' || r.kind === 'word'))
      return l.kind === 'word' ? this.unknownWord(l) : this.unknownWord(r as Value & { kind: 'word' });
    this.reporter.error('OperatorNotOnValues', opSpan, { op, left: typeOfValue(l), right: typeOfValue(r) });
    return ERROR;
  }

  private numeric(
    op: string,
    l: { kind: 'int' | 'float'; value: number },
    r: { kind: 'int' | 'float'; value: number },
    span: Span,
    opSpan: Span,
  ): Value {
    const ints = l.kind === 'int' && r.kind === 'int';
    const a = l.value;
    const b = r.value;
    const num = (x: number, int: boolean): Value => (int ? intValue(x) : { kind: 'float', value: x });
    switch (op) {
      case '+':
        return num(a + b, ints);
      case '-':
        return num(a - b, ints);
      case '*':
        return num(a * b, ints);
      case '/':
      case '//':
      case '%':
        if (b === 0) {
          this.reporter.error('DivisionByZero', span);
          return ERROR;
        }
        if (op === '/') return num(a / b, ints && a % b === 0);
        if (op === '//') return num(Math.floor(a / b), ints);
        return num(a % b, ints);
      case '**':
        return num(a ** b, ints && b >= 0);
      case '==':
        return { kind: 'bool', value: a === b };
      case '!=':
        return { kind: 'bool', value: a !== b };
      case '<':
        return { kind: 'bool', value: a < b };
      case '<=':
        return { kind: 'bool', value: a <= b };
      case '>':
        return { kind: 'bool', value: a > b };
      case '>=':
        return { kind: 'bool', value: a >= b };
    }
    this.reporter.error('OperatorNotOnNumbers', opSpan, { op });
    return ERROR;
  }

  private evalMember(objExpr: Expr, prop: string, propSpan: Span, span: Span, ctx: Ctx): Value {
    const obj = this.eval(objExpr, ctx);
    if (obj.kind === 'error') return obj;
    if (obj.kind === 'word') {
      if (ctx.settings) return { kind: 'word', name: `${obj.name}.${prop}`, span };
      return this.unknownWord(obj);
    }
    if (obj.kind === 'layer') {
      const child = obj.layer.children.get(prop);
      if (child) {
        const g = ctx.graph;
        if (g) {
          const base = g.paths.get(obj.layer);
          if (base !== undefined && !g.paths.has(child)) g.paths.set(child, `${base}.${prop}`);
        }
        return { kind: 'layer', layer: child };
      }
      const param = obj.layer.params.get(prop);
      if (param) return param;
      const names = [...obj.layer.children.keys(), ...obj.layer.params.keys()];
      this.reporter.error(
        'UnknownMember',
        propSpan,
        { owner: `\`${obj.layer.typeName}\``, name: prop },
        {
          help: [
            didYouMean(prop, names),
            names.length ? `members: ${names.filter((n) => !/^\d+$/.test(n)).join(', ')}` : undefined,
          ],
        },
      );
      return ERROR;
    }
    if (obj.kind === 'stageref') {
      const child = obj.layer.children.get(prop);
      if (child) return { ...obj, path: [...obj.path, prop], layer: child, span };
      const names = [...obj.layer.children.keys()];
      this.reporter.error(
        'StageModelNoSubLayer',
        propSpan,
        { stage: obj.stage, path: [...obj.path, prop].join('.') },
        { help: [didYouMean(prop, names)] },
      );
      return ERROR;
    }
    if (obj.kind === 'record') {
      const v = obj.entries.get(prop);
      if (v) return v;
      this.reporter.error(
        'UnknownMember',
        propSpan,
        { owner: 'the record', name: prop },
        { help: [didYouMean(prop, obj.entries.keys())] },
      );
      return ERROR;
    }
    if (obj.kind === 'config') {
      const v = obj.args.get(prop);
      if (v) return v;
    }
    this.reporter.error('UnknownMember', propSpan, { owner: typeOfValue(obj), name: prop });
    return ERROR;
  }

  private index(obj: Value, idx: Value, idxSpan: Span, span: Span, ctx: Ctx): Value {
    if (idx.kind !== 'int') {
      this.reporter.error('IndexNotInt', idxSpan, { found: typeOfValue(idx) });
      return ERROR;
    }
    if (obj.kind === 'list') {
      const i = idx.value < 0 ? idx.value + obj.items.length : idx.value;
      const v = obj.items[i];
      if (!v) {
        this.reporter.error('IndexOutOfRange', idxSpan, { index: idx.value, length: obj.items.length });
        return ERROR;
      }
      return v;
    }
    if (obj.kind === 'layer' && (obj.layer.kind === 'list' || obj.layer.kind === 'sequential')) {
      const n = obj.layer.children.size;
      const i = idx.value < 0 ? idx.value + n : idx.value;
      const child = obj.layer.children.get(String(i));
      if (!child) {
        this.reporter.error('LayerIndexOutOfRange', idxSpan, { index: idx.value, length: n });
        return ERROR;
      }
      const g = ctx.graph;
      if (g) {
        const base = g.paths.get(obj.layer);
        if (base !== undefined && !g.paths.has(child)) g.paths.set(child, `${base}.${i}`);
      }
      return { kind: 'layer', layer: child };
    }
    if (obj.kind === 'stageref' && (obj.layer.kind === 'list' || obj.layer.kind === 'sequential')) {
      const child = obj.layer.children.get(String(idx.value));
      if (child) return { ...obj, path: [...obj.path, String(idx.value)], layer: child, span };
    }
    this.reporter.error('NotIndexable', span, { found: typeOfValue(obj) });
    return ERROR;
  }

  // -------------------------------------------------------------------------------------------
  // Calls

  private evalArgs(
    args: readonly Arg[],
    ctx: Ctx,
  ): {
    positional: { value: Value; span: Span }[];
    named: Map<string, { value: Value; span: Span; nameSpan: Span }>;
    dup: boolean;
  } {
    const positional: { value: Value; span: Span }[] = [];
    const named = new Map<string, { value: Value; span: Span; nameSpan: Span }>();
    const argCtx: Ctx = { ...ctx, handOvers: undefined };
    let dup = false;
    for (const a of args) {
      const value = this.eval(a.value, argCtx);
      if (a.name) {
        if (named.has(a.name.name)) {
          this.reporter.error(
            'DuplicateArgument',
            a.name.span,
            { name: a.name.name, callee: 'the call' },
            { labels: [{ span: named.get(a.name.name)!.nameSpan, message: 'first given here' }] },
          );
          dup = true;
          continue;
        }
        named.set(a.name.name, { value, span: a.value.span, nameSpan: a.name.span });
      } else positional.push({ value, span: a.value.span });
    }
    return { positional, named, dup };
  }

  private evalCall(e: CallExpr, ctx: Ctx, pipeInput: Value | undefined): Value {
    const callee = this.eval(e.callee, ctx);
    if (callee.kind === 'error') return callee;
    const { positional, named } = this.evalArgs(e.args, ctx);
    if (pipeInput !== undefined) positional.unshift({ value: pipeInput, span: e.span });
    if (positional.some((p) => p.value.kind === 'error') || [...named.values()].some((n) => n.value.kind === 'error')) {
      // Still construct nothing: an argument already failed.
      return ERROR;
    }
    if (callee.kind === 'word') {
      if (ctx.settings) {
        return {
          kind: 'config',
          name: callee.name,
          positional: positional.map((p) => p.value),
          args: new Map([...named].map(([k, v]) => [k, v.value])),
          span: e.span,
        };
      }
      return this.unknownWord(callee);
    }
    return this.applyValue(callee, positional, named, e.span, e.callee.span, ctx);
  }

  /** Calls / applies any callable value. */
  applyValue(
    callee: Value,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
    ctx: Ctx,
  ): Value {
    if (callee.kind === 'error') return callee;
    if (positional.some((p) => p.value.kind === 'error')) return ERROR;
    const hasTensor = positional.some(
      (p) => p.value.kind === 'tensor' || (p.value.kind === 'list' && p.value.items.some((i) => i.kind === 'tensor')),
    );
    switch (callee.kind) {
      case 'prim': {
        const prim = callee.prim;
        if (OVERLOADED.has(prim.name) && !hasTensor && positional.length > 0 && !ctx.graph)
          return this.builtin(prim.name, positional, named, span);
        if (OVERLOADED.has(prim.name) && !hasTensor && positional[0]?.value.kind === 'list')
          return this.builtin(prim.name, positional, named, span);
        if (prim.kind === 'layer') {
          if (ctx.graph) {
            this.reporter.error(
              'LayerConstructedInForward',
              calleeSpan,
              {},
              { help: [`declare \`name = ${prim.name}(...)\` in the block and call \`name(x)\` here`] },
            );
            return ERROR;
          }
          return this.constructPrimitive(prim, positional, named, span, calleeSpan, ctx);
        }
        if (hasTensor || ctx.graph) {
          const tensors = positional.slice(0, prim.inputs.length).map((p) => p.value);
          const rest = positional.slice(prim.inputs.length);
          return this.applyPrim(
            prim,
            tensors,
            named,
            span,
            ctx,
            rest,
            undefined,
            undefined,
            positional.map((p) => p.span),
          );
        }
        // A primitive function with its attributes fixed, used as a layer (`mean(axes = [1, 2])`).
        const params = this.bindPrimParams(prim, positional, named, span, calleeSpan);
        if (!params) return ERROR;
        return { kind: 'layer', layer: this.functionLayer(prim, params, span) };
      }
      case 'builtin':
        return this.builtin(callee.name, positional, named, span);
      case 'block':
        if (ctx.graph) {
          this.reporter.error(
            'BlockInstantiatedInForward',
            calleeSpan,
            {},
            { help: [`declare \`name = ${callee.decl.name.name}(...)\` in the block and call \`name(x)\` here`] },
          );
          return ERROR;
        }
        return this.instantiateBlock(callee.decl, callee.module, positional, named, span, calleeSpan, ctx);
      case 'layer':
        if (!ctx.graph) {
          this.reporter.error(
            'LayerAppliedOutsideForward',
            calleeSpan,
            {},
            { help: ['to chain layers, use `a >> b`'] },
          );
          return ERROR;
        }
        return this.applyLayer(callee.layer, positional, named, span, ctx);
      default:
        this.reporter.error('ValueNotCallable', calleeSpan, { found: typeOfValue(callee) });
        return ERROR;
    }
  }

  private builtin(
    name: string,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span }>,
    span: Span,
  ): Value {
    const vals = positional.map((p) => p.value);
    const bad = (problem: CatalogueMessage): Value => {
      this.reporter.raise(problem, span);
      return ERROR;
    };
    for (const v of vals) if (v.kind === 'word') return this.unknownWord(v);
    const numList = (v: Value | undefined): number[] | undefined =>
      v?.kind === 'list' && v.items.every(isNumber) ? v.items.map((i) => (i as { value: number }).value) : undefined;
    const allInt = (v: Value | undefined) => v?.kind === 'list' && v.items.every((i) => i.kind === 'int');
    if (named.size > 0) return bad(semantic('HelperNamedArguments', { name }));
    switch (name) {
      case 'linspace': {
        const [a, b, n] = vals;
        if (!a || !b || !n || !isNumber(a) || !isNumber(b) || n.kind !== 'int' || n.value < 0)
          return bad(semantic('HelperLinspaceArguments'));
        if (!this.chargeItems(n.value, span)) return ERROR;
        const items: Value[] = [];
        for (let i = 0; i < n.value; i++)
          items.push({
            kind: 'float',
            value: n.value === 1 ? a.value : a.value + ((b.value - a.value) * i) / (n.value - 1),
          });
        return { kind: 'list', items };
      }
      case 'len':
        if (vals[0]?.kind !== 'list') return bad(semantic('HelperLenArguments'));
        return intValue(vals[0].items.length);
      case 'sum':
      case 'max':
      case 'min':
      case 'mean': {
        const xs =
          vals.length === 1
            ? numList(vals[0])
            : vals.every(isNumber)
              ? vals.map((v) => (v as { value: number }).value)
              : undefined;
        if (!xs || (xs.length === 0 && name !== 'sum')) return bad(semantic('HelperReduceArguments', { name }));
        const ints = vals.length === 1 ? allInt(vals[0]) : vals.every((v) => v.kind === 'int');
        const r =
          name === 'sum'
            ? xs.reduce((a, b) => a + b, 0)
            : name === 'max'
              ? Math.max(...xs)
              : name === 'min'
                ? Math.min(...xs)
                : xs.reduce((a, b) => a + b, 0) / xs.length;
        return name !== 'mean' && ints ? intValue(r) : { kind: 'float', value: r };
      }
      case 'cumsum': {
        const xs = numList(vals[0]);
        if (!xs) return bad(semantic('HelperCumsumArguments'));
        let acc = 0;
        const int = allInt(vals[0]);
        return {
          kind: 'list',
          items: xs.map((x) => ((acc += x), int ? intValue(acc) : { kind: 'float', value: acc })),
        };
      }
      case 'take': {
        const [l, n] = vals;
        if (l?.kind !== 'list' || n?.kind !== 'int') return bad(semantic('HelperTakeArguments'));
        return { kind: 'list', items: l.items.slice(0, Math.max(0, n.value)) };
      }
      case 'range': {
        const ns = vals.map((v) => (v.kind === 'int' ? v.value : NaN));
        if (ns.length === 0 || ns.length > 2 || ns.some(Number.isNaN)) return bad(semantic('HelperRangeArguments'));
        const [a, b] = ns.length === 1 ? [0, ns[0]!] : [ns[0]!, ns[1]!];
        if (!this.chargeItems(b - a, span)) return ERROR;
        const items: Value[] = [];
        for (let i = a; i < b; i++) items.push(intValue(i));
        return { kind: 'list', items };
      }
      case 'int':
        if (!vals[0] || !isNumber(vals[0])) return bad(semantic('HelperIntArguments'));
        return intValue(Math.trunc(vals[0].value));
      case 'float':
        if (!vals[0] || !isNumber(vals[0])) return bad(semantic('HelperFloatArguments'));
        return { kind: 'float', value: vals[0].value };
    }
    return bad(semantic('UnknownHelper', { name }));
  }

  // -------------------------------------------------------------------------------------------
  // Argument binding and types

  typeSpec(t: TypeExpr, scope: Scope): TypeSpec {
    if (t.kind === 'TensorType') return { base: 'any', list: false };
    const n = (t as NamedType).name.name;
    const list = (t as NamedType).isList;
    if (n === 'int' || n === 'float' || n === 'bool' || n === 'string') return { base: n, list };
    if (n === 'layer' || n === 'Layer') return { base: 'layer', list };
    const b = scope.moduleScope.names.get(n);
    if (b?.kind === 'block') return { base: 'layer', list, block: n };
    this.reporter.error(
      'UnknownName',
      (t as NamedType).name.span,
      { name: n },
      {
        help: [
          didYouMean(n, [
            'int',
            'float',
            'bool',
            'string',
            'layer',
            ...[...scope.moduleScope.names].filter(([, v]) => v.kind === 'block').map(([k]) => k),
          ]),
        ],
      },
    );
    return { base: 'any', list };
  }

  /** Checks and converts a value to a type; reports and returns undefined on mismatch. */
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
    if (v.kind === 'error') return undefined;
    if (t.base === 'any') return v;
    const wrong = (found = typeOfValue(v)) => {
      this.reporter.error(
        'WrongArgumentType',
        span,
        { name, callee, expected: typeName(t), found },
        {
          help: t.base === 'int' && v.kind === 'float' ? [`use a whole number such as \`${Math.round(v.value)}\``] : [],
        },
      );
      return undefined;
    };
    if (t.list && t.base !== 'shape') {
      if (v.kind !== 'list') return v.kind === 'word' && t.base !== 'enum' ? (this.unknownWord(v), undefined) : wrong();
      const items: Value[] = [];
      for (const item of v.items) {
        const c = this.coerce(item, { ...t, list: false }, name, callee, span, range, ctx, true);
        if (!c) return undefined;
        items.push(c);
      }
      return { kind: 'list', items };
    }
    switch (t.base) {
      case 'int':
      case 'float': {
        if (v.kind === 'word') return (this.unknownWord(v), undefined);
        if (v.kind === 'dim' && t.base === 'int') {
          this.reporter.error(
            'NonIntegerDim',
            span,
            { what: `\`${name}\``, value: v.dim.toString() },
            { help: ['constructor arguments must be constants; symbolic dimensions exist only in forward signatures'] },
          );
          return undefined;
        }
        if (!isNumber(v)) return wrong();
        if (t.base === 'int' && v.kind === 'float') return wrong();
        if (!inRange(v.value, range)) {
          this.reporter.error('OutOfRange', span, {
            name,
            callee,
            range: rangeText(range),
            value: formatValue(v) + (schemaList ? ' (in the list)' : ''),
          });
          return undefined;
        }
        return t.base === 'float' ? { kind: 'float', value: v.value } : v;
      }
      case 'bool':
        if (v.kind === 'word') return (this.unknownWord(v), undefined);
        return v.kind === 'bool' ? v : wrong();
      case 'string':
        if (v.kind === 'word') return (this.unknownWord(v), undefined);
        return v.kind === 'string' ? v : wrong();
      case 'enum': {
        const word = v.kind === 'word' ? v.name : v.kind === 'string' ? v.value : undefined;
        if (word === undefined) return wrong();
        if (!(t.enumValues ?? []).includes(word)) {
          this.reporter.error(
            'WrongArgumentType',
            span,
            { name, callee, expected: typeName(t), found: `\`${word}\`` },
            { help: [didYouMean(word, t.enumValues ?? [])] },
          );
          return undefined;
        }
        return { kind: 'word', name: word, span };
      }
      case 'shape': {
        if (v.kind !== 'list') return v.kind === 'word' ? (this.unknownWord(v), undefined) : wrong();
        for (const item of v.items) {
          if (item.kind === 'word') return (this.unknownWord(item), undefined);
          if (item.kind !== 'int' && item.kind !== 'dim') return wrong(`a list containing ${typeOfValue(item)}`);
        }
        return v;
      }
      case 'layer': {
        if (v.kind === 'word') return (this.unknownWord(v), undefined);
        let layer: LayerInstance | undefined;
        if (v.kind === 'layer') layer = v.layer;
        else if (v.kind === 'stageref') {
          layer = v.layer;
          ctx?.handOvers?.push({ to: name, fromStage: v.stage, fromPath: v.path.join('.'), span });
        } else return wrong();
        if (t.block && layer.typeName !== t.block) return wrong(`layer ${layer.typeName}`);
        return { kind: 'layer', layer };
      }
    }
    return v;
  }

  /**
   * Binds positional and named arguments to a schema. Reports NVC4001/4002/4005 and type and
   * range errors; returns the bound values (without defaults) or undefined on error.
   */
  private bind(
    callee: string,
    schema: readonly BindSchema[],
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
    ctx?: Ctx,
  ): Map<string, Value> | undefined {
    let ok = true;
    const out = new Map<string, Value>();
    if (positional.length > schema.length) {
      this.reporter.error(
        'TooManyArguments',
        positional[schema.length]!.span,
        { callee, max: schema.length, count: positional.length },
        {
          help: [schema.length ? `parameters: ${schema.map((s) => s.name).join(', ')}` : undefined],
        },
      );
      return undefined;
    }
    positional.forEach((p, i) => {
      const s = schema[i]!;
      if (named.has(s.name)) {
        this.reporter.error(
          'DuplicateArgument',
          named.get(s.name)!.nameSpan ?? named.get(s.name)!.span,
          { name: s.name, callee },
          { labels: [{ span: p.span, message: 'given positionally here' }] },
        );
        ok = false;
        return;
      }
      const c = this.coerce(p.value, s.type, s.name, callee, p.span, s.range, ctx);
      if (c) out.set(s.name, c);
      else ok = false;
    });
    for (const [name, a] of named) {
      const s = schema.find((x) => x.name === name);
      if (!s) {
        this.reporter.error(
          'UnknownNamedArgument',
          a.nameSpan ?? a.span,
          { callee, name },
          {
            help: [
              didYouMean(
                name,
                schema.map((x) => x.name),
              ),
              `parameters of \`${callee}\`: ${schema.map((x) => x.name).join(', ') || '(none)'}`,
            ],
          },
        );
        ok = false;
        continue;
      }
      const c = this.coerce(a.value, s.type, s.name, callee, a.span, s.range, ctx);
      if (c) out.set(name, c);
      else ok = false;
    }
    for (const s of schema)
      if (!out.has(s.name) && !s.hasDefault && ok && !named.has(s.name) && positional.length <= schema.indexOf(s)) {
        this.reporter.error(
          'MissingArgument',
          span,
          { callee, name: s.name },
          {
            help: [`pass \`${s.name} = ...\` (${typeName(s.type)})`],
            ...(s.span ? { labels: [{ span: s.span, message: 'declared here' }] } : {}),
          },
        );
        ok = false;
      }
    void calleeSpan;
    return ok ? out : undefined;
  }

  private bindPrimParams(
    prim: PrimitiveDef,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
  ): Map<string, Value> | undefined {
    const schema: BindSchema[] = prim.params.map((p) => ({
      name: p.name,
      type: primTypeSpec(p),
      range: p,
      hasDefault: p.default !== undefined,
    }));
    const bound = this.bind(prim.name, schema, positional, named, span, calleeSpan);
    if (!bound) return undefined;
    for (const p of prim.params) if (!bound.has(p.name) && p.default) bound.set(p.name, p.default);
    const problem = prim.validate?.(bound);
    if (problem) {
      const a = named.get(problem.param);
      this.reporter.error(
        'OutOfRange',
        a?.span ?? span,
        {
          name: problem.param,
          callee: prim.name,
          range: 'consistent with the other arguments',
          value: formatValue(bound.get(problem.param)!),
        },
        { notes: [problem.message], help: [problem.help] },
      );
      return undefined;
    }
    for (const target of this.targets) {
      const refusal = prim.targets[target]?.supports(bound);
      if (!refusal) continue;
      const index = prim.params.findIndex((p) => p.name === refusal.param);
      const argument = named.get(refusal.param) ?? (index >= 0 ? positional[index] : undefined);
      this.reporter.error(
        'UnsupportedOnTarget',
        argument?.span ?? span,
        {
          callee: prim.name,
          name: refusal.param,
          value: formatValue(bound.get(refusal.param)!),
          target,
        },
        { notes: [refusal.message], help: [refusal.help] },
      );
      return undefined;
    }
    return bound;
  }

  // -------------------------------------------------------------------------------------------
  // Layers

  private fingerprintOf(typeName: string, params: ReadonlyMap<string, Value>, extra = ''): string {
    return `${typeName}(${[...params].map(([k, v]) => `${k}=${stableJson(v)}`).join(',')})${extra}`;
  }

  private makeList(
    kind: 'list' | 'sequential',
    children: Map<string, LayerInstance>,
    span: Span,
    repeat?: { count: number; index?: string },
  ): LayerInstance | undefined {
    const stats = this.expansionOf(children, span);
    if (!stats) return undefined;
    const layer: LayerInstance = {
      kind,
      typeName: kind === 'list' ? 'List' : 'Sequential',
      params: new Map(),
      weights: [],
      children,
      sparse: false,
      ...(repeat ? { repeat: repeat.index ? repeat : { count: repeat.count } } : {}),
      fingerprint: `${kind}[${[...children.values()].map((c) => c.fingerprint).join(';')}]`,
      span,
    };
    this.layerStats.set(layer, stats);
    return layer;
  }

  private functionLayer(prim: PrimitiveDef, params: Map<string, Value>, span: Span): LayerInstance {
    return {
      kind: 'function',
      typeName: prim.name,
      prim,
      params,
      weights: [],
      children: new Map(),
      sparse: false,
      fingerprint: this.fingerprintOf(prim.name, params),
      span,
    };
  }

  /** A value usable as a layer: a layer, or a primitive function with default attributes. */
  asLayer(v: Value, span: Span): LayerInstance | undefined {
    if (v.kind === 'error') return undefined;
    if (v.kind === 'layer') return v.layer;
    if (v.kind === 'word') {
      this.unknownWord(v);
      return undefined;
    }
    if (v.kind === 'list') {
      const children = new Map<string, LayerInstance>();
      for (let i = 0; i < v.items.length; i++) {
        const c = this.asLayer(v.items[i]!, span);
        if (!c) return undefined;
        children.set(String(i), c);
      }
      return this.makeList('list', children, span);
    }
    if (v.kind === 'prim' && v.prim.kind === 'function') {
      const params = new Map<string, Value>();
      for (const p of v.prim.params) {
        if (!p.default) {
          this.reporter.error(
            'MissingArgument',
            span,
            { callee: v.prim.name, name: p.name },
            { help: [`write \`${v.prim.name}(${p.name} = ...)\``] },
          );
          return undefined;
        }
        params.set(p.name, p.default);
      }
      return this.functionLayer(v.prim, params, span);
    }
    this.reporter.error(
      'ExpectedLayer',
      span,
      { found: typeOfValue(v) },
      {
        help: [
          v.kind === 'block' || (v.kind === 'prim' && v.prim.kind === 'layer')
            ? `call it: \`${v.kind === 'block' ? v.decl.name.name : (v as { prim: PrimitiveDef }).prim.name}(...)\``
            : undefined,
        ],
      },
    );
    return undefined;
  }

  private constructPrimitive(
    prim: PrimitiveDef,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    calleeSpan: Span,
    _ctx: Ctx,
  ): Value {
    const params = this.bindPrimParams(prim, positional, named, span, calleeSpan);
    if (!params) return ERROR;
    if (!this.chargeLayers(1, span)) return ERROR;
    const weights: WeightInstance[] = (prim.weights?.(params) ?? []).map((w) => ({ ...w, frozen: false, span }));
    for (const w of weights)
      if (w.shape.some((n) => !Number.isInteger(n) || n <= 0)) {
        this.reporter.error('NonIntegerDim', span, {
          what: `the shape of \`${prim.name}.${w.name}\``,
          value: `[${w.shape.join(', ')}]`,
        });
        return ERROR;
      }
    const layer: LayerInstance = {
      kind: 'primitive',
      typeName: prim.name,
      prim,
      params,
      weights,
      children: new Map(),
      sparse: false,
      fingerprint: this.fingerprintOf(prim.name, params),
      span,
    };
    return { kind: 'layer', layer };
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
    const name = decl.name.name;
    if (this.instantiating.includes(decl)) {
      this.reporter.error(
        'RecursiveDefinition',
        calleeSpan,
        { name },
        { labels: [{ span: decl.name.span, message: 'declared here' }] },
      );
      return ERROR;
    }
    const moduleScope = this.scopes.get(module)!;
    const scope = new Scope(undefined, moduleScope, 'block');
    const schema: BindSchema[] = decl.params.map((p) => ({
      name: p.name.name,
      type: this.typeSpec(p.type, scope),
      hasDefault: p.default !== undefined,
      span: p.name.span,
    }));
    const bound = this.bind(name, schema, positional, named, span, calleeSpan, ctx);
    if (!bound) return ERROR;
    if (!this.chargeLayers(1, span)) return ERROR;
    this.instantiating.push(decl);
    try {
      const params = new Map<string, Value>();
      const children = new Map<string, LayerInstance>();
      const memberSpans = new Map<string, Span>();
      let duplicate = false;
      const defineMember = (n: string, v: Value | undefined, s: Span): boolean => {
        const prev = memberSpans.get(n);
        if (prev) {
          this.reporter.error(
            'DuplicateDefinition',
            s,
            { name: n, scope: `block \`${name}\`` },
            { labels: [{ span: prev, message: 'first defined here' }] },
          );
          duplicate = true;
          return false;
        }
        memberSpans.set(n, s);
        if (v) scope.define(n, v, s);
        return true;
      };
      decl.params.forEach((p: Param, i) => {
        let v = bound.get(p.name.name);
        if (v === undefined && p.default) {
          const raw = this.eval(p.default, { scope });
          v =
            raw.kind === 'error'
              ? ERROR
              : (this.coerce(raw, schema[i]!.type, p.name.name, name, p.default.span, undefined) ?? ERROR);
        }
        v ??= ERROR;
        if (!defineMember(p.name.name, v, p.name.span)) return;
        params.set(p.name.name, v);
        if (v.kind === 'layer') children.set(p.name.name, v.layer);
      });
      if ([...params.values()].some((v) => v.kind === 'error')) return ERROR;

      const weights: WeightInstance[] = [];
      const forwards: ForwardDecl[] = [];
      let failed = false;
      const memberCtx: Ctx = { scope };
      for (const m of decl.members) {
        if (m.kind === 'Forward') {
          if (forwards.length > 0)
            this.reporter.error(
              'DuplicateDefinition',
              m.span,
              { name: 'forward', scope: `block \`${name}\`` },
              { labels: [{ span: forwards[0]!.span, message: 'first defined here' }] },
            );
          else forwards.push(m);
          continue;
        }
        if (m.kind === 'Weight') {
          const shape: number[] = [];
          for (const dExpr of m.shape.dims) {
            const v = this.eval(dExpr, memberCtx);
            if (v.kind === 'error') {
              failed = true;
              continue;
            }
            if (v.kind === 'word') {
              this.unknownWord(v);
              failed = true;
              continue;
            }
            if (v.kind !== 'int' || v.value <= 0) {
              this.reporter.error(
                'NonIntegerDim',
                dExpr.span,
                {
                  what: `a dimension of weight \`${m.name.name}\``,
                  value: v.kind === 'float' ? String(Number(v.value.toFixed(4))) : formatValue(v),
                },
                { help: ['weight shapes must be positive integers computed from block parameters'] },
              );
              failed = true;
              continue;
            }
            shape.push(v.value);
          }
          const init = this.evalInit(m.init, memberCtx);
          if (!init) failed = true;
          const w: WeightInstance = {
            name: m.name.name,
            shape,
            init: init ?? { kind: 'zeros', args: {} },
            frozen: m.frozen,
            noDecay: shape.length <= 1,
            span: m.span,
          };
          if (defineMember(m.name.name, undefined, m.name.span)) weights.push(w);
          continue;
        }
        // Layer member: a sub-layer, or a local constant when the value is not a layer.
        const v = this.eval(m.value, memberCtx);
        if (v.kind === 'error') failed = true;
        if (v.kind === 'word') {
          this.unknownWord(v);
          failed = true;
        }
        let value = v;
        if (v.kind === 'list' && v.items.length > 0 && v.items.some((i) => i.kind === 'layer' || i.kind === 'prim')) {
          const l = this.asLayer(v, m.value.span);
          value = l ? { kind: 'layer', layer: l } : ERROR;
        }
        if (v.kind === 'prim' && v.prim.kind === 'function') {
          const l = this.asLayer(v, m.value.span);
          value = l ? { kind: 'layer', layer: l } : ERROR;
        }
        if (value.kind === 'layer' && m.sparse) value.layer.sparse = true;
        if (m.sparse && value.kind !== 'layer' && value.kind !== 'error')
          this.reporter.error('SparseNotLayer', m.span, { name: m.name.name, found: typeOfValue(value) });
        if (defineMember(m.name.name, value, m.name.span) && value.kind === 'layer') {
          if (value.layer.kind === 'sequential') chains.delete(value.layer);
          children.set(m.name.name, value.layer);
        }
      }
      if (failed || duplicate) return ERROR;
      const stats = this.expansionOf(children, span);
      if (!stats) return ERROR;

      const constJson = [...params]
        .map(([k, v]) => `${k}=${v.kind === 'layer' ? v.layer.fingerprint : stableJson(v)}`)
        .join(',');
      const fingerprint = `${module}:${name}(${constJson})`;
      const layer: LayerInstance = {
        kind: 'block',
        typeName: name,
        decl,
        module,
        params,
        weights,
        children,
        sparse: false,
        fingerprint,
        span,
      };
      this.layerStats.set(layer, stats);
      const fwd = forwards[0];
      if (fwd) {
        let graph = this.graphs.get(fingerprint);
        if (!graph) {
          graph = this.elaborateForward(fwd, scope, layer, name, fingerprint);
          if (!graph) return ERROR;
          this.graphs.set(fingerprint, graph);
        }
        layer.forward = graph;
      }
      return { kind: 'layer', layer };
    } finally {
      this.instantiating.pop();
    }
  }

  private evalInit(e: Expr | undefined, ctx: Ctx): InitSpec | undefined {
    if (!e) return { kind: 'zeros', args: {} };
    const v = this.eval(e, { ...ctx, settings: true });
    if (v.kind === 'error') return undefined;
    const kind = v.kind === 'word' ? v.name : v.kind === 'config' ? v.name : undefined;
    if (kind === undefined || !(kind in INIT_KINDS)) {
      this.reporter.error(
        'WrongArgumentType',
        e.span,
        {
          name: 'init',
          callee: 'weight',
          expected: Object.keys(INIT_KINDS)
            .map((k) => `\`${k}\``)
            .join(' | '),
          found: kind ? `\`${kind}\`` : typeOfValue(v),
        },
        { help: [kind ? didYouMean(kind, Object.keys(INIT_KINDS)) : undefined] },
      );
      return undefined;
    }
    const args: Record<string, number> = {};
    if (v.kind === 'config') {
      const allowed = INIT_KINDS[kind]!;
      v.positional.forEach((p, i) => {
        if (isNumber(p) && allowed[i]) args[allowed[i]!] = p.value;
      });
      for (const [k, x] of v.args) {
        if (!allowed.includes(k)) {
          this.reporter.error(
            'UnknownNamedArgument',
            v.span,
            { callee: kind, name: k },
            { help: [didYouMean(k, allowed)] },
          );
          return undefined;
        }
        if (!isNumber(x)) {
          this.reporter.error('WrongArgumentType', v.span, {
            name: k,
            callee: kind,
            expected: 'float',
            found: typeOfValue(x),
          });
          return undefined;
        }
        args[k] = x.value;
      }
    }
    return { kind, args };
  }

  // -------------------------------------------------------------------------------------------
  // Forward bodies

  private evalShape(t: TensorType, ctx: Ctx, what: string): Shape | undefined {
    const dims: Dim[] = [];
    let ok = true;
    for (const e of t.dims) {
      const v = this.eval(e, ctx);
      if (v.kind === 'error') {
        ok = false;
        continue;
      }
      if (v.kind === 'word') {
        this.unknownWord(v);
        ok = false;
        continue;
      }
      const d = toDim(v);
      if (!d || (d.isConstant() && (!isExactInteger(d) || (d.asInt() ?? 0) <= 0))) {
        this.reporter.error('NonIntegerDim', e.span, {
          what: `a dimension of ${what}`,
          value: v.kind === 'dim' ? v.dim.toString() : formatValue(v),
        });
        ok = false;
        continue;
      }
      dims.push(d);
    }
    return ok ? dims : undefined;
  }

  private elaborateForward(
    fwd: ForwardDecl,
    blockScope: Scope,
    owner: LayerInstance,
    blockName: string,
    key: string,
  ): ForwardGraph | undefined {
    const g = new GraphBuilder(owner, new Map(owner.weights.map((w) => [w.name, w])));
    const scope = new Scope(blockScope, blockScope.moduleScope, 'forward');
    const signature = new Map<string, Dim>();
    const inputs: GraphValue[] = [];
    let ok = true;
    for (const p of fwd.params) {
      if (p.type.kind !== 'TensorType') {
        this.reporter.error('WrongArgumentType', p.type.span, {
          name: p.name.name,
          callee: `${blockName}.forward`,
          expected: 'a tensor type such as `[B, H, W, C]`',
          found: 'a named type',
        });
        ok = false;
        continue;
      }
      const shape = this.evalShape(p.type, { scope, signature }, `input \`${p.name.name}\``);
      if (!shape) {
        ok = false;
        continue;
      }
      const id = g.emit({
        op: 'input',
        target: p.name.name,
        inputs: [],
        attrs: {},
        shape,
        macs: ZERO,
        sparse: false,
        span: p.span,
      });
      inputs.push({ name: p.name.name, id, shape });
      const prev = scope.define(p.name.name, { kind: 'tensor', id, shape, span: p.name.span }, p.name.span, true);
      if (prev)
        this.reporter.error(
          'DuplicateDefinition',
          p.name.span,
          { name: p.name.name, scope: 'forward' },
          { labels: [{ span: prev, message: 'first defined here' }] },
        );
    }
    if (!ok) return undefined;
    const ctx: Ctx = { scope, graph: g };
    const result = this.execBlock(fwd.body, ctx);
    // Declared outputs.
    const declared: { name: string; type: TensorType; span: Span }[] =
      fwd.returns.kind === 'TensorType'
        ? [{ name: 'out', type: fwd.returns, span: fwd.returns.span }]
        : fwd.returns.outputs.map((o) => ({ name: o.name.name, type: o.type as TensorType, span: o.span }));
    const outputs: GraphValue[] = [];
    if (!result.returned) {
      this.reporter.error(
        'ForwardWithoutReturn',
        fwd.returns.span,
        { block: blockName },
        { label: 'this output is never returned', help: ['end the body with `return <expr>`'] },
      );
      return undefined;
    }
    const ret = result.returned;
    if (ret.value.kind === 'error') return undefined;
    for (const d of declared) {
      if (d.type.kind !== 'TensorType') continue;
      const want = this.evalShape(d.type, { scope }, `the output \`${d.name}\``);
      if (!want) return undefined;
      let got: Value | undefined;
      if (fwd.returns.kind === 'TensorType') got = ret.value;
      else if (ret.value.kind === 'record') got = ret.value.entries.get(d.name);
      if (got === undefined || got.kind !== 'tensor') {
        if (got?.kind === 'error') return undefined;
        this.reporter.raise(
          fwd.returns.kind === 'TensorType'
            ? semantic('ForwardReturnsNonTensor', { block: blockName, found: got ? typeOfValue(got) : 'nothing' })
            : semantic('ReturnWithoutOutput', { name: d.name }),
          ret.span,
          { labels: [{ span: d.span, message: 'declared here' }] },
        );
        return undefined;
      }
      if (!got.shape) return undefined;
      if (!shapesEqual(got.shape, want)) {
        this.reporter.error(
          'ReturnShapeMismatch',
          ret.span,
          { found: formatShape(got.shape), expected: formatShape(want) },
          {
            labels: [
              { span: d.span, message: `declared ${formatShape(want)}` },
              ...(got.span.file === ret.span.file &&
              (got.span.start !== ret.span.start || got.span.end !== ret.span.end)
                ? [{ span: got.span, message: `this produces ${formatShape(got.shape)}` }]
                : []),
            ],
          },
        );
        return undefined;
      }
      outputs.push({ name: d.name, id: got.id, shape: got.shape });
    }
    return { block: blockName, key, inputs, outputs, ops: g.ops, span: fwd.span };
  }

  private execBlock(body: readonly Stmt[], ctx: Ctx): { returned?: { value: Value; span: Span } } {
    for (const s of body) {
      switch (s.kind) {
        case 'Let': {
          const v = this.eval(s.value, ctx);
          let value = v;
          if (v.kind === 'word') value = this.unknownWord(v);
          if (s.type && value.kind === 'tensor' && value.shape) {
            const want = this.evalShape(s.type, ctx, `\`${s.name.name}\``);
            if (want && !shapesEqual(want, value.shape)) {
              this.reporter.error(
                'AnnotationMismatch',
                s.type.span,
                { name: s.name.name, expected: formatShape(want), found: formatShape(value.shape) },
                { labels: [{ span: s.value.span, message: `this produces ${formatShape(value.shape)}` }] },
              );
              value = { ...value, shape: undefined };
            }
          }
          const prev = ctx.scope.define(s.name.name, value, s.name.span, true);
          if (prev)
            this.reporter.error(
              'DuplicateDefinition',
              s.name.span,
              { name: s.name.name, scope: 'forward' },
              {
                labels: [{ span: prev, message: 'first defined here' }],
                help: [`to update it, write \`${s.name.name} = ...\` without \`let\``],
              },
            );
          break;
        }
        case 'Assign': {
          const v = this.eval(s.value, ctx);
          const value = v.kind === 'word' ? this.unknownWord(v) : v;
          if (!ctx.scope.assign(s.name.name, value)) {
            const local = ctx.scope.lookupLocal(s.name.name);
            if (local)
              this.reporter.error(
                'AssignUndeclared',
                s.name.span,
                { name: s.name.name },
                {
                  labels: [
                    { span: local.span, message: 'this is a block member or parameter, which cannot be reassigned' },
                  ],
                },
              );
            else
              this.reporter.error(
                'AssignUndeclared',
                s.name.span,
                { name: s.name.name },
                { help: [didYouMean(s.name.name, this.visibleNames(ctx.scope))] },
              );
          }
          break;
        }
        case 'Return':
          return {
            returned: {
              value: (() => {
                const v = this.eval(s.value, ctx);
                return v.kind === 'word' ? this.unknownWord(v) : v;
              })(),
              span: s.value.span,
            },
          };
        case 'ExprStmt':
          this.eval(s.expr, ctx);
          break;
        case 'For': {
          const range = this.eval(s.range, ctx);
          if (range.kind === 'error') break;
          if (range.kind !== 'list') {
            this.reporter.error('ForRangeNotList', s.range.span, { found: typeOfValue(range) });
            break;
          }
          for (const item of range.items) {
            const scope = new Scope(ctx.scope, ctx.scope.moduleScope, 'loop');
            scope.define(s.variable.name, item, s.variable.span);
            const r = this.execBlock(s.body, { ...ctx, scope });
            if (r.returned) return r;
          }
          break;
        }
      }
    }
    return {};
  }

  // -------------------------------------------------------------------------------------------
  // Applying layers and primitives to tensors

  private asTensorInput(v: Value, ctx: Ctx, span: Span): (Value & { kind: 'tensor' }) | undefined {
    if (v.kind === 'tensor') return v;
    const g = ctx.graph!;
    if (isNumber(v) || v.kind === 'dim') {
      const id = g.emit({
        op: 'const',
        inputs: [],
        attrs: { value: v.kind === 'dim' ? v.dim.toString() : v.value },
        shape: [],
        macs: ZERO,
        sparse: false,
        span,
      });
      return { kind: 'tensor', id, shape: [], span };
    }
    if (v.kind === 'word') this.unknownWord(v);
    else if (v.kind !== 'error')
      this.reporter.error('WrongArgumentType', span, {
        name: 'input',
        callee: 'the operation',
        expected: 'a tensor',
        found: typeOfValue(v),
      });
    return undefined;
  }

  private producerLabels(
    inputs: readonly (Value & { kind: 'tensor' })[],
    which: number | undefined,
    consumer: Span,
  ): { span: Span; message: string }[] {
    const pick = which === undefined ? inputs : inputs[which] ? [inputs[which]!] : [];
    return pick
      .filter(
        (t) =>
          t.shape &&
          t.span &&
          !(t.span.start === consumer.start && t.span.end === consumer.end && t.span.file === consumer.file),
      )
      .map((t) => ({ span: t.span, message: `this produces ${formatShape(t.shape!)}` }));
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
    const g = ctx.graph;
    if (!g) {
      this.reporter.error('FunctionAppliedOutsideForward', span, { name: prim.name });
      return ERROR;
    }
    const variadic = prim.inputs[0]?.endsWith('...');
    const inputs: (Value & { kind: 'tensor' })[] = [];
    if (variadic) {
      const first = tensorArgs[0];
      if (first?.kind !== 'list') {
        if (first?.kind === 'error') return ERROR;
        this.reporter.error('WrongArgumentType', span, {
          name: prim.inputs[0]!.replace('...', ''),
          callee: prim.name,
          expected: 'a list of tensors',
          found: first ? typeOfValue(first) : 'nothing',
        });
        return ERROR;
      }
      for (const it of first.items) {
        const t = this.asTensorInput(it, ctx, span);
        if (!t) return ERROR;
        inputs.push(t);
      }
    } else {
      if (tensorArgs.length < prim.inputs.length) {
        this.reporter.error(
          'MissingArgument',
          span,
          { callee: prim.name, name: prim.inputs[tensorArgs.length]! },
          { help: [`\`${prim.name}\` takes ${prim.inputs.length} tensor input(s): ${prim.inputs.join(', ')}`] },
        );
        return ERROR;
      }
      for (let i = 0; i < tensorArgs.length; i++) {
        const t = this.asTensorInput(tensorArgs[i]!, ctx, argSpans?.[i] ?? span);
        if (!t) return ERROR;
        inputs.push(t);
      }
    }
    let params: ReadonlyMap<string, Value>;
    if (fixedParams) params = fixedParams;
    else {
      const p = this.bindPrimParams(prim, restPositional, named, span, span);
      if (!p) return ERROR;
      params = p;
    }
    if (inputs.some((t) => !t.shape)) return { kind: 'tensor', id: -1, shape: undefined, span };
    const shapes = inputs.map((t) => t.shape!);
    const r = prim.shape(shapes, params);
    if ('error' in r) {
      this.reportShapeError(prim, r, inputs, span, operator);
      return { kind: 'tensor', id: -1, shape: undefined, span };
    }
    const attrs = Object.fromEntries([...params].map(([k, v]) => [k, valueToJson(v)]));
    const macs = prim.macs?.(shapes, r, params) ?? ZERO;
    const id = g.emit({
      op: prim.irName,
      ...(layerPath !== undefined ? { target: layerPath } : {}),
      inputs: inputs.map((t) => t.id),
      ...(prim.inputs.length > 1 && !variadic ? { ports: prim.inputs.slice(0, inputs.length) } : {}),
      attrs,
      shape: r,
      macs,
      sparse,
      span,
    });
    return { kind: 'tensor', id, shape: r, span };
  }

  private reportShapeError(
    _prim: PrimitiveDef,
    r: ShapeError,
    inputs: readonly (Value & { kind: 'tensor' })[],
    span: Span,
    operator?: string,
  ): void {
    if (operator) {
      this.reporter.error(
        'NoBroadcast',
        span,
        { op: operator, left: formatShape(inputs[0]!.shape!), right: formatShape(inputs[1]!.shape!) },
        { labels: this.producerLabels(inputs, undefined, span) },
      );
      return;
    }
    this.reporter.raise(r.error, span, { labels: this.producerLabels(inputs, r.input, span), help: [r.help] });
  }

  /** Shape (and MACs) of applying a layer to input shapes, without emitting ops. */
  /** Public for summaries: output shape and MACs of a layer applied to input shapes. */
  layerShape(
    layer: LayerInstance,
    inputs: readonly Shape[],
    named: ReadonlyMap<string, Shape>,
  ):
    | { shape: Shape; macs: Dim; outputs?: readonly Shape[] }
    | (ShapeError & { path?: string; argument?: { param: string; expected: Shape; found: Shape } }) {
    switch (layer.kind) {
      case 'primitive':
      case 'function': {
        const prim = layer.prim!;
        if (named.size > 0) return { error: semantic('ShapeNoNamedInputs', { callee: prim.name }) };
        if (inputs.length !== prim.inputs.length)
          return {
            error: semantic('ShapeInputCount', {
              callee: prim.name,
              expected: prim.inputs.length,
              found: inputs.length,
            }),
          };
        const r = prim.shape(inputs, layer.params);
        if ('error' in r) return r;
        return { shape: r, macs: prim.macs?.(inputs, r, layer.params) ?? ZERO };
      }
      case 'block': {
        const g = layer.forward;
        if (!g) return { error: semantic('ShapeBlockWithoutForward', { callee: layer.typeName }) };
        const actual: (Shape | undefined)[] = g.inputs.map(() => undefined);
        inputs.forEach((s, i) => (actual[i] = s));
        for (const [k, s] of named) {
          const i = g.inputs.findIndex((x) => x.name === k);
          if (i < 0) {
            const suggestion = closest(
              k,
              g.inputs.map((x) => x.name),
            );
            return {
              error:
                suggestion !== undefined
                  ? semantic('ShapeNoSuchInputSuggest', { callee: layer.typeName, name: k, suggestion })
                  : semantic('ShapeNoSuchInput', { callee: layer.typeName, name: k }),
            };
          }
          actual[i] = s;
        }
        if (inputs.length > g.inputs.length)
          return {
            error: semantic('ShapeInputCount', {
              callee: layer.typeName,
              expected: g.inputs.length,
              found: inputs.length,
            }),
          };
        const missing = g.inputs.find((_, i) => actual[i] === undefined);
        if (missing) return { error: semantic('ShapeMissingInput', { callee: layer.typeName, name: missing.name }) };
        const env = new Map<string, Dim>();
        const bad = unify(
          g.inputs.map((x) => x.shape),
          actual as Shape[],
          env,
        );
        if (bad !== undefined) {
          const p = g.inputs[bad]!;
          const expected = p.shape.map((d) => dimSubst(d, env));
          return {
            error: semantic('ShapeInput', {
              callee: layer.typeName,
              param: p.name,
              expected: formatShape(expected),
              found: formatShape(actual[bad]!),
            }),
            input: bad,
            argument: { param: p.name, expected, found: actual[bad]! },
          };
        }
        const outputs = g.outputs.map((o) => o.shape.map((d) => dimSubst(d, env)));
        return {
          shape: outputs[0]!,
          macs: dimSubst(this.totalMacs(g), env),
          ...(outputs.length > 1 ? { outputs } : {}),
        };
      }
      case 'sequential':
      case 'list': {
        let cur = inputs[0];
        if (!cur) return { error: semantic('ShapeChainWithoutInput') };
        let macs = ZERO;
        for (const [k, c] of layer.children) {
          const several = c.kind === 'block' ? (c.forward?.outputs ?? []) : [];
          if (several.length > 1) {
            // Only one value runs on through a chain; picking the first silently would drop data.
            return {
              error: semantic('ShapeChainManyOutputs', {
                callee: c.typeName,
                count: several.length,
                names: several.map((o) => o.name).join(', '),
              }),
              help: `take \`${c.typeName}\` out of the chain, call it on its own and pick an output by name (\`let r = ...\`, then \`r.${several[0]!.name}\`)`,
              path: k,
            };
          }
          const passNamed =
            c.kind === 'block' || c.kind === 'list' || c.kind === 'sequential' ? named : new Map<string, Shape>();
          const r = this.layerShape(c, [cur, ...inputs.slice(1)], passNamed);
          if ('error' in r) return { ...r, path: r.path ? `${k}.${r.path}` : k };
          cur = r.shape;
          macs = dimAdd(macs, r.macs);
        }
        return { shape: cur, macs };
      }
    }
  }

  totalMacs(g: ForwardGraph): Dim {
    let m = this.graphMacs.get(g.key);
    if (!m) {
      m = g.ops.reduce((acc, op) => dimAdd(acc, op.macs), ZERO);
      this.graphMacs.set(g.key, m);
    }
    return m;
  }

  private applyLayer(
    layer: LayerInstance,
    positional: { value: Value; span: Span }[],
    named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
    span: Span,
    ctx: Ctx,
  ): Value {
    const g = ctx.graph!;
    const path = g.paths.get(layer);
    const tensors: (Value & { kind: 'tensor' })[] = [];
    for (const p of positional) {
      const t = this.asTensorInput(p.value, ctx, p.span);
      if (!t) return ERROR;
      tensors.push(t);
    }
    const namedTensors = new Map<string, Value & { kind: 'tensor' }>();
    for (const [k, a] of named) {
      const t = this.asTensorInput(a.value, ctx, a.span);
      if (!t) return ERROR;
      namedTensors.set(k, t);
    }
    if (layer.kind === 'primitive' || layer.kind === 'function') {
      if (named.size > 0) {
        const [k, a] = [...named][0]!;
        this.reporter.error(
          'UnknownNamedArgument',
          a.nameSpan ?? a.span,
          { callee: layer.typeName, name: k },
          { help: ['primitive layers take their tensor input positionally'] },
        );
        return ERROR;
      }
      return this.applyPrim(
        layer.prim!,
        tensors,
        new Map(),
        span,
        ctx,
        [],
        layer.params,
        undefined,
        positional.map((p) => p.span),
        path,
        layer.sparse,
      );
    }
    const all = [...tensors, ...namedTensors.values()];
    if (all.some((t) => !t.shape)) return { kind: 'tensor', id: -1, shape: undefined, span };
    const r = this.layerShape(
      layer,
      tensors.map((t) => t.shape!),
      new Map([...namedTensors].map(([k, t]) => [k, t.shape!])),
    );
    const calleeName = path ?? layer.typeName;
    if ('error' in r) {
      const inputIdx = r.input !== undefined && layer.kind === 'block' && layer.forward ? r.input : undefined;
      const culprit =
        inputIdx !== undefined
          ? inputIdx < tensors.length
            ? tensors[inputIdx]
            : namedTensors.get(layer.forward!.inputs[inputIdx]!.name)
          : tensors[0];
      const labels =
        culprit?.shape && !(culprit.span.start === span.start && culprit.span.end === span.end)
          ? [{ span: culprit.span, message: `this produces ${formatShape(culprit.shape)}` }]
          : [];
      if (r.argument && r.path === undefined) {
        this.reporter.error(
          'ArgumentShapeMismatch',
          span,
          {
            callee: calleeName,
            param: r.argument.param,
            expected: formatShape(r.argument.expected),
            found: formatShape(r.argument.found),
          },
          { labels, help: [shapeHelp(r.argument.expected, r.argument.found)] },
        );
      } else {
        const problem =
          r.path !== undefined
            ? semantic('ShapeInsideMember', { problem: r.error, callee: calleeName, path: r.path })
            : r.error;
        this.reporter.raise(problem, span, {
          labels,
          help: [r.help ?? (r.argument ? shapeHelp(r.argument.expected, r.argument.found) : undefined)],
        });
      }
      return { kind: 'tensor', id: -1, shape: undefined, span };
    }
    const inputIds = [...tensors.map((t) => t.id), ...[...namedTensors.values()].map((t) => t.id)];
    // Lists pass named inputs on to their blocks by name, so their calls keep the names too
    // (positional inputs as `#i`).
    const ports =
      layer.kind === 'block' && layer.forward
        ? [...layer.forward.inputs.slice(0, tensors.length).map((x) => x.name), ...namedTensors.keys()]
        : namedTensors.size > 0
          ? [...tensors.map((_, i) => `#${i}`), ...namedTensors.keys()]
          : undefined;
    const outputs = layer.kind === 'block' ? (layer.forward?.outputs ?? []) : [];
    const several = outputs.length > 1 && r.outputs !== undefined;
    const id = g.emit({
      op: 'call',
      target: calleeName,
      inputs: inputIds,
      ...(ports && ports.length > 1 ? { ports } : {}),
      // A call of a block with named outputs yields the record of them; each is taken out by
      // an `output` op below with its own shape (the call's `shape` is the first output's).
      attrs: several ? { layer: layer.typeName, outputs: outputs.map((o) => o.name) } : { layer: layer.typeName },
      shape: r.shape,
      macs: r.macs,
      sparse: layer.sparse,
      span,
    });
    if (several) {
      const entries = new Map<string, Value>();
      outputs.forEach((o, k) => {
        const shape = r.outputs![k]!;
        const taken = g.emit({
          op: 'output',
          inputs: [id],
          attrs: { name: o.name },
          shape,
          macs: ZERO,
          sparse: false,
          span,
        });
        entries.set(o.name, { kind: 'tensor', id: taken, shape, span });
      });
      return { kind: 'record', entries };
    }
    return { kind: 'tensor', id, shape: r.shape, span };
  }
}

/** Sequential layers built by one `a >> b >> c` chain (so the chain flattens into one list). */
const chains = new WeakSet<LayerInstance>();
function isChain(l: LayerInstance): boolean {
  return chains.has(l);
}

/** A help line for a shape mismatch: the rank or the first differing axis. */
function shapeHelp(expected: Shape, found: Shape): string | undefined {
  if (expected.length === 4 && found.length === 3)
    return 'the input is a token sequence; insert `untokens(...)` to turn it back into a grid';
  if (expected.length === 3 && found.length === 4)
    return 'the input is a grid; insert `tokens(v)` to turn it into a token sequence';
  if (expected.length !== found.length) return `expected rank ${expected.length}, found rank ${found.length}`;
  const i = expected.findIndex((d, j) => !d.equals(found[j]!));
  if (i === expected.length - 1) return `the last axis is ${found[i]}; the callee was built for ${expected[i]}`;
  return undefined;
}

void broadcast;
