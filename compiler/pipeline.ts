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
import { resolve as resolvePath } from 'node:path';
import { parse } from '../dsl/index.js';
import type { Diagnostic } from '../dsl/diagnostics/diagnostic.js';
import { report, semanticCatalogue } from '../dsl/diagnostics/catalogue.js';
import type { SourceFile } from '../dsl/span.js';
import { Elaborator } from './elaborate/index.js';
import { checkUninstantiatedBlocks } from './elaborate/names.js';
import type { ProgramIR } from './ir/ir.js';
import type { ElaborationBudget } from './limits.js';
import { importHinter } from './import-hints.js';
import { type LoadFailure, loadModules, type ParseCache, type ParseFn, parseCached, reportRefusal } from './loader.js';
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
  /** Unsaved texts of other files by absolute path (an editor's open documents), read instead of the disk. */
  readonly overlay?: ReadonlyMap<string, string>;
  /** Parsed modules to reuse and fill (default: the process-wide cache); an editor passes its own. */
  readonly parseCache?: ParseCache;
  /** Code-generation targets whose support predicates the program must pass (default: tfjs). */
  readonly targets?: readonly string[];
}

export interface CompileResult {
  readonly diagnostics: Diagnostic[];
  readonly files: Map<string, SourceFile>;
  readonly program?: ProgramIR;
  /** What elaboration used of its limits (compiler/limits.ts); absent when it did not run. */
  readonly budget?: ElaborationBudget;
  /** The variants the entry file declares, in order (empty when it could not be read). */
  readonly variants?: readonly string[];
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

/** `parse`, through `cache` when one is given (the project search of import hints parses files too). */
function cachedParse(cache: ParseCache | undefined): ParseFn {
  if (!cache) return parse;
  return (file) => {
    const parsed = parseCached(cache, resolvePath(file.path), file.path, file.text, parse);
    return { module: parsed.module, diagnostics: parsed.diagnostics };
  };
}

export function compileProgramSync(path: string, options: CompileOptions = {}): CompileResult {
  const reporter = new Reporter();
  let failure: LoadFailure | undefined;
  const loaded = loadModules(
    path,
    parse,
    reporter,
    options.text,
    (f) => {
      failure = f;
    },
    options.overlay,
    options.parseCache,
  );
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
  elaborator.importHint = importHinter(resolvePath(path), cachedParse(options.parseCache));
  let program: ProgramIR | undefined;
  if (!syntaxErrors) {
    const checker = new ProgramChecker(scopes.get(loaded.entry)!, elaborator, reporter);
    program = checker.check(options.variant);
    checkUninstantiatedBlocks(elaborator);
    checkMaskTokens(program, reporter);
  }
  const diagnostics = sortDiagnostics([...loaded.syntaxDiagnostics, ...reporter.diagnostics]);
  const ok = !diagnostics.some((d) => d.severity === 'error');
  const variants = entry.ast.decls.flatMap((d) => (d.kind === 'Variant' ? [d.name.name] : []));
  return {
    diagnostics,
    files: loaded.files,
    ...(ok && program ? { program } : {}),
    budget: elaborator.budget,
    variants,
  };
}

/**
 * `nvcc check` without `--variant`: the program, then the program under each of its variants.
 * A diagnostic the program itself has is shown once, as it is; one that only variants have is
 * shown once with a note naming them all, so a mistake inside a variant (a misspelt argument in
 * `finetune.model = ...`) is caught, and one that many variants share stays one diagnostic.
 * `checkProgram` runs on each version that compiled (the torch target's refusals beyond the
 * records: compiler/emit/torch/check.ts), and its diagnostics are named the same way.
 * `program` is the program without a variant, present when no diagnostic of its own is an error.
 */
export function compileEveryVariant(
  path: string,
  options: Omit<CompileOptions, 'variant'> = {},
  checkProgram?: (program: ProgramIR) => Diagnostic[],
): CompileResult {
  const checked = (r: CompileResult): CompileResult => {
    const extra = r.program && checkProgram ? checkProgram(r.program) : [];
    if (!extra.length) return r;
    const diagnostics = sortDiagnostics([...r.diagnostics, ...extra]);
    const { program, ...rest } = r;
    return { ...rest, diagnostics, ...(diagnostics.some((d) => d.severity === 'error') ? {} : { program }) };
  };
  const base = checked(compileProgramSync(path, options));
  const key = (d: Diagnostic) => `${d.code}|${d.span.file}|${d.span.start}|${d.span.end}|${d.message}`;
  const inBase = new Set(base.diagnostics.map(key));
  const onlyInVariants = new Map<string, { diagnostic: Diagnostic; variants: string[] }>();
  const files = new Map(base.files);
  for (const variant of base.variants ?? []) {
    const r = checked(compileProgramSync(path, { ...options, variant }));
    for (const [p, f] of r.files) if (!files.has(p)) files.set(p, f);
    for (const d of r.diagnostics) {
      const k = key(d);
      if (inBase.has(k)) continue;
      const seen = onlyInVariants.get(k);
      if (seen) seen.variants.push(variant);
      else onlyInVariants.set(k, { diagnostic: d, variants: [variant] });
    }
  }
  const named = [...onlyInVariants.values()].map(({ diagnostic, variants }) => ({
    ...diagnostic,
    notes: [...diagnostic.notes, variantNote(variants)],
  }));
  return { ...base, files, diagnostics: sortDiagnostics([...base.diagnostics, ...named]) };
}

function variantNote(variants: readonly string[]): string {
  const names = variants.map((v) => `\`${v}\``);
  if (names.length === 1) return `in variant ${names[0]} (\`nvcc check --variant ${variants[0]}\` checks it alone)`;
  return `in variants ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export async function compileProgram(path: string, options: CompileOptions = {}): Promise<CompileResult> {
  return compileProgramSync(path, options);
}
