/**
 * The compiler pipeline: one call from a file path to diagnostics and a ProgramIR.
 * In: a .nvc path, an optional variant name and overrides (`path -> JSON value`). Out:
 * `{ diagnostics, files, program? }`. Stages, in order (each a module of its own):
 *   1. loader.ts    read + parse the entry and every import (NVC1xxx, NVC2003/2005)
 *   2. variants.ts  apply `--variant` and overrides to the entry AST (NVC5010/5011)
 *   3. scope.ts     module name tables, imports (NVC2002/2004)
 *   4. program.ts   models, datasets, trains: elaborate/ evaluates constants, instantiates
 *                   blocks and infers shapes (NVC2xxx-4xxx); cross-declaration checks (NVC5xxx)
 *   5. mask-tokens.ts mask tokens must not go through layers that run masked (NVC4030, a warning)
 * Holds afterwards: `program` is present exactly when no diagnostic is an error; diagnostics
 * are sorted by file and position; no user error is thrown.
 */
import { parse } from '../dsl/index.js';
import type { Diagnostic } from '../dsl/diagnostics/diagnostic.js';
import { report, semanticCatalogue } from '../dsl/diagnostics/catalogue.js';
import type { SourceFile } from '../dsl/span.js';
import { Elaborator } from './elaborate/index.js';
import type { ProgramIR } from './ir/ir.js';
import type { ElaborationBudget } from './limits.js';
import { type LoadFailure, loadModules, reportRefusal } from './loader.js';
import { checkMaskTokens } from './mask-tokens.js';
import { ProgramChecker } from './program.js';
import { Reporter } from './report.js';
import { buildModuleScopes } from './scope.js';
import { applyVariant } from './variants.js';

export interface CompileOptions {
  readonly variant?: string;
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** Use this text for the entry file instead of reading it (benchmarks, editors). */
  readonly text?: string;
  /** Code-generation targets whose support predicates the program must pass (default: tfjs). */
  readonly targets?: readonly string[];
}

export interface CompileResult {
  readonly diagnostics: Diagnostic[];
  readonly files: Map<string, SourceFile>;
  readonly program?: ProgramIR;
  /** What elaboration used of its limits (compiler/limits.ts); absent when it did not run. */
  readonly budget?: ElaborationBudget;
}

function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) =>
    a.span.file < b.span.file
      ? -1
      : a.span.file > b.span.file
        ? 1
        : a.span.start - b.span.start || a.code.localeCompare(b.code),
  );
}

export function compileProgramSync(path: string, options: CompileOptions = {}): CompileResult {
  const reporter = new Reporter();
  let failure: LoadFailure | undefined;
  const loaded = loadModules(path, parse, reporter, options.text, (f) => {
    failure = f;
  });
  if (!loaded && failure && (failure.refusal.kind === 'not-regular' || failure.refusal.kind === 'too-large')) {
    reportRefusal(reporter, failure.refusal, path, { file: path, start: 0, end: 0 });
    return { diagnostics: reporter.diagnostics, files: new Map() };
  }
  if (!loaded) {
    return {
      diagnostics: [report(semanticCatalogue.EntryFileNotFound, { file: path, start: 0, end: 0 }, { path })],
      files: new Map(),
    };
  }
  const entry = loaded.modules.get(loaded.entry)!;
  if (options.variant !== undefined || options.overrides) {
    const ast = applyVariant(entry.ast, options.variant, options.overrides, reporter);
    loaded.modules.set(loaded.entry, { ...entry, ast });
  } else {
    // Without --variant, still check that every variant's edits name real places.
    for (const d of entry.ast.decls)
      if (d.kind === 'Variant') applyVariant(entry.ast, d.name.name, undefined, reporter);
  }
  const syntaxErrors = loaded.syntaxDiagnostics.some((d) => d.severity === 'error');
  const scopes = buildModuleScopes(loaded, reporter);
  const elaborator = new Elaborator(scopes, reporter, options.targets);
  let program: ProgramIR | undefined;
  if (!syntaxErrors) {
    const checker = new ProgramChecker(scopes.get(loaded.entry)!, elaborator, reporter);
    program = checker.check(options.variant);
    checkMaskTokens(program, reporter);
  }
  const diagnostics = sortDiagnostics([...loaded.syntaxDiagnostics, ...reporter.diagnostics]);
  const ok = !diagnostics.some((d) => d.severity === 'error');
  return { diagnostics, files: loaded.files, ...(ok && program ? { program } : {}), budget: elaborator.budget };
}

export async function compileProgram(path: string, options: CompileOptions = {}): Promise<CompileResult> {
  return compileProgramSync(path, options);
}
