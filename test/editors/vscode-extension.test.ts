/**
 * The VS Code extension (editors/vscode) without VS Code: a real VS Code cannot be downloaded or
 * started here (@vscode/test-electron downloads it from a host that does not resolve here; no
 * display), so the client is loaded with stand-ins for the `vscode` and `vscode-languageclient`
 * modules that record what it hands them: the server command and options on activation, the
 * `nvc.showDiagram` request and the webview it opens, its messages, stopping on deactivation.
 * Its manifest is checked against the files it names, and the diagram webview's page is
 * rendered in headless Chromium (Debian's /usr/bin/chromium via playwright-core) with the SVG
 * the server draws for a model of examples/mednvc.nvc: drawn, within the panel's width, no
 * script run.
 * UPDATE_FIGURES=1 writes that rendering to docs/figures/vscode-diagram-webview.png.
 */
import * as fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { diagramAt } from '../../lsp/analysis.js';

const DIR = path.resolve('editors/vscode');
const manifest = JSON.parse(fs.readFileSync(path.join(DIR, 'package.json'), 'utf8'));

interface Recorded {
  clientArgs?: unknown[];
  commands: string[];
  handlers: Map<string, () => Promise<void>>;
  started: boolean;
  stopped: boolean;
  requests: { method: string; params: unknown }[];
  panels: { viewType: string; title: string; column: unknown; options: unknown; html?: string }[];
  messages: { kind: 'information' | 'warning'; text: string }[];
}

type Exported = (...args: never[]) => unknown;

interface Setup {
  /** What the server answers to `workspace/executeCommand`. */
  readonly answer?: unknown;
  /** The editor in front: its language and cursor. */
  readonly editor?: { languageId: string; uri: string; active: { line: number; character: number } };
}

function loadExtension(
  settings: Record<string, unknown>,
  setup: Setup = {},
): { ext: Record<string, Exported>; rec: Recorded } {
  const rec: Recorded = {
    commands: [],
    handlers: new Map(),
    started: false,
    stopped: false,
    requests: [],
    panels: [],
    messages: [],
  };
  const fakeVscode = {
    workspace: {
      getConfiguration: () => ({
        get: (key: string, fallback: unknown) => (key in settings ? settings[key] : fallback),
      }),
      workspaceFolders: [{ uri: { fsPath: '/work/project' } }],
      createFileSystemWatcher: (glob: string) => ({ glob }),
    },
    commands: {
      registerCommand: (name: string, handler: () => Promise<void>) => {
        rec.commands.push(name);
        rec.handlers.set(name, handler);
        return { dispose() {} };
      },
    },
    window: {
      activeTextEditor: setup.editor && {
        document: { languageId: setup.editor.languageId, uri: { toString: () => setup.editor!.uri } },
        selection: { active: setup.editor.active },
      },
      createWebviewPanel: (viewType: string, title: string, column: unknown, options: unknown) => {
        const panel = { viewType, title, column, options, html: undefined as string | undefined };
        rec.panels.push(panel);
        return {
          webview: {
            set html(value: string) {
              panel.html = value;
            },
          },
        };
      },
      showInformationMessage: (text: string) => rec.messages.push({ kind: 'information', text }),
      showWarningMessage: (text: string) => rec.messages.push({ kind: 'warning', text }),
    },
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
    stop() {
      rec.stopped = true;
      return Promise.resolve();
    }
    sendRequest(method: string, params: unknown) {
      rec.requests.push({ method, params });
      return Promise.resolve(setup.answer);
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

const activate = (ext: Record<string, Exported>) =>
  (ext.activate as (c: unknown) => Promise<void>)({ subscriptions: [] });

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
    await activate(ext);
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

  it('asks the server for the diagram under the cursor and shows it in a webview beside the editor', async () => {
    const editor = { languageId: 'nvc', uri: 'file:///w/m.nvc', active: { line: 46, character: 8 } };
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><text>MEDNVC</text></svg>';
    const { ext, rec } = loadExtension({}, { editor, answer: { svg, title: 'model MEDNVC' } });
    await activate(ext);
    await rec.handlers.get('nvc.showDiagram')!();
    expect(rec.requests).toEqual([
      {
        method: 'workspace/executeCommand',
        params: { command: 'nvc.showDiagram', arguments: ['file:///w/m.nvc', { line: 46, character: 8 }] },
      },
    ]);
    expect(rec.panels).toEqual([
      {
        viewType: 'nvcDiagram',
        title: 'Diagram: model MEDNVC',
        column: -2,
        options: { enableScripts: false },
        html: (ext.diagramHtml as (t: string, s: string) => string)('model MEDNVC', svg),
      },
    ]);
    expect(rec.messages).toEqual([]);
    await (ext.deactivate as () => Promise<void>)();
    expect(rec.stopped).toBe(true);
  });

  it("shows the server's reason when there is no diagram, and asks for a .nvc file elsewhere", async () => {
    const editor = { languageId: 'nvc', uri: 'file:///w/m.nvc', active: { line: 0, character: 0 } };
    const broken = loadExtension({}, { editor, answer: { error: 'the program has errors; fix them to draw it' } });
    await activate(broken.ext);
    await broken.rec.handlers.get('nvc.showDiagram')!();
    expect(broken.rec.panels).toEqual([]);
    expect(broken.rec.messages).toEqual([{ kind: 'warning', text: 'the program has errors; fix them to draw it' }]);

    const other = loadExtension({}, { editor: { ...editor, languageId: 'markdown' } });
    await activate(other.ext);
    await other.rec.handlers.get('nvc.showDiagram')!();
    expect(other.rec.requests).toEqual([]);
    expect(other.rec.messages).toEqual([
      { kind: 'information', text: 'Open a .nvc file and place the cursor in a model or stage.' },
    ]);
  });

  it('escapes the title of the webview page', () => {
    const { ext } = loadExtension({});
    const html = (ext.diagramHtml as (t: string, s: string) => string)('a <b> & "c"', '<svg></svg>');
    expect(html).toContain('<title>a &lt;b&gt; &amp; &quot;c&quot;</title>');
  });

  it("renders the server's diagram in headless Chromium under the page's policy, with no script run", async () => {
    const file = path.resolve('examples/mednvc.nvc');
    const text = fs.readFileSync(file, 'utf8');
    // the cursor in MED-NVC's labs-only baseline: a small figure (MEDNVC itself is ~37,000 px tall)
    const diagram = await diagramAt(file, text, text.indexOf('model LabsOnly') + 8, new Map([[file, text]]));
    if (!('svg' in diagram)) throw new Error(diagram.error);
    expect(diagram.title).toBe('model LabsOnly');
    const { ext } = loadExtension({});
    const diagramHtml = ext.diagramHtml as (t: string, s: string) => string;
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-webview-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 900, height: 700 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await context.newPage();
      // a script smuggled into the SVG must not run: the policy allows none
      const smuggled = diagram.svg.replace('</svg>', '<script>document.title = "a script ran"</script></svg>');
      await page.setContent(diagramHtml(diagram.title, smuggled));
      expect(await page.title()).toBe('model LabsOnly');
      await page.setContent(diagramHtml(diagram.title, diagram.svg));
      const drawn = await page.evaluate(() => {
        const svg = document.querySelector('svg')!;
        const box = svg.getBoundingClientRect();
        return {
          width: box.width,
          height: box.height,
          pageWidth: document.documentElement.clientWidth,
          texts: Array.from(svg.querySelectorAll('text'), (t) => t.textContent ?? ''),
        };
      });
      // the figure fits the panel's width and is drawn with its labels
      expect(drawn.width).toBeGreaterThan(100);
      expect(drawn.width).toBeLessThanOrEqual(drawn.pageWidth);
      expect(drawn.height).toBeGreaterThan(300);
      for (const label of ['LabsOnly', 'LabMLP', 'Linear']) expect(drawn.texts.join(' ')).toContain(label);
      const shot = await page.screenshot({ type: 'png', fullPage: true });
      if (process.env.UPDATE_FIGURES === '1') fs.writeFileSync('docs/figures/vscode-diagram-webview.png', shot);
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
