/**
 * What the editor asks of a .nvc program, answered from the compiler (`nvcc lsp`'s engine).
 * In: a file's absolute path, its current text and the other open documents' texts (overlay).
 * Out: plain data in LSP terms (offsets are UTF-16, as spans are): diagnostics for the base
 * program and every variant, hover text, inlay shape hints, definitions, references, rename
 * edits, symbols, completions, code actions, the canonical layout, semantic tokens, diagrams.
 * Holds afterwards: nothing is written; a broken or half-typed program yields what can be known
 * (syntax diagnostics, names from the parse) and never throws. Every answer equals the one an
 * uncached analysis gives (`uncached`, test/lsp/cache.test.ts): a text is parsed once (the
 * compiler's loader shares the parse), and a document's compile is reused by every request
 * until the document or a file it reads (an import, open or on disk) changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IToken } from 'chevrotain';
import type * as A from '../dsl/ast.js';
import type { Diagnostic } from '../dsl/diagnostics/diagnostic.js';
import { formatSource } from '../dsl/format.js';
import { parse } from '../dsl/index.js';
import { lexWithTrivia } from '../dsl/lexer.js';
import { SourceFile, type Span } from '../dsl/span.js';
import * as T from '../dsl/tokens.js';
import type { ForwardGraph, ModelIR, ModuleNode, ProgramIR } from '../compiler/ir/ir.js';
import { readRegularFile } from '../compiler/limits.js';
import { displayPath, type ParseCache, parseCached, resolveImport, STD_DIR } from '../compiler/loader.js';
import { type CompileResult, compileProgramSync } from '../compiler/pipeline.js';
import { PRIMITIVES, type PrimitiveRecord } from '../compiler/primitives/index.js';
import { primitiveSignature } from '../compiler/primitives/reference.js';
import { DATASET_SETTINGS, type SettingType, STAGE_SETTINGS, TRAIN_SETTINGS } from '../compiler/settings-schema.js';
import { formatShape } from '../compiler/symbolic.js';

// ---------------------------------------------------------------------------------------------
// Caches: one parse per text, one compile per version of what a program reads

export type Overlay = ReadonlyMap<string, string>;

interface Compiled {
  readonly base: CompileResult;
  readonly ast: A.Module;
  readonly file: SourceFile;
}

/**
 * A compile remembered with every file it depends on: the texts it read (entry and imports) and
 * the import targets it could not read (undefined), so that a file appearing counts as a change.
 */
interface CompileEntry {
  readonly text: string;
  readonly dependencies: ReadonlyMap<string, string | undefined>;
  readonly compiled: Compiled;
}

/** What is on disk at a path, remembered with the stat that identifies that content. */
interface DiskEntry {
  readonly stamp: string;
  readonly text: string | undefined;
}

/**
 * What analysis remembers between requests. Parses are keyed by path and reused while the text
 * is the same (the compiler's loader fills and reads the same cache); the last compile of each
 * document is reused while every file it read is unchanged; lexed tokens are kept for the last
 * few texts; disk files are re-read when their stat (size, mtime, inode) changes.
 */
class AnalysisCache {
  readonly parses: ParseCache = new Map();
  readonly compiles = new Map<string, CompileEntry>();
  readonly tokens = new Map<string, IToken[]>();
  readonly disk = new Map<string, DiskEntry>();
}

let caches = new AnalysisCache();

/**
 * Runs `compute` against empty caches that are dropped afterwards and leaves the session's
 * caches as they were: the uncached reference that a cached answer must equal.
 */
export function uncached<T>(compute: () => T): T {
  const kept = caches;
  caches = new AnalysisCache();
  try {
    return compute();
  } finally {
    caches = kept;
  }
}

/** Forgets every compile and disk text (parses stay: they are keyed by content). */
export function forgetCompiles(): void {
  caches.compiles.clear();
  caches.disk.clear();
}

/** The text at `abs` on disk (undefined: missing, unreadable, not a regular file or too large). */
function diskText(abs: string): string | undefined {
  let stamp: string;
  try {
    const st = fs.statSync(abs);
    stamp = `${st.size}:${st.mtimeMs}:${st.ino}:${st.isFile()}`;
  } catch {
    stamp = 'absent';
  }
  const hit = caches.disk.get(abs);
  if (hit && hit.stamp === stamp) return hit.text;
  // the compiler's reader: regular files only, within the source-size limit
  const read = stamp === 'absent' ? undefined : readRegularFile(abs);
  const text = read === undefined || 'refused' in read ? undefined : read.text;
  caches.disk.set(abs, { stamp, text });
  return text;
}

/** The text an analysis uses for `abs`: the open document's, else the disk's. */
function textOf(abs: string, overlay: Overlay): string | undefined {
  return overlay.get(abs) ?? diskText(abs);
}

/** `text` of `abs` parsed once (the same parse the compiler's loader uses for that file). */
function parsed(abs: string, text: string): { ast: A.Module; file: SourceFile; diagnostics: readonly Diagnostic[] } {
  const p = parseCached(caches.parses, abs, displayPath(abs), text, parse);
  return { ast: p.module, file: p.file, diagnostics: p.diagnostics };
}

/** A module's AST from the overlay or the disk (undefined when it cannot be read). */
function moduleAst(abs: string, overlay: Overlay): { ast: A.Module; file: SourceFile } | undefined {
  const text = textOf(abs, overlay);
  return text === undefined ? undefined : parsed(abs, text);
}

/** Whether every file the remembered compile read still has the text it had. */
function unchanged(entry: CompileEntry, text: string, overlay: Overlay): boolean {
  if (entry.text !== text) return false;
  for (const [dep, was] of entry.dependencies) if (textOf(dep, overlay) !== was) return false;
  return true;
}

/** The base program (no variant) of `abs` with `text`, compiled once per version of the files it reads. */
export function compileDocument(abs: string, text: string, overlay: Overlay): Compiled {
  const hit = caches.compiles.get(abs);
  if (hit && unchanged(hit, text, overlay)) return hit.compiled;
  const own = parsed(abs, text);
  const base = compileProgramSync(displayPath(abs), { text, overlay, parseCache: caches.parses });
  const dependencies = new Map<string, string | undefined>();
  for (const f of base.files.values()) {
    const dep = path.resolve(f.path);
    if (dep !== abs) dependencies.set(dep, f.text);
  }
  // imports that could not be read: their appearing must count as a change too
  for (const f of [...base.files.values(), own.file]) {
    const mod = caches.parses.get(path.resolve(f.path));
    for (const imp of mod?.text === f.text ? mod.module.imports : []) {
      const target = resolveImport(imp.from.value, path.resolve(f.path));
      if (target !== abs && !dependencies.has(target)) dependencies.set(target, undefined);
    }
  }
  const compiled = { base, ast: own.ast, file: own.file };
  caches.compiles.set(abs, { text, dependencies, compiled });
  return compiled;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

export interface EditorDiagnostic {
  readonly start: number;
  readonly end: number;
  readonly severity: Diagnostic['severity'];
  readonly code: string;
  readonly message: string;
  /** The catalogue's help lines (code actions read the fixes from them). */
  readonly help: readonly string[];
  readonly related: readonly { readonly file: string; readonly start: number; readonly end: number; message: string }[];
}

const absOf = (file: string) => path.resolve(file);

function toEditor(d: Diagnostic, entry: string, entryFile: SourceFile, ast: A.Module, prefix = ''): EditorDiagnostic {
  const inEntry = absOf(d.span.file) === entry;
  let start = d.span.start;
  let end = d.span.end;
  let message = prefix + d.message;
  if (!inEntry) {
    // shown at the import that brings the other file in (or the file's start)
    const other = path.basename(d.span.file, '.nvc');
    const imp = ast.imports.find((i) => i.from.value.endsWith(other));
    start = imp?.span.start ?? 0;
    end = imp?.span.end ?? 0;
    message = `${prefix}in ${d.span.file}: ${d.message}`;
  }
  const helpLines = d.help.map((h) => `help: ${h}`);
  return {
    start,
    end: Math.min(end, entryFile.text.length),
    severity: d.severity,
    code: d.code,
    message: [message, ...helpLines, ...d.notes.map((n) => `note: ${n}`)].join('\n'),
    help: d.help,
    related: d.labels.map((l) => ({
      file: absOf(l.span.file),
      start: l.span.start,
      end: l.span.end,
      message: l.message,
    })),
  };
}

/** The base program's diagnostics, in the entry file. */
export function baseDiagnostics(abs: string, text: string, overlay: Overlay): EditorDiagnostic[] {
  const c = compileDocument(abs, text, overlay);
  return c.base.diagnostics.map((d) => toEditor(d, abs, c.file, c.ast));
}

/**
 * Diagnostics that only some variants have, each once, naming the variants (`variant demo: ...`).
 * Variants are compiled one by one; `budget` caps how many (the rest are named in one note).
 */
export function variantDiagnostics(abs: string, text: string, overlay: Overlay, budget = 64): EditorDiagnostic[] {
  const check = variantChecker(abs, text, overlay, budget);
  while (check.step());
  return check.result();
}

/**
 * The variants' own diagnostics one variant per `step()` (false when none is left), so that a
 * server can answer requests between two variants; `result()` gives what is known so far.
 */
export function variantChecker(
  abs: string,
  text: string,
  overlay: Overlay,
  budget = 64,
): { step(): boolean; result(): EditorDiagnostic[] } {
  const c = compileDocument(abs, text, overlay);
  const broken = c.base.diagnostics.some((d) => d.code.startsWith('NVC1'));
  const seen = new Set(c.base.diagnostics.map((d) => `${d.code}|${d.span.file}|${d.span.start}|${d.message}`));
  const byKey = new Map<string, { d: Diagnostic; variants: string[] }>();
  const variants = broken
    ? []
    : c.ast.decls
        .filter((d): d is A.VariantDecl => d.kind === 'Variant')
        .map((v) => v.name.name)
        .slice(0, budget);
  let next = 0;
  return {
    step() {
      const variant = variants[next++];
      if (variant === undefined) return false;
      const r = compileProgramSync(displayPath(abs), { text, overlay, variant, parseCache: caches.parses });
      for (const d of r.diagnostics) {
        const key = `${d.code}|${d.span.file}|${d.span.start}|${d.message}`;
        if (seen.has(key)) continue;
        const entry = byKey.get(key);
        if (entry) entry.variants.push(variant);
        else byKey.set(key, { d, variants: [variant] });
      }
      return next < variants.length;
    },
    result: () =>
      [...byKey.values()].map(({ d, variants: vs }) =>
        toEditor(d, abs, c.file, c.ast, `${vs.length === 1 ? 'variant' : 'variants'} ${vs.join(', ')}: `),
      ),
  };
}

// ---------------------------------------------------------------------------------------------
// Tokens and positions

interface WordAt {
  readonly token: IToken;
  readonly previous: IToken | undefined;
}

/** The tokens of `text` without newlines and comments, lexed once for the last few texts. */
function codeTokens(text: string): IToken[] {
  const hit = caches.tokens.get(text);
  if (hit) return hit;
  const tokens = lexWithTrivia(text).filter(
    (t) => t.tokenType !== T.Newline && t.tokenType !== T.LineComment && t.tokenType !== T.BlockComment,
  );
  if (caches.tokens.size >= 8) caches.tokens.delete(caches.tokens.keys().next().value!);
  caches.tokens.set(text, tokens);
  return tokens;
}

/** The name token under (or just before) `offset`. */
function wordAt(text: string, offset: number): WordAt | undefined {
  const tokens = codeTokens(text);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.startOffset <= offset && offset <= t.endOffset! + 1) {
      if (t.tokenType === T.Identifier || t.tokenType.CATEGORIES?.includes(T.Keyword))
        return { token: t, previous: tokens[i - 1] };
    }
  }
  return undefined;
}

const within = (span: Span, offset: number) => span.start <= offset && offset <= span.end;

// ---------------------------------------------------------------------------------------------
// Names: what a word refers to

export interface Location {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

type Definition =
  | { readonly kind: 'decl'; readonly file: string; readonly decl: A.Decl; readonly name: A.Ident }
  | { readonly kind: 'stage'; readonly file: string; readonly stage: A.StageDecl; readonly train: A.TrainDecl }
  | { readonly kind: 'local'; readonly file: string; readonly name: A.Ident; readonly what: string }
  | { readonly kind: 'primitive'; readonly record: PrimitiveRecord };

function declName(d: A.Decl): A.Ident {
  return d.name;
}

function enclosingBlock(ast: A.Module, offset: number): A.BlockDecl | undefined {
  return ast.decls.find((d): d is A.BlockDecl => d.kind === 'Block' && within(d.span, offset));
}

function statementsOf(body: readonly A.Stmt[]): A.Stmt[] {
  const out: A.Stmt[] = [];
  for (const s of body) {
    out.push(s);
    if (s.kind === 'For') out.push(...statementsOf(s.body));
  }
  return out;
}

/** Names local to a block that `name` may mean at `offset`: forward values, members, parameters. */
function localDefinition(
  block: A.BlockDecl,
  name: string,
  offset: number,
): { name: A.Ident; what: string } | undefined {
  for (const m of block.members) {
    if (m.kind !== 'Forward' || !within(m.span, offset)) continue;
    for (const p of m.params) if (p.name.name === name) return { name: p.name, what: 'forward input' };
    for (const s of statementsOf(m.body)) {
      if (s.kind === 'Let' && s.name.name === name && s.span.start <= offset) return { name: s.name, what: 'value' };
      if (s.kind === 'For' && s.variable.name === name) return { name: s.variable, what: 'loop variable' };
    }
  }
  for (const m of block.members)
    if ((m.kind === 'Layer' || m.kind === 'Weight') && m.name.name === name)
      return { name: m.name, what: m.kind === 'Layer' ? 'layer' : 'weight' };
  for (const p of block.params) if (p.name.name === name) return { name: p.name, what: 'parameter' };
  return undefined;
}

function topLevel(ast: A.Module, name: string): A.Decl | undefined {
  return ast.decls.find((d) => declName(d).name === name);
}

function stageNamed(ast: A.Module, name: string): { stage: A.StageDecl; train: A.TrainDecl } | undefined {
  for (const d of ast.decls)
    if (d.kind === 'Train') for (const s of d.stages) if (s.name.name === name) return { stage: s, train: d };
  return undefined;
}

/** What `name` at `offset` of the module `abs` refers to, following imports (depth-limited). */
function resolveName(
  abs: string,
  ast: A.Module,
  name: string,
  offset: number,
  overlay: Overlay,
  depth = 0,
): Definition | undefined {
  if (depth > 16) return undefined;
  const block = enclosingBlock(ast, offset);
  if (block) {
    const local = localDefinition(block, name, offset);
    if (local) return { kind: 'local', file: abs, ...local };
  }
  const decl = topLevel(ast, name);
  if (decl) return { kind: 'decl', file: abs, decl, name: decl.name };
  const stage = stageNamed(ast, name);
  if (stage) return { kind: 'stage', file: abs, ...stage };
  for (const imp of ast.imports)
    for (const n of imp.names) {
      if ((n.alias ?? n.name).name !== name) continue;
      const target = resolveImport(imp.from.value, abs);
      const mod = moduleAst(target, overlay);
      if (!mod) return undefined;
      return resolveName(target, mod.ast, n.name.name, -1, overlay, depth + 1);
    }
  const record = PRIMITIVES.get(name);
  return record ? { kind: 'primitive', record } : undefined;
}

function definitionAt(abs: string, text: string, offset: number, overlay: Overlay): Definition | undefined {
  const w = wordAt(text, offset);
  if (!w || w.previous?.tokenType === T.Dot) return undefined;
  const ast = parsed(abs, text).ast;
  return resolveName(abs, ast, w.token.image, w.token.startOffset, overlay);
}

function definitionLocation(d: Definition): Location | undefined {
  switch (d.kind) {
    case 'decl':
      return { file: d.file, start: d.name.span.start, end: d.name.span.end };
    case 'stage':
      return { file: d.file, start: d.stage.name.span.start, end: d.stage.name.span.end };
    case 'local':
      return { file: d.file, start: d.name.span.start, end: d.name.span.end };
    case 'primitive':
      return undefined;
  }
}

export function definition(abs: string, text: string, offset: number, overlay: Overlay): Location | undefined {
  const d = definitionAt(abs, text, offset, overlay);
  return d ? definitionLocation(d) : undefined;
}

/** The files to search for uses: the open documents, what they import, and std. */
function searchFiles(abs: string, overlay: Overlay): string[] {
  const files = new Set<string>([abs, ...overlay.keys()]);
  const queue = [...files];
  while (queue.length > 0 && files.size < 500) {
    const f = queue.shift()!;
    const mod = moduleAst(f, overlay);
    if (!mod) continue;
    for (const imp of mod.ast.imports) {
      const t = resolveImport(imp.from.value, f);
      if (!files.has(t)) {
        files.add(t);
        queue.push(t);
      }
    }
  }
  for (const name of safeReaddir(STD_DIR)) if (name.endsWith('.nvc')) files.add(path.join(STD_DIR, name));
  return [...files].sort();
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

const sameLocation = (a: Location | undefined, b: Location | undefined) =>
  a !== undefined && b !== undefined && a.file === b.file && a.start === b.start;

/** Every use of what the word at `offset` names (its definition included), across the files searched. */
export function references(abs: string, text: string, offset: number, overlay: Overlay): Location[] {
  const target = definitionAt(abs, text, offset, overlay);
  const where = target && definitionLocation(target);
  if (!target || !where) return [];
  const name = target.kind === 'decl' ? target.name.name : target.kind === 'stage' ? target.stage.name.name : '';
  const localName = target.kind === 'local' ? target.name.name : name;
  const files = target.kind === 'local' ? [target.file] : searchFiles(abs, overlay);
  const out: Location[] = [];
  for (const file of files) {
    const fileText = file === abs ? text : (overlay.get(file) ?? moduleAst(file, overlay)?.file.text);
    if (fileText === undefined) continue;
    const ast = parsed(file, fileText).ast;
    // `import { X as Y }`: in that file the uses are spelt Y
    const names = new Set([localName]);
    for (const imp of ast.imports)
      for (const n of imp.names) if (n.name.name === localName && n.alias) names.add(n.alias.name);
    const tokens = codeTokens(fileText);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!names.has(t.image) || tokens[i - 1]?.tokenType === T.Dot) continue;
      const importName = importNameAt(ast, t.startOffset);
      const imported = importName && resolveImport(importName.from, file);
      const importedAst = imported && moduleAst(imported, overlay)?.ast;
      const d =
        importName && imported && importedAst
          ? resolveName(imported, importedAst, importName.name, -1, overlay)
          : resolveName(file, ast, t.image, t.startOffset, overlay);
      if (d && sameLocation(definitionLocation(d), where))
        out.push({ file, start: t.startOffset, end: t.startOffset + t.image.length });
    }
  }
  return out;
}

/** The imported name (not its alias) when `offset` is inside `import { ... }`. */
function importNameAt(ast: A.Module, offset: number): { name: string; from: string } | undefined {
  for (const imp of ast.imports)
    for (const n of imp.names)
      if (within(n.name.span, offset) && n.name.span.start === offset)
        return { name: n.name.name, from: imp.from.value };
  return undefined;
}

export interface TextEdit {
  readonly file: string;
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Renames a block, model, const, stage or local name everywhere it is used. */
export function rename(
  abs: string,
  text: string,
  offset: number,
  newName: string,
  overlay: Overlay,
): { edits: TextEdit[] } | { error: string } {
  if (!NAME.test(newName) || T.keywords.includes(newName))
    return { error: `\`${newName}\` is not a name (letters, digits and _, not a keyword)` };
  const d = definitionAt(abs, text, offset, overlay);
  if (!d) return { error: 'nothing to rename here' };
  if (d.kind === 'primitive') return { error: `\`${d.record.name}\` is a primitive; it cannot be renamed` };
  if (d.kind === 'decl' && d.file.startsWith(STD_DIR))
    return { error: `\`${d.name.name}\` is declared in std, which is read-only` };
  const refs = references(abs, text, offset, overlay);
  return { edits: refs.map((r) => ({ ...r, text: newName })) };
}

// ---------------------------------------------------------------------------------------------
// Shapes from the compiled program

function modelsOf(program: ProgramIR | undefined): ModelIR[] {
  if (!program) return [];
  const out: ModelIR[] = [...program.models];
  for (const t of program.trains) for (const s of t.stages) if (!out.includes(s.model)) out.push(s.model);
  return out;
}

/** Every forward graph of every model, with the module path that runs it. */
function graphsOf(program: ProgramIR | undefined): ForwardGraph[] {
  const out: ForwardGraph[] = [];
  const seen = new Set<ForwardGraph>();
  for (const m of modelsOf(program))
    for (const g of m.graphs.values())
      if (!seen.has(g)) {
        seen.add(g);
        out.push(g);
      }
  return out;
}

/**
 * The distinct shapes of the value computed inside `span`, over every instantiation: the last op
 * the span's code emits (ops are in evaluation order, so the last is the expression's result).
 */
function shapesIn(program: ProgramIR | undefined, span: Span): string[] {
  const shapes = new Set<string>();
  for (const g of graphsOf(program)) {
    if (path.resolve(g.span.file) !== path.resolve(span.file)) continue;
    let last: { id: number; shape: string } | undefined;
    for (const op of g.ops) {
      if (path.resolve(op.span.file) !== path.resolve(span.file)) continue;
      if (op.span.start < span.start || op.span.end > span.end) continue;
      if (!last || op.id > last.id) last = { id: op.id, shape: formatShape(op.shape) };
    }
    if (last) shapes.add(last.shape);
  }
  return [...shapes];
}

export interface InlayHint {
  readonly offset: number;
  readonly label: string;
}

/** The output shape at the end of each forward statement (several instantiations: each shape). */
export function inlayHints(abs: string, text: string, overlay: Overlay): InlayHint[] {
  const c = compileDocument(abs, text, overlay);
  const program = c.base.program;
  if (!program) return [];
  const hints: InlayHint[] = [];
  for (const d of c.ast.decls) {
    if (d.kind !== 'Block') continue;
    for (const m of d.members) {
      if (m.kind !== 'Forward') continue;
      for (const s of statementsOf(m.body)) {
        if (s.kind !== 'Let' && s.kind !== 'Assign' && s.kind !== 'Return') continue;
        const valueSpan = { ...s.value.span, file: c.file.path };
        const shapes = shapesIn(program, valueSpan);
        if (shapes.length === 0) continue;
        const shown = shapes.length > 3 ? [...shapes.slice(0, 3), `+${shapes.length - 3}`] : shapes;
        hints.push({ offset: s.span.end, label: `: ${shown.join(' | ')}` });
      }
    }
  }
  return hints;
}

// ---------------------------------------------------------------------------------------------
// Hover

function primitiveHover(r: PrimitiveRecord): string {
  const lines = ['```nvc', primitiveSignature(r), '```', '', `${r.doc}`.replace(/\.?$/, '.'), ''];
  if (r.params.length > 0) {
    lines.push('| parameter | meaning |', '|---|---|');
    for (const p of r.params) lines.push(`| \`${p.name}\` | ${p.doc.replace(/\|/g, '\\|')} |`);
    lines.push('');
  }
  lines.push(
    `- **shape:** ${r.reference.shape}`,
    `- **MACs:** ${r.reference.macs}`,
    `- **PyTorch:** ${r.reference.pytorch}`,
  );
  return lines.join('\n');
}

function sourceText(file: string, span: Span, overlay: Overlay): string {
  const mod = moduleAst(file, overlay);
  return mod ? mod.file.text.slice(span.start, span.end) : '';
}

function declHeader(d: A.Decl, file: string, overlay: Overlay): string {
  switch (d.kind) {
    case 'Block': {
      const params = d.params.map((p) => sourceText(file, p.span, overlay)).join(', ');
      return `${d.isModel ? 'model' : 'block'} ${d.name.name}(${params})${d.unmasked ? ' unmasked' : ''}`;
    }
    case 'Interface': {
      const params = d.params.map((p) => sourceText(file, p.span, overlay)).join(', ');
      return `interface ${d.name.name}(${params})`;
    }
    case 'Const':
      return sourceText(file, d.span, overlay);
    case 'Dataset':
      return `dataset ${d.name.name}`;
    case 'Train':
      return `train ${d.name.name} on ${d.dataset.name}`;
    case 'Variant':
      return `variant ${d.name.name}${d.extends ? ` extends ${d.extends.name}` : ''}`;
  }
}

function countParams(node: ModuleNode): number {
  let n = 0;
  for (const w of node.weights) n += w.shape.reduce((a, b) => a * b, 1);
  for (const c of node.children) n += countParams(c);
  return n;
}

/** Module nodes built by the layer declaration at `span`, over every model. */
function nodesBuiltAt(program: ProgramIR | undefined, span: Span): ModuleNode[] {
  const out: ModuleNode[] = [];
  const visit = (n: ModuleNode) => {
    if (path.resolve(n.span.file) === path.resolve(span.file) && n.span.start >= span.start && n.span.end <= span.end)
      out.push(n);
    else for (const c of n.children) visit(c);
  };
  for (const m of modelsOf(program)) visit(m.root);
  return out;
}

function settingDoc(key: string, type: SettingType): string {
  const describe = (t: SettingType): string => {
    switch (t.t) {
      case 'list':
        return `list of ${describe(t.of)}${t.length ? ` (${t.length} items)` : ''}`;
      case 'config':
        return `one of ${Object.keys(t.kinds)
          .map((k) => `\`${k}(${Object.keys(t.kinds[k]!.args).join(', ')})\``)
          .join(', ')}`;
      case 'record':
        return 'a record `{ key = value, ... }`';
      default: {
        const words = 'words' in t && t.words ? `: ${t.words.map((w) => `\`${w}\``).join(', ')}` : '';
        const r = 'range' in t ? t.range : undefined;
        const range = r
          ? ` (${[
              r.min !== undefined ? `>= ${r.min}` : '',
              r.above !== undefined ? `> ${r.above}` : '',
              r.max !== undefined ? `<= ${r.max}` : '',
              r.below !== undefined ? `< ${r.below}` : '',
            ]
              .filter(Boolean)
              .join(', ')})`
          : '';
        return `${t.t}${words}${range}`;
      }
    }
  };
  return `\`${key}\`: ${describe(type)}`;
}

/** The setting table that applies at `offset` (stage, train or dataset body), if any. */
function settingsContext(ast: A.Module, offset: number): Readonly<Record<string, SettingType>> | undefined {
  for (const d of ast.decls) {
    if (!within(d.span, offset)) continue;
    if (d.kind === 'Dataset') return DATASET_SETTINGS;
    if (d.kind === 'Train') {
      for (const s of d.stages) if (within(s.span, offset)) return STAGE_SETTINGS;
      return TRAIN_SETTINGS;
    }
    if (d.kind === 'Variant') return STAGE_SETTINGS;
  }
  return undefined;
}

/** Markdown for the word at `offset`, or undefined. */
export function hover(abs: string, text: string, offset: number, overlay: Overlay): string | undefined {
  const c = compileDocument(abs, text, overlay);
  const w = wordAt(text, offset);
  if (!w) return undefined;
  const name = w.token.image;
  const start = w.token.startOffset;
  const settings = settingsContext(c.ast, start);
  const next = codeTokens(text).find((t) => t.startOffset > w.token.endOffset!);
  if (settings?.[name] && next?.tokenType === T.Equals && w.previous?.tokenType !== T.Dot)
    return settingDoc(name, settings[name]!);
  if (w.previous?.tokenType === T.Dot) return undefined;
  const block = enclosingBlock(c.ast, start);
  // a forward statement's value: its shape, per instantiation
  if (block)
    for (const m of block.members) {
      if (m.kind === 'Layer' && within(m.name.span, start)) {
        const nodes = nodesBuiltAt(c.base.program, { ...m.value.span, file: c.file.path });
        const lines = [
          `\`${name}\`: layer of \`${block.name.name}\``,
          '```nvc',
          sourceText(abs, m.value.span, overlay) || text.slice(m.value.span.start, m.value.span.end),
          '```',
        ];
        if (nodes.length > 0) {
          const counts = [...new Set(nodes.map(countParams))];
          lines.push(`parameters: ${counts.map((n) => n.toLocaleString('en-US')).join(' | ')} (per instance)`);
        }
        return lines.join('\n');
      }
      if (m.kind !== 'Forward' || !within(m.span, start)) continue;
      for (const s of statementsOf(m.body)) {
        if ((s.kind === 'Let' || s.kind === 'Assign') && within(s.name.span, start)) {
          const shapes = shapesIn(c.base.program, { ...s.value.span, file: c.file.path });
          return [`\`${name}\`: ${shapes.length ? shapes.join(' | ') : 'shape unknown (the program has errors)'}`].join(
            '\n',
          );
        }
      }
    }
  const d = resolveName(abs, c.ast, name, start, overlay);
  if (!d) return undefined;
  switch (d.kind) {
    case 'primitive':
      return primitiveHover(d.record);
    case 'decl': {
      const doc = 'doc' in d.decl && d.decl.doc ? `\n\n${d.decl.doc}` : '';
      const where = d.file === abs ? '' : `\n\n(${path.relative(process.cwd(), d.file)})`;
      return `\`\`\`nvc\n${declHeader(d.decl, d.file, overlay)}\n\`\`\`${doc}${where}`;
    }
    case 'stage':
      return `stage \`${d.stage.name.name}\` of \`train ${d.train.name.name}\``;
    case 'local': {
      const shapes =
        d.what === 'value' || d.what === 'forward input'
          ? shapesIn(c.base.program, { ...d.name.span, file: c.file.path })
          : [];
      return `\`${name}\`: ${d.what}${shapes.length ? ` ${shapes.join(' | ')}` : ''}`;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Symbols

export interface DocumentSymbol {
  readonly name: string;
  readonly kind: 'class' | 'constant' | 'module' | 'event' | 'field' | 'method' | 'property' | 'struct';
  readonly start: number;
  readonly end: number;
  readonly selectionStart: number;
  readonly selectionEnd: number;
  readonly children: readonly DocumentSymbol[];
}

function symbol(
  name: A.Ident,
  span: Span,
  kind: DocumentSymbol['kind'],
  children: DocumentSymbol[] = [],
): DocumentSymbol {
  return {
    name: name.name,
    kind,
    start: span.start,
    end: span.end,
    selectionStart: name.span.start,
    selectionEnd: name.span.end,
    children,
  };
}

export function documentSymbols(abs: string, text: string): DocumentSymbol[] {
  const ast = parsed(abs, text).ast;
  return ast.decls.map((d) => {
    switch (d.kind) {
      case 'Block':
        return symbol(
          d.name,
          d.span,
          'class',
          d.members.flatMap((m) =>
            m.kind === 'Forward'
              ? [symbol({ kind: 'Ident', name: 'forward', span: m.span }, m.span, 'method')]
              : [symbol(m.name, m.span, m.kind === 'Layer' ? 'field' : 'property')],
          ),
        );
      case 'Interface':
        return symbol(d.name, d.span, 'class');
      case 'Const':
        return symbol(d.name, d.span, 'constant');
      case 'Dataset':
        return symbol(d.name, d.span, 'struct');
      case 'Train':
        return symbol(
          d.name,
          d.span,
          'module',
          d.stages.map((s) => symbol(s.name, s.span, 'event')),
        );
      case 'Variant':
        return symbol(d.name, d.span, 'module');
    }
  });
}

export interface WorkspaceSymbol {
  readonly name: string;
  readonly kind: DocumentSymbol['kind'];
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

/** Top-level declarations and stages of the open documents, what they import and std, matching `query`. */
export function workspaceSymbols(query: string, overlay: Overlay, roots: readonly string[]): WorkspaceSymbol[] {
  const files = new Set<string>();
  for (const r of roots) for (const f of searchFiles(r, overlay)) files.add(f);
  const q = query.toLowerCase();
  const out: WorkspaceSymbol[] = [];
  for (const file of [...files].sort()) {
    const mod = moduleAst(file, overlay);
    if (!mod) continue;
    const flat = (s: DocumentSymbol): DocumentSymbol[] => [s, ...s.children.filter((c) => c.kind === 'event')];
    for (const s of documentSymbols(file, mod.file.text).flatMap(flat))
      if (s.name.toLowerCase().includes(q))
        out.push({ name: s.name, kind: s.kind, file, start: s.selectionStart, end: s.selectionEnd });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Completion

export interface Completion {
  readonly label: string;
  readonly kind: 'keyword' | 'function' | 'class' | 'constant' | 'variable' | 'property' | 'module' | 'value';
  readonly detail?: string;
  readonly documentation?: string;
}

const KEYWORDS = T.keywords;

function importPathCompletions(abs: string): Completion[] {
  const out: Completion[] = [];
  for (const name of safeReaddir(STD_DIR))
    if (name.endsWith('.nvc')) out.push({ label: `std/${name.slice(0, -4)}`, kind: 'module', detail: 'std module' });
  const dir = path.dirname(abs);
  for (const name of safeReaddir(dir))
    if (name.endsWith('.nvc') && path.join(dir, name) !== abs)
      out.push({ label: `./${name.slice(0, -4)}`, kind: 'module', detail: 'module beside this file' });
  return out;
}

function declCompletion(d: A.Decl): Completion {
  const kind = d.kind === 'Block' ? 'class' : d.kind === 'Const' ? 'constant' : 'variable';
  const detail = d.kind === 'Block' ? (d.isModel ? 'model' : 'block') : d.kind.toLowerCase();
  return { label: d.name.name, kind, detail, ...('doc' in d && d.doc ? { documentation: d.doc } : {}) };
}

function valueCompletions(type: SettingType): Completion[] {
  if (type.t === 'config')
    return Object.entries(type.kinds).map(([k, s]) => ({
      label: k,
      kind: 'function' as const,
      detail: `${k}(${Object.keys(s.args).join(', ')})`,
    }));
  if (type.t === 'list') return valueCompletions(type.of);
  if ((type.t === 'word' || type.t === 'string') && 'words' in type && type.words)
    return type.words.map((w) => ({ label: w, kind: 'value' as const }));
  if (type.t === 'bool') return ['true', 'false'].map((w) => ({ label: w, kind: 'value' as const }));
  return [];
}

export function completions(abs: string, text: string, offset: number, overlay: Overlay): Completion[] {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  // import paths and imported names
  if (/\bfrom\s+"[^"]*$/.test(before)) return importPathCompletions(abs);
  const importNames = /^\s*import\s*\{[^}]*$/.exec(before);
  if (importNames) {
    const from = /\}\s*from\s*"([^"]+)"/.exec(text.slice(offset, text.indexOf('\n', offset) + 1 || undefined));
    if (!from) return [];
    const mod = moduleAst(resolveImport(from[1]!, abs), overlay);
    return mod ? mod.ast.decls.filter((d) => d.kind === 'Block' || d.kind === 'Const').map(declCompletion) : [];
  }
  const ast = parsed(abs, text).ast;
  const settings = settingsContext(ast, offset);
  if (settings) {
    const value = /^\s*([A-Za-z_]\w*)\s*=\s*[\w(]*$/.exec(before);
    if (value && settings[value[1]!]) return valueCompletions(settings[value[1]!]!);
    if (/^\s*[A-Za-z_]*$/.test(before))
      return Object.entries(settings).map(([key, type]) => ({
        label: key,
        kind: 'property' as const,
        detail: settingDoc(key, type).replace(/`/g, ''),
      }));
  }
  const out: Completion[] = KEYWORDS.map((k) => ({ label: k, kind: 'keyword' as const }));
  for (const r of PRIMITIVES.values())
    out.push({
      label: r.name,
      kind: r.kind === 'layer' ? 'class' : 'function',
      detail: primitiveSignature(r),
      documentation: r.doc,
    });
  for (const d of ast.decls) if (d.kind === 'Block' || d.kind === 'Const') out.push(declCompletion(d));
  for (const imp of ast.imports)
    for (const n of imp.names)
      out.push({ label: (n.alias ?? n.name).name, kind: 'class', detail: `imported from ${imp.from.value}` });
  const block = enclosingBlock(ast, offset);
  if (block) {
    for (const p of block.params) out.push({ label: p.name.name, kind: 'variable', detail: 'parameter' });
    for (const m of block.members) {
      if (m.kind === 'Layer' || m.kind === 'Weight')
        out.push({ label: m.name.name, kind: 'property', detail: m.kind === 'Layer' ? 'layer' : 'weight' });
      if (m.kind === 'Forward' && within(m.span, offset)) {
        for (const p of m.params) out.push({ label: p.name.name, kind: 'variable', detail: 'forward input' });
        for (const s of statementsOf(m.body))
          if (s.kind === 'Let' && s.span.end <= offset)
            out.push({ label: s.name.name, kind: 'variable', detail: 'value' });
      }
    }
  }
  const seen = new Set<string>();
  return out.filter((c) => (seen.has(c.label) ? false : (seen.add(c.label), true)));
}

// ---------------------------------------------------------------------------------------------
// Code actions

export interface CodeAction {
  readonly title: string;
  readonly edits: readonly TextEdit[];
  readonly diagnosticCode: string;
}

/** Fixes the diagnostics' help lines spell out: did-you-mean, a missing import, an unknown setting. */
export function codeActions(abs: string, text: string, diagnostics: readonly EditorDiagnostic[]): CodeAction[] {
  const out: CodeAction[] = [];
  const ast = parsed(abs, text).ast;
  for (const d of diagnostics) {
    for (const h of d.help) {
      const mean = /did you mean `([^`]+)`\?/.exec(h);
      if (mean) {
        const found = text.slice(d.start, d.end);
        const replacement =
          found.includes('.') && !mean[1]!.includes('.') ? found.replace(/[^.]+$/, mean[1]!) : mean[1]!;
        out.push({
          title: `Replace \`${found}\` with \`${replacement}\``,
          edits: [{ file: abs, start: d.start, end: d.end, text: replacement }],
          diagnosticCode: d.code,
        });
      }
      const imp = /add `(import \{[^`]+\} from "[^"]+")`/.exec(h);
      if (imp) {
        const at = ast.imports.length > 0 ? ast.imports[ast.imports.length - 1]!.span.end : 0;
        const lead = at === 0 ? '' : '\n';
        const trail = at === 0 ? '\n' : '';
        out.push({
          title: `Add \`${imp[1]}\``,
          edits: [{ file: abs, start: at, end: at, text: `${lead}${imp[1]}${trail}` }],
          diagnosticCode: d.code,
        });
      }
    }
    if (/unknown setting/i.test(d.message.split('\n')[0]!)) {
      const lineStart = text.lastIndexOf('\n', d.start - 1) + 1;
      const lineEnd = text.indexOf('\n', d.end);
      out.push({
        title: 'Remove the unknown setting',
        edits: [{ file: abs, start: lineStart, end: lineEnd < 0 ? text.length : lineEnd + 1, text: '' }],
        diagnosticCode: d.code,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Layout and colours

/** The whole-document edit of `nvcc fmt`, or none when it does not parse or is already canonical. */
export function formatDocument(abs: string, text: string): TextEdit[] {
  const r = formatSource(new SourceFile(abs, text));
  if (!r.ok || !r.changed) return [];
  return [{ file: abs, start: 0, end: text.length, text: r.text }];
}

export const SEMANTIC_TOKEN_TYPES = [
  'keyword',
  'number',
  'string',
  'comment',
  'operator',
  'class',
  'function',
  'variable',
  'parameter',
  'property',
  'type',
] as const;
export const SEMANTIC_TOKEN_MODIFIERS = ['declaration', 'readonly', 'documentation', 'defaultLibrary'] as const;

/** Keywords whose next word is the name being declared. */
const DECLARING = new Set([T.Block, T.Model, T.Const, T.Dataset, T.Train, T.Stage, T.Variant]);
const SCALAR_TYPES = new Set(['int', 'float', 'bool', 'string']);

export interface SemanticToken {
  readonly start: number;
  readonly length: number;
  readonly type: (typeof SEMANTIC_TOKEN_TYPES)[number];
  readonly modifiers: readonly (typeof SEMANTIC_TOKEN_MODIFIERS)[number][];
}

export function semanticTokens(abs: string, text: string, overlay: Overlay = new Map()): SemanticToken[] {
  const ast = parsed(abs, text).ast;
  const blocks = new Set<string>();
  const consts = new Set<string>();
  for (const d of ast.decls) {
    if (d.kind === 'Block' || d.kind === 'Interface') blocks.add(d.name.name);
    if (d.kind === 'Const') consts.add(d.name.name);
  }
  for (const imp of ast.imports) {
    const target = moduleAst(resolveImport(imp.from.value, abs), overlay);
    for (const n of imp.names) {
      const decl = target && topLevel(target.ast, n.name.name);
      ((decl?.kind ?? 'Block') === 'Const' ? consts : blocks).add((n.alias ?? n.name).name);
    }
  }
  const out: SemanticToken[] = [];
  const all = lexWithTrivia(text);
  let previous: IToken | undefined;
  for (const t of all) {
    const type = t.tokenType;
    if (type === T.Newline) continue;
    const push = (kind: SemanticToken['type'], modifiers: SemanticToken['modifiers'] = []) => {
      // one token per line: multi-line block comments are split by the client's rules, so give each line
      let start = t.startOffset;
      for (const part of t.image.split('\n')) {
        if (part.length > 0) out.push({ start, length: part.length, type: kind, modifiers });
        start += part.length + 1;
      }
    };
    if (type === T.DocComment) push('comment', ['documentation']);
    else if (type === T.LineComment || type === T.BlockComment) push('comment');
    else if (type === T.NumberLiteral) push('number');
    else if (type === T.StringLiteral) push('string');
    else if (type === T.Identifier) {
      const block = enclosingBlock(ast, t.startOffset);
      const declares = previous !== undefined && DECLARING.has(previous.tokenType);
      if (previous?.tokenType === T.Dot) push('property');
      else if (declares) push(previous?.tokenType === T.Const ? 'variable' : 'class', ['declaration']);
      else if (block && localDefinition(block, t.image, t.startOffset)?.what === 'parameter') push('parameter');
      else if (blocks.has(t.image)) push('class');
      else if (SCALAR_TYPES.has(t.image) && previous?.tokenType === T.Colon) push('type');
      else if (consts.has(t.image)) push('variable', ['readonly']);
      else if (PRIMITIVES.has(t.image))
        push(PRIMITIVES.get(t.image)!.kind === 'layer' ? 'class' : 'function', ['defaultLibrary']);
      else push('variable');
    } else if (type.CATEGORIES?.includes(T.Keyword)) push(previous?.tokenType === T.Dot ? 'property' : 'keyword');
    else if (type.CATEGORIES?.includes(T.BinaryOperator) || type === T.Arrow || type === T.Equals) push('operator');
    if (type !== T.LineComment && type !== T.BlockComment && type !== T.DocComment) previous = t;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Diagrams

/** The SVG of the model or stage under `offset` (the renderer of `nvcc diagram`), or why not. */
export async function diagramAt(
  abs: string,
  text: string,
  offset: number,
  overlay: Overlay,
): Promise<{ svg: string; title: string } | { error: string }> {
  const c = compileDocument(abs, text, overlay);
  if (!c.base.program) return { error: 'the program has errors; fix them to draw it' };
  const { selectDiagram } = await import('../compiler/diagram/select.js');
  const { renderDiagram } = await import('../compiler/diagram/render.js');
  let selection: { model?: string; stage?: string } = {};
  let title = 'the program';
  for (const d of c.ast.decls) {
    if (!within(d.span, offset)) continue;
    if (d.kind === 'Block' && d.isModel) {
      selection = { model: d.name.name };
      title = `model ${d.name.name}`;
    } else if (d.kind === 'Train') {
      const stage = d.stages.find((s) => within(s.span, offset));
      if (stage) {
        selection = { stage: stage.name.name };
        title = `stage ${stage.name.name}`;
      }
    }
  }
  const selected = selectDiagram(c.base.program, { depth: 2, ...selection });
  if ('error' in selected) return { error: selected.error };
  const svg = await renderDiagram(selected.graph, { format: 'svg', direction: 'TB', theme: 'paper' });
  return { svg: String(svg), title };
}
