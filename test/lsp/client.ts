/**
 * A test client of `nvcc lsp`: the server as an editor starts it (`node bin/nvcc.js lsp --stdio`),
 * spoken to in JSON-RPC over its stdin/stdout (vscode-jsonrpc), with helpers to open and edit
 * documents, wait for published diagnostics and turn results into line-number-free goldens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import * as rpc from 'vscode-jsonrpc/node.js';

export interface Position {
  readonly line: number;
  readonly character: number;
}
export interface Range {
  readonly start: Position;
  readonly end: Position;
}
export interface PublishedDiagnostics {
  readonly uri: string;
  readonly version?: number;
  readonly diagnostics: { range: Range; message: string; code?: string; severity?: number; data?: unknown }[];
}

export const uriOf = (file: string) => pathToFileURL(path.resolve(file)).href;

export class LspClient {
  readonly proc: ChildProcess;
  readonly connection: rpc.MessageConnection;
  readonly published: PublishedDiagnostics[] = [];
  private waiters: (() => void)[] = [];
  stderr = '';

  /** `nodeArgs`: options for the server's Node (the bench passes `--cpu-prof` to profile it). */
  constructor(nodeArgs: readonly string[] = []) {
    this.proc = spawn(process.execPath, [...nodeArgs, path.resolve('bin/nvcc.js'), 'lsp', '--stdio'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.connection = rpc.createMessageConnection(
      new rpc.StreamMessageReader(this.proc.stdout!),
      new rpc.StreamMessageWriter(this.proc.stdin!),
    );
    this.connection.onNotification('textDocument/publishDiagnostics', (p: PublishedDiagnostics) => {
      this.published.push(p);
      for (const w of this.waiters.splice(0)) w();
    });
    this.connection.listen();
  }

  async initialize(initializationOptions: unknown = {}): Promise<{ capabilities: Record<string, unknown> }> {
    const result = await this.connection.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', {
      processId: process.pid,
      rootUri: uriOf('.'),
      capabilities: {},
      initializationOptions,
    });
    await this.connection.sendNotification('initialized', {});
    return result;
  }

  open(file: string, text: string, version = 1): void {
    void this.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: uriOf(file), languageId: 'nvc', version, text },
    });
  }

  /** Replaces the whole text (an incremental change covering everything). */
  change(file: string, text: string, version: number, previous: string): void {
    const lines = previous.split('\n');
    void this.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri: uriOf(file), version },
      contentChanges: [
        {
          range: { start: { line: 0, character: 0 }, end: { line: lines.length - 1, character: lines.at(-1)!.length } },
          text,
        },
      ],
    });
  }

  /** The first diagnostics published for `file` at `version` (or later) that satisfy `ok`. */
  async diagnostics(
    file: string,
    version: number,
    ok: (p: PublishedDiagnostics) => boolean = () => true,
  ): Promise<PublishedDiagnostics> {
    const uri = uriOf(file);
    for (;;) {
      const hit = this.published.find((p) => p.uri === uri && (p.version ?? 0) >= version && ok(p));
      if (hit) return hit;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  request<T>(method: string, params: unknown): Promise<T> {
    return this.connection.sendRequest<T>(method, params);
  }

  /** Shuts the server down as an editor does, giving it a few seconds to exit before killing it. */
  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) resolve();
      else this.proc.once('exit', () => resolve());
    });
    try {
      await this.connection.sendRequest('shutdown');
      await this.connection.sendNotification('exit');
    } catch {
      // the server may already be gone
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    this.connection.dispose();
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill();
  }
}

/** The 0-based position of the `nth` occurrence of `needle` in `text`, plus `delta` characters. */
export function positionOf(text: string, needle: string, delta = 0, nth = 0): Position {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`${needle} not found (${i})`);
  }
  const offset = at + delta;
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

/** A location without line numbers: the file, the text it covers and its line, for goldens. */
export function describeRange(uri: string, range: Range, read: (file: string) => string): string {
  const file = fileURLToPath(uri);
  const lines = read(file).split('\n');
  const covered =
    range.start.line === range.end.line
      ? lines[range.start.line]!.slice(range.start.character, range.end.character)
      : `${lines[range.start.line]!.slice(range.start.character)}...`;
  return `${path.relative(process.cwd(), file)}: \`${covered}\` in \`${lines[range.start.line]!.trim()}\``;
}
