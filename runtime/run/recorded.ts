/**
 * Paths a run folder records (program.json's program file, data-source.json's data folder, the
 * dataset's table and images in config.json, stage weights in metrics.json), checked before a
 * later command (eval, predict, resume) reads them.
 * In: the recorded value, the file that records it, the run folder, and what kind of entry it must
 * be. Out: the absolute path, or a RecordedPathError (a data error) naming the recording file
 * and the fault.
 * Holds afterwards: the path, resolved against the run folder when relative and with symbolic
 * links followed, lies inside the project or the run folder, and is a regular file (or a folder,
 * where one is expected). The project is the current folder and the folder the run was started
 * in (`projectOf`: the parent of `runs/`, or of a run folder named with --out). A run folder
 * copied from elsewhere cannot make nvcc read /etc/shadow or /dev/zero.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NvccError } from '../errors.js';

/** A recorded path that may not be read: the run folder's content is at fault, not nvcc. */
export class RecordedPathError extends NvccError {
  constructor(message: string, recordedIn: string) {
    super('data', message, { path: recordedIn });
    this.name = 'RecordedPathError';
  }
}

export interface RecordedPathOptions {
  /** The run folder: relative values start here, and it is one of the allowed places. */
  readonly runDir: string;
  /** Where the value was read, for the message (`RUN/program.json`). */
  readonly recordedIn: string;
  /** What it is, for the message (`the program file`). */
  readonly what: string;
  readonly kind: 'file' | 'folder';
  /** Folders the path may lie in besides the run folder; default the current folder and projectOf. */
  readonly roots?: readonly string[];
  /** Resolve a relative value against this folder instead of the run folder. */
  readonly base?: string;
  /** A path about to be created (a cache folder): only its place is checked when it is absent. */
  readonly mayBeMissing?: boolean;
}

/** The folder a run was started in: `P` for `P/runs/<run>` and for `P/<run>` (--out). */
export function projectOf(runDir: string): string {
  const parent = path.dirname(path.resolve(runDir));
  return path.basename(parent) === 'runs' ? path.dirname(parent) : parent;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
function real(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(real(parent), path.basename(abs));
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The checked absolute path of a recorded value; see the module comment. */
export function recordedPath(value: unknown, o: RecordedPathOptions): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0'))
    throw new RecordedPathError(`${o.recordedIn}: ${o.what} is missing or not a path`, o.recordedIn);
  const abs = path.resolve(o.base ?? o.runDir, value);
  const exists = fs.existsSync(abs);
  if (!exists && !o.mayBeMissing)
    throw new RecordedPathError(`${o.recordedIn}: ${o.what} ${abs} no longer exists`, o.recordedIn);
  const target = real(abs);
  const roots = [...(o.roots ?? [process.cwd(), projectOf(o.runDir)]), o.runDir].map(real);
  if (!roots.some((r) => inside(target, r)))
    throw new RecordedPathError(
      `${o.recordedIn}: ${o.what} ${abs}${target !== abs ? ` (a link to ${target})` : ''} is outside ` +
        `the project (${[...new Set(roots.slice(0, -1))].join(', ') || 'none'}) and the run folder ${roots.at(-1)}; ` +
        'refusing to read it (run nvcc from a folder that contains it)',
      o.recordedIn,
    );
  if (!exists) return abs;
  const st = fs.statSync(target);
  if (o.kind === 'file' ? !st.isFile() : !st.isDirectory())
    throw new RecordedPathError(
      `${o.recordedIn}: ${o.what} ${abs} is not a ${o.kind === 'file' ? 'regular file' : 'folder'}; refusing ` +
        `to read it`,
      o.recordedIn,
    );
  return abs;
}
