// Packages the VS Code extension to nvc-<version>.vsix without the network, from what `npm ci`
// installs at the repository root: the client (extension.js) is bundled with
// vscode-languageclient by esbuild into one file (`vscode` stays external: VS Code provides it;
// the licenses of what it bundles go beside it), and the .vsix (a zip in the Open Packaging
// Conventions layout VS Code reads: a [Content_Types].xml, an extension.vsixmanifest and the
// extension's files under extension/) is written with fflate. Microsoft's @vscode/vsce is not
// used: it would add a large dependency tree (and native modules) for a zip of eight files.
// Usage: `node editors/vscode/package.mjs [--out FILE]` (from anywhere), or `npm run package`
// in editors/vscode; install with `code --install-extension nvc-0.1.0.vsix`.
// Holds afterwards: the .vsix holds exactly the files `vsixEntries` lists, its manifest is the
// folder's package.json, and building it twice from the same sources gives the same bytes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.dirname(fileURLToPath(import.meta.url));

/** The extension's own files copied as they are (the client is bundled separately). */
const COPIED = ['package.json', 'language-configuration.json', 'syntaxes/nvc.tmLanguage.json', 'README.md'];

const CONTENT_TYPES = {
  '.json': 'application/json',
  '.js': 'application/javascript',
  '.md': 'text/markdown',
  '.txt': 'text/plain',
  '.vsixmanifest': 'text/xml',
};

const xml = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** The VSIX package manifest (schema: vsx-schema 2011, as the VS Code marketplace reads it). */
function vsixManifest(pkg) {
  const property = (id, value) => `      <Property Id="${id}" Value="${xml(value)}" />`;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011"' +
      ' xmlns:d="http://schemas.microsoft.com/developer/vsx-schema-design/2011">',
    '  <Metadata>',
    `    <Identity Language="en-US" Id="${xml(pkg.name)}" Version="${xml(pkg.version)}"` +
      ` Publisher="${xml(pkg.publisher)}" />`,
    `    <DisplayName>${xml(pkg.displayName)}</DisplayName>`,
    `    <Description xml:space="preserve">${xml(pkg.description)}</Description>`,
    `    <Tags>${xml(['nvc', ...(pkg.keywords ?? [])].join(','))}</Tags>`,
    `    <Categories>${xml(pkg.categories.join(','))}</Categories>`,
    '    <GalleryFlags>Public</GalleryFlags>',
    '    <Properties>',
    property('Microsoft.VisualStudio.Code.Engine', pkg.engines.vscode),
    property('Microsoft.VisualStudio.Code.ExtensionDependencies', ''),
    property('Microsoft.VisualStudio.Code.ExtensionPack', ''),
    property('Microsoft.VisualStudio.Code.ExtensionKind', 'workspace'),
    '    </Properties>',
    '  </Metadata>',
    '  <Installation>',
    '    <InstallationTarget Id="Microsoft.VisualStudio.Code" />',
    '  </Installation>',
    '  <Dependencies />',
    '  <Assets>',
    '    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" />',
    '    <Asset Type="Microsoft.VisualStudio.Services.Content.Details" Path="extension/README.md"' +
      ' Addressable="true" />',
    '  </Assets>',
    '</PackageManifest>',
    '',
  ].join('\n');
}

function contentTypes(names) {
  const extensions = [...new Set(names.map((n) => path.extname(n)))].sort();
  const unknown = extensions.filter((e) => !(e in CONTENT_TYPES));
  if (unknown.length > 0) throw new Error(`no content type for ${unknown.join(', ')}`);
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
    ...extensions.map((e) => `  <Default Extension="${e}" ContentType="${CONTENT_TYPES[e]}" />`),
    '</Types>',
    '',
  ].join('\n');
}

/**
 * The client with vscode-languageclient in one minified CommonJS file, `vscode` left to VS Code,
 * and the license texts of the npm packages bundled into it (they ask for their notices to
 * travel with copies).
 */
async function bundleClient() {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(DIR, 'extension.js')],
    absWorkingDir: DIR,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['vscode'],
    write: false,
    minify: true,
    legalComments: 'none',
    preserveSymlinks: true,
    metafile: true,
    logLevel: 'silent',
  });
  const packages = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const at = input.lastIndexOf('node_modules/');
    if (at < 0) continue;
    const parts = input.slice(at + 'node_modules/'.length).split('/');
    packages.add(
      input.slice(0, at) + `node_modules/${parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`,
    );
  }
  const notices = [...packages].sort().map((dir) => {
    const abs = path.resolve(DIR, dir);
    const pkg = JSON.parse(fs.readFileSync(path.join(abs, 'package.json'), 'utf8'));
    const file = fs.readdirSync(abs).find((n) => /^licen[cs]e(\.(md|txt))?$/i.test(n));
    if (!file) throw new Error(`${pkg.name} has no license file to ship with the bundle`);
    return `${pkg.name} ${pkg.version} (${pkg.license})\n\n${fs.readFileSync(path.join(abs, file), 'utf8').trim()}\n`;
  });
  return {
    client: result.outputFiles[0].contents,
    licenses: Buffer.from(
      `The extension's extension.js bundles these npm packages; their licenses follow.\n\n${notices.join('\n---\n\n')}`,
    ),
  };
}

/** Every file of the .vsix by its name in the zip, in the order written. */
export async function vsixEntries() {
  const pkg = JSON.parse(fs.readFileSync(path.join(DIR, 'package.json'), 'utf8'));
  const files = new Map();
  for (const name of COPIED) files.set(`extension/${name}`, fs.readFileSync(path.join(DIR, name)));
  const { client, licenses } = await bundleClient();
  files.set(`extension/${path.posix.normalize(pkg.main)}`, client);
  files.set('extension/THIRD_PARTY_LICENSES.txt', licenses);
  const entries = new Map();
  entries.set('extension.vsixmanifest', Buffer.from(vsixManifest(pkg)));
  entries.set('[Content_Types].xml', Buffer.from(contentTypes(['x.vsixmanifest', ...files.keys()])));
  for (const [name, data] of [...files].sort(([a], [b]) => a.localeCompare(b))) entries.set(name, data);
  return { pkg, entries };
}

/** Writes the .vsix and returns its path. */
export async function packageExtension(out) {
  const { zipSync } = await import('fflate');
  const { pkg, entries } = await vsixEntries();
  const target = out ?? path.join(DIR, `${pkg.name}-${pkg.version}.vsix`);
  // a fixed date makes the archive depend on the sources only
  const mtime = new Date('2020-01-01T00:00:00Z');
  const zipped = zipSync(
    Object.fromEntries([...entries].map(([name, data]) => [name, [new Uint8Array(data), { mtime, level: 9 }]])),
  );
  fs.writeFileSync(target, zipped);
  return target;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outAt = process.argv.indexOf('--out');
  const target = await packageExtension(outAt >= 0 ? path.resolve(process.argv[outAt + 1]) : undefined);
  process.stdout.write(`${target}\n`);
}
