/**
 * Elaboration pass: name lookup.
 * In: a name and the `Ctx` it is read in (scope chain, forward graph, settings/signature modes).
 * Out: its `Value` — a weight as a `param` op in the current graph (once per graph), a local,
 * a top-level constant (evaluated once, cycles reported), a word, or ERROR with NVC2001.
 * Holds afterwards: each top-level constant is in `el.constValues` and is never evaluated again.
 */
import type { Span } from '../../dsl/span.js';
import { PRIMITIVES, primitivesForTorchName, TORCH_NAMESPACES } from '../primitives/index.js';
import { didYouMean } from '../report.js';
import { Scope, type TopBinding } from '../scope.js';
import { dimConst, dimSym } from '../symbolic.js';
import { ERROR, type Value } from '../values.js';
import { type Ctx, BUILTINS, ZERO } from './common.js';
import type { Elaborator } from './index.js';

/** Reports a word (an unresolved name) as NVC2001 and returns ERROR. */
export function unknownWord(
  el: Elaborator,
  v: Value & { kind: 'word' },
  extraCandidates: readonly string[] = [],
): Value {
  const scope = el.wordScopes.get(v);
  const head = v.name.split('.')[0]!;
  // `nn.GELU`, `torch.cat`, `F.gelu`: a PyTorch spelling, reported whole with the primitive it means.
  const torchSpelling = v.name.includes('.') && TORCH_NAMESPACES.has(head);
  reportUnknownName(el, torchSpelling ? v.name : head, v.span, [
    ...(scope ? el.visibleNames(scope) : []),
    ...extraCandidates,
  ]);
  return ERROR;
}

/**
 * NVC2001 for `name`: with its import when a project file or a std module declares it, the
 * primitive a PyTorch name (`nn.GELU`, `Dropout`) stands for, or else the closest candidate.
 */
export function reportUnknownName(el: Elaborator, name: string, span: Span, candidates: readonly string[]): void {
  if (name.includes('.')) {
    el.reporter.error('UnknownName', span, { name }, { help: [torchHelp(name) ?? PRIMITIVES_DOC_HELP] });
    return;
  }
  const module = el.importHint(name, span.file);
  if (module !== undefined) el.reporter.error('UnknownNameNotImported', span, { name, module });
  else el.reporter.error('UnknownName', span, { name }, { help: [torchHelp(name) ?? didYouMean(name, candidates)] });
}

const PRIMITIVES_DOC_HELP = 'docs/primitives.md lists the built-in layers and functions with their PyTorch equivalents';

/** "did you mean `gelu`? (PyTorch's `nn.GELU`)" when the name is a PyTorch name of a record. */
function torchHelp(written: string): string | undefined {
  const found = primitivesForTorchName(written);
  if (!found.length) return undefined;
  const names = found.map((r) => `\`${r.name}\``);
  const choice = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
  return `did you mean ${choice}? (PyTorch's \`${written}\`; docs/primitives.md)`;
}

export function visibleNames(scope: Scope): string[] {
  return [...scope.allNames(), ...PRIMITIVES.keys(), ...BUILTINS];
}

export function lookupName(el: Elaborator, name: string, span: Span, ctx: Ctx): Value {
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
  if (top) return el.topValue(top, span);
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
  el.wordScopes.set(word, ctx.scope);
  return word;
}

export function topValue(el: Elaborator, b: TopBinding, span: Span): Value {
  switch (b.kind) {
    case 'failed':
      return ERROR;
    case 'block':
      return { kind: 'block', decl: b.decl, module: b.module };
    case 'const': {
      const cached = el.constValues.get(b);
      if (cached) return cached;
      if (el.evaluatingConsts.has(b)) {
        el.reporter.error(
          'RecursiveDefinition',
          span,
          { name: b.decl.name.name },
          { labels: [{ span: b.decl.name.span, message: 'defined here' }] },
        );
        return ERROR;
      }
      el.evaluatingConsts.add(b);
      const scope = new Scope(undefined, el.scopes.get(b.module)!, 'module');
      let v = el.eval(b.decl.value, { scope });
      if (b.decl.type && v.kind !== 'error')
        v =
          el.coerce(v, el.typeSpec(b.decl.type, scope), b.decl.name.name, 'const', b.decl.value.span, undefined) ??
          ERROR;
      el.evaluatingConsts.delete(b);
      el.constValues.set(b, v);
      return v;
    }
    default:
      return { kind: 'word', name: b.decl.name.name, span };
  }
}
