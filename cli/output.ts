/**
 * Where a command's result goes: standard output, or the file `--out` names.
 * In: the content and the `--out` path (or none). Out: the content there, and `wrote PATH` on
 * stderr for a file.
 * Holds afterwards: a regular file is replaced atomically (the old one or the new one, never a
 * mix); when the machine refuses (no such folder, read-only, no space) the error is a
 * SystemError naming the path and saying that nothing was written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { systemErrorOf, UserError } from '../runtime/errors.js';
import { writeFileAtomicSync } from '../runtime/run/atomic.js';

export interface OutputOptions {
  /** Create the file's folder when it is missing (default: the folder must exist). */
  readonly createFolder?: boolean;
  /** Say nothing on stderr (the command says more itself). */
  readonly quiet?: boolean;
}

/** Writes `content` to the file `out`, or to stdout without `out`. */
export function writeOutput(content: string | Uint8Array, out: string | undefined, options: OutputOptions = {}): void {
  if (!out) {
    process.stdout.write(content);
    return;
  }
  try {
    if (options.createFolder) fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    // A device or pipe (`--out /dev/stdout`) is written to, never replaced by a renamed file.
    const existing = fs.statSync(out, { throwIfNoEntry: false });
    if (existing && !existing.isFile()) fs.writeFileSync(out, content);
    else writeFileAtomicSync(out, content);
  } catch (err) {
    const system = systemErrorOf(err, { path: out, action: 'write', kept: 'nothing was written' });
    if (system) throw system;
    throw new UserError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!options.quiet) process.stderr.write(`wrote ${out}\n`);
}
