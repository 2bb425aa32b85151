/**
 * Elaboration pass: interfaces and named forwards (parts).
 * In: a block instance passed where a parameter's type is an `interface`, or a call
 * `layer.part(x, i = 2)` of a named forward inside a forward body. Out: whether the instance
 * provides every parameter (or constant member) and forward the interface names, with matching
 * types and signatures (NVC4021 otherwise, at the argument, with the requirement as a label);
 * for a part call, the part's body traced inline into the caller's graph (the ops are those the
 * caller would get by applying the part's layers itself, under the same paths), its tensor
 * arguments unified with the part's declared shapes and its result checked against the declared
 * return shape. Holds afterwards: a block body that reads a parameter through an interface can
 * use only what the interface declares (NVC2006 otherwise), so every block that provides the
 * interface fits it.
 */
import type { ForwardDecl, ForwardRequirement, InterfaceDecl, NamedType, Param } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import { didYouMean } from '../report.js';
import { Scope } from '../scope.js';
import { type Dim, formatShape, type Shape, unify } from '../symbolic.js';
import { ERROR, type LayerInstance, type Value } from '../values.js';
import { type Ctx, dimValue } from './common.js';
import type { Elaborator } from './index.js';

/** What a block instance keeps for its parts: its body scope and its named forwards. */
export interface BlockParts {
  readonly scope: Scope;
  readonly parts: ReadonlyMap<string, ForwardDecl>;
}

/** `forward stage(x: [4 dims], i: int) -> [4 dims]`, as messages show a signature. */
function signatureText(name: string | undefined, params: readonly Param[], returns: ForwardDecl['returns']): string {
  const kind = (p: Param) =>
    p.type.kind === 'TensorType' ? `[${p.type.dims.length} dims]` : typeText(p.type as NamedType);
  const list = (ps: readonly Param[]) => ps.map((p) => `${p.name.name}: ${kind(p)}`).join(', ');
  const out = returns.kind === 'TensorType' ? `[${returns.dims.length} dims]` : `(${list(returns.outputs)})`;
  return `\`forward${name ? ` ${name}` : ''}(${list(params)}) -> ${out}\``;
}

function typeText(t: NamedType): string {
  return `${t.name.name}${t.isList ? '[]' : ''}`;
}

/** A value's fit to a named type of an interface parameter (`int`, `int[]`, `float`, ...). */
function fitsType(v: Value, t: NamedType): boolean {
  const one = (x: Value): boolean => {
    switch (t.name.name) {
      case 'int':
        return x.kind === 'int';
      case 'float':
        return x.kind === 'int' || x.kind === 'float';
      case 'bool':
        return x.kind === 'bool';
      case 'string':
        return x.kind === 'string';
      default:
        return x.kind === 'layer';
    }
  };
  if (t.isList) return v.kind === 'list' && v.items.every(one);
  return one(v);
}

/** A parameter or constant member of a block instance by name. */
export function memberValue(el: Elaborator, layer: LayerInstance, name: string): Value | undefined {
  const param = layer.params.get(name);
  if (param) return param;
  const local = el.blockParts.get(layer)?.scope.lookupLocal(name);
  return local && local.value.kind !== 'layer' ? local.value : undefined;
}

function sameShapeKinds(a: readonly Param[], b: readonly Param[]): boolean {
  return (
    a.length === b.length &&
    a.every((p, i) => {
      const q = b[i]!;
      if (p.name.name !== q.name.name || p.type.kind !== q.type.kind) return false;
      if (p.type.kind === 'TensorType') return p.type.dims.length === (q.type as typeof p.type).dims.length;
      return typeText(p.type) === typeText(q.type as NamedType);
    })
  );
}

function sameReturns(a: ForwardDecl['returns'], b: ForwardRequirement['returns']): boolean {
  if (a.kind === 'TensorType' && b.kind === 'TensorType') return a.dims.length === b.dims.length;
  if (a.kind === 'NamedOutputs' && b.kind === 'NamedOutputs') return sameShapeKinds(a.outputs, b.outputs);
  return false;
}

/**
 * Whether `layer` provides `iface`: every interface parameter as a parameter or constant member
 * of the same type, every required forward with the same parameters and ranks. Reports NVC4021
 * at `span` for the first requirement it misses.
 */
export function providesInterface(el: Elaborator, layer: LayerInstance, iface: InterfaceDecl, span: Span): boolean {
  const block = layer.typeName;
  const name = iface.name.name;
  const required = (at: Span) => ({ labels: [{ span: at, message: `required by \`${name}\` here` }] });
  if (layer.kind !== 'block' || !layer.decl) {
    el.reporter.error('InterfaceNeedsBlock', span, { iface: name, found: block }, required(iface.name.span));
    return false;
  }
  for (const p of iface.params) {
    if (p.type.kind !== 'NamedType') continue;
    const v = memberValue(el, layer, p.name.name);
    const member = p.name.name;
    if (v === undefined) {
      el.reporter.error(
        'InterfaceMissingMember',
        span,
        { block, member, type: typeText(p.type), iface: name },
        required(p.span),
      );
      return false;
    }
    if (!fitsType(v, p.type)) {
      el.reporter.error(
        'InterfaceMemberType',
        span,
        { block, member, type: typeText(p.type), iface: name },
        required(p.span),
      );
      return false;
    }
  }
  const forwards = layer.decl.members.filter((m): m is ForwardDecl => m.kind === 'Forward');
  for (const f of iface.forwards) {
    const want = signatureText(f.name?.name, f.params, f.returns);
    const found = forwards.find((m) => m.name?.name === f.name?.name);
    if (!found) {
      el.reporter.error('InterfaceMissingForward', span, { block, forward: want, iface: name }, required(f.span));
      return false;
    }
    if (!sameShapeKinds(found.params, f.params) || !sameReturns(found.returns, f.returns)) {
      el.reporter.error(
        'InterfaceForwardSignature',
        span,
        { block, found: signatureText(found.name?.name, found.params, found.returns), expected: want, iface: name },
        { labels: [...required(f.span).labels, { span: found.span, message: `\`${block}\` declares this` }] },
      );
      return false;
    }
  }
  return true;
}

/** NVC2006 when a block body reads, through an interface, a member the interface does not declare. */
export function checkInterfaceMember(el: Elaborator, iface: InterfaceDecl, prop: string, span: Span): boolean {
  const names = [
    ...iface.params.map((p) => p.name.name),
    ...iface.forwards.flatMap((f) => (f.name ? [f.name.name] : [])),
  ];
  if (names.includes(prop)) return true;
  el.reporter.error(
    'UnknownMember',
    span,
    { owner: `interface \`${iface.name.name}\``, name: prop },
    {
      help: [
        didYouMean(prop, names),
        `\`${iface.name.name}\` provides: ${names.join(', ') || '(nothing)'}; ` +
          `add \`${prop}\` to the interface to use it`,
      ],
    },
  );
  return false;
}

/**
 * `layer.part(x, i = 2)` inside a forward body: binds the part's parameters (tensors unified with
 * the declared shapes, constants coerced to their types), runs its body in the caller's graph
 * with the block's members under their paths there, and checks the result's declared shape.
 */
export function callPart(
  el: Elaborator,
  layer: LayerInstance,
  part: ForwardDecl,
  args: readonly { name?: string; value: Value; span: Span }[],
  span: Span,
  ctx: Ctx,
): Value {
  const callee = `${layer.typeName}.${part.name?.name ?? 'forward'}`;
  const g = ctx.graph;
  const info = el.blockParts.get(layer);
  const base = g?.paths.get(layer);
  if (!g || !info || base === undefined) {
    el.reporter.error('FunctionAppliedOutsideForward', span, { name: callee });
    return ERROR;
  }
  for (const [k, c] of layer.children) if (!g.paths.has(c)) g.paths.set(c, `${base}.${k}`);
  if (readsOwnState(el, layer, part)) return ERROR;

  // Arguments by parameter: positional first, then named.
  const given = new Map<string, { value: Value; span: Span }>();
  let position = 0;
  for (const a of args) {
    const p = a.name !== undefined ? part.params.find((x) => x.name.name === a.name) : part.params[position++];
    if (!p) {
      el.reporter.error(
        a.name !== undefined ? 'UnknownNamedArgument' : 'TooManyArguments',
        a.span,
        ...((a.name !== undefined
          ? [
              { callee, name: a.name },
              {
                help: [
                  didYouMean(
                    a.name,
                    part.params.map((x) => x.name.name),
                  ),
                ],
              },
            ]
          : [{ callee, max: part.params.length, count: args.length }]) as [never]),
      );
      return ERROR;
    }
    given.set(p.name.name, { value: a.value, span: a.span });
  }
  const scope = new Scope(info.scope, info.scope.moduleScope, 'forward');
  // Constants first: declared shapes may use them (`dims[i]`).
  for (const p of part.params) {
    if (p.type.kind === 'TensorType') continue;
    const a = given.get(p.name.name);
    const raw = a?.value ?? (p.default ? el.eval(p.default, { scope: info.scope }) : undefined);
    if (raw === undefined) {
      el.reporter.error('MissingArgument', span, { callee, name: p.name.name });
      return ERROR;
    }
    const v = el.coerce(raw, el.typeSpec(p.type, info.scope), p.name.name, callee, a?.span ?? span, undefined);
    if (!v) return ERROR;
    scope.define(p.name.name, v, p.name.span);
  }
  // Tensors: unify the declared shapes (their capitalised symbols free) with the arguments'.
  const patterns: Shape[] = [];
  const actual: Shape[] = [];
  const tensorParams = part.params.filter((p) => p.type.kind === 'TensorType');
  const symbols = new Map<string, Dim>();
  const patternScope = new Scope(scope, scope.moduleScope, 'forward');
  for (const p of tensorParams) {
    const a = given.get(p.name.name);
    if (!a) {
      el.reporter.error('MissingArgument', span, { callee, name: p.name.name });
      return ERROR;
    }
    if (a.value.kind === 'error') return ERROR;
    if (a.value.kind !== 'tensor' || !a.value.shape) {
      if (a.value.kind !== 'tensor')
        el.reporter.error('WrongArgumentType', a.span, {
          name: p.name.name,
          callee,
          expected: 'a tensor',
          found: a.value.kind,
        });
      return ERROR;
    }
    const pattern = el.evalShape(
      p.type as Extract<Param['type'], { kind: 'TensorType' }>,
      { scope: patternScope, signature: symbols },
      `input \`${p.name.name}\``,
    );
    if (!pattern) return ERROR;
    patterns.push(pattern);
    actual.push(a.value.shape);
  }
  const env = new Map<string, Dim>();
  const bad = unify(patterns, actual, env);
  if (bad !== undefined) {
    const p = tensorParams[bad]!;
    el.reporter.error(
      'ArgumentShapeMismatch',
      given.get(p.name.name)!.span,
      { callee, param: p.name.name, expected: formatShape(patterns[bad]!), found: formatShape(actual[bad]!) },
      { labels: [{ span: p.span, message: 'declared here' }] },
    );
    return ERROR;
  }
  for (const [sym, dim] of env) scope.define(sym, dimValue(dim), part.span);
  for (const p of tensorParams) scope.define(p.name.name, given.get(p.name.name)!.value, p.name.span, true);

  const result = el.execBlock(part.body, { scope, graph: g });
  const ret = result.returned;
  if (!ret) {
    el.reporter.error('ForwardWithoutReturn', part.returns.span, { block: callee }, { label: 'never returned' });
    return ERROR;
  }
  if (ret.value.kind !== 'tensor' || !ret.value.shape) return ret.value.kind === 'error' ? ERROR : ret.value;
  if (part.returns.kind === 'TensorType') {
    const declared = el.evalShape(
      part.returns,
      { scope: new Scope(scope, scope.moduleScope, 'forward'), signature: new Map() },
      'the output',
    );
    if (!declared) return ERROR;
    if (unify([declared], [ret.value.shape], new Map(env)) !== undefined) {
      el.reporter.error(
        'ReturnShapeMismatch',
        ret.span,
        { found: formatShape(ret.value.shape), expected: formatShape(declared) },
        { labels: [{ span: part.returns.span, message: `declared ${formatShape(declared)}` }] },
      );
      return ERROR;
    }
  }
  return { ...ret.value, span };
}

/**
 * NVC2011 for each name in the part's body that is a weight or buffer of its block: the body runs
 * in the caller's graph, where such a name would silently resolve to the caller's own weight of
 * that name (or to nothing), so it is refused instead. Returns whether any was reported.
 */
function readsOwnState(el: Elaborator, layer: LayerInstance, part: ForwardDecl): boolean {
  const owned = new Map<string, { what: string; span: Span }>();
  for (const w of layer.weights) owned.set(w.name, { what: 'weight', span: w.span });
  for (const b of layer.buffers ?? []) owned.set(b.name, { what: 'buffer', span: b.span });
  for (const p of part.params) owned.delete(p.name.name);
  if (owned.size === 0) return false;
  let reported = false;
  // The AST is plain data: walk every object below the body, iteratively (its depth is bounded by
  // the parser's nesting limit, but an explicit stack keeps this independent of it).
  const stack: unknown[] = [part.body];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push(node[i]);
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    const record = node as { kind?: unknown; name?: unknown; span?: Span };
    if (record.kind === 'Name' && typeof record.name === 'string' && owned.has(record.name) && record.span) {
      const { what, span } = owned.get(record.name)!;
      el.reporter.error(
        'PartReadsWeight',
        record.span,
        { part: part.name?.name ?? 'forward', what, name: record.name },
        { labels: [{ span, message: 'declared here' }] },
      );
      reported = true;
    }
    const children = Object.entries(node).filter(([key]) => key !== 'span');
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]![1]);
  }
  return reported;
}

/** The part a call `obj.name(...)` names, when `obj` is a block instance with that named forward. */
export function partOf(el: Elaborator, layer: LayerInstance, name: string): ForwardDecl | undefined {
  return el.blockParts.get(layer)?.parts.get(name);
}
