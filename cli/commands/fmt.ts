/**
 * `nvcc fmt [--check] PATHS...`: the canonical layout of .nvc files (workflow/format.ts).
 * In: files, folders (searched for `*.nvc`) or `-` (standard input to standard output).
 * Out: rewritten files and one line per rewritten file; with `--check`, nothing is written and
 * each file that would change is listed. Exit 1 when `--check` finds a file to change, or when a
 * file has syntax errors or cannot be read (its diagnostics or reason on stderr; it is untouched).
 */
import { readFileSync } from 'node:fs';
import { renderDiagnostics, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { UserError } from '../../runtime/errors.js';
import { collectNvcFiles, type FormatOutcome, formatFile, formatText } from '../../workflow/format.js';
import type { SetExit } from './index.js';

function reportProblem(outcome: FormatOutcome): boolean {
  if (outcome.status === 'syntax-errors') {
    const file = outcome.source;
    const rendered = renderDiagnostics(outcome.diagnostics, (p) => (p === outcome.path ? file : undefined), {
      color: shouldUseColor(),
    });
    process.stderr.write(`${rendered}\n${outcome.path}: not formatted (fix the syntax errors first)\n`);
    return true;
  }
  if (outcome.status === 'refused') {
    process.stderr.write(`${outcome.path}: ${outcome.reason}\n`);
    return true;
  }
  return false;
}

export async function fmtCommand(paths: string[], opts: { check?: boolean }, setExit: SetExit): Promise<void> {
  if (paths.length === 0) throw new UserError('name the .nvc files or folders to format (or - for standard input)');
  let failed = false;
  for (const file of collectNvcFiles(paths)) {
    if (file === '-') {
      const input = readFileSync(0, 'utf8');
      const outcome = formatText('<stdin>', input);
      if (reportProblem(outcome)) failed = true;
      else if ('text' in outcome) {
        if (opts.check) failed ||= outcome.status === 'changed';
        else process.stdout.write(outcome.text);
      }
      continue;
    }
    const outcome = await formatFile(file, !opts.check);
    if (reportProblem(outcome)) failed = true;
    else if (outcome.status === 'changed') {
      process.stdout.write(`${file}: not formatted\n`);
      failed = true;
    } else if (outcome.status === 'rewritten') process.stdout.write(`${file}: formatted\n`);
  }
  setExit(failed ? 1 : 0);
}
