/**
 * Elaboration pass: instantiation of blocks and primitives into `LayerInstance` trees.
 * In: a block or primitive and its bound parameters. Out: a `LayerInstance` with its weights
 * (integer shapes, evaluated once here and reused by every trace), initialisers and children,
 * and a structural fingerprint; the block's forward graph is traced once per fingerprint.
 * Holds afterwards: every weight shape is a list of positive integers; recursion is reported.
 */
import type { BlockDecl, Expr, ForwardDecl, Param, TensorType } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import type { PrimitiveDef } from '../primitives/index.js';
import { didYouMean } from '../report.js';
import { Scope } from '../scope.js';
import { type Dim, isExactInteger, type Shape } from '../symbolic.js';
import {
  ERROR,
  formatValue,
  isNumber,
  typeOfValue,
  type BufferInstance,
  type InitSpec,
  type LayerInstance,
  type Sym,
  type Value,
  type WeightInstance,
  withSym,
} from '../values.js';
import { type BindSchema, type Ctx, INIT_KINDS, toDim, stableJson } from './common.js';
import type { Elaborator } from './index.js';

export function fingerprintOf(typeName: string, params: ReadonlyMap<string, Value>, extra = ''): string {
  return `${typeName}(${[...params].map(([k, v]) => `${k}=${stableJson(v)}`).join(',')})${extra}`;
}

export function makeList(
  el: Elaborator,
  kind: 'list' | 'sequential',
  children: Map<string, LayerInstance>,
  span: Span,
  repeat?: { count: number; index?: string; countSym?: Sym },
): LayerInstance | undefined {
  const stats = el.expansionOf(children, span);
  if (!stats) return undefined;
  const layer: LayerInstance = {
    kind,
    typeName: kind === 'list' ? 'List' : 'Sequential',
    params: new Map(),
    weights: [],
    children,
    sparse: false,
    ...(repeat ? { repeat } : {}),
    fingerprint: `${kind}[${[...children.values()].map((c) => c.fingerprint).join(';')}]`,
    span,
  };
  el.layerStats.set(layer, stats);
  return layer;
}

export function functionLayer(
  el: Elaborator,
  prim: PrimitiveDef,
  params: Map<string, Value>,
  span: Span,
): LayerInstance {
  return {
    kind: 'function',
    typeName: prim.name,
    prim,
    params,
    weights: [],
    children: new Map(),
    sparse: false,
    fingerprint: el.fingerprintOf(prim.name, params),
    span,
  };
}

/** A value usable as a layer: a layer, or a primitive function with default attributes. */
export function asLayer(el: Elaborator, v: Value, span: Span): LayerInstance | undefined {
  if (v.kind === 'error') return undefined;
  if (v.kind === 'layer') return v.layer;
  if (v.kind === 'word') {
    el.unknownWord(v);
    return undefined;
  }
  if (v.kind === 'list') {
    const children = new Map<string, LayerInstance>();
    for (let i = 0; i < v.items.length; i++) {
      const c = el.asLayer(v.items[i]!, span);
      if (!c) return undefined;
      children.set(String(i), c);
    }
    return el.makeList('list', children, span);
  }
  if (v.kind === 'prim' && v.prim.kind === 'function') {
    const params = new Map<string, Value>();
    for (const p of v.prim.params) {
      if (!p.default) {
        el.reporter.error(
          'MissingArgument',
          span,
          { callee: v.prim.name, name: p.name },
          { help: [`write \`${v.prim.name}(${p.name} = ...)\``] },
        );
        return undefined;
      }
      params.set(p.name, p.default);
    }
    return el.functionLayer(v.prim, params, span);
  }
  el.reporter.error(
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

export function constructPrimitive(
  el: Elaborator,
  prim: PrimitiveDef,
  positional: { value: Value; span: Span }[],
  named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
  span: Span,
  calleeSpan: Span,
  _ctx: Ctx,
): Value {
  const params = el.bindPrimParams(prim, positional, named, span, calleeSpan);
  if (!params) return ERROR;
  if (!el.chargeLayers(1, span)) return ERROR;
  const weights: WeightInstance[] = (prim.weights?.(params) ?? []).map((w) => ({ ...w, frozen: false, span }));
  for (const w of weights)
    if (w.shape.some((n) => !Number.isInteger(n) || n <= 0)) {
      el.reporter.error('NonIntegerDim', span, {
        what: `the shape of \`${prim.name}.${w.name}\``,
        value: `[${w.shape.join(', ')}]`,
      });
      return ERROR;
    }
  const buffers = (prim.buffers?.(params) ?? []).map((b) => ({ ...b, span }));
  const layer: LayerInstance = {
    kind: 'primitive',
    typeName: prim.name,
    prim,
    params,
    weights,
    ...(buffers.length ? { buffers } : {}),
    children: new Map(),
    sparse: false,
    fingerprint: el.fingerprintOf(prim.name, params),
    span,
  };
  return { kind: 'layer', layer };
}

export function instantiateBlock(
  el: Elaborator,
  decl: BlockDecl,
  module: string,
  positional: { value: Value; span: Span }[],
  named: Map<string, { value: Value; span: Span; nameSpan?: Span }>,
  span: Span,
  calleeSpan: Span,
  ctx: Ctx,
): Value {
  const name = decl.name.name;
  el.instantiated.add(decl);
  if (el.instantiating.includes(decl)) {
    el.reporter.error(
      'RecursiveDefinition',
      calleeSpan,
      { name },
      { labels: [{ span: decl.name.span, message: 'declared here' }] },
    );
    return ERROR;
  }
  const moduleScope = el.scopes.get(module)!;
  const scope = new Scope(undefined, moduleScope, 'block');
  const schema: BindSchema[] = decl.params.map((p) => ({
    name: p.name.name,
    type: el.typeSpec(p.type, scope),
    hasDefault: p.default !== undefined,
    span: p.name.span,
  }));
  const bound = el.bind(name, schema, positional, named, span, calleeSpan, ctx);
  if (!bound) return ERROR;
  if (!el.chargeLayers(1, span)) return ERROR;
  el.instantiating.push(decl);
  try {
    const params = new Map<string, Value>();
    const children = new Map<string, LayerInstance>();
    const memberSpans = new Map<string, Span>();
    let duplicate = false;
    // The block's own parameters, as this body sees them, carry their names as provenance.
    const frame = ++el.lastFrame;
    const defineMember = (n: string, v: Value | undefined, s: Span): boolean => {
      const prev = memberSpans.get(n);
      if (prev) {
        el.reporter.error(
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
        const raw = el.eval(p.default, { scope });
        v =
          raw.kind === 'error'
            ? ERROR
            : (el.coerce(raw, schema[i]!.type, p.name.name, name, p.default.span, undefined) ?? ERROR);
      }
      v ??= ERROR;
      if (!defineMember(p.name.name, withSym(v, { frame, expr: { kind: 'param', name: p.name.name } }), p.name.span))
        return;
      params.set(p.name.name, v);
      if (v.kind === 'layer') children.set(p.name.name, v.layer);
    });
    if ([...params.values()].some((v) => v.kind === 'error')) return ERROR;

    const weights: WeightInstance[] = [];
    const buffers: BufferInstance[] = [];
    const forwards: ForwardDecl[] = [];
    let failed = false;
    const memberCtx: Ctx = { scope };
    const parts = new Map<string, ForwardDecl>();
    for (const m of decl.members) {
      if (m.kind === 'Forward' && m.name) {
        if (defineMember(m.name.name, undefined, m.name.span)) parts.set(m.name.name, m);
        continue;
      }
      if (m.kind === 'Forward') {
        if (forwards.length > 0)
          el.reporter.error(
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
        const shapeSyms: (Sym | undefined)[] = [];
        for (const dExpr of m.shape.dims) {
          const v = el.eval(dExpr, memberCtx);
          if (v.kind === 'error') {
            failed = true;
            continue;
          }
          if (v.kind === 'word') {
            el.unknownWord(v);
            failed = true;
            continue;
          }
          if (v.kind !== 'int' || v.value <= 0) {
            el.reporter.error(
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
          shapeSyms.push(v.sym?.frame === frame ? v.sym : undefined);
        }
        const init = el.evalInit(m.init, memberCtx);
        if (!init) failed = true;
        if (m.buffer) {
          const b: BufferInstance = {
            name: m.name.name,
            shape,
            init: init ?? { kind: 'zeros', args: {} },
            dtype: 'float32',
            span: m.span,
          };
          if (defineMember(m.name.name, undefined, m.name.span)) buffers.push(b);
          continue;
        }
        const w: WeightInstance = {
          name: m.name.name,
          shape,
          init: init ?? { kind: 'zeros', args: {} },
          frozen: m.frozen,
          noDecay: shape.length <= 1,
          ...(shapeSyms.some((x) => x !== undefined) ? { shapeSyms } : {}),
          span: m.span,
        };
        if (defineMember(m.name.name, undefined, m.name.span)) weights.push(w);
        continue;
      }
      // Layer member: a sub-layer, or a local constant when the value is not a layer.
      const v = el.eval(m.value, memberCtx);
      if (v.kind === 'error') failed = true;
      if (v.kind === 'word') {
        el.unknownWord(v);
        failed = true;
      }
      let value = v;
      if (v.kind === 'list' && v.items.length > 0 && v.items.some((i) => i.kind === 'layer' || i.kind === 'prim')) {
        const l = el.asLayer(v, m.value.span);
        value = l ? { kind: 'layer', layer: l } : ERROR;
      }
      if (v.kind === 'prim' && v.prim.kind === 'function') {
        const l = el.asLayer(v, m.value.span);
        value = l ? { kind: 'layer', layer: l } : ERROR;
      }
      if (value.kind === 'layer' && m.sparse) value.layer.sparse = true;
      if (m.sparse && value.kind !== 'layer' && value.kind !== 'error')
        el.reporter.error('SparseNotLayer', m.span, { name: m.name.name, found: typeOfValue(value) });
      if (defineMember(m.name.name, value, m.name.span) && value.kind === 'layer') {
        if (value.layer.kind === 'sequential') el.chains.delete(value.layer);
        children.set(m.name.name, value.layer);
      }
    }
    if (failed || duplicate) return ERROR;
    const stats = el.expansionOf(children, span);
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
      ...(buffers.length ? { buffers } : {}),
      children,
      sparse: false,
      frame,
      fingerprint,
      span,
    };
    el.layerStats.set(layer, stats);
    el.blockParts.set(layer, { scope, parts });
    const fwd = forwards[0];
    if (fwd) {
      let graph = el.graphs.get(fingerprint);
      if (!graph) {
        graph = el.elaborateForward(fwd, scope, layer, name, fingerprint);
        if (!graph) return ERROR;
        el.graphs.set(fingerprint, graph);
      }
      layer.forward = graph;
    }
    return { kind: 'layer', layer };
  } finally {
    el.instantiating.pop();
  }
}

export function evalInit(el: Elaborator, e: Expr | undefined, ctx: Ctx): InitSpec | undefined {
  if (!e) return { kind: 'zeros', args: {} };
  const v = el.eval(e, { ...ctx, settings: true });
  if (v.kind === 'error') return undefined;
  const kind = v.kind === 'word' ? v.name : v.kind === 'config' ? v.name : undefined;
  if (kind === undefined || !(kind in INIT_KINDS)) {
    el.reporter.error(
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
        el.reporter.error(
          'UnknownNamedArgument',
          v.span,
          { callee: kind, name: k },
          { help: [didYouMean(k, allowed)] },
        );
        return undefined;
      }
      if (!isNumber(x)) {
        el.reporter.error('WrongArgumentType', v.span, {
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

/** `syms`, when given, receives each axis's provenance (undefined for symbols and constants). */
export function evalShape(
  el: Elaborator,
  t: TensorType,
  ctx: Ctx,
  what: string,
  syms?: (Sym | undefined)[],
): Shape | undefined {
  const dims: Dim[] = [];
  let ok = true;
  for (const e of t.dims) {
    const v = el.eval(e, ctx);
    if (v.kind === 'error') {
      ok = false;
      continue;
    }
    if (v.kind === 'word') {
      el.unknownWord(v);
      ok = false;
      continue;
    }
    const d = toDim(v);
    if (!d || (d.isConstant() && (!isExactInteger(d) || (d.asInt() ?? 0) <= 0))) {
      el.reporter.error('NonIntegerDim', e.span, {
        what: `a dimension of ${what}`,
        value: v.kind === 'dim' ? v.dim.toString() : formatValue(v),
      });
      ok = false;
      continue;
    }
    dims.push(d);
    syms?.push(v.kind === 'int' ? v.sym : undefined);
  }
  return ok ? dims : undefined;
}
