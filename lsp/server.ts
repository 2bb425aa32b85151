/**
 * `nvcc lsp`: the Language Server Protocol over stdio (vscode-languageserver), backed by
 * lsp/analysis.ts. In: JSON-RPC from an editor (open/change/close documents, requests). Out:
 * published diagnostics (the base program at once, then the variants' own), and answers to
 * hover, inlay hints, definition, references, rename, symbols, completion, code actions,
 * formatting, semantic tokens and the `nvc.showDiagram` command.
 * Holds afterwards: stdout carries only protocol messages; a request on a broken program
 * answers what can be known, never an error for the user's text; after an edit the edited
 * document is checked first and every other open document whose files changed after it; the
 * variants are compiled on a worker thread (from the bundle; on the main thread, one per timer,
 * from the TypeScript sources) and a newer version abandons them.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  CodeActionKind,
  type Connection,
  createConnection,
  type Diagnostic as LspDiagnostic,
  DiagnosticSeverity,
  type InitializeResult,
  InlayHintKind,
  ProposedFeatures,
  type Range,
  SymbolKind,
  CompletionItemKind,
  TextDocumentSyncKind,
  TextDocuments,
  type WorkspaceEdit,
} from 'vscode-languageserver/node.js';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { readRegularFile } from '../compiler/limits.js';
import { SourceFile } from '../dsl/span.js';
import * as analysis from './analysis.js';

const SYMBOL_KINDS: Record<analysis.DocumentSymbol['kind'], SymbolKind> = {
  class: SymbolKind.Class,
  constant: SymbolKind.Constant,
  module: SymbolKind.Module,
  event: SymbolKind.Event,
  field: SymbolKind.Field,
  method: SymbolKind.Method,
  property: SymbolKind.Property,
  struct: SymbolKind.Struct,
};

const COMPLETION_KINDS: Record<analysis.Completion['kind'], CompletionItemKind> = {
  keyword: CompletionItemKind.Keyword,
  function: CompletionItemKind.Function,
  class: CompletionItemKind.Class,
  constant: CompletionItemKind.Constant,
  variable: CompletionItemKind.Variable,
  property: CompletionItemKind.Property,
  module: CompletionItemKind.Module,
  value: CompletionItemKind.EnumMember,
};

const SEVERITY: Record<string, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  note: DiagnosticSeverity.Information,
};

/**
 * How long a document must stay unchanged after its base diagnostics before its variants are
 * compiled: an editor asks for hover, inlay hints and semantic tokens right after an edit, and
 * the next keystroke comes soon; a variant compile in progress (~35 ms of CPU for MED-NVC)
 * would delay those answers and the next edit's diagnostics.
 */
export const VARIANTS_AFTER_MS = 300;

/**
 * The variants are compiled on a worker thread (this module started again), so that requests and
 * the next edit's base diagnostics never wait for a variant compile. A job is abandoned between
 * two variants as soon as its document's generation (shared memory, one slot per document) moves
 * on. Run from the TypeScript sources (tsx) there is no worker: a worker would not get tsx's
 * loader, and the variants are compiled on the main thread one per timer instead.
 */
const VARIANT_WORKER = 'nvcc-lsp-variants';
const GENERATION_SLOTS = 1024;

interface VariantJob {
  readonly id: number;
  readonly slot: number;
  readonly generation: number;
  readonly file: string;
  readonly text: string;
  readonly overlay: readonly [string, string][];
}

/** `diagnostics` absent: the job was abandoned (a newer version) or failed (logged). */
interface VariantResult {
  readonly id: number;
  readonly diagnostics?: analysis.EditorDiagnostic[];
}

function runVariantWorker(generations: Int32Array): void {
  const port = parentPort!;
  port.on('message', (job: VariantJob) => {
    const current = () => Atomics.load(generations, job.slot) === job.generation;
    const answer = (diagnostics?: analysis.EditorDiagnostic[]) =>
      port.postMessage({ id: job.id, ...(diagnostics ? { diagnostics } : {}) } satisfies VariantResult);
    if (!current()) return answer();
    const check = safely(() => analysis.variantChecker(job.file, job.text, new Map(job.overlay)), undefined);
    if (!check) return answer();
    for (;;) {
      const more = safely(() => check.step(), false);
      if (!current()) return answer();
      if (!more) break;
    }
    answer(safely(() => check.result(), undefined));
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === VARIANT_WORKER)
  runVariantWorker((workerData as { generations: Int32Array }).generations);

/** The variant worker, or undefined where none can run (TypeScript sources, no worker threads). */
function startVariantWorker(generations: Int32Array): Worker | undefined {
  if (!import.meta.url.endsWith('.js')) return undefined;
  try {
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: VARIANT_WORKER, generations } });
    worker.unref();
    return worker;
  } catch (err) {
    process.stderr.write(`nvcc lsp: variants compiled on the main thread (${String(err)})\n`);
    return undefined;
  }
}

export interface ServerOptions {
  /** Compile the variants after the base program (default true; a test of the base alone turns it off). */
  readonly checkVariants?: boolean;
}

export function startServer(
  connection: Connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout),
  options: ServerOptions = {},
): Connection {
  const documents = new TextDocuments(TextDocument);
  let shapeHints = true;

  const pathOf = (uri: string): string | undefined => {
    try {
      return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
    } catch {
      return undefined;
    }
  };
  const uriOf = (file: string) => pathToFileURL(file).href;

  /** Open documents' texts by absolute path. */
  const overlay = (): Map<string, string> => {
    const m = new Map<string, string>();
    for (const d of documents.all()) {
      const p = pathOf(d.uri);
      if (p) m.set(p, d.getText());
    }
    return m;
  };

  /** Offsets of any file (open or on disk) as LSP ranges. */
  const rangeIn = (file: string, start: number, end: number): Range => {
    const open = documents.get(uriOf(file));
    if (open) return { start: open.positionAt(start), end: open.positionAt(end) };
    const text = overlay().get(file) ?? readText(file);
    const sf = new SourceFile(file, text);
    const at = (o: number) => {
      const lc = sf.lineCol(o);
      return { line: lc.line - 1, character: lc.column - 1 };
    };
    return { start: at(start), end: at(end) };
  };

  const toLsp = (doc: TextDocument, d: analysis.EditorDiagnostic): LspDiagnostic => ({
    range: { start: doc.positionAt(d.start), end: doc.positionAt(d.end) },
    severity: SEVERITY[d.severity] ?? DiagnosticSeverity.Error,
    code: d.code,
    source: 'nvcc',
    message: d.message,
    data: { help: d.help, start: d.start, end: d.end },
    relatedInformation: d.related.map((r) => ({
      location: { uri: uriOf(r.file), range: rangeIn(r.file, r.start, r.end) },
      message: r.message,
    })),
  });

  let pending: NodeJS.Immediate | undefined;
  const dirty: string[] = [];
  const validateSoon = (first: string) => {
    const others = documents
      .all()
      .map((d) => d.uri)
      .filter((u) => u !== first);
    for (const u of [first, ...others]) if (!dirty.includes(u)) dirty.push(u);
    if (pending) return;
    pending = setImmediate(() => {
      pending = undefined;
      const queue = dirty.splice(0);
      for (const uri of queue) validate(uri);
    });
  };

  /** Per open document, the compile its published diagnostics came from (a newer one cancels the variants). */
  const checked = new Map<string, { version: number; compiled: object }>();

  const generations = new Int32Array(new SharedArrayBuffer(4 * GENERATION_SLOTS));
  /** Started for the first document with variants (~95 MB); undefined: not yet; null: none can run. */
  let variantWorker: Worker | null | undefined = options.checkVariants === false ? null : undefined;
  const pendingJobs = new Map<number, (diagnostics: analysis.EditorDiagnostic[] | undefined) => void>();
  let nextJob = 0;
  let nextGeneration = 0;
  const slots = new Map<string, number>();
  const slotOf = (uri: string): number => {
    let slot = slots.get(uri);
    if (slot === undefined) {
      const used = new Set(slots.values());
      slot = 0;
      while (used.has(slot) && slot < GENERATION_SLOTS - 1) slot++;
      slots.set(uri, slot);
    }
    return slot;
  };
  /** Abandons the worker's job for `uri`, if any: its document changed. */
  const supersede = (uri: string) => {
    Atomics.store(generations, slotOf(uri), ++nextGeneration);
  };
  const worker = (): Worker | null => {
    if (variantWorker !== undefined) return variantWorker;
    const started = startVariantWorker(generations);
    variantWorker = started ?? null;
    started?.on('message', (r: VariantResult) => {
      const done = pendingJobs.get(r.id);
      pendingJobs.delete(r.id);
      done?.(r.diagnostics);
    });
    started?.on('error', (err) => {
      process.stderr.write(`nvcc lsp: the variant worker stopped; variants now on the main thread (${err})\n`);
      variantWorker = null;
      for (const done of pendingJobs.values()) done(undefined);
      pendingJobs.clear();
    });
    return variantWorker;
  };

  const validate = (uri: string) => {
    const doc = documents.get(uri);
    const file = pathOf(uri);
    if (!doc || !file) return;
    const text = doc.getText();
    const version = doc.version;
    const ov = overlay();
    const compiled = safely(() => analysis.compileDocument(file, text, ov), undefined);
    const last = checked.get(uri);
    // nothing this document reads has changed (another document was edited): its diagnostics stand
    if (compiled && last && last.version === version && last.compiled === compiled) return;
    supersede(uri);
    if (compiled) checked.set(uri, { version, compiled });
    else checked.delete(uri);
    const base = safely(() => analysis.baseDiagnostics(file, text, ov), []);
    void connection.sendDiagnostics({ uri, version, diagnostics: base.map((d) => toLsp(doc, d)) });
    // the variants' own problems follow in a second publication, given up as soon as the
    // document or a file it reads changes
    if (options.checkVariants === false || !compiled) return;
    if (!compiled.ast.decls.some((d) => d.kind === 'Variant')) return;
    const current = () => documents.get(uri)?.version === version && checked.get(uri)?.compiled === compiled;
    const publish = (variants: analysis.EditorDiagnostic[] | undefined) => {
      if (!current() || !variants || variants.length === 0) return;
      void connection.sendDiagnostics({
        uri,
        version,
        diagnostics: [...base, ...variants].map((d) => toLsp(doc, d)),
      });
    };
    const onMainThread = () => {
      const check = safely(() => analysis.variantChecker(file, text, ov), undefined);
      if (!check) return;
      const step = () => {
        if (!current()) return;
        if (safely(() => check.step(), false)) {
          // a timer, not setImmediate: the protocol reads and answers messages in the poll and
          // check phases that come between two timers, so a request waits for one variant at most
          setTimeout(step, 0);
          return;
        }
        publish(check.result());
      };
      step();
    };
    setTimeout(() => {
      if (!current()) return;
      const thread = worker();
      if (!thread) return onMainThread();
      const id = ++nextJob;
      const slot = slotOf(uri);
      pendingJobs.set(id, publish);
      const job: VariantJob = { id, slot, generation: Atomics.load(generations, slot), file, text, overlay: [...ov] };
      thread.postMessage(job);
    }, VARIANTS_AFTER_MS);
  };

  const request = (uri: string) => {
    const doc = documents.get(uri);
    const file = pathOf(uri);
    return doc && file ? { doc, file, text: doc.getText(), ov: overlay() } : undefined;
  };

  const editsToWorkspace = (edits: readonly analysis.TextEdit[]): WorkspaceEdit => {
    const changes: Record<string, { range: Range; newText: string }[]> = {};
    for (const e of edits)
      (changes[uriOf(e.file)] ??= []).push({ range: rangeIn(e.file, e.start, e.end), newText: e.text });
    return { changes };
  };

  connection.onInitialize((params): InitializeResult => {
    const options = params.initializationOptions as { inlayHints?: { shapes?: boolean } } | undefined;
    if (options?.inlayHints?.shapes === false) shapeHints = false;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: false },
        documentSymbolProvider: true,
        workspaceSymbolProvider: true,
        completionProvider: { triggerCharacters: ['"', '{', ' ', '=', '/'] },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        documentFormattingProvider: true,
        inlayHintProvider: true,
        semanticTokensProvider: {
          legend: {
            tokenTypes: [...analysis.SEMANTIC_TOKEN_TYPES],
            tokenModifiers: [...analysis.SEMANTIC_TOKEN_MODIFIERS],
          },
          full: true,
        },
        executeCommandProvider: { commands: ['nvc.showDiagram'] },
      },
      serverInfo: { name: 'nvcc', version: '1' },
    };
  });

  connection.onDidChangeConfiguration((change) => {
    const settings = change.settings as { nvc?: { inlayHints?: { shapes?: boolean } } } | undefined;
    const wanted = settings?.nvc?.inlayHints?.shapes;
    if (typeof wanted === 'boolean') shapeHints = wanted;
  });

  documents.onDidChangeContent((e) => validateSoon(e.document.uri));
  documents.onDidClose((e) => {
    supersede(e.document.uri);
    checked.delete(e.document.uri);
    slots.delete(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
    for (const d of documents.all()) validateSoon(d.uri);
  });
  // a file changed on disk (the client watches **/*.nvc): the imports a compile read are checked by
  // content anyway, but the fixes of unknown names search the project's other files too
  connection.onDidChangeWatchedFiles(() => {
    analysis.forgetCompiles();
    for (const d of documents.all()) validateSoon(d.uri);
  });

  connection.onHover((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return null;
    const value = safely(() => analysis.hover(r.file, r.text, r.doc.offsetAt(p.position), r.ov), undefined);
    return value ? { contents: { kind: 'markdown', value } } : null;
  });

  connection.onDefinition((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return null;
    const loc = safely(() => analysis.definition(r.file, r.text, r.doc.offsetAt(p.position), r.ov), undefined);
    return loc ? { uri: uriOf(loc.file), range: rangeIn(loc.file, loc.start, loc.end) } : null;
  });

  connection.onReferences((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return [];
    const refs = safely(() => analysis.references(r.file, r.text, r.doc.offsetAt(p.position), r.ov), []);
    const offset = r.doc.offsetAt(p.position);
    const def = analysis.definition(r.file, r.text, offset, r.ov);
    return refs
      .filter((l) => p.context.includeDeclaration || !(def && l.file === def.file && l.start === def.start))
      .map((l) => ({ uri: uriOf(l.file), range: rangeIn(l.file, l.start, l.end) }));
  });

  connection.onRenameRequest((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return null;
    const result = safely(() => analysis.rename(r.file, r.text, r.doc.offsetAt(p.position), p.newName, r.ov), {
      error: 'nothing to rename here',
    } as const);
    if ('error' in result) throw new Error(result.error);
    return editsToWorkspace(result.edits);
  });

  connection.onDocumentSymbol((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return [];
    const convert = (s: analysis.DocumentSymbol): import('vscode-languageserver').DocumentSymbol => ({
      name: s.name,
      kind: SYMBOL_KINDS[s.kind],
      range: { start: r.doc.positionAt(s.start), end: r.doc.positionAt(s.end) },
      selectionRange: { start: r.doc.positionAt(s.selectionStart), end: r.doc.positionAt(s.selectionEnd) },
      children: s.children.map(convert),
    });
    return safely(() => analysis.documentSymbols(r.file, r.text), []).map(convert);
  });

  connection.onWorkspaceSymbol((p) => {
    const ov = overlay();
    const roots = [...ov.keys()];
    return safely(() => analysis.workspaceSymbols(p.query, ov, roots), []).map((s) => ({
      name: s.name,
      kind: SYMBOL_KINDS[s.kind],
      location: { uri: uriOf(s.file), range: rangeIn(s.file, s.start, s.end) },
    }));
  });

  connection.onCompletion((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return [];
    return safely(() => analysis.completions(r.file, r.text, r.doc.offsetAt(p.position), r.ov), []).map((c) => ({
      label: c.label,
      kind: COMPLETION_KINDS[c.kind],
      ...(c.detail ? { detail: c.detail } : {}),
      ...(c.documentation ? { documentation: { kind: 'markdown' as const, value: c.documentation } } : {}),
    }));
  });

  connection.onCodeAction((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return [];
    const diagnostics: analysis.EditorDiagnostic[] = p.context.diagnostics.map((d) => {
      const data = d.data as { help?: string[] } | undefined;
      return {
        start: r.doc.offsetAt(d.range.start),
        end: r.doc.offsetAt(d.range.end),
        severity: 'error',
        code: String(d.code ?? ''),
        message: d.message,
        help:
          data?.help ??
          d.message
            .split('\n')
            .filter((l) => l.startsWith('help: '))
            .map((l) => l.slice(6)),
        related: [],
      };
    });
    return safely(() => analysis.codeActions(r.file, r.text, diagnostics), []).map((a, i) => ({
      title: a.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: p.context.diagnostics.filter((d) => String(d.code) === a.diagnosticCode).slice(0, 1),
      edit: editsToWorkspace(a.edits),
      isPreferred: i === 0,
    }));
  });

  connection.onDocumentFormatting((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return [];
    return safely(() => analysis.formatDocument(r.file, r.text), []).map((e) => ({
      range: { start: r.doc.positionAt(e.start), end: r.doc.positionAt(e.end) },
      newText: e.text,
    }));
  });

  connection.languages.inlayHint.on((p) => {
    const r = request(p.textDocument.uri);
    if (!r || !shapeHints) return [];
    const from = r.doc.offsetAt(p.range.start);
    const to = r.doc.offsetAt(p.range.end);
    return safely(() => analysis.inlayHints(r.file, r.text, r.ov), [])
      .filter((h) => h.offset >= from && h.offset <= to)
      .map((h) => ({
        position: r.doc.positionAt(h.offset),
        label: h.label,
        kind: InlayHintKind.Type,
        paddingLeft: true,
      }));
  });

  connection.languages.semanticTokens.on((p) => {
    const r = request(p.textDocument.uri);
    if (!r) return { data: [] };
    const data: number[] = [];
    let line = 0;
    let char = 0;
    for (const t of safely(() => analysis.semanticTokens(r.file, r.text, r.ov), [])) {
      const pos = r.doc.positionAt(t.start);
      const deltaLine = pos.line - line;
      const deltaChar = deltaLine === 0 ? pos.character - char : pos.character;
      const modifiers = t.modifiers.reduce((m, x) => m | (1 << analysis.SEMANTIC_TOKEN_MODIFIERS.indexOf(x)), 0);
      data.push(deltaLine, deltaChar, t.length, analysis.SEMANTIC_TOKEN_TYPES.indexOf(t.type), modifiers);
      line = pos.line;
      char = pos.character;
    }
    return { data };
  });

  connection.onExecuteCommand(async (p) => {
    if (p.command !== 'nvc.showDiagram') return null;
    const [uri, position] = (p.arguments ?? []) as [string, { line: number; character: number }];
    const r = uri ? request(uri) : undefined;
    if (!r || !position) return { error: 'open a .nvc file and place the cursor in a model or stage' };
    try {
      return await analysis.diagramAt(r.file, r.text, r.doc.offsetAt(position), r.ov);
    } catch (err) {
      return { error: `the diagram could not be drawn: ${err instanceof Error ? err.message : String(err)}` };
    }
  });

  documents.listen(connection);
  connection.listen();
  return connection;
}

function readText(file: string): string {
  const read = readRegularFile(file);
  return 'refused' in read ? '' : read.text;
}

/**
 * A request must answer even if analysis meets something unforeseen: the editor then shows
 * nothing for that request instead of an error popup over the user's text; the problem is
 * logged to stderr (the editor's output channel).
 */
function safely<T>(compute: () => T, fallback: T): T {
  try {
    return compute();
  } catch (err) {
    process.stderr.write(`nvcc lsp: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return fallback;
  }
}
