/**
 * Elaboration pass: member access, indexing and calls (blocks, primitives, functions, builtins).
 * In: the evaluated callee and arguments (positional and named, with spans). Out: the call's
 * `Value`: a layer instance, a traced tensor, or a builtin's constant result. Holds afterwards:
 * duplicate, missing and unknown arguments are reported against the callee, never silently dropped.
 */
import type { Arg, CallExpr, Expr } from '../../dsl/ast.js';
import type { CatalogueMessage } from '../../dsl/diagnostics/catalogue.js';
import type { Span } from '../../dsl/span.js';
import { TORCH_NAMESPACES } from '../primitives/index.js';
import { didYouMean, semantic } from '../report.js';
import type { ParamExpr } from '../ir/ir.js';
import { ERROR, isNumber, typeOfValue, type Value, withSym } from '../values.js';
import { type Ctx, OVERLOADED, intValue } from './common.js';
import type { Elaborator } from './index.js';
import { callPart, checkInterfaceMember, memberValue, partOf } from './interfaces.js';

export function evalMember(el: Elaborator, objExpr: Expr, prop: string, propSpan: Span, span: Span, ctx: Ctx): Value {
  const obj = el.eval(objExpr, ctx);
  if (obj.kind === 'error') return obj;
  if (obj.kind === 'word') {
    if (ctx.settings) return { kind: 'word', name: `${obj.name}.${prop}`, span };
    // `nn.GELU`: keep the whole dotted name, so the report can say which primitive it means.
    if (TORCH_NAMESPACES.has(obj.name.split('.')[0]!)) {
      const word: Value = { kind: 'word', name: `${obj.name}.${prop}`, span };
      const scope = el.wordScopes.get(obj);
      if (scope) el.wordScopes.set(word, scope);
      return word;
    }
    return el.unknownWord(obj);
  }
  if (obj.kind === 'layer') {
    if (obj.via && !checkInterfaceMember(el, obj.via, prop, propSpan)) return ERROR;
    const child = obj.layer.children.get(prop);
    if (child) {
      const g = ctx.graph;
      if (g) {
        const base = g.paths.get(obj.layer);
        if (base !== undefined && !g.paths.has(child)) g.paths.set(child, `${base}.${prop}`);
      }
      return { kind: 'layer', layer: child };
    }
    const param = memberValue(el, obj.layer, prop);
    if (param) return param;
    const names = [...obj.layer.children.keys(), ...obj.layer.params.keys()];
    el.reporter.error(
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
    el.reporter.error(
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
    el.reporter.error(
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
  el.reporter.error('UnknownMember', propSpan, { owner: typeOfValue(obj), name: prop });
  return ERROR;
}

export function index(el: Elaborator, obj: Value, idx: Value, idxSpan: Span, span: Span, ctx: Ctx): Value {
  if (idx.kind !== 'int') {
    el.reporter.error('IndexNotInt', idxSpan, { found: typeOfValue(idx) });
    return ERROR;
  }
  if (obj.kind === 'list') {
    const i = idx.value < 0 ? idx.value + obj.items.length : idx.value;
    const v = obj.items[i];
    if (!v) {
      el.reporter.error('IndexOutOfRange', idxSpan, { index: idx.value, length: obj.items.length });
      return ERROR;
    }
    // An item of a list parameter keeps where it came from (`dims[i - 1]`); an index that
    // counted from the end is written as the item it reached.
    const frame = obj.sym && idx.sym && obj.sym.frame !== idx.sym.frame ? undefined : obj.sym?.frame;
    if (frame === undefined || (idx.sym && idx.value < 0)) return v;
    const index: ParamExpr = idx.sym?.expr ?? { kind: 'literal', value: i, int: true };
    return withSym(v, { frame, expr: { kind: 'index', list: obj.sym!.expr, index } });
  }
  if (obj.kind === 'layer' && (obj.layer.kind === 'list' || obj.layer.kind === 'sequential')) {
    const n = obj.layer.children.size;
    const i = idx.value < 0 ? idx.value + n : idx.value;
    const child = obj.layer.children.get(String(i));
    if (!child) {
      el.reporter.error('LayerIndexOutOfRange', idxSpan, { index: idx.value, length: n });
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
  el.reporter.error('NotIndexable', span, { found: typeOfValue(obj) });
  return ERROR;
}

export function evalArgs(
  el: Elaborator,
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
    const value = el.eval(a.value, argCtx);
    if (a.name) {
      if (named.has(a.name.name)) {
        el.reporter.error(
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

export function evalCall(el: Elaborator, e: CallExpr, ctx: Ctx, pipeInput: Value | undefined): Value {
  // `enc.stage(x, i = 2)`: a named forward (a part) of a block instance.
  if (e.callee.kind === 'Member') {
    const obj = el.eval(e.callee.object, ctx);
    const part = obj.kind === 'layer' ? partOf(el, obj.layer, e.callee.property.name) : undefined;
    if (obj.kind === 'layer' && part) {
      if (obj.via && !checkInterfaceMember(el, obj.via, e.callee.property.name, e.callee.property.span)) return ERROR;
      const { positional, named } = el.evalArgs(e.args, ctx);
      if (pipeInput !== undefined) positional.unshift({ value: pipeInput, span: e.span });
      const args = [...positional, ...[...named].map(([name, a]) => ({ name, value: a.value, span: a.span }))];
      if (args.some((a) => a.value.kind === 'error')) return ERROR;
      return callPart(el, obj.layer, part, args, e.span, ctx);
    }
  }
  const callee = el.eval(e.callee, ctx);
  if (callee.kind === 'error') return callee;
  const { positional, named } = el.evalArgs(e.args, ctx);
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
    return el.unknownWord(callee);
  }
  return el.applyValue(callee, positional, named, e.span, e.callee.span, ctx);
}

/** Calls / applies any callable value. */
export function applyValue(
  el: Elaborator,
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
        return el.builtin(prim.name, positional, named, span);
      if (OVERLOADED.has(prim.name) && !hasTensor && positional[0]?.value.kind === 'list')
        return el.builtin(prim.name, positional, named, span);
      if (prim.kind === 'layer') {
        if (ctx.graph) {
          el.reporter.error(
            'LayerConstructedInForward',
            calleeSpan,
            {},
            { help: [`declare \`name = ${prim.name}(...)\` in the block and call \`name(x)\` here`] },
          );
          return ERROR;
        }
        return el.constructPrimitive(prim, positional, named, span, calleeSpan, ctx);
      }
      if (hasTensor || ctx.graph) {
        const tensors = positional.slice(0, prim.inputs.length).map((p) => p.value);
        const rest = positional.slice(prim.inputs.length);
        return el.applyPrim(
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
      const params = el.bindPrimParams(prim, positional, named, span, calleeSpan);
      if (!params) return ERROR;
      return { kind: 'layer', layer: el.functionLayer(prim, params, span) };
    }
    case 'builtin':
      return el.builtin(callee.name, positional, named, span);
    case 'block':
      if (ctx.graph) {
        el.reporter.error(
          'BlockInstantiatedInForward',
          calleeSpan,
          {},
          { help: [`declare \`name = ${callee.decl.name.name}(...)\` in the block and call \`name(x)\` here`] },
        );
        return ERROR;
      }
      return el.instantiateBlock(callee.decl, callee.module, positional, named, span, calleeSpan, ctx);
    case 'layer':
      if (!ctx.graph) {
        el.reporter.error('LayerAppliedOutsideForward', calleeSpan, {}, { help: ['to chain layers, use `a >> b`'] });
        return ERROR;
      }
      return el.applyLayer(callee.layer, positional, named, span, ctx);
    default:
      el.reporter.error('ValueNotCallable', calleeSpan, { found: typeOfValue(callee) });
      return ERROR;
  }
}

export function builtin(
  el: Elaborator,
  name: string,
  positional: { value: Value; span: Span }[],
  named: Map<string, { value: Value; span: Span }>,
  span: Span,
): Value {
  const vals = positional.map((p) => p.value);
  const bad = (problem: CatalogueMessage): Value => {
    el.reporter.raise(problem, span);
    return ERROR;
  };
  for (const v of vals) if (v.kind === 'word') return el.unknownWord(v);
  const numList = (v: Value | undefined): number[] | undefined =>
    v?.kind === 'list' && v.items.every(isNumber) ? v.items.map((i) => (i as { value: number }).value) : undefined;
  const allInt = (v: Value | undefined) => v?.kind === 'list' && v.items.every((i) => i.kind === 'int');
  if (named.size > 0) return bad(semantic('HelperNamedArguments', { name }));
  switch (name) {
    case 'linspace': {
      const [a, b, n] = vals;
      if (!a || !b || !n || !isNumber(a) || !isNumber(b) || n.kind !== 'int' || n.value < 0)
        return bad(semantic('HelperLinspaceArguments'));
      if (!el.chargeItems(n.value, span)) return ERROR;
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
      if (!el.chargeItems(b - a, span)) return ERROR;
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
