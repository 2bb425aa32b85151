/**
 * Scopes and module-level name tables.
 * In: loaded modules (compiler/loader.ts). Out: one `ModuleScope` per module binding its
 * imports and top-level declarations, and nested `Scope`s for block bodies, forward bodies and
 * loops. Holds afterwards: within one module scope each name is bound once (a duplicate is
 * reported as NVC2002 with the first definition as a secondary label, and the first wins);
 * imported names resolve to the exporting module's binding (NVC2004 when absent).
 */
import type { BlockDecl, ConstDecl, DatasetDecl, InterfaceDecl, TrainDecl, VariantDecl } from '../dsl/ast.js';
import type { Span } from '../dsl/span.js';
import type { LoadResult, LoadedModule } from './loader.js';
import { didYouMean, type Reporter } from './report.js';
import type { Value } from './values.js';

export type TopBinding =
  | { readonly kind: 'block'; readonly decl: BlockDecl; readonly module: string; readonly span: Span }
  | { readonly kind: 'interface'; readonly decl: InterfaceDecl; readonly module: string; readonly span: Span }
  | { readonly kind: 'const'; readonly decl: ConstDecl; readonly module: string; readonly span: Span }
  | { readonly kind: 'dataset'; readonly decl: DatasetDecl; readonly module: string; readonly span: Span }
  | { readonly kind: 'train'; readonly decl: TrainDecl; readonly module: string; readonly span: Span }
  | { readonly kind: 'variant'; readonly decl: VariantDecl; readonly module: string; readonly span: Span }
  /** An import that failed (already reported): uses of the name report nothing more. */
  | { readonly kind: 'failed'; readonly span: Span };

export interface ModuleScope {
  readonly module: LoadedModule;
  /** Local declarations and imports (imports map to the exporting module's binding). */
  readonly names: Map<string, TopBinding>;
}

export function buildModuleScopes(loaded: LoadResult, reporter: Reporter): Map<string, ModuleScope> {
  const scopes = new Map<string, ModuleScope>();
  // Own declarations first, so imports can be resolved against any module.
  for (const m of loaded.modules.values()) {
    const names = new Map<string, TopBinding>();
    const firstSpan = new Map<string, Span>();
    const add = (name: string, span: Span, b: TopBinding) => {
      if (name === '') return;
      const prev = firstSpan.get(name);
      if (prev) {
        reporter.error(
          'DuplicateDefinition',
          span,
          { name, scope: 'module' },
          { labels: [{ span: prev, message: 'first defined here' }] },
        );
        return;
      }
      firstSpan.set(name, span);
      names.set(name, b);
    };
    for (const imp of m.ast.imports)
      for (const n of imp.names) firstSpan.set((n.alias ?? n.name).name, (n.alias ?? n.name).span);
    for (const d of m.ast.decls) {
      const span = d.name.span;
      switch (d.kind) {
        case 'Block':
          add(d.name.name, span, { kind: 'block', decl: d, module: m.path, span });
          break;
        case 'Interface':
          add(d.name.name, span, { kind: 'interface', decl: d, module: m.path, span });
          break;
        case 'Const':
          add(d.name.name, span, { kind: 'const', decl: d, module: m.path, span });
          break;
        case 'Dataset':
          add(d.name.name, span, { kind: 'dataset', decl: d, module: m.path, span });
          break;
        case 'Train':
          add(d.name.name, span, { kind: 'train', decl: d, module: m.path, span });
          break;
        case 'Variant':
          add(d.name.name, span, { kind: 'variant', decl: d, module: m.path, span });
          break;
      }
    }
    scopes.set(m.path, { module: m, names });
  }
  // Imports.
  for (const m of loaded.modules.values()) {
    const scope = scopes.get(m.path)!;
    const seen = new Map<string, Span>();
    m.ast.imports.forEach((imp, i) => {
      const target = m.importTargets[i];
      for (const n of imp.names) {
        const local = n.alias ?? n.name;
        const prev = seen.get(local.name);
        if (prev) {
          reporter.error(
            'DuplicateDefinition',
            local.span,
            { name: local.name, scope: 'module' },
            { labels: [{ span: prev, message: 'first defined here' }] },
          );
          continue;
        }
        seen.set(local.name, local.span);
        const localDecl = scope.names.get(local.name);
        if (localDecl) {
          reporter.error(
            'DuplicateDefinition',
            localDecl.span,
            { name: local.name, scope: 'module' },
            { labels: [{ span: local.span, message: 'first defined here (imported)' }] },
          );
        }
        if (target === undefined) {
          if (!localDecl) scope.names.set(local.name, { kind: 'failed', span: local.span });
          continue;
        }
        const exporter = scopes.get(target)!;
        const b = exporter.names.get(n.name.name);
        if (!b) {
          const own = exporter.module.ast.decls.map((dd) => dd.name.name);
          reporter.error(
            'NotExported',
            n.name.span,
            { module: imp.from.value, name: n.name.name },
            { help: [didYouMean(n.name.name, own)] },
          );
          if (!localDecl) scope.names.set(local.name, { kind: 'failed', span: local.span });
          continue;
        }
        scope.names.set(local.name, b);
      }
    });
  }
  return scopes;
}

interface LocalBinding {
  value: Value;
  readonly span: Span;
  /** Introduced by `let` or a forward parameter: may be reassigned with `x = ...`. */
  readonly mutable: boolean;
}

/** A nested lexical scope (block body, forward body, loop iteration). */
export class Scope {
  private readonly vars = new Map<string, LocalBinding>();

  constructor(
    readonly parent: Scope | undefined,
    readonly moduleScope: ModuleScope,
    /** What the scope belongs to, for duplicate messages ("block", "forward"). */
    readonly kind: string,
  ) {}

  lookupLocal(name: string): LocalBinding | undefined {
    return this.vars.get(name) ?? this.parent?.lookupLocal(name);
  }

  /** Defines a name; returns the span of an earlier definition in this same scope, if any. */
  define(name: string, value: Value, span: Span, mutable = false): Span | undefined {
    const prev = this.vars.get(name);
    if (prev) return prev.span;
    this.vars.set(name, { value, span, mutable });
    return undefined;
  }

  /** Rebinds a mutable name in the nearest scope that has it; false when there is none. */
  assign(name: string, value: Value): boolean {
    const b = this.vars.get(name);
    if (b) {
      if (!b.mutable) return false;
      b.value = value;
      return true;
    }
    return this.parent ? this.parent.assign(name, value) : false;
  }

  /** Every name visible from here (for did-you-mean). */
  allNames(): string[] {
    const out = new Set<string>(this.parent ? this.parent.allNames() : this.moduleScope.names.keys());
    for (const k of this.vars.keys()) out.add(k);
    return [...out];
  }
}
