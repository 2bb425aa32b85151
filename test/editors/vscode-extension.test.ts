/**
 * The VS Code extension (editors/vscode) without VS Code: a real VS Code cannot be downloaded or
 * started here (no network for @vscode/test-electron's download, no display), so the client is
 * loaded with stand-ins for the `vscode` and `vscode-languageclient` modules and checked for
 * what it hands them; its manifest is checked against the files it names.
 */
import * as fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = path.resolve('editors/vscode');
const manifest = JSON.parse(fs.readFileSync(path.join(DIR, 'package.json'), 'utf8'));

interface Recorded {
  clientArgs?: unknown[];
  commands: string[];
  started: boolean;
}

type Exported = (...args: never[]) => unknown;

function loadExtension(settings: Record<string, unknown>): { ext: Record<string, Exported>; rec: Recorded } {
  const rec: Recorded = { commands: [], started: false };
  const fakeVscode = {
    workspace: {
      getConfiguration: () => ({
        get: (key: string, fallback: unknown) => (key in settings ? settings[key] : fallback),
      }),
      workspaceFolders: [{ uri: { fsPath: '/work/project' } }],
      createFileSystemWatcher: (glob: string) => ({ glob }),
    },
    commands: { registerCommand: (name: string) => (rec.commands.push(name), { dispose() {} }) },
    window: {},
    ViewColumn: { Beside: -2 },
  };
  class FakeClient {
    constructor(...args: unknown[]) {
      rec.clientArgs = args;
    }
    start() {
      rec.started = true;
      return Promise.resolve();
    }
  }
  const fakeClientModule = { LanguageClient: FakeClient, TransportKind: { stdio: 0 } };
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = loader._load;
  loader._load = (request: string, ...rest: unknown[]) =>
    request === 'vscode'
      ? fakeVscode
      : request === 'vscode-languageclient/node'
        ? fakeClientModule
        : original(request, ...rest);
  try {
    const require = createRequire(import.meta.url);
    const file = path.join(DIR, 'extension.js');
    delete require.cache[file];
    return { ext: require(file), rec };
  } finally {
    loader._load = original;
  }
}

describe('VS Code extension', () => {
  it('names files that exist: the grammar, the language configuration, the entry point', () => {
    expect(fs.existsSync(path.join(DIR, manifest.main))).toBe(true);
    for (const g of manifest.contributes.grammars) expect(fs.existsSync(path.join(DIR, g.path))).toBe(true);
    for (const l of manifest.contributes.languages) {
      expect(l.extensions).toEqual(['.nvc']);
      const config = JSON.parse(fs.readFileSync(path.join(DIR, l.configuration), 'utf8'));
      expect(config.comments).toEqual({ lineComment: '//', blockComment: ['/*', '*/'] });
    }
    expect(manifest.contributes.commands.map((c: { command: string }) => c.command)).toEqual(['nvc.showDiagram']);
  });

  it('starts `nvcc lsp --stdio` for .nvc with the inlay-hint setting and registers the diagram command', async () => {
    const { ext, rec } = loadExtension({ 'inlayHints.shapes': false });
    await (ext.activate as (c: unknown) => Promise<void>)({ subscriptions: [] });
    expect(rec.started).toBe(true);
    expect(rec.commands).toEqual(['nvc.showDiagram']);
    const [id, , server, options] = rec.clientArgs as [
      string,
      string,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(id).toBe('nvc');
    expect(server).toMatchObject({
      command: 'npx',
      args: ['nvcc', 'lsp', '--stdio'],
      options: { cwd: '/work/project' },
    });
    expect(options).toMatchObject({
      documentSelector: [{ scheme: 'file', language: 'nvc' }],
      initializationOptions: { inlayHints: { shapes: false } },
    });
  });

  it('uses a configured server command and shows diagrams without scripts', () => {
    const { ext } = loadExtension({});
    const server = (ext.serverOptions as (c: unknown, cwd: string) => unknown)(
      { get: () => ['node', '/opt/nvcc/bin/nvcc.js', 'lsp', '--stdio'] },
      '/w',
    );
    expect(server).toMatchObject({ command: 'node', args: ['/opt/nvcc/bin/nvcc.js', 'lsp', '--stdio'] });
    const html = (ext.diagramHtml as (t: string, s: string) => string)('model MEDNVC', '<svg></svg>');
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script/);
  });
});
