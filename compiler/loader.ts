/**
 * Module loading and imports.
 * In: an entry .nvc path and a parse function. Out: every module reachable through imports,
 * parsed, with its SourceFile, plus the syntax diagnostics and NVC2003/2004/2005 import
 * diagnostics. Holds afterwards: `modules` contains each reachable file once (keyed by its
 * display path, which is also the `file` of its spans); `std/x` resolves to the repository's
 * std/x.nvc, `./x` and `../x` relative to the importing file; an import cycle is reported
 * once, at the import that closes it, and the cyclic import is dropped.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Module } from '../dsl/ast.js';
import type { Diagnostic } from '../dsl/diagnostics/diagnostic.js';
import { SourceFile, type Span } from '../dsl/span.js';
import { type FileRefusal, limits, raiseHint, readRegularFile } from './limits.js';
import type { Reporter } from './report.js';
import { packagePath } from '../runtime/package-root.js';

export type ParseFn = (file: SourceFile) => { module: Module; diagnostics: Diagnostic[] };

/** Absolute path of the repository's std/ directory. */
export const STD_DIR = packagePath('std');

export interface LoadedModule {
  /** Display path (relative to the working directory when inside it). */
  readonly path: string;
  readonly absPath: string;
  readonly file: SourceFile;
  readonly ast: Module;
  /** Resolved import targets by the import's index in `ast.imports` (undefined: failed). */
  readonly importTargets: readonly (string | undefined)[];
}

export interface LoadResult {
  readonly entry: string;
  readonly modules: Map<string, LoadedModule>;
  readonly files: Map<string, SourceFile>;
  readonly syntaxDiagnostics: Diagnostic[];
}

/** Why the entry file could not be loaded (absent: it was). */
export interface LoadFailure {
  readonly entry: string;
  readonly refusal: FileRefusal;
}

export function displayPath(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/** A module's text parsed once: its SourceFile (named by display path), AST and syntax diagnostics. */
export interface ParsedModule {
  readonly text: string;
  readonly file: SourceFile;
  readonly module: Module;
  readonly diagnostics: Diagnostic[];
}

/**
 * Parsed modules keyed by absolute path, each reused while its text and display path are
 * unchanged (one entry per path: an edited file replaces its old parse). Compiles share the
 * process-wide one unless given their own (an editor keeps one per session; tests a fresh one).
 */
export type ParseCache = Map<string, ParsedModule>;

const processParseCache: ParseCache = new Map();

/** `text` of `abs` parsed, from `cache` when that path was last parsed with the same text and display path. */
export function parseCached(
  cache: ParseCache,
  abs: string,
  display: string,
  text: string,
  parse: ParseFn,
): ParsedModule {
  const hit = cache.get(abs);
  if (hit && hit.text === text && hit.file.path === display) return hit;
  const file = new SourceFile(display, text);
  const r = parse(file);
  const parsed = { text, file, module: r.module, diagnostics: r.diagnostics };
  cache.set(abs, parsed);
  return parsed;
}

export function resolveImport(from: string, importerAbs: string): string {
  const withExt = from.endsWith('.nvc') ? from : `${from}.nvc`;
  if (from.startsWith('std/')) return path.join(STD_DIR, withExt.slice(4));
  return path.resolve(path.dirname(importerAbs), withExt);
}

export function loadModules(
  entryPath: string,
  parse: ParseFn,
  reporter: Reporter,
  entryText?: string,
  onEntryFailure?: (failure: LoadFailure) => void,
  overlay?: ReadonlyMap<string, string>,
  parseCache: ParseCache = processParseCache,
): LoadResult | undefined {
  const modules = new Map<string, LoadedModule>();
  const files = new Map<string, SourceFile>();
  const syntaxDiagnostics: Diagnostic[] = [];
  const entryAbs = path.resolve(entryPath);

  const refusals = new Map<string, FileRefusal>();
  const read = (abs: string): LoadedModule | undefined => {
    const display = abs === entryAbs ? entryPath : displayPath(abs);
    let text: string;
    const sourceLimit = limits().sourceBytes;
    // an editor's unsaved text of the entry or of an imported file replaces the file on disk
    const given = abs === entryAbs && entryText !== undefined ? entryText : overlay?.get(abs);
    if (given !== undefined) {
      const size = Buffer.byteLength(given, 'utf8');
      if (size > sourceLimit.value) {
        refusals.set(abs, { kind: 'too-large', size, limit: sourceLimit });
        return undefined;
      }
      text = given;
    } else {
      const r = readRegularFile(abs, sourceLimit);
      if ('refused' in r) {
        refusals.set(abs, r.refused);
        return undefined;
      }
      text = r.text;
    }
    const parsed = parseCached(parseCache, abs, display, text, parse);
    files.set(display, parsed.file);
    syntaxDiagnostics.push(...parsed.diagnostics);
    return { path: display, absPath: abs, file: parsed.file, ast: parsed.module, importTargets: [] };
  };

  const byAbs = new Map<string, LoadedModule>();
  const visiting: string[] = [];

  const visit = (abs: string): LoadedModule | undefined => {
    const done = byAbs.get(abs);
    if (done) return done;
    const m = read(abs);
    if (!m) return undefined;
    byAbs.set(abs, m);
    modules.set(m.path, m);
    visiting.push(abs);
    const targets: (string | undefined)[] = [];
    for (const imp of m.ast.imports) {
      const targetAbs = resolveImport(imp.from.value, abs);
      if (visiting.includes(targetAbs)) {
        const cycle = [...visiting.slice(visiting.indexOf(targetAbs)), targetAbs].map(displayPath).join(' -> ');
        reporter.error('ImportCycle', imp.from.span, { cycle });
        targets.push(undefined);
        continue;
      }
      const target = visit(targetAbs);
      const refusal = refusals.get(targetAbs);
      if (!target && refusal && refusal.kind !== 'missing' && refusal.kind !== 'unreadable') {
        reportRefusal(reporter, refusal, displayPath(targetAbs), imp.from.span);
        targets.push(undefined);
      } else if (!target) {
        reporter.error(
          'ModuleNotFound',
          imp.from.span,
          { path: imp.from.value },
          { label: `looked for ${displayPath(targetAbs)}` },
        );
        targets.push(undefined);
      } else targets.push(target.path);
    }
    (m.importTargets as (string | undefined)[]).push(...targets);
    visiting.pop();
    return m;
  };

  const entry = visit(entryAbs);
  if (!entry) {
    onEntryFailure?.({ entry: entryPath, refusal: refusals.get(entryAbs) ?? { kind: 'missing' } });
    return undefined;
  }
  return { entry: entry.path, modules, files, syntaxDiagnostics };
}

/** Declared names of the std modules (`CrossAttention` -> `std/attention`), read once per process. */
let stdExportsCache: ReadonlyMap<string, string> | undefined;

/**
 * Which std module declares each name, for the fix of an unknown name that a missing import
 * explains. A std file that cannot be read or parsed contributes nothing (it is not the user's).
 */
export function stdExports(parse: ParseFn): ReadonlyMap<string, string> {
  if (stdExportsCache) return stdExportsCache;
  const found = new Map<string, string>();
  let entries: string[] = [];
  try {
    entries = readdirSync(STD_DIR)
      .filter((n) => n.endsWith('.nvc'))
      .sort();
  } catch {
    entries = [];
  }
  for (const name of entries) {
    const module = `std/${name.slice(0, -'.nvc'.length)}`;
    const r = readRegularFile(path.join(STD_DIR, name), limits().sourceBytes);
    if ('refused' in r) continue;
    for (const decl of parse(new SourceFile(`${module}.nvc`, r.text)).module.decls)
      if (decl.name.name && !found.has(decl.name.name)) found.set(decl.name.name, module);
  }
  stdExportsCache = found;
  return found;
}

/** NVC2009/NVC2010 for a source that is not a regular file or is too large. */
export function reportRefusal(reporter: Reporter, refusal: FileRefusal, shown: string, span: Span): void {
  if (refusal.kind === 'not-regular') reporter.error('SourceNotRegularFile', span, { path: shown, what: refusal.what });
  else if (refusal.kind === 'too-large')
    reporter.error('SourceTooLarge', span, {
      path: shown,
      size: refusal.size,
      limit: refusal.limit.value,
      raise: raiseHint(refusal.limit, refusal.size),
    });
}
