/**
 * The experiment table of `nvcc experiment`, shaped like Table II of the MED-NVC paper.
 * In: one row per variant (model, fusion, parameter count, test AUC with its 95% CI, accuracy,
 * wall time, and optionally the paired AUC difference to a reference row). Out: the same table
 * as Markdown and as a self-contained HTML page. Holds
 * afterwards: rows keep the order given; numbers are formatted as in the paper (percent with
 * two decimals, parameters in millions), and a missing CI is written as such, never invented.
 */
import { formatDuration } from '../run/progress.js';
import { escapeHtml } from './html.js';

export interface ExperimentRow {
  readonly model: string;
  readonly variant: string;
  readonly fusion: string;
  readonly parameters: number;
  /** Test AUC in [0, 1] (mean over folds when cross-validated). */
  readonly auc: number | null;
  readonly aucLower: number | null;
  readonly aucUpper: number | null;
  /** Test accuracy in [0, 1]. */
  readonly accuracy: number | null;
  readonly wallTimeSeconds: number;
  /** AUC(this row) - AUC(reference row) on the same test patients, with a paired CI. */
  readonly comparison?: AucComparison;
}

export interface AucComparison {
  readonly reference: string;
  readonly difference: number;
  readonly lower: number;
  readonly upper: number;
  readonly pValue: number;
  /** Test patients both rows scored. */
  readonly patients: number;
}

export interface ExperimentTableOptions {
  readonly title?: string;
  /** The exact command that produced the table, printed under it. */
  readonly command?: string;
  /** Free-text notes printed under the table (e.g. dataset, folds, CI method). */
  readonly notes?: readonly string[];
  /** Pages the HTML links under the table (the runs' comparison page), relative hrefs. */
  readonly links?: readonly { readonly href: string; readonly text: string }[];
}

const HEADER = ['Model', 'Variant', 'Multimodal fusion', 'Parameters', 'AUC (95% CI)', 'ACC', 'Wall time'];

/** The table's columns: the paper's, plus the paired comparison when any row has one. */
function header(rows: readonly ExperimentRow[]): string[] {
  const reference = rows.find((r) => r.comparison)?.comparison?.reference;
  return reference === undefined ? HEADER : [...HEADER, `ΔAUC vs ${reference} (95% CI)`, 'p'];
}

/** Signed percentage points: `+4.21`, `-0.50`. */
function points(x: number): string {
  const v = (x * 100).toFixed(2);
  return x > 0 || (x === 0 && !Object.is(x, -0)) ? `+${v}` : v;
}

function comparisonCells(row: ExperimentRow, withComparison: boolean): string[] {
  if (!withComparison) return [];
  const c = row.comparison;
  if (!c) return ['(reference)', ''];
  const ci = finite(c.lower) && finite(c.upper) ? ` (${points(c.lower)} to ${points(c.upper)})` : ' (CI n/a)';
  const p = finite(c.pValue) ? (c.pValue < 0.001 ? '<0.001' : c.pValue.toFixed(3)) : 'n/a';
  return [`${points(c.difference)}${ci}`, p];
}

function finite(x: number | null): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function pct(x: number | null): string {
  return finite(x) ? `${(x * 100).toFixed(2)}%` : 'n/a';
}

/** `83.63M`, `0.016M` (as the paper writes parameter counts), or the exact count below 1000. */
export function formatParameters(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e6).toFixed(3)}M`;
  return String(n);
}

function cells(row: ExperimentRow, withComparison = false): string[] {
  const ci =
    finite(row.aucLower) && finite(row.aucUpper)
      ? ` (${(row.aucLower * 100).toFixed(2)}–${(row.aucUpper * 100).toFixed(2)})`
      : finite(row.auc)
        ? ' (CI n/a)'
        : '';
  return [
    row.model,
    row.variant,
    row.fusion,
    formatParameters(row.parameters),
    `${pct(row.auc)}${ci}`,
    pct(row.accuracy),
    formatDuration(row.wallTimeSeconds),
    ...comparisonCells(row, withComparison),
  ];
}

/**
 * Pipes would split the cell, and `<` before a letter, `/`, `!` or `?` could open an HTML tag in a
 * Markdown renderer; anything else stays as typed, so the terminal shows `<0.001`, not `&lt;0.001`.
 */
function mdCell(text: string): string {
  return text
    .replace(/\|/g, '\\|')
    .replace(/<(?=[A-Za-z/!?])/g, '&lt;')
    .replace(/\r?\n/g, ' ');
}

export function experimentTableMarkdown(rows: readonly ExperimentRow[], options: ExperimentTableOptions = {}): string {
  const lines: string[] = [];
  if (options.title) lines.push(`## ${options.title}`, '');
  const columns = header(rows);
  const withComparison = columns.length > HEADER.length;
  lines.push(`| ${columns.map(mdCell).join(' | ')} |`);
  lines.push(`| ${columns.map((_, i) => (i >= 3 ? '---:' : '---')).join(' | ')} |`);
  for (const row of rows) lines.push(`| ${cells(row, withComparison).map(mdCell).join(' | ')} |`);
  for (const note of options.notes ?? []) lines.push('', note);
  if (options.command) lines.push('', 'Produced by:', '', '```', options.command, '```');
  return `${lines.join('\n')}\n`;
}

export function experimentTableHtml(rows: readonly ExperimentRow[], options: ExperimentTableOptions = {}): string {
  const title = options.title ?? 'Experiment results';
  const columns = header(rows);
  const withComparison = columns.length > HEADER.length;
  const head = columns.map((h, i) => `<th${i >= 3 ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr>${cells(row, withComparison)
          .map((c, i) => `<td${i >= 3 ? ' class="num"' : ''}>${escapeHtml(c)}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  const notes = [
    ...(options.links ?? []).map((l) => `<p><a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a></p>`),
    ...(options.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`),
  ].join('\n');
  const command = options.command ? `<p>Produced by:</p><pre>${escapeHtml(options.command)}</pre>` : '';
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>\n` +
    '<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em}table{border-collapse:collapse}' +
    'th,td{border:1px solid #ccc;padding:4px ' +
    '10px;text-align:left}.num{text-align:right;font-variant-numeric:tabular-nums}</style>\n' +
    `</head><body>\n<h1>${escapeHtml(title)}</h1>\n<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}` +
    `\n</tbody>\n</table>\n` +
    `${notes}${notes ? '\n' : ''}${command}${command ? '\n' : ''}</body></html>\n`
  );
}
