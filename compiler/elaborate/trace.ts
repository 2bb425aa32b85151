/**
 * Elaboration pass: graph tracing of forward bodies.
 * In: a block instance and its `forward` declaration. Out: a checked `ForwardGraph` (SSA ops
 * with symbolic shapes, MACs and origin spans) stored in `el.graphs` by fingerprint; applying a
 * layer inside a forward body emits its ops (or a call to the callee's graph). Holds afterwards:
 * the body's result matches the declared signature, or a diagnostic says where it does not.
 */
import type { ForwardDecl, Stmt, TensorType } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import type { ForwardGraph, GraphValue, ParamExpr } from '../ir/ir.js';
import { didYouMean, semantic } from '../report.js';
import { Scope } from '../scope.js';
import { type Dim, formatShape, shapesEqual } from '../symbolic.js';
import { ERROR, isNumber, type LayerInstance, type Sym, typeOfValue, type Value } from '../values.js';
import { type Ctx, GraphBuilder, ZERO, shapeHelp } from './common.js';
import type { Elaborator } from './index.js';

export function elaborateForward(
  el: Elaborator,
  fwd: ForwardDecl,
  blockScope: Scope,
  owner: LayerInstance,
  blockName: string,
  key: string,
): ForwardGraph | undefined {
  // A forward reads weights and buffers alike (a `param` op); only training tells them apart.
  const g = new GraphBuilder(owner, new Map([...owner.weights, ...(owner.buffers ?? [])].map((w) => [w.name, w])));
  const scope = new Scope(blockScope, blockScope.moduleScope, 'forward');
  const signature = new Map<string, Dim>();
  const inputs: GraphValue[] = [];
  let ok = true;
  for (const p of fwd.params) {
    if (p.type.kind !== 'TensorType') {
      el.reporter.error('WrongArgumentType', p.type.span, {
        name: p.name.name,
        callee: `${blockName}.forward`,
        expected: 'a tensor type such as `[B, H, W, C]`',
        found: 'a named type',
      });
      ok = false;
      continue;
    }
    const shapeSyms: (Sym | undefined)[] = [];
    const shape = el.evalShape(p.type, { scope, signature }, `input \`${p.name.name}\``, shapeSyms);
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
    inputs.push({ name: p.name.name, id, shape, ...ownShapeExprs(shapeSyms, owner.frame) });
    const prev = scope.define(p.name.name, { kind: 'tensor', id, shape, span: p.name.span }, p.name.span, true);
    if (prev)
      el.reporter.error(
        'DuplicateDefinition',
        p.name.span,
        { name: p.name.name, scope: 'forward' },
        { labels: [{ span: prev, message: 'first defined here' }] },
      );
  }
  if (!ok) return undefined;
  const ctx: Ctx = { scope, graph: g };
  const result = el.execBlock(fwd.body, ctx);
  // Declared outputs.
  const declared: { name: string; type: TensorType; span: Span }[] =
    fwd.returns.kind === 'TensorType'
      ? [{ name: 'out', type: fwd.returns, span: fwd.returns.span }]
      : fwd.returns.outputs.map((o) => ({ name: o.name.name, type: o.type as TensorType, span: o.span }));
  const outputs: GraphValue[] = [];
  if (!result.returned) {
    el.reporter.error(
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
    const wantSyms: (Sym | undefined)[] = [];
    const want = el.evalShape(d.type, { scope }, `the output \`${d.name}\``, wantSyms);
    if (!want) return undefined;
    let got: Value | undefined;
    if (fwd.returns.kind === 'TensorType') got = ret.value;
    else if (ret.value.kind === 'record') got = ret.value.entries.get(d.name);
    if (got === undefined || got.kind !== 'tensor') {
      if (got?.kind === 'error') return undefined;
      el.reporter.raise(
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
      el.reporter.error(
        'ReturnShapeMismatch',
        ret.span,
        { found: formatShape(got.shape), expected: formatShape(want) },
        {
          labels: [
            { span: d.span, message: `declared ${formatShape(want)}` },
            ...(got.span.file === ret.span.file && (got.span.start !== ret.span.start || got.span.end !== ret.span.end)
              ? [{ span: got.span, message: `this produces ${formatShape(got.shape)}` }]
              : []),
          ],
        },
      );
      return undefined;
    }
    outputs.push({ name: d.name, id: got.id, shape: got.shape, ...ownShapeExprs(wantSyms, owner.frame) });
  }
  return { block: blockName, key, inputs, outputs, ops: g.ops, span: fwd.span };
}

/** `shapeExprs` of an annotated shape: the axes computed in the instantiation `frame`. */
function ownShapeExprs(
  syms: readonly (Sym | undefined)[],
  frame: number | undefined,
): { shapeExprs?: (ParamExpr | null)[] } {
  const exprs = syms.map((s) => (s && s.frame === frame ? s.expr : null));
  return exprs.some((e) => e !== null) ? { shapeExprs: exprs } : {};
}

export function execBlock(
  el: Elaborator,
  body: readonly Stmt[],
  ctx: Ctx,
): { returned?: { value: Value; span: Span } } {
  for (const s of body) {
    switch (s.kind) {
      case 'Let': {
        const v = el.eval(s.value, ctx);
        let value = v;
        if (v.kind === 'word') value = el.unknownWord(v);
        if (s.type && value.kind === 'tensor' && value.shape) {
          const want = el.evalShape(s.type, ctx, `\`${s.name.name}\``);
          if (want && !shapesEqual(want, value.shape)) {
            el.reporter.error(
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
          el.reporter.error(
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
        const v = el.eval(s.value, ctx);
        const value = v.kind === 'word' ? el.unknownWord(v) : v;
        if (!ctx.scope.assign(s.name.name, value)) {
          const local = ctx.scope.lookupLocal(s.name.name);
          if (local)
            el.reporter.error(
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
            el.reporter.error(
              'AssignUndeclared',
              s.name.span,
              { name: s.name.name },
              { help: [didYouMean(s.name.name, el.visibleNames(ctx.scope))] },
            );
        }
        break;
      }
      case 'Return':
        return {
          returned: {
            value: (() => {
              const v = el.eval(s.value, ctx);
              return v.kind === 'word' ? el.unknownWord(v) : v;
            })(),
            span: s.value.span,
          },
        };
      case 'ExprStmt':
        el.eval(s.expr, ctx);
        break;
      case 'For': {
        const range = el.eval(s.range, ctx);
        if (range.kind === 'error') break;
        if (range.kind !== 'list') {
          el.reporter.error('ForRangeNotList', s.range.span, { found: typeOfValue(range) });
          break;
        }
        for (const item of range.items) {
          const scope = new Scope(ctx.scope, ctx.scope.moduleScope, 'loop');
          scope.define(s.variable.name, item, s.variable.span);
          const r = el.execBlock(s.body, { ...ctx, scope });
          if (r.returned) return r;
        }
        break;
      }
    }
  }
  return {};
}

export function asTensorInput(
  el: Elaborator,
  v: Value,
  ctx: Ctx,
  span: Span,
): (Value & { kind: 'tensor' }) | undefined {
  if (v.kind === 'tensor') return v;
  const g = ctx.graph!;
  if (isNumber(v) || v.kind === 'dim') {
    const sym = v.kind === 'dim' ? undefined : v.sym;
    const id = g.emit({
      op: 'const',
      inputs: [],
      attrs: { value: v.kind === 'dim' ? v.dim.toString() : v.value },
      ...(sym && sym.frame === g.owner.frame ? { exprs: { value: sym.expr } } : {}),
      shape: [],
      macs: ZERO,
      sparse: false,
      span,
    });
    return { kind: 'tensor', id, shape: [], span };
  }
  if (v.kind === 'word') el.unknownWord(v);
  else if (v.kind !== 'error')
    el.reporter.error('WrongArgumentType', span, {
      name: 'input',
      callee: 'the operation',
      expected: 'a tensor',
      found: typeOfValue(v),
    });
  return undefined;
}

export function producerLabels(
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

export function applyLayer(
  el: Elaborator,
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
    const t = el.asTensorInput(p.value, ctx, p.span);
    if (!t) return ERROR;
    tensors.push(t);
  }
  const namedTensors = new Map<string, Value & { kind: 'tensor' }>();
  for (const [k, a] of named) {
    const t = el.asTensorInput(a.value, ctx, a.span);
    if (!t) return ERROR;
    namedTensors.set(k, t);
  }
  if (layer.kind === 'primitive' || layer.kind === 'function') {
    if (named.size > 0) {
      const [k, a] = [...named][0]!;
      el.reporter.error(
        'UnknownNamedArgument',
        a.nameSpan ?? a.span,
        { callee: layer.typeName, name: k },
        { help: ['primitive layers take their tensor input positionally'] },
      );
      return ERROR;
    }
    return el.applyPrim(
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
  const r = el.layerShape(
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
      el.reporter.error(
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
      el.reporter.raise(problem, span, {
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
