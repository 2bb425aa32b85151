/**
 * How the command line reports an error that ends a command.
 * In: whatever a command threw. Out: text on stderr and the exit code.
 * Holds afterwards: the exit code is the one the error carries (runtime/errors.ts); a refused
 * program shows its diagnostics as `nvcc check` does; a user, data or system error is one
 * `error:` message (or a summary line and a list) naming the file, then what was kept when known;
 * an operating-system error is the user's situation with its path; only an error that carries
 * no kind is reported as a bug in nvcc (with its stack when NVCC_DEBUG is set).
 */
import { BuildRefused } from '../compiler/builder/build.js';
import { renderDiagnostics, shouldUseColor } from '../dsl/diagnostics/render.js';
import { type ErrorReport, errorReport } from '../runtime/errors.js';

/**
 * The text of a known error: `error: summary[; kept].` then the message, for an error whose
 * message is a list; otherwise `error: message`, then what was kept as a sentence of its own.
 */
export function formatError(report: ErrorReport): string {
  if (report.summary !== undefined)
    return `error: ${report.summary}${report.kept ? `; ${report.kept}` : ''}.\n${report.message}\n`;
  const kept = report.kept ? `${report.kept[0]!.toUpperCase()}${report.kept.slice(1)}.\n` : '';
  return `error: ${report.message}\n${kept}`;
}

/** Reports `err` on stderr (or `write`) and returns the exit code. */
export function reportError(err: unknown, write: (text: string) => void = (t) => process.stderr.write(t)): number {
  if (err instanceof BuildRefused && (err.result.diagnostics.length > 0 || err.result.problems.length > 0)) {
    const { diagnostics, files, problems } = err.result;
    if (diagnostics.length > 0)
      write(`${renderDiagnostics([...diagnostics], (p) => files.get(p), { color: shouldUseColor(process.stderr) })}\n`);
    for (const p of problems) write(`error: ${p.origin ? `${p.origin}: ` : ''}${p.message}\n`);
    return err.exitCode;
  }
  const report = errorReport(err);
  if (report.kind !== 'internal') {
    write(formatError(report));
    return report.exitCode;
  }
  write(
    `internal error in nvcc: ${report.message}\n` +
      'This is a bug in nvcc, not in your spec. Please report it with the command you ran.\n',
  );
  if (process.env.NVCC_DEBUG) write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return report.exitCode;
}
