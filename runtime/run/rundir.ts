/**
 * Run folders.
 * In: a runs root and a run name (or an explicit path), and whether this is a resume. Out: an
 * existing directory for this run, `runs/<name>-<UTC timestamp>` by default. Holds afterwards:
 * a new run never writes into a folder that already holds something (two runs started in the
 * same second get `-2`, `-3` suffixes; an explicit path that is not empty is refused), and a
 * resume only ever opens a folder that exists and looks like a run. A new folder gets `run.json`
 * (name, creation time) at once, so even a run killed before its first log line is resumable
 * and never mistaken for an empty folder.
 */
import { NvccError } from '../errors.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from './atomic.js';

/** A user-facing refusal (clobbering, resuming nothing); the CLI prints the message. */
export class RunDirError extends NvccError {
  constructor(message: string) {
    super('user', message);
    this.name = 'RunDirError';
  }
}

/** File names inside a run folder, shared by the logger, the trainer and the report. */
export const RUN_FILES = {
  log: 'log.jsonl',
  configJson: 'config.json',
  configYaml: 'config.yaml',
  metrics: 'metrics.json',
  report: 'report.html',
  meta: 'run.json',
  checkpoints: 'checkpoints',
} as const;

export interface RunDirOptions {
  /** Parent of generated run folders; default `runs`. */
  readonly root?: string;
  /** Run name, e.g. the program and variant; used as `<name>-<timestamp>`. */
  readonly name?: string;
  /** Explicit folder; overrides root and name. */
  readonly path?: string;
  /** Open an existing run to continue it instead of creating a new one. */
  readonly resume?: boolean;
  /** Clock for the timestamp (tests). */
  readonly now?: Date;
}

function markRunFolder(dir: string, name: string | undefined, now: Date): void {
  const meta = { name: name ?? path.basename(dir), createdAt: now.toISOString(), pid: process.pid };
  writeFileAtomicSync(path.join(dir, RUN_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
}

export interface RunDir {
  readonly path: string;
  readonly resumed: boolean;
}

/** `20261128-010203` (UTC): sortable, no characters that need quoting in a shell. */
export function runTimestamp(date: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}-${p(date.getUTCHours())}` +
    `${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`
  );
}

function sanitizeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return cleaned.length > 0 ? cleaned : 'run';
}

function isRunFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, RUN_FILES.log)) || fs.existsSync(path.join(dir, RUN_FILES.meta));
}

/** Creates (or, with `resume`, opens) the run folder; see the module comment for the rules. */
export function createRunDir(options: RunDirOptions = {}): RunDir {
  if (options.resume) {
    const dir = options.path;
    if (!dir) throw new RunDirError('resuming needs the run folder to resume');
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
      throw new RunDirError(`cannot resume: '${dir}' is not a folder`);
    if (!isRunFolder(dir))
      throw new RunDirError(
        `cannot resume: '${dir}' has no ${RUN_FILES.log} or ${RUN_FILES.meta}; it is not a run folder`,
      );
    return { path: dir, resumed: true };
  }
  if (options.path) {
    const dir = options.path;
    if (fs.existsSync(dir)) {
      if (!fs.statSync(dir).isDirectory()) throw new RunDirError(`'${dir}' exists and is not a folder`);
      if (fs.readdirSync(dir).length > 0) {
        throw new RunDirError(
          isRunFolder(dir)
            ? `'${dir}' already holds a run; use --resume ${dir} to continue it, or choose another folder`
            : `'${dir}' is not empty; refusing to write a run into it`,
        );
      }
      markRunFolder(dir, options.name, options.now ?? new Date());
      return { path: dir, resumed: false };
    }
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.mkdirSync(dir);
    markRunFolder(dir, options.name, options.now ?? new Date());
    return { path: dir, resumed: false };
  }
  const root = options.root ?? 'runs';
  fs.mkdirSync(root, { recursive: true });
  const base = `${sanitizeName(options.name ?? 'run')}-${runTimestamp(options.now ?? new Date())}`;
  for (let attempt = 1; attempt < 1000; attempt++) {
    const dir = path.join(root, attempt === 1 ? base : `${base}-${attempt}`);
    try {
      // Non-recursive mkdir fails with EEXIST, so two processes never share a folder.
      fs.mkdirSync(dir);
      markRunFolder(dir, options.name, options.now ?? new Date());
      return { path: dir, resumed: false };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new RunDirError(`could not find a free run folder name for '${base}' under '${root}'`);
}
