/**
 * `nvcc fmt`'s work: lay out .nvc files canonically (dsl/format.ts), or report which would change.
 * In: paths (files, or folders searched for `*.nvc`; `-` is standard input) and whether to only
 * check. Out: per file, whether it was already canonical, was rewritten, or was refused (syntax
 * errors, unreadable, or a layout that would not keep its meaning), with the diagnostics.
 * Holds afterwards: a file is rewritten only when its new text parses to the same program, and
 * atomically with its old mode (at every instant it is the whole old or the whole new file); a
 * refused file is left untouched; `check` writes nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../dsl/diagnostics/diagnostic.js';
import { formatSource, keepsMeaning } from '../dsl/format.js';
import { SourceFile } from '../dsl/span.js';
import { readRegularFile, refusalText } from '../compiler/limits.js';
import { writeFileAtomic } from '../runtime/run/atomic.js';
import { UserError } from '../runtime/errors.js';

export type FormatOutcome =
  | { readonly path: string; readonly status: 'unchanged' | 'changed' | 'rewritten'; readonly text: string }
  | {
      readonly path: string;
      readonly status: 'syntax-errors';
      readonly diagnostics: readonly Diagnostic[];
      readonly source: SourceFile;
    }
  | { readonly path: string; readonly status: 'refused'; readonly reason: string };

/** Most files one invocation visits (a folder walk over a whole disk stops with a message). */
const MAX_FILES = 10_000;

/** The .nvc files named by `paths`, folders searched recursively (hidden ones and node_modules skipped), sorted. */
export function collectNvcFiles(paths: readonly string[]): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw new UserError(`cannot read the folder ${dir} (${(err as NodeJS.ErrnoException).code ?? 'EIO'})`);
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile() && e.name.endsWith('.nvc')) found.push(p);
      if (found.length > MAX_FILES) throw new UserError(`more than ${MAX_FILES} .nvc files under ${paths.join(', ')}`);
    }
  };
  for (const p of paths) {
    if (p === '-') {
      found.push(p);
      continue;
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) visit(p);
    else found.push(p);
  }
  return found;
}

/** Formats one text; `path` names it in diagnostics. */
export function formatText(filePath: string, text: string): FormatOutcome {
  const file = new SourceFile(filePath, text);
  const result = formatSource(file);
  if (!result.ok) return { path: filePath, status: 'syntax-errors', diagnostics: result.diagnostics, source: file };
  if (result.changed && !keepsMeaning(file, result.text))
    return {
      path: filePath,
      status: 'refused',
      reason: 'the canonical layout would change what the file means; it was left as it is (please report this)',
    };
  return { path: filePath, status: result.changed ? 'changed' : 'unchanged', text: result.text };
}

/** Formats one file on disk; with `write`, replaces it atomically when its layout changes. */
export async function formatFile(filePath: string, write: boolean): Promise<FormatOutcome> {
  const read = readRegularFile(filePath);
  if ('refused' in read) return { path: filePath, status: 'refused', reason: refusalText(filePath, read.refused) };
  const outcome = formatText(filePath, read.text);
  if (!write || outcome.status !== 'changed') return outcome;
  const mode = fs.statSync(filePath).mode & 0o7777;
  await writeFileAtomic(filePath, outcome.text, { mode });
  return { ...outcome, status: 'rewritten' };
}
