/**
 * `.vsix` packaging of the VS Code extension (editors/vscode/package.mjs), offline: the script is
 * run as a user runs it, into a temporary folder, and the archive is opened (fflate) and checked:
 * exactly the expected files, the manifest and grammar as in the source folder, a package
 * manifest and content types VS Code can read, a client bundle that needs nothing but `vscode`
 * and Node's own modules and loads, the licenses of what it bundles, and the same bytes when
 * packaged twice.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import Module, { builtinModules, createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DIR = path.resolve('editors/vscode');
const manifest = JSON.parse(fs.readFileSync(path.join(DIR, 'package.json'), 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvc-vsix-'));

function packageTo(name: string): { bytes: Buffer; files: Record<string, Uint8Array> } {
  const out = path.join(tmp, name);
  execFileSync(process.execPath, [path.join(DIR, 'package.mjs'), '--out', out], { stdio: 'pipe' });
  const bytes = fs.readFileSync(out);
  return { bytes, files: unzipSync(new Uint8Array(bytes)) };
}

let vsix: { bytes: Buffer; files: Record<string, Uint8Array> };
const text = (name: string) => Buffer.from(vsix.files[name]!).toString('utf8');

beforeAll(() => {
  vsix = packageTo('nvc.vsix');
}, 120_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('nvc .vsix', () => {
  it('holds exactly the manifest, client bundle, grammar, language configuration, README and licenses', () => {
    expect(Object.keys(vsix.files).sort()).toEqual([
      '[Content_Types].xml',
      'extension.vsixmanifest',
      'extension/README.md',
      'extension/THIRD_PARTY_LICENSES.txt',
      'extension/extension.js',
      'extension/language-configuration.json',
      'extension/package.json',
      'extension/syntaxes/nvc.tmLanguage.json',
    ]);
    expect(JSON.parse(text('extension/package.json'))).toEqual(manifest);
    for (const g of manifest.contributes.grammars) {
      const inZip = `extension/${path.posix.normalize(g.path)}`;
      expect(text(inZip)).toBe(fs.readFileSync(path.join(DIR, g.path), 'utf8'));
      expect(JSON.parse(text(inZip)).scopeName).toBe(g.scopeName);
    }
    for (const l of manifest.contributes.languages)
      expect(text(`extension/${path.posix.normalize(l.configuration)}`)).toBe(
        fs.readFileSync(path.join(DIR, l.configuration), 'utf8'),
      );
    expect(vsix.files[`extension/${path.posix.normalize(manifest.main)}`]).toBeDefined();
  });

  it('describes the package as VS Code and the marketplace read it', () => {
    const vsixManifest = text('extension.vsixmanifest');
    const identity = /<Identity Language="en-US" Id="([^"]+)" Version="([^"]+)" Publisher="([^"]+)" \/>/.exec(
      vsixManifest,
    );
    expect(identity?.slice(1)).toEqual([manifest.name, manifest.version, manifest.publisher]);
    expect(vsixManifest).toContain(
      `<Property Id="Microsoft.VisualStudio.Code.Engine" Value="${manifest.engines.vscode}" />`,
    );
    expect(vsixManifest).toContain(`<DisplayName>${manifest.displayName}</DisplayName>`);
    for (const asset of vsixManifest.matchAll(/<Asset Type="[^"]+" Path="([^"]+)"/g))
      expect(vsix.files[asset[1]!], asset[1]).toBeDefined();
    expect(vsixManifest).toContain('Path="extension/package.json"');
    // every file's extension has a content type (Open Packaging Conventions)
    const types = new Set([...text('[Content_Types].xml').matchAll(/<Default Extension="([^"]+)"/g)].map((m) => m[1]));
    for (const name of Object.keys(vsix.files))
      if (name !== '[Content_Types].xml') expect(types.has(path.posix.extname(name)), name).toBe(true);
  });

  it('bundles the client so that it needs only `vscode` and Node, and it loads', () => {
    const client = text('extension/extension.js');
    const required = new Set([...client.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!));
    expect([...required].filter((r) => r !== 'vscode' && !builtinModules.includes(r.replace(/^node:/, '')))).toEqual(
      [],
    );
    expect(required.has('vscode')).toBe(true);
    // vscode-languageclient is inside (the protocol it speaks), with its license
    for (const method of ['textDocument/publishDiagnostics', 'workspace/executeCommand', 'initialize'])
      expect(client.includes(`"${method}"`), method).toBe(true);
    const licenses = text('extension/THIRD_PARTY_LICENSES.txt');
    for (const name of ['vscode-languageclient', 'vscode-jsonrpc', 'vscode-languageserver-protocol'])
      expect(licenses).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+ \\(MIT\\)$`, 'm'));

    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked, { recursive: true });
    const file = path.join(unpacked, 'extension.js');
    fs.writeFileSync(file, client);
    fs.writeFileSync(path.join(unpacked, 'package.json'), '{"type":"commonjs"}');
    const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const original = loader._load;
    // the bundled client derives classes from the API's (`class ... extends vscode.X`) as it loads
    const api = new Proxy({}, { get: () => class {} });
    loader._load = (request: string, ...rest: unknown[]) => (request === 'vscode' ? api : original(request, ...rest));
    try {
      const ext = createRequire(import.meta.url)(file) as Record<string, (...args: never[]) => unknown>;
      expect(Object.keys(ext).sort()).toEqual(['activate', 'deactivate', 'diagramHtml', 'serverOptions']);
      const server = (ext.serverOptions as (c: unknown, cwd: string) => unknown)(
        { get: (_key: string, fallback: unknown) => fallback },
        '/w',
      );
      expect(server).toMatchObject({ command: 'npx', args: ['nvcc', 'lsp', '--stdio'], options: { cwd: '/w' } });
    } finally {
      loader._load = original;
    }
  });

  it('gives the same bytes when packaged again', () => {
    expect(packageTo('again.vsix').bytes.equals(vsix.bytes)).toBe(true);
  });
});
