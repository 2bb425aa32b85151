/**
 * Elaboration pass: shapes and costs.
 * In: a primitive or layer and the shapes of its inputs. Out: the output shape(s) and MACs by
 * the primitive records' shape rules (symbolic dims unified), emitted as ops when tracing, and a
 * graph's total MACs (cached per graph). Holds afterwards: shape errors are reported once, at the
 * call, with the producers of the offending inputs labelled.
 */
import type { Span } from '../../dsl/span.js';
import type { ForwardGraph, ParamExpr } from '../ir/ir.js';
import type { PrimitiveDef, ShapeError } from '../primitives/index.js';
import { closest, semantic } from '../report.js';
import { type Dim, dimAdd, dimSubst, formatShape, type Shape, unify } from '../symbolic.js';
import { ERROR, symOf, typeOfValue, valueToJson, type LayerInstance, type Value } from '../values.js';
import { type Ctx, ZERO } from './common.js';
import type { Elaborator } from './index.js';

export function applyPrim(
  el: Elaborator,
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
    el.reporter.error('FunctionAppliedOutsideForward', span, { name: prim.name });
    return ERROR;
  }
  const variadic = prim.inputs[0]?.endsWith('...');
  const inputs: (Value & { kind: 'tensor' })[] = [];
  if (variadic) {
    const first = tensorArgs[0];
    if (first?.kind !== 'list') {
      if (first?.kind === 'error') return ERROR;
      el.reporter.error('WrongArgumentType', span, {
        name: prim.inputs[0]!.replace('...', ''),
        callee: prim.name,
        expected: 'a list of tensors',
        found: first ? typeOfValue(first) : 'nothing',
      });
      return ERROR;
    }
    for (const it of first.items) {
      const t = el.asTensorInput(it, ctx, span);
      if (!t) return ERROR;
      inputs.push(t);
    }
  } else {
    if (tensorArgs.length < prim.inputs.length) {
      el.reporter.error(
        'MissingArgument',
        span,
        { callee: prim.name, name: prim.inputs[tensorArgs.length]! },
        { help: [`\`${prim.name}\` takes ${prim.inputs.length} tensor input(s): ${prim.inputs.join(', ')}`] },
      );
      return ERROR;
    }
    for (let i = 0; i < tensorArgs.length; i++) {
      const t = el.asTensorInput(tensorArgs[i]!, ctx, argSpans?.[i] ?? span);
      if (!t) return ERROR;
      inputs.push(t);
    }
  }
  let params: ReadonlyMap<string, Value>;
  if (fixedParams) params = fixedParams;
  else {
    const p = el.bindPrimParams(prim, restPositional, named, span, span);
    if (!p) return ERROR;
    params = p;
  }
  if (inputs.some((t) => !t.shape)) return { kind: 'tensor', id: -1, shape: undefined, span };
  const shapes = inputs.map((t) => t.shape!);
  const r = prim.shape(shapes, params);
  if ('error' in r) {
    el.reportShapeError(prim, r, inputs, span, operator);
    return { kind: 'tensor', id: -1, shape: undefined, span };
  }
  const attrs = Object.fromEntries([...params].map(([k, v]) => [k, valueToJson(v)]));
  const exprs = ownExprs(params, g.owner.frame);
  const macs = prim.macs?.(shapes, r, params) ?? ZERO;
  const id = g.emit({
    op: prim.irName,
    ...(layerPath !== undefined ? { target: layerPath } : {}),
    inputs: inputs.map((t) => t.id),
    ...(prim.inputs.length > 1 && !variadic ? { ports: prim.inputs.slice(0, inputs.length) } : {}),
    attrs,
    ...(exprs ? { exprs } : {}),
    shape: r,
    macs,
    sparse,
    span,
  });
  return { kind: 'tensor', id, shape: r, span };
}

/** The provenance of the values computed in the block instantiation `frame`, by name. */
export function ownExprs(
  values: ReadonlyMap<string, Value>,
  frame: number | undefined,
): Record<string, ParamExpr> | undefined {
  const out: Record<string, ParamExpr> = {};
  for (const [k, v] of values) {
    const sym = symOf(v);
    if (sym && sym.frame === frame) out[k] = sym.expr;
  }
  return Object.keys(out).length ? out : undefined;
}

export function reportShapeError(
  el: Elaborator,
  _prim: PrimitiveDef,
  r: ShapeError,
  inputs: readonly (Value & { kind: 'tensor' })[],
  span: Span,
  operator?: string,
): void {
  if (operator) {
    el.reporter.error(
      'NoBroadcast',
      span,
      { op: operator, left: formatShape(inputs[0]!.shape!), right: formatShape(inputs[1]!.shape!) },
      { labels: el.producerLabels(inputs, undefined, span) },
    );
    return;
  }
  el.reporter.raise(r.error, span, { labels: el.producerLabels(inputs, r.input, span), help: [r.help] });
}

/** Output shape and MACs of applying a layer to input shapes, without emitting ops. */
export function layerShape(
  el: Elaborator,
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
        macs: dimSubst(el.totalMacs(g), env),
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
            help:
              `take \`${c.typeName}\` out of the chain, call it on its own and pick an output by name ` +
              `(\`let r = ...\`, then \`r.${several[0]!.name}\`)`,
            path: k,
          };
        }
        const passNamed =
          c.kind === 'block' || c.kind === 'list' || c.kind === 'sequential' ? named : new Map<string, Shape>();
        const r = el.layerShape(c, [cur, ...inputs.slice(1)], passNamed);
        if ('error' in r) return { ...r, path: r.path ? `${k}.${r.path}` : k };
        cur = r.shape;
        macs = dimAdd(macs, r.macs);
      }
      return { shape: cur, macs };
    }
  }
}

export function totalMacs(el: Elaborator, g: ForwardGraph): Dim {
  let m = el.graphMacs.get(g.key);
  if (!m) {
    m = g.ops.reduce((acc, op) => dimAdd(acc, op.macs), ZERO);
    el.graphMacs.set(g.key, m);
  }
  return m;
}
