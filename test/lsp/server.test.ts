/**
 * `nvcc lsp` driven as an editor drives it: JSON-RPC over stdio (test/lsp/client.ts), opening
 * examples/mednvc.nvc, editing it and asking for diagnostics, hover, inlay hints, definitions,
 * references, rename, symbols, completions, code actions, formatting, semantic tokens and the
 * diagram command. Answers are compared with goldens in test/baselines/lsp/ written without line
 * numbers (a location is the text it covers and its line), so unrelated edits of the example do
 * not move them; UPDATE_BASELINES=1 accepts new output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRange, LspClient, positionOf, type Range, uriOf } from './client.js';

const BASELINES = 'test/baselines/lsp';
const update = process.env.UPDATE_BASELINES === '1';
const EXAMPLE = 'examples/mednvc.nvc';
const original = fs.readFileSync(EXAMPLE, 'utf8');
const uri = uriOf(EXAMPLE);
const read = (file: string) => (path.resolve(file) === path.resolve(EXAMPLE) ? current : fs.readFileSync(file, 'utf8'));
let current = original;
let version = 1;

function golden(name: string, actual: string): void {
  const file = path.join(BASELINES, `${name}.txt`);
  if (update || !fs.existsSync(file)) {
    if (!update) throw new Error(`missing baseline ${file}; run with UPDATE_BASELINES=1 to create it`);
    fs.mkdirSync(BASELINES, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}

interface Location {
  uri: string;
  range: Range;
}
const describeLocations = (ls: Location[]) =>
  ls
    .map((l) => describeRange(l.uri, l.range, read))
    .sort()
    .join('\n') + '\n';

let client: LspClient;

beforeAll(async () => {
  client = new LspClient();
  await client.initialize();
  client.open(EXAMPLE, original, version);
}, 120_000);

afterAll(async () => {
  await client?.close();
});

const edit = (next: string) => {
  const previous = current;
  current = next;
  version++;
  client.change(EXAMPLE, next, version, previous);
  return version;
};

describe('nvcc lsp over stdio', () => {
  it('publishes no problems for the example, then the typo an edit makes, with a fix', async () => {
    const clean = await client.diagnostics(EXAMPLE, 1);
    expect(clean.diagnostics).toEqual([]);
    const v = edit(
      original.replace('norm = LayerNorm(enc.dims[3], eps = 1e-6)', 'norm = LayerNrom(enc.dims[3], eps = 1e-6)'),
    );
    const broken = await client.diagnostics(EXAMPLE, v, (p) => p.diagnostics.length > 0);
    const d = broken.diagnostics[0]!;
    expect(describeRange(uri, d.range, read)).toContain('`LayerNrom`');
    golden('typo-diagnostic', `${d.code}\n${d.message}\n`);
    const actions = await client.request<{ title: string; edit: { changes: Record<string, { newText: string }[]> } }[]>(
      'textDocument/codeAction',
      { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } },
    );
    expect(actions.map((a) => a.title)).toContain('Replace `LayerNrom` with `LayerNorm`');
    const fixed = edit(original);
    const again = await client.diagnostics(EXAMPLE, fixed);
    expect(again.diagnostics).toEqual([]);
  }, 300_000);

  it('names the variant of a problem only a variant has', async () => {
    const v = edit(
      original.replace(
        'variant no_random_throw { finetune.modality_dropout.p = 0 }',
        'variant no_random_throw { finetune.modality_dropout.pp = 0 }',
      ),
    );
    const p = await client.diagnostics(EXAMPLE, v, (x) => x.diagnostics.length > 0);
    golden(
      'variant-diagnostic',
      p.diagnostics.map((d) => `${describeRange(uri, d.range, read)}\n${d.message}`).join('\n') + '\n',
    );
    edit(original);
  }, 300_000);

  it('hovers: a primitive, an imported block, a forward value, a setting', async () => {
    const at = async (needle: string, delta: number, nth = 0) => {
      const h = await client.request<{ contents: { value: string } } | null>('textDocument/hover', {
        textDocument: { uri },
        position: positionOf(current, needle, delta, nth),
      });
      return h?.contents.value ?? '(none)';
    };
    const parts = [
      ['LayerNorm', await at('LayerNorm(enc.dims[3]', 2)],
      ['CrossAttention', await at('CrossAttention(', 3)],
      ['let q', await at('let q =', 4)],
      ['epochs', await at('epochs =', 2)],
    ];
    golden('hover', parts.map(([k, v]) => `## ${k}\n${v}\n`).join('\n'));
  }, 300_000);

  it('gives the shape after each forward statement as inlay hints', async () => {
    const lines = current.split('\n');
    const hints = await client.request<{ position: { line: number }; label: string }[]>('textDocument/inlayHint', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: lines.length, character: 0 } },
    });
    expect(hints.length).toBeGreaterThanOrEqual(5);
    golden('inlay-hints', hints.map((h) => `${lines[h.position.line]!.trim()}  ${h.label}`).join('\n') + '\n');
  }, 300_000);

  it('goes to definitions across imports and finds references', async () => {
    const def = await client.request<Location>('textDocument/definition', {
      textDocument: { uri },
      position: positionOf(current, 'CrossAttention(', 2),
    });
    const local = await client.request<Location>('textDocument/definition', {
      textDocument: { uri },
      position: positionOf(current, 'let f = q', 8),
    });
    const refs = await client.request<Location[]>('textDocument/references', {
      textDocument: { uri },
      position: positionOf(current, 'block LabMLP', 7),
      context: { includeDeclaration: true },
    });
    const text = [
      `CrossAttention -> ${describeLocations([def])}`,
      `q -> ${describeLocations([local])}`,
      `LabMLP references:\n${describeLocations(refs)}`,
    ];
    golden('definitions', text.join(''));
  }, 300_000);

  it('renames a block everywhere it is used', async () => {
    const result = await client.request<{ changes: Record<string, { range: Range; newText: string }[]> }>(
      'textDocument/rename',
      { textDocument: { uri }, position: positionOf(current, 'block LabMLP', 7), newName: 'LabEncoder' },
    );
    const edits = Object.entries(result.changes).flatMap(([u, es]) =>
      es.map((e) => `${describeRange(u, e.range, read)} -> ${e.newText}`),
    );
    expect(edits.length).toBeGreaterThanOrEqual(2);
    golden('rename', edits.sort().join('\n') + '\n');
    await expect(
      client.request('textDocument/rename', {
        textDocument: { uri },
        position: positionOf(current, 'block LabMLP', 7),
        newName: 'for',
      }),
    ).rejects.toThrow(/not a name/);
  }, 300_000);

  it('lists document symbols and workspace symbols', async () => {
    type Sym = { name: string; kind: number; children?: Sym[] };
    const symbols = await client.request<Sym[]>('textDocument/documentSymbol', { textDocument: { uri } });
    const tree = (s: Sym, indent: string): string[] => [
      `${indent}${s.name} (${s.kind})`,
      ...(s.children ?? []).flatMap((c) => tree(c, `${indent}  `)),
    ];
    const ws = await client.request<{ name: string; location: Location }[]>('workspace/symbol', { query: 'Encoder' });
    golden(
      'symbols',
      symbols.flatMap((s) => tree(s, '')).join('\n') +
        '\n\nworkspace "Encoder":\n' +
        ws.map((s) => `${s.name} ${describeRange(s.location.uri, s.location.range, read)}`).join('\n') +
        '\n',
    );
  }, 300_000);

  it('completes settings, their values, import paths and primitives', async () => {
    type Item = { label: string; detail?: string };
    const complete = (text: string, needle: string, delta: number) => {
      const v = edit(text);
      void v;
      return client.request<Item[]>('textDocument/completion', {
        textDocument: { uri },
        position: positionOf(text, needle, delta),
      });
    };
    const settings = await complete(
      original.replace('  stage finetune {\n', '  stage finetune {\n    \n'),
      'stage finetune {\n    ',
      21,
    );
    const optimizer = await complete(
      original.replace('optimizer = lion(lr = 5e-5)', 'optimizer = '),
      'optimizer = ',
      12,
    );
    const paths = await complete(original.replace('from "std/attention"', 'from "std/'), 'from "std/', 10);
    const general = await complete(original, 'let q = ', 8);
    edit(original);
    expect(general.map((i) => i.label)).toEqual(expect.arrayContaining(['Conv2d', 'gelu', 'ConvNeXtV2Encoder', 'let']));
    golden(
      'completion',
      [
        'stage settings: ' + settings.map((i) => i.label).join(', '),
        'optimizer values: ' + optimizer.map((i) => `${i.label} [${i.detail}]`).join(', '),
        'import paths: ' + paths.map((i) => i.label).join(', '),
        'Conv2d: ' + general.find((i) => i.label === 'Conv2d')?.detail,
      ].join('\n') + '\n',
    );
  }, 300_000);

  it('offers to add a missing import and formats the document as nvcc fmt does', async () => {
    const noImport = original.replace('import { CrossAttention } from "std/attention"\n', '');
    const v = edit(noImport);
    const p = await client.diagnostics(EXAMPLE, v, (x) => x.diagnostics.length > 0);
    const actions = await client.request<{ title: string }[]>('textDocument/codeAction', {
      textDocument: { uri },
      range: p.diagnostics[0]!.range,
      context: { diagnostics: p.diagnostics },
    });
    golden('missing-import', `${p.diagnostics[0]!.message}\n${actions.map((a) => a.title).join('\n')}\n`);
    edit(original.replace('const CHANNELS: int = 3', 'const  CHANNELS:int=3'));
    const formatting = await client.request<{ newText: string }[]>('textDocument/formatting', {
      textDocument: { uri },
      options: { tabSize: 2, insertSpaces: true },
    });
    expect(formatting).toHaveLength(1);
    expect(formatting[0]!.newText).toContain('\nconst CHANNELS: int = 3\n');
    edit(original);
  }, 300_000);

  it('colours tokens and draws the model under the cursor', async () => {
    const tokens = await client.request<{ data: number[] }>('textDocument/semanticTokens/full', {
      textDocument: { uri },
    });
    expect(tokens.data.length % 5).toBe(0);
    const lines = current.split('\n');
    const legend = [
      ...[
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
      ],
      'type',
    ];
    let line = 0;
    let char = 0;
    const modifiers = ['declaration', 'readonly', 'documentation', 'defaultLibrary'];
    // the lines of `model MEDNVC`, from its declaration to its forward's first statement
    const first = positionOf(current, 'model MEDNVC').line;
    const last = positionOf(current, 'let v = xray').line;
    const decoded: string[] = [];
    for (let i = 0; i < tokens.data.length; i += 5) {
      const [dl, dc, len, type, mods] = tokens.data.slice(i, i + 5) as [number, number, number, number, number];
      line += dl;
      char = dl === 0 ? char + dc : dc;
      if (line < first || line > last) continue;
      const named = modifiers.filter((_, k) => mods & (1 << k));
      decoded.push(
        `${lines[line]!.slice(char, char + len)}: ${legend[type]}${named.length ? ` (${named.join(', ')})` : ''}`,
      );
    }
    golden('semantic-tokens', decoded.join('\n') + '\n');
    const diagram = await client.request<{ svg?: string; title?: string; error?: string }>('workspace/executeCommand', {
      command: 'nvc.showDiagram',
      arguments: [uri, positionOf(current, 'let q =', 0)],
    });
    expect(diagram.error).toBeUndefined();
    expect(diagram.title).toBe('model MEDNVC');
    expect(diagram.svg).toMatch(/^<svg/);
    expect(diagram.svg).toContain('CrossAttention');
  }, 300_000);
});
