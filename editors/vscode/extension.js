// The VS Code client of `nvcc lsp`: starts the server (setting nvc.server.command, default
// `npx nvcc lsp --stdio` in the workspace folder), passes the inlay-hint setting, and shows the
// server's `nvc.showDiagram` SVG in a webview beside the editor. Highlighting works without the
// server (syntaxes/nvc.tmLanguage.json). CommonJS, as VS Code loads extensions.

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

/** The server process as the settings describe it. */
function serverOptions(config, cwd) {
  const [command, ...args] = config.get('server.command', ['npx', 'nvcc', 'lsp', '--stdio']);
  return { command, args, transport: TransportKind.stdio, options: { cwd, shell: process.platform === 'win32' } };
}

/** The webview's page: the server's SVG (nvcc's own renderer) under a policy that runs no script. */
function diagramHtml(title, svg) {
  const csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline';";
  const escaped = String(title).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c],
  );
  return (
    `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="${csp}">` +
    `<title>${escaped}</title><style>body{background:#fff;margin:0}svg{max-width:100%;height:auto}</style></head>` +
    `<body>${svg}</body></html>`
  );
}

async function showDiagram() {
  const editor = vscode.window.activeTextEditor;
  if (editor?.document.languageId !== 'nvc' || !client) {
    vscode.window.showInformationMessage('Open a .nvc file and place the cursor in a model or stage.');
    return;
  }
  const result = await client.sendRequest('workspace/executeCommand', {
    command: 'nvc.showDiagram',
    arguments: [editor.document.uri.toString(), editor.selection.active],
  });
  if (!result || result.error) {
    vscode.window.showWarningMessage(result ? result.error : 'no diagram');
    return;
  }
  const panel = vscode.window.createWebviewPanel('nvcDiagram', `Diagram: ${result.title}`, vscode.ViewColumn.Beside, {
    enableScripts: false,
  });
  panel.webview.html = diagramHtml(result.title, result.svg);
}

function activate(context) {
  const config = vscode.workspace.getConfiguration('nvc');
  const folder = vscode.workspace.workspaceFolders?.[0];
  client = new LanguageClient('nvc', 'nvcc language server', serverOptions(config, folder?.uri.fsPath), {
    documentSelector: [{ scheme: 'file', language: 'nvc' }],
    initializationOptions: { inlayHints: { shapes: config.get('inlayHints.shapes', true) } },
    synchronize: { configurationSection: 'nvc', fileEvents: vscode.workspace.createFileSystemWatcher('**/*.nvc') },
  });
  context.subscriptions.push(vscode.commands.registerCommand('nvc.showDiagram', showDiagram));
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, serverOptions, diagramHtml };
