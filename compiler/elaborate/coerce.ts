/**
 * Elaboration pass: types and coercion of arguments to parameters.
 * In: declared parameter types (`TypeExpr` or primitive `ParamSchema`) and argument values.
 * Out: the parameters bound by name, each coerced to its type (int/float/bool/enum/list/layer)
 * and checked against its range; NVC4xxx diagnostics otherwise. Holds afterwards: every bound
 * value has the type its parameter declares.
 */
import type { NamedType, TypeExpr } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import type { PrimitiveDef } from '../primitives/index.js';
import { didYouMean } from '../report.js';
import type { Scope } from '../scope.js';
import { formatValue, isNumber, symOf, typeOfValue, type LayerInstance, type Value, withSym } from '../values.js';
import { type TypeSpec, type BindSchema, type Ctx, typeName, rangeText, inRange, primTypeSpec } from './common.js';
import type { Elaborator } from './index.js';
import { providesInterface } from './interfaces.js';

export function typeSpec(el: Elaborator, t: TypeExpr, scope: Scope): TypeSpec {
  if (t.kind === 'TensorType') return { base: 'any', list: false };
  const n = (t as NamedType).name.name;
  const list = (t as NamedType).isList;
  if (n === 'int' || n === 'float' || n === 'bool' || n === 'string') return { base: n, list };
  if (n === 'layer' || n === 'Layer') return { base: 'layer', list };
  const b = scope.moduleScope.names.get(n);
  if (b?.kind === 'block') return { base: 'layer', list, block: n };
  if (b?.kind === 'interface') return { base: 'layer', list, iface: b.decl };
  el.reporter.error(
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
          ...[...scope.moduleScope.names]
            .filter(([, v]) => v.kind === 'block' || v.kind === 'interface')
            .map(([k]) => k),
        ]),
      ],
    },
  );
  return { base: 'any', list };
}

/** Checks and converts a value to a type; reports and returns undefined on mismatch. */
export function coerce(
  el: Elaborator,
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
    el.reporter.error(
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
    if (v.kind !== 'list') return v.kind === 'word' && t.base !== 'enum' ? (el.unknownWord(v), undefined) : wrong();
    const items: Value[] = [];
    for (const item of v.items) {
      const c = el.coerce(item, { ...t, list: false }, name, callee, span, range, ctx, true);
      if (!c) return undefined;
      items.push(c);
    }
    return withSym({ kind: 'list', items }, symOf(v));
  }
  switch (t.base) {
    case 'int':
    case 'float': {
      if (v.kind === 'word') return (el.unknownWord(v), undefined);
      if (v.kind === 'dim' && t.base === 'int') {
        el.reporter.error(
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
        el.reporter.error('OutOfRange', span, {
          name,
          callee,
          range: rangeText(range),
          value: formatValue(v) + (schemaList ? ' (in the list)' : ''),
        });
        return undefined;
      }
      return t.base === 'float' ? withSym({ kind: 'float', value: v.value }, v.sym) : v;
    }
    case 'bool':
      if (v.kind === 'word') return (el.unknownWord(v), undefined);
      return v.kind === 'bool' ? v : wrong();
    case 'string':
      if (v.kind === 'word') return (el.unknownWord(v), undefined);
      return v.kind === 'string' ? v : wrong();
    case 'enum': {
      const word = v.kind === 'word' ? v.name : v.kind === 'string' ? v.value : undefined;
      if (word === undefined) return wrong();
      if (!(t.enumValues ?? []).includes(word)) {
        el.reporter.error(
          'WrongArgumentType',
          span,
          { name, callee, expected: typeName(t), found: `\`${word}\`` },
          { help: [didYouMean(word, t.enumValues ?? [])] },
        );
        return undefined;
      }
      return withSym({ kind: 'word', name: word, span }, symOf(v));
    }
    case 'size': {
      // An int, a list of ints of one of the allowed lengths, or one of the words (`same`).
      const word = v.kind === 'word' ? v.name : v.kind === 'string' ? v.value : undefined;
      if (word !== undefined) {
        if ((t.enumValues ?? []).includes(word)) return { kind: 'word', name: word, span };
        if (v.kind === 'word' && !t.enumValues?.length) return (el.unknownWord(v), undefined);
        el.reporter.error(
          'WrongArgumentType',
          span,
          { name, callee, expected: typeName(t), found: `\`${word}\`` },
          { help: [didYouMean(word, t.enumValues ?? [])] },
        );
        return undefined;
      }
      if (v.kind === 'list') {
        if (!(t.lengths ?? []).includes(v.items.length)) return wrong(`a list of ${v.items.length}`);
        const items: Value[] = [];
        for (const item of v.items) {
          const c = el.coerce(item, { base: 'int', list: false }, name, callee, span, range, ctx, true);
          if (!c) return undefined;
          items.push(c);
        }
        return { kind: 'list', items };
      }
      return el.coerce(v, { base: 'int', list: false }, name, callee, span, range, ctx, schemaList);
    }
    case 'shape': {
      if (v.kind !== 'list') return v.kind === 'word' ? (el.unknownWord(v), undefined) : wrong();
      for (const item of v.items) {
        if (item.kind === 'word') return (el.unknownWord(item), undefined);
        if (item.kind !== 'int' && item.kind !== 'dim') return wrong(`a list containing ${typeOfValue(item)}`);
      }
      return v;
    }
    case 'layer': {
      if (v.kind === 'word') return (el.unknownWord(v), undefined);
      let layer: LayerInstance | undefined;
      if (v.kind === 'layer') layer = v.layer;
      else if (v.kind === 'stageref') {
        layer = v.layer;
        ctx?.handOvers?.push({ to: name, fromStage: v.stage, fromPath: v.path.join('.'), span });
      } else return wrong();
      if (t.block && layer.typeName !== t.block) return wrong(`layer ${layer.typeName}`);
      if (t.iface)
        return providesInterface(el, layer, t.iface, span) ? { kind: 'layer', layer, via: t.iface } : undefined;
      return { kind: 'layer', layer };
    }
  }
  return v;
}

/**
 * Binds positional and named arguments to a schema. Reports NVC4001/4002/4005 and type and
 * range errors; returns the bound values (without defaults) or undefined on error.
 */
export function bind(
  el: Elaborator,
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
    el.reporter.error(
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
      el.reporter.error(
        'DuplicateArgument',
        named.get(s.name)!.nameSpan ?? named.get(s.name)!.span,
        { name: s.name, callee },
        { labels: [{ span: p.span, message: 'given positionally here' }] },
      );
      ok = false;
      return;
    }
    const c = el.coerce(p.value, s.type, s.name, callee, p.span, s.range, ctx);
    if (c) out.set(s.name, c);
    else ok = false;
  });
  for (const [name, a] of named) {
    const s = schema.find((x) => x.name === name);
    if (!s) {
      el.reporter.error(
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
    const c = el.coerce(a.value, s.type, s.name, callee, a.span, s.range, ctx);
    if (c) out.set(name, c);
    else ok = false;
  }
  for (const s of schema)
    if (!out.has(s.name) && !s.hasDefault && ok && !named.has(s.name) && positional.length <= schema.indexOf(s)) {
      el.reporter.error(
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

export function bindPrimParams(
  el: Elaborator,
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
  const bound = el.bind(prim.name, schema, positional, named, span, calleeSpan);
  if (!bound) return undefined;
  for (const p of prim.params) if (!bound.has(p.name) && p.default) bound.set(p.name, p.default);
  const problem = prim.validate?.(bound);
  if (problem) {
    const a = named.get(problem.param);
    el.reporter.error(
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
  for (const target of el.targets) {
    const refusal = prim.targets[target]?.supports(bound);
    if (!refusal) continue;
    const index = prim.params.findIndex((p) => p.name === refusal.param);
    const argument = named.get(refusal.param) ?? (index >= 0 ? positional[index] : undefined);
    el.reporter.error(
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
