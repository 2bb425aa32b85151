/**
 * Rendering diagnostics for people (rustc style) and for tools (JSON).
 * In: Diagnostics and a way to get the SourceFile of a path. Out: text. Holds afterwards:
 * rendering never throws and never needs the file system; a diagnostic whose file is unknown
 * is still printed (without the source excerpt).
 *
 * Text layout:
 *   error[NVC1011]: expected `)` to close `(` but found `{`
 *    --> model.nvc:1:16
 *     |
 *   1 | block A(x: int {
 *     |        - unclosed `(` opened here
 *     |                ^
 *     |
 *     = help: ...
 * Every label gets its own underline row under its line (primary `^`, secondary `-`), in
 * source order; multi-line spans underline each line they cover (long ones elided with `...`).
 * Tabs display as 4 spaces; underline columns follow that expansion.
 */
import type { SourceFile, Span } from '../span.js';
import type { Diagnostic, Severity } from './diagnostic.js';

export interface RenderOptions {
  readonly color?: boolean;
}

export type FileLookup = (path: string) => SourceFile | undefined;

const TAB = '    ';

const ansi = {
  reset: '\u001b[0m',
  bold: '\u001b[1m',
  red: '\u001b[31m',
  yellow: '\u001b[33m',
  blue: '\u001b[34m',
  cyan: '\u001b[36m',
};

/** Colour only for a TTY and when NO_COLOR is unset (https://no-color.org). */
export function shouldUseColor(stream: { isTTY?: boolean } = process.stderr): boolean {
  const noColor = process.env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  return stream.isTTY === true;
}

interface Mark {
  readonly span: Span;
  readonly message: string;
  readonly primary: boolean;
}

function severityColor(s: Severity): string {
  return s === 'error' ? ansi.red : s === 'warning' ? ansi.yellow : ansi.cyan;
}

/** Display width of `text` with tabs expanded. */
function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += ch === '\t' ? TAB.length : 1;
  return w;
}

function expandTabs(text: string): string {
  return text.replace(/\t/g, TAB);
}

export function renderDiagnostic(d: Diagnostic, lookup: FileLookup, options: RenderOptions = {}): string {
  const color = options.color === true;
  const paint = (code: string, text: string) => (color ? code + text + ansi.reset : text);
  const out: string[] = [];
  const sev = d.severity;
  out.push(paint(ansi.bold + severityColor(sev), `${sev}[${d.code}]`) + paint(ansi.bold, `: ${d.message}`));

  const file = lookup(d.span.file);
  const marks: Mark[] = [
    { span: d.span, message: d.primaryLabel ?? '', primary: true },
    ...d.labels.map((l) => ({ span: l.span, message: l.message, primary: false })),
  ];
  const sameFile = marks.filter((m) => m.span.file === d.span.file);
  const otherFile = marks.filter((m) => m.span.file !== d.span.file);

  if (!file) {
    out.push(` --> ${d.span.file}`);
    for (const m of marks) if (!m.primary && m.message) out.push(` = note: ${m.message} (${m.span.file})`);
    appendFooter(out, d, ' ', paint);
    return out.join('\n') + '\n';
  }

  // Lines to show, with their underline rows.
  const rows = new Map<number, { col: number; width: number; mark: Mark; last: boolean }[]>();
  const addRow = (line: number, col: number, width: number, mark: Mark, last: boolean) => {
    const list = rows.get(line) ?? [];
    list.push({ col, width, mark, last });
    rows.set(line, list);
  };
  const elided = new Set<number>();
  for (const m of sameFile) {
    const a = file.lineCol(m.span.start);
    const b = file.lineCol(Math.max(m.span.start, m.span.end));
    // An end exactly at the start of a line belongs to the previous line.
    let endLine = b.line;
    let endCol = b.column;
    if (endLine > a.line && endCol === 1) {
      endLine--;
      endCol = file.lineText(endLine).length + 1;
    }
    if (endLine === a.line) {
      const text = file.lineText(a.line);
      const startW = displayWidth(text.slice(0, a.column - 1));
      const width = Math.max(1, displayWidth(text.slice(a.column - 1, endCol - 1)));
      addRow(a.line, startW, width, m, true);
      continue;
    }
    const lines: number[] = [];
    for (let l = a.line; l <= endLine; l++) lines.push(l);
    const shown = lines.length > 4 ? [lines[0]!, lines[1]!, lines[lines.length - 1]!] : lines;
    if (lines.length > 4) elided.add(lines[2]!);
    for (const l of shown) {
      const text = file.lineText(l);
      const from = l === a.line ? a.column - 1 : text.length - text.trimStart().length;
      const to = l === endLine ? endCol - 1 : text.length;
      const startW = displayWidth(text.slice(0, from));
      const width = Math.max(1, displayWidth(text.slice(from, Math.max(from, to))));
      addRow(l, startW, width, m, l === endLine);
    }
  }
  const lineNumbers = [...rows.keys()].sort((x, y) => x - y);
  const gutterWidth = String(lineNumbers[lineNumbers.length - 1] ?? 1).length;
  const pad = ' '.repeat(gutterWidth);
  const bar = paint(ansi.blue + ansi.bold, '|');
  const start = file.lineCol(d.span.start);
  out.push(`${pad}${paint(ansi.blue + ansi.bold, '-->')} ${file.path}:${start.line}:${start.column}`);
  out.push(`${pad} ${bar}`);
  let previous = 0;
  for (const line of lineNumbers) {
    if (previous !== 0 && line > previous + 1) {
      const gap = [...elided].some((e) => e > previous && e < line) || line > previous + 2;
      if (gap) out.push(paint(ansi.blue + ansi.bold, '...'));
      else
        out.push(
          (
            `${paint(ansi.blue + ansi.bold, String(previous + 1).padStart(gutterWidth))} ${bar} ` +
            `${expandTabs(file.lineText(previous + 1))}`
          ).trimEnd(),
        );
    }
    previous = line;
    out.push(
      (
        `${paint(ansi.blue + ansi.bold, String(line).padStart(gutterWidth))} ${bar} ` +
        `${expandTabs(file.lineText(line))}`
      ).trimEnd(),
    );
    const marksHere = rows.get(line)!.sort((x, y) => x.col - y.col || Number(y.mark.primary) - Number(x.mark.primary));
    for (const r of marksHere) {
      const ch = r.mark.primary ? '^' : '-';
      const code = r.mark.primary ? severityColor(sev) + ansi.bold : ansi.blue + ansi.bold;
      const msg = r.last && r.mark.message ? ' ' + r.mark.message : '';
      out.push(`${pad} ${bar} ${' '.repeat(r.col)}${paint(code, ch.repeat(r.width) + msg)}`);
    }
  }
  for (const m of otherFile) {
    const f = lookup(m.span.file);
    const where = f ? `${f.path}:${f.lineCol(m.span.start).line}:${f.lineCol(m.span.start).column}` : m.span.file;
    out.push(`${pad} ${paint(ansi.blue + ansi.bold, '=')} note: ${m.message} (at ${where})`);
  }
  out.push(`${pad} ${bar}`);
  appendFooter(out, d, pad, paint);
  return out.join('\n') + '\n';
}

function appendFooter(out: string[], d: Diagnostic, pad: string, paint: (c: string, t: string) => string): void {
  const eq = paint(ansi.blue + ansi.bold, '=');
  for (const h of d.help) out.push(`${pad} ${eq} ${paint(ansi.bold, 'help')}: ${h}`);
  for (const n of d.notes) out.push(`${pad} ${eq} ${paint(ansi.bold, 'note')}: ${n}`);
}

/** All diagnostics, separated by blank lines, then a one-line summary. */
export function renderDiagnostics(
  diagnostics: readonly Diagnostic[],
  lookup: FileLookup,
  options: RenderOptions = {},
): string {
  if (diagnostics.length === 0) return '';
  const parts = diagnostics.map((d) => renderDiagnostic(d, lookup, options));
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const counts: string[] = [];
  if (errors) counts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings) counts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  const summary = counts.length ? `${counts.join(', ')} reported\n` : '';
  return parts.join('\n') + (summary ? '\n' + summary : '');
}

// ---------------------------------------------------------------------------------------------
// JSON

export interface JsonLocation {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based, UTF-16 code units. */
  readonly column: number;
  readonly endLine: number;
  /** 1-based, exclusive. */
  readonly endColumn: number;
}

export interface JsonDiagnostic extends JsonLocation {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly primaryLabel?: string;
  readonly labels: readonly (JsonLocation & { readonly message: string })[];
  readonly help: readonly string[];
  readonly notes: readonly string[];
}

function jsonLocation(span: Span, lookup: FileLookup): JsonLocation {
  const f = lookup(span.file);
  if (!f) return { file: span.file, line: 0, column: 0, endLine: 0, endColumn: 0 };
  const a = f.lineCol(span.start);
  const b = f.lineCol(span.end);
  return { file: span.file, line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
}

export function toJson(d: Diagnostic, lookup: FileLookup): JsonDiagnostic {
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    ...jsonLocation(d.span, lookup),
    ...(d.primaryLabel !== undefined ? { primaryLabel: d.primaryLabel } : {}),
    labels: d.labels.map((l) => ({ ...jsonLocation(l.span, lookup), message: l.message })),
    help: d.help,
    notes: d.notes,
  };
}

/** `--format json`: `{ "diagnostics": [...] }`, pretty-printed, stable key order. */
export function renderJson(diagnostics: readonly Diagnostic[], lookup: FileLookup): string {
  return JSON.stringify({ diagnostics: diagnostics.map((d) => toJson(d, lookup)) }, null, 2) + '\n';
}
