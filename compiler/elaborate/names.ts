/**
 * Elaboration pass: the names of blocks that no model instantiates.
 * In: a block declaration and the module scope it is declared in. Out: every name it uses that
 * nothing binds (a parameter, member, `let`, loop or repeat variable, dimension symbol of a
 * tensor type, top-level declaration or import, primitive, builtin, initialiser, or an enum word
 * of a primitive argument such as `padding = same`), reported as NVC2001 like an instantiated
 * block's. Holds afterwards: an unused block with a misspelt name is no longer "ok"; names are
 * all this checks, since shapes and argument values need the arguments an instantiation brings.
 */
import type { BlockDecl, Expr, Stmt, TensorType } from '../../dsl/ast.js';
import type { Span } from '../../dsl/span.js';
import { PRIMITIVES, TORCH_NAMESPACES } from '../primitives/index.js';
import { STD_DIR } from '../loader.js';
import type { ModuleScope } from '../scope.js';
import { BUILTINS, INIT_KINDS } from './common.js';
import type { Elaborator } from './index.js';
import { reportUnknownName } from './lookup.js';

export interface UnboundName {
  readonly name: string;
  readonly span: Span;
  /** Every name bound where it was used (for did-you-mean). */
  readonly candidates: readonly string[];
}

/** Words a primitive argument may be (`padding = same`, `pooling = batch`). */
const ENUM_WORDS: ReadonlySet<string> = new Set(
  [...PRIMITIVES.values()].flatMap((r) => r.params.flatMap((p) => p.enumValues ?? [])),
);

/** `a.b.c` for a chain of names, else undefined. */
function dottedName(e: Expr): string | undefined {
  if (e.kind === 'Name') return e.name;
  if (e.kind !== 'Member') return undefined;
  const object = dottedName(e.object);
  return object === undefined ? undefined : `${object}.${e.property.name}`;
}

/** The names `decl` uses that nothing binds, in source order. */
export function unboundNames(decl: BlockDecl, module: ModuleScope): UnboundName[] {
  const found: UnboundName[] = [];
  const global = new Set<string>([...module.names.keys(), ...PRIMITIVES.keys(), ...BUILTINS]);
  const blockNames = new Set<string>([
    ...decl.params.map((p) => p.name.name),
    ...decl.members.flatMap((m) => (m.kind === 'Forward' ? [] : [m.name.name])),
  ]);

  const use = (name: string, span: Span, bound: ReadonlySet<string>) => {
    if (name === '' || bound.has(name) || blockNames.has(name) || global.has(name)) return;
    found.push({ name, span, candidates: [...bound, ...blockNames, ...global] });
  };

  /** Dimension symbols (capitalised names) are bound by the tensor types they appear in. */
  const tensorType = (t: TensorType, bound: Set<string>) => {
    for (const dim of t.dims) expr(dim, bound, true);
  };

  const expr = (e: Expr, bound: Set<string>, inType = false, argValue = false): void => {
    switch (e.kind) {
      case 'Name':
        if (inType && /^[A-Z]/.test(e.name)) {
          bound.add(e.name);
          return;
        }
        if (argValue && (ENUM_WORDS.has(e.name) || e.name in INIT_KINDS)) return;
        use(e.name, e.span, bound);
        return;
      case 'Number':
      case 'String':
      case 'Bool':
      case 'Missing':
        return;
      case 'List':
        for (const item of e.items) expr(item, bound, inType);
        return;
      case 'Record':
        for (const s of e.entries) expr(s.value, bound);
        return;
      case 'Range':
        expr(e.from, bound);
        expr(e.to, bound);
        return;
      case 'Binary':
        expr(e.left, bound, inType);
        expr(e.right, bound, inType);
        return;
      case 'Unary':
        expr(e.operand, bound, inType);
        return;
      case 'Call':
        expr(e.callee, bound);
        for (const a of e.args) expr(a.value, bound, false, a.name !== undefined);
        return;
      case 'Member': {
        // `nn.GELU`: a PyTorch spelling, reported whole (lookup.ts says which primitive it means).
        const dotted = dottedName(e);
        const head = dotted?.split('.')[0];
        if (dotted && head && TORCH_NAMESPACES.has(head) && !bound.has(head) && !global.has(head)) {
          found.push({ name: dotted, span: e.span, candidates: [] });
          return;
        }
        expr(e.object, bound, inType);
        return;
      }
      case 'Index':
        expr(e.object, bound, inType);
        expr(e.index, bound);
        return;
      case 'Pipe':
        expr(e.value, bound);
        expr(e.fn, bound);
        return;
      case 'Repeat': {
        expr(e.count, bound);
        const inner = new Set(bound);
        if (e.index) inner.add(e.index.name);
        expr(e.body, inner);
        return;
      }
      case 'Conditional':
        expr(e.test, bound);
        expr(e.then, bound);
        expr(e.otherwise, bound);
        return;
      case 'Comprehension': {
        expr(e.range, bound);
        expr(e.element, new Set([...bound, e.variable.name]));
        return;
      }
    }
  };

  const stmts = (body: readonly Stmt[], bound: Set<string>) => {
    for (const s of body) {
      switch (s.kind) {
        case 'Let':
          if (s.type) tensorType(s.type, bound);
          expr(s.value, bound);
          bound.add(s.name.name);
          break;
        case 'Assign':
          expr(s.value, bound);
          break;
        case 'Return':
          expr(s.value, bound);
          break;
        case 'ExprStmt':
          expr(s.expr, bound);
          break;
        case 'For':
          expr(s.range, bound);
          stmts(s.body, new Set([...bound, s.variable.name]));
          break;
      }
    }
  };

  const typeOf = (t: BlockDecl['params'][number]['type'], bound: Set<string>) => {
    if (t.kind === 'TensorType') tensorType(t, bound);
    // A named type (`int`, a block name) is checked where the program resolves types.
  };

  const top = new Set<string>();
  for (const p of decl.params) {
    typeOf(p.type, top);
    if (p.default) expr(p.default, top);
  }
  for (const m of decl.members) {
    if (m.kind === 'Weight') {
      tensorType(m.shape, top);
      // `= zeros`, `= normal(std = 0.02)`: initialiser names are bound here only.
      const init = m.init;
      if (init?.kind === 'Call' && init.callee.kind === 'Name' && init.callee.name in INIT_KINDS)
        for (const a of init.args) expr(a.value, top);
      else if (init) expr(init, top, false, true);
    } else if (m.kind === 'Layer') expr(m.value, top);
    else {
      const bound = new Set(top);
      for (const p of m.params) {
        typeOf(p.type, bound);
        bound.add(p.name.name);
      }
      if (m.returns.kind === 'TensorType') tensorType(m.returns, bound);
      else for (const o of m.returns.outputs) typeOf(o.type, bound);
      stmts(m.body, bound);
    }
  }
  return found;
}

/** Reports the unbound names of every block of the program's own modules that nothing instantiated. */
export function checkUninstantiatedBlocks(el: Elaborator): void {
  for (const module of el.scopes.values()) {
    if (module.module.absPath.startsWith(STD_DIR)) continue;
    for (const decl of module.module.ast.decls) {
      if (decl.kind !== 'Block' || el.instantiated.has(decl)) continue;
      for (const u of unboundNames(decl, module)) reportUnknownName(el, u.name, u.span, u.candidates);
    }
  }
}
