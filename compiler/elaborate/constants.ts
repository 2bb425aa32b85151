/**
 * Elaboration pass: constant evaluation of expressions.
 * In: an `Expr` and its `Ctx`. Out: a `Value` (numbers, dims, lists, records, layers, or a
 * tensor traced into the current forward graph); operators, conditionals and comprehensions are
 * evaluated here, calls and members in calls.ts. Holds afterwards: each step is charged to the
 * budget; a failed evaluation is ERROR and causes no second diagnostic.
 */
import type { Expr } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import { BINARY_PRIMITIVE, PRIMITIVES } from '../primitives/index.js';
import { FIXED_LIMITS } from '../limits.js';
import { Scope } from '../scope.js';
import { dimAdd, dimDiv, dimMul, dimNeg, dimSub } from '../symbolic.js';
import type { ParamExpr, ParamOperator } from '../ir/ir.js';
import {
  ERROR,
  formatValue,
  isNumber,
  type LayerInstance,
  type Sym,
  symOf,
  typeOfValue,
  type Value,
  withSym,
} from '../values.js';
import { type Ctx, intValue, dimValue, toDim, stableJson } from './common.js';
import type { Elaborator } from './index.js';

/** Evaluates an expression, charging the budget (compiler/limits.ts) for its depth and work. */
export function evaluate(el: Elaborator, e: Expr, ctx: Ctx): Value {
  const budget = el.budget;
  if (budget.exhausted) return ERROR;
  if (++budget.steps > budget.limits.evalSteps.value) return el.exhaust('ElaborationTooLong', e.span);
  if (budget.depth >= FIXED_LIMITS.evalDepth) return el.exhaust('EvaluationTooDeep', e.span);
  budget.depth++;
  try {
    return el.evalExpr(e, ctx);
  } finally {
    budget.depth--;
  }
}

export function evalExpr(el: Elaborator, e: Expr, ctx: Ctx): Value {
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
      return el.lookupName(e.name, e.span, ctx);
    case 'List':
      return { kind: 'list', items: e.items.map((i) => el.eval(i, ctx)) };
    case 'Record': {
      const entries = new Map<string, Value>();
      for (const s of e.entries) {
        if (entries.has(s.key.name)) {
          const first = e.entries.find((x) => x.key.name === s.key.name)!;
          el.reporter.error(
            'DuplicateDefinition',
            s.key.span,
            { name: s.key.name, scope: 'record' },
            { labels: [{ span: first.key.span, message: 'first defined here' }] },
          );
          continue;
        }
        entries.set(s.key.name, el.eval(s.value, ctx));
      }
      return { kind: 'record', entries };
    }
    case 'Range': {
      const from = el.constInt(e.from, ctx, 'a range bound');
      const to = el.constInt(e.to, ctx, 'a range bound');
      if (from === undefined || to === undefined) return ERROR;
      if (!el.chargeItems(to - from, e.span)) return ERROR;
      const items: Value[] = [];
      for (let i = from; i < to; i++) items.push(intValue(i));
      return { kind: 'list', items };
    }
    case 'Unary': {
      const v = el.eval(e.operand, ctx);
      if (v.kind === 'error') return v;
      if (v.kind === 'word') return el.unknownWord(v);
      if (e.op === 'not') {
        if (v.kind === 'bool') return { kind: 'bool', value: !v.value };
        el.reporter.error('NotNeedsBool', e.span, { found: typeOfValue(v) });
        return ERROR;
      }
      if (isNumber(v))
        return withSym(
          { kind: v.kind, value: -v.value },
          v.sym && { frame: v.sym.frame, expr: { kind: 'neg', operand: v.sym.expr, int: v.kind === 'int' } },
        );
      if (v.kind === 'dim') return dimValue(dimNeg(v.dim));
      if (v.kind === 'tensor') return el.applyPrim(PRIMITIVES.get('neg')!, [v], new Map(), e.span, ctx);
      el.reporter.error('CannotNegate', e.span, { found: typeOfValue(v) });
      return ERROR;
    }
    case 'Binary':
      return el.evalBinary(e.op, e.left, e.right, e.span, e.opSpan, ctx);
    case 'Call':
      return el.evalCall(e, ctx, undefined);
    case 'Pipe': {
      const input = el.eval(e.value, ctx);
      if (e.fn.kind === 'Call') return el.evalCall(e.fn, ctx, input);
      const fn = el.eval(e.fn, ctx);
      // The op's origin is the applied layer (`|> dwconv`), so each stage of a chain has its own.
      return el.applyValue(fn, [{ value: input, span: e.value.span }], new Map(), e.fn.span, e.fn.span, ctx);
    }
    case 'Member':
      return el.evalMember(e.object, e.property.name, e.property.span, e.span, ctx);
    case 'Index': {
      const obj = el.eval(e.object, ctx);
      if (obj.kind === 'error') return obj;
      const idx = el.eval(e.index, ctx);
      if (idx.kind === 'error') return idx;
      if (obj.kind === 'word') return ctx.settings ? obj : el.unknownWord(obj);
      if (idx.kind === 'word') return el.unknownWord(idx);
      return el.index(obj, idx, e.index.span, e.span, ctx);
    }
    case 'Repeat': {
      const countValue = el.eval(e.count, ctx);
      const count = el.constInt(e.count, ctx, 'a repeat count', countValue);
      if (count === undefined) return ERROR;
      if (count < 0) {
        el.reporter.error('OutOfRange', e.count.span, {
          name: 'count',
          callee: 'repeat',
          range: '>= 0',
          value: count,
        });
        return ERROR;
      }
      // Each copy is at least one layer: a count past what is left is refused before any copy.
      if (count > el.budget.limits.layers.value - el.budget.layers) {
        el.chargeLayers(count, e.count.span);
        return ERROR;
      }
      const children = new Map<string, LayerInstance>();
      for (let i = 0; i < count; i++) {
        const scope = new Scope(ctx.scope, ctx.scope.moduleScope, 'repeat');
        if (e.index) scope.define(e.index.name, intValue(i), e.index.span);
        const v = el.eval(e.body, { ...ctx, scope });
        const layer = el.asLayer(v, e.body.span);
        if (!layer) return ERROR;
        children.set(String(i), layer);
      }
      const countSym = symOf(countValue);
      const list = el.makeList('list', children, e.span, {
        count,
        ...(e.index ? { index: e.index.name } : {}),
        ...(countSym ? { countSym } : {}),
      });
      return list ? { kind: 'layer', layer: list } : ERROR;
    }
    case 'Conditional': {
      const test = el.eval(e.test, ctx);
      if (test.kind === 'error') return test;
      if (test.kind !== 'bool') {
        if (test.kind === 'word') return el.unknownWord(test);
        el.reporter.error('ConditionNotBool', e.test.span, { found: typeOfValue(test) });
        return ERROR;
      }
      return el.eval(test.value ? e.then : e.otherwise, ctx);
    }
    case 'Comprehension': {
      const range = el.eval(e.range, ctx);
      if (range.kind === 'error') return range;
      if (range.kind !== 'list') {
        el.reporter.error('ComprehensionRangeNotList', e.range.span, { found: typeOfValue(range) });
        return ERROR;
      }
      const items: Value[] = [];
      for (const item of range.items) {
        const scope = new Scope(ctx.scope, ctx.scope.moduleScope, 'comprehension');
        scope.define(e.variable.name, item, e.variable.span);
        items.push(el.eval(e.element, { ...ctx, scope }));
      }
      return { kind: 'list', items };
    }
  }
}

/** `e` as a constant int; `evaluated`: its value when the caller has evaluated it already. */
export function constInt(el: Elaborator, e: Expr, ctx: Ctx, what: string, evaluated?: Value): number | undefined {
  const v = evaluated ?? el.eval(e, ctx);
  if (v.kind === 'error') return undefined;
  if (v.kind === 'word') {
    el.unknownWord(v);
    return undefined;
  }
  if (v.kind !== 'int') {
    el.reporter.error('NotConstantInt', e.span, { what, found: typeOfValue(v) });
    return undefined;
  }
  return v.value;
}

export function evalBinary(el: Elaborator, op: string, le: Expr, re: Expr, span: Span, opSpan: Span, ctx: Ctx): Value {
  const l = el.eval(le, ctx);
  const r = el.eval(re, ctx);
  if (l.kind === 'error' || r.kind === 'error') return ERROR;
  if (op === 'then') {
    const parts = [...(l.kind === 'config' && l.name === 'then' ? l.positional : [l]), r];
    return { kind: 'config', name: 'then', positional: parts, args: new Map(), span };
  }
  if (l.kind === 'word' && !ctx.settings) return el.unknownWord(l);
  if (r.kind === 'word' && !ctx.settings) return el.unknownWord(r);
  if (op === '>>') {
    const a = el.asLayer(l, le.span);
    const b = el.asLayer(r, re.span);
    if (!a || !b) return ERROR;
    const children = new Map<string, LayerInstance>();
    const items = [
      ...(a.kind === 'sequential' && a.span.end <= opSpan.start && el.chains.has(a) ? [...a.children.values()] : [a]),
      b,
    ];
    items.forEach((c, i) => children.set(String(i), c));
    const seq = el.makeList('sequential', children, span);
    if (!seq) return ERROR;
    el.chains.add(seq);
    return { kind: 'layer', layer: seq };
  }
  if (l.kind === 'tensor' || r.kind === 'tensor') {
    const prim = BINARY_PRIMITIVE[op];
    if (!prim) {
      el.reporter.error('TensorOperatorUndefined', opSpan, { op });
      return ERROR;
    }
    return el.applyPrim(PRIMITIVES.get(prim)!, [l, r], new Map(), span, ctx, undefined, undefined, op, [
      le.span,
      re.span,
    ]);
  }
  if ((l.kind === 'dim' || r.kind === 'dim') && (toDim(l) || l.kind === 'float') && (toDim(r) || r.kind === 'float')) {
    const a = toDim(l);
    const b = toDim(r);
    if (!a || !b) {
      el.reporter.error('NonIntegerDim', span, {
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
          el.reporter.error('InexactDimDivision', span, { left: String(a), right: String(b) });
          return ERROR;
        }
        return dimValue(q);
      }
      case '==':
        return { kind: 'bool', value: a.equals(b) };
      case '!=':
        return { kind: 'bool', value: !a.equals(b) };
    }
    el.reporter.error('OperatorNotOnDims', opSpan, { op });
    return ERROR;
  }
  if (isNumber(l) && isNumber(r)) return el.numeric(op, l, r, span, opSpan);
  if (op === '==' || op === '!=') {
    const eq = stableJson(l) === stableJson(r);
    return { kind: 'bool', value: op === '==' ? eq : !eq };
  }
  if ((op === 'and' || op === 'or') && l.kind === 'bool' && r.kind === 'bool')
    return { kind: 'bool', value: op === 'and' ? l.value && r.value : l.value || r.value };
  if (op === '+' && l.kind === 'list' && r.kind === 'list')
    return el.chargeItems(l.items.length + r.items.length, span)
      ? { kind: 'list', items: [...l.items, ...r.items] }
      : ERROR;
  if (op === '+' && l.kind === 'string' && r.kind === 'string') return { kind: 'string', value: l.value + r.value };
  if (ctx.settings && (l.kind === 'word' || r.kind === 'word'))
    return l.kind === 'word' ? el.unknownWord(l) : el.unknownWord(r as Value & { kind: 'word' });
  el.reporter.error('OperatorNotOnValues', opSpan, { op, left: typeOfValue(l), right: typeOfValue(r) });
  return ERROR;
}

const ARITHMETIC: readonly ParamOperator[] = ['+', '-', '*', '/', '//', '%', '**'];

export function numeric(
  el: Elaborator,
  op: string,
  l: { kind: 'int' | 'float'; value: number; sym?: Sym },
  r: { kind: 'int' | 'float'; value: number; sym?: Sym },
  span: Span,
  opSpan: Span,
): Value {
  const ints = l.kind === 'int' && r.kind === 'int';
  const a = l.value;
  const b = r.value;
  // Provenance: when either side came from the block's parameters (and both from the same
  // instantiation), the result keeps the expression; the other side enters it as a literal.
  const frame = l.sym && r.sym && l.sym.frame !== r.sym.frame ? undefined : (l.sym ?? r.sym)?.frame;
  const operand = (x: typeof l): ParamExpr => x.sym?.expr ?? { kind: 'literal', value: x.value, int: x.kind === 'int' };
  const num = (x: number, int: boolean): Value => {
    const v: Value = int ? intValue(x) : { kind: 'float', value: x };
    if (frame === undefined || !(ARITHMETIC as readonly string[]).includes(op)) return v;
    const expr: ParamExpr = { kind: 'binary', op: op as ParamOperator, left: operand(l), right: operand(r), int };
    return withSym(v, { frame, expr });
  };
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
        el.reporter.error('DivisionByZero', span);
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
  el.reporter.error('OperatorNotOnNumbers', opSpan, { op });
  return ERROR;
}
