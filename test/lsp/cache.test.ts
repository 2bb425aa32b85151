/**
 * The language server's caches never change an answer: a seeded sequence of random edits of
 * examples/mednvc.nvc and of the std module it imports (std/attention.nvc, open beside it), sent
 * to the server as an editor sends them (incremental changes over JSON-RPC, the server in this
 * process on in-memory streams), and after each edit the diagnostics the server published and its
 * hover and inlay-hint answers are compared with an analysis of the same texts on empty caches
 * (lsp/analysis.ts `uncached`). Every tenth edit the variants' diagnostics are compared too.
 * The edits change numbers, swap names, delete and insert text, undo and go back to the
 * original, so the server sees valid programs, shape errors, name errors and broken syntax, and
 * texts it has seen before. A second server in this process (TypeScript sources: no variant
 * worker) checks the variants' second publication on the main thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import * as rpc from 'vscode-jsonrpc/node.js';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as analysis from '../../lsp/analysis.js';
import { startServer } from '../../lsp/server.js';

const EDITS = 300;
const SEED = 20261205;

const FILES = ['examples/mednvc.nvc', 'std/attention.nvc'].map((f) => path.resolve(f));
const uriOf = (file: string) => pathToFileURL(file).href;

/** A small deterministic generator (mulberry32), so a failure can be replayed from the seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Published {
  uri: string;
  version?: number;
  diagnostics: {
    code?: string;
    message: string;
    severity?: number;
    data?: { start: number; end: number };
    relatedInformation?: { message: string }[];
  }[];
}

const SEVERITY: Record<string, number> = { error: 1, warning: 2, note: 3 };

/** What a diagnostic says, comparable between a published one and an analysis result. */
const fromPublished = (p: Published) =>
  p.diagnostics.map((d) => ({
    code: String(d.code),
    message: d.message,
    severity: d.severity,
    start: d.data?.start,
    end: d.data?.end,
    related: (d.relatedInformation ?? []).map((r) => r.message),
  }));
const fromAnalysis = (ds: readonly analysis.EditorDiagnostic[]) =>
  ds.map((d) => ({
    code: d.code,
    message: d.message,
    severity: SEVERITY[d.severity] ?? 1,
    start: d.start,
    end: d.end,
    related: d.related.map((r) => r.message),
  }));

/** Line/character of an offset (the texts here have no surrogate pairs or \r). */
function positionAt(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

let client: rpc.MessageConnection;
const published: Published[] = [];
const waiters: (() => void)[] = [];
const texts = new Map<string, string>();
const versions = new Map<string, number>();

beforeAll(async () => {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  startServer(
    createConnection(
      ProposedFeatures.all,
      new rpc.StreamMessageReader(toServer),
      new rpc.StreamMessageWriter(toClient),
    ),
    { checkVariants: false },
  );
  client = rpc.createMessageConnection(new rpc.StreamMessageReader(toClient), new rpc.StreamMessageWriter(toServer));
  client.onNotification('textDocument/publishDiagnostics', (p: Published) => {
    published.push(p);
    for (const w of waiters.splice(0)) w();
  });
  client.listen();
  await client.sendRequest('initialize', { processId: process.pid, rootUri: uriOf(process.cwd()), capabilities: {} });
  await client.sendNotification('initialized', {});
  for (const file of FILES) {
    const text = fs.readFileSync(file, 'utf8');
    texts.set(file, text);
    versions.set(file, 1);
    await client.sendNotification('textDocument/didOpen', {
      textDocument: { uri: uriOf(file), languageId: 'nvc', version: 1, text },
    });
  }
}, 120_000);

afterAll(() => {
  client?.dispose();
});

async function publishedFor(file: string, version: number): Promise<void> {
  const uri = uriOf(file);
  while (!published.some((p) => p.uri === uri && p.version === version))
    await new Promise<void>((resolve) => waiters.push(resolve));
}

/** The last diagnostics the server published for `file`. */
function lastPublished(file: string): Published {
  const uri = uriOf(file);
  for (let i = published.length - 1; i >= 0; i--) if (published[i]!.uri === uri) return published[i]!;
  throw new Error(`nothing published for ${file}`);
}

const NAMES = ['x', 'dims', 'heads', 'FUSION_HEADS', 'LABS', 'enc', 'LayerNorm', 'Linear', 'q', 'CrossAttention'];
const SNIPPETS = ['(', ')', ',', ' ', '\n', '1', '0', '+', '.', ' let y = x\n', '[', 'foo', '// c\n', '"'];

/** The next edit: a range of the chosen file's current text and what replaces it. */
function nextEdit(
  rand: () => number,
  file: string,
  history: string[],
): { start: number; end: number; text: string } | { whole: string } {
  const text = texts.get(file)!;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (r < 0.12) return { whole: fs.readFileSync(file, 'utf8') };
  if (r < 0.22 && history.length > 1) return { whole: history[history.length - 2]! };
  if (r < 0.55) {
    // a number literal changed: the program mostly still parses, shapes and checks change
    const numbers = [...text.matchAll(/\b\d+\b/g)];
    const n = pick(numbers);
    const value = pick(['0', '1', '2', '3', '4', '7', '8', '16', '64', '100', '1024']);
    return { start: n.index!, end: n.index! + n[0].length, text: value };
  }
  if (r < 0.7) {
    // a name replaced by another one: unknown names, wrong kinds, other shapes
    const words = [...text.matchAll(/\b[A-Za-z_]\w*\b/g)];
    const w = pick(words);
    return { start: w.index!, end: w.index! + w[0].length, text: pick(NAMES) };
  }
  if (r < 0.85) {
    const start = Math.floor(rand() * text.length);
    return { start, end: Math.min(text.length, start + 1 + Math.floor(rand() * 12)), text: '' };
  }
  const at = Math.floor(rand() * (text.length + 1));
  return { start: at, end: at, text: pick(SNIPPETS) };
}

describe('nvcc lsp caches', () => {
  it(`answer as an uncached analysis does, over ${EDITS} seeded random edits`, async () => {
    const rand = random(SEED);
    const histories = new Map(FILES.map((f) => [f, [texts.get(f)!]]));
    let compared = 0;
    let variantsCompared = 0;
    let clean = 0;
    for (let i = 0; i < EDITS; i++) {
      const file = rand() < 0.7 ? FILES[0]! : FILES[1]!;
      const before = texts.get(file)!;
      const history = histories.get(file)!;
      const edit = nextEdit(rand, file, history);
      const after = 'whole' in edit ? edit.whole : before.slice(0, edit.start) + edit.text + before.slice(edit.end);
      if (after === before) continue;
      const version = versions.get(file)! + 1;
      versions.set(file, version);
      texts.set(file, after);
      history.push(after);
      const range =
        'whole' in edit
          ? { start: positionAt(before, 0), end: positionAt(before, before.length) }
          : { start: positionAt(before, edit.start), end: positionAt(before, edit.end) };
      await client.sendNotification('textDocument/didChange', {
        textDocument: { uri: uriOf(file), version },
        contentChanges: [{ range, text: 'whole' in edit ? edit.whole : edit.text }],
      });
      await publishedFor(file, version);

      // the answers of the server, which keeps its caches from edit to edit
      const entry = FILES[0]!;
      const entryText = texts.get(entry)!;
      const offsets = [...entryText.matchAll(/\b[A-Za-z_]\w*\b/g)].map((m) => m.index! + 1);
      const hoverAt = [0, 1, 2].map(() => offsets[Math.floor(rand() * offsets.length)]!);
      const hovers: (string | null)[] = [];
      for (const offset of hoverAt) {
        const h = await client.sendRequest<{ contents: { value: string } } | null>('textDocument/hover', {
          textDocument: { uri: uriOf(entry) },
          position: positionAt(entryText, offset),
        });
        hovers.push(h ? h.contents.value : null);
      }
      const hints = await client.sendRequest<{ position: { line: number; character: number }; label: string }[]>(
        'textDocument/inlayHint',
        {
          textDocument: { uri: uriOf(entry) },
          range: { start: { line: 0, character: 0 }, end: positionAt(entryText, entryText.length) },
        },
      );
      // every publication the edit caused has arrived once an answer sent after it has
      const server = new Map(FILES.map((f) => [f, fromPublished(lastPublished(f))]));
      const checkVariants = i % 10 === 0;
      const cachedVariants = checkVariants ? analysis.variantDiagnostics(entry, entryText, new Map(texts)) : undefined;

      // the same questions on empty caches
      const overlay: analysis.Overlay = new Map(texts);
      const fresh = analysis.uncached(() => ({
        diagnostics: new Map(FILES.map((f) => [f, fromAnalysis(analysis.baseDiagnostics(f, texts.get(f)!, overlay))])),
        hovers: hoverAt.map((o) => analysis.hover(entry, entryText, o, overlay) ?? null),
        hints: analysis.inlayHints(entry, entryText, overlay).map((h) => ({
          position: positionAt(entryText, h.offset),
          label: h.label,
        })),
        variants: checkVariants ? analysis.variantDiagnostics(entry, entryText, overlay) : undefined,
      }));

      const where = `edit ${i} (seed ${SEED}) of ${path.relative(process.cwd(), file)}`;
      for (const f of FILES) expect(server.get(f), `${where}: diagnostics of ${f}`).toEqual(fresh.diagnostics.get(f));
      expect(hovers, `${where}: hover`).toEqual(fresh.hovers);
      expect(
        hints.map((h) => ({ position: h.position, label: h.label })),
        `${where}: inlay hints`,
      ).toEqual(fresh.hints);
      if (cachedVariants) {
        expect(fromAnalysis(cachedVariants), `${where}: variants`).toEqual(fromAnalysis(fresh.variants!));
        variantsCompared++;
      }
      compared++;
      if (fresh.diagnostics.get(entry)!.length === 0) clean++;
    }
    // the sequence must reach programs that compile as well as broken ones
    expect(compared).toBeGreaterThanOrEqual(EDITS * 0.9);
    expect(clean).toBeGreaterThan(10);
    expect(compared - clean).toBeGreaterThan(10);
    expect(variantsCompared).toBeGreaterThan(20);
  }, 1_200_000);
});

describe('nvcc lsp variants on the main thread (run from the TypeScript sources, no worker)', () => {
  it("publishes the variants' own problems second, as variantDiagnostics computes them", async () => {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    startServer(
      createConnection(
        ProposedFeatures.all,
        new rpc.StreamMessageReader(toServer),
        new rpc.StreamMessageWriter(toClient),
      ),
    );
    const other = rpc.createMessageConnection(
      new rpc.StreamMessageReader(toClient),
      new rpc.StreamMessageWriter(toServer),
    );
    const seen: Published[] = [];
    let wake: (() => void) | undefined;
    other.onNotification('textDocument/publishDiagnostics', (p: Published) => {
      seen.push(p);
      wake?.();
    });
    other.listen();
    try {
      await other.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
      await other.sendNotification('initialized', {});
      const file = FILES[0]!;
      const text = fs
        .readFileSync(file, 'utf8')
        .replace(
          'variant no_random_throw { finetune.modality_dropout.p = 0 }',
          'variant no_random_throw { finetune.modality_dropout.q = 0 }',
        );
      await other.sendNotification('textDocument/didOpen', {
        textDocument: { uri: uriOf(file), languageId: 'nvc', version: 1, text },
      });
      while (seen.length < 2) await new Promise<void>((resolve) => (wake = resolve));
      const overlay = new Map([[file, text]]);
      const expected = analysis.uncached(() => [
        ...analysis.baseDiagnostics(file, text, overlay),
        ...analysis.variantDiagnostics(file, text, overlay),
      ]);
      expect(fromPublished(seen[0]!)).toEqual([]);
      expect(fromPublished(seen[1]!)).toEqual(fromAnalysis(expected));
      expect(seen[1]!.diagnostics.map((d) => d.message.split('\n')[0])).toEqual([
        'variant no_random_throw: unknown `random_throw` setting `q`',
      ]);
    } finally {
      other.dispose();
    }
  }, 600_000);
});
