/**
 * One writer per run folder.
 * In: a run folder and what the caller is about to do (`train`, `resume`). Out: a held lock,
 * `<run>/.lock` (JSON: pid, host, boot id, the process's start time, purpose, when), released by
 * `release()`. Holds afterwards: while one process holds the lock, another `acquireRunLock` on the
 * same folder throws RunLockedError naming the holder, so two `nvcc train --resume RUN` never
 * interleave their log lines or checkpoints. A lock left by a process that died (SIGKILL, power
 * loss) is stale and is taken over: on the same host its pid is gone, or the pid now belongs to
 * another process (its start time differs), or the machine has rebooted since (another boot id).
 * A lock from another host cannot be checked and is never taken over.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunDirError } from './rundir.js';

export const LOCK_FILE = '.lock';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** Linux boot id, when known. */
  readonly boot?: string;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat), when known. */
  readonly start?: number;
  readonly purpose: string;
  /** ISO time the lock was taken. */
  readonly since: string;
}

/** The run folder is held by a live process (or by one on another host that cannot be checked). */
export class RunLockedError extends RunDirError {
  constructor(
    readonly runDir: string,
    readonly holder: LockHolder,
    readonly checked: boolean,
  ) {
    super(
      `${runDir} is in use by \`nvcc ${holder.purpose}\` (pid ${holder.pid} on ${holder.host}, since ` +
        `${holder.since}); ` +
        (checked
          ? 'wait for it to finish or stop it, then try again'
          : `it runs on another machine, so nvcc cannot tell whether it is alive: if it is not, delete ` +
            `${path.join(runDir, LOCK_FILE)}`),
    );
    this.name = 'RunLockedError';
  }
}

/** Start time of a process in clock ticks since boot, or undefined where /proc is unavailable. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) is in parentheses and may hold spaces; field 22 is the start time.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a lock written on this host belongs to a process that no longer runs. */
function isStale(holder: LockHolder): boolean {
  const boot = bootId();
  if (holder.boot !== undefined && boot !== undefined && holder.boot !== boot) return true;
  if (!alive(holder.pid)) return true;
  const start = processStartTime(holder.pid);
  return holder.start !== undefined && start !== undefined && start !== holder.start;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.purpose === 'string')
      return v as LockHolder;
  } catch {
    // Empty or garbled: a writer killed between creating and filling the file (see the caller).
  }
  return undefined;
}

export interface RunLock {
  readonly file: string;
  /** Removes the lock if this process still holds it. */
  release(): void;
}

/**
 * Takes the run folder's lock for `purpose`, taking over a stale one; throws RunLockedError when
 * a live process holds it. The folder must exist.
 */
export function acquireRunLock(runDir: string, purpose: string): RunLock {
  const file = path.join(runDir, LOCK_FILE);
  const me = holderRecord(purpose);
  const text = `${JSON.stringify(me)}\n`;
  sweepTemporaries(runDir);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (createWithContent(file, text))
      return {
        file,
        release: () => {
          if (readText(file) === text) fs.rmSync(file, { force: true });
        },
      };
    const seen = readText(file);
    if (seen === undefined) continue; // released meanwhile
    const holder = parseHolder(seen);
    if (holder && holder.host !== me.host) throw new RunLockedError(runDir, holder, false);
    if (holder && !isStale(holder)) throw new RunLockedError(runDir, holder, true);
    // A garbled lock (written by an older nvcc, or damaged) is stale once it is a second old.
    if (!holder && !(ageMs(file) > 1000)) {
      sleepMs(100);
      continue;
    }
    breakStaleLock(file, seen, text);
  }
  const holder = parseHolder(readText(file) ?? '');
  if (holder) throw new RunLockedError(runDir, holder, holder.host === me.host);
  throw new RunDirError(`${runDir}: cannot take the run folder's lock ${file}; another process keeps replacing it`);
}

function holderRecord(purpose: string): LockHolder {
  const boot = bootId();
  const start = processStartTime(process.pid);
  return {
    pid: process.pid,
    host: os.hostname(),
    ...(boot !== undefined ? { boot } : {}),
    ...(start !== undefined ? { start } : {}),
    purpose,
    since: new Date().toISOString(),
  };
}

const TEMPORARY = /^\.lock\.tmp-(\d+)$/;

/**
 * Creates `file` holding `text` unless it exists: the text goes to a temporary file first, which
 * is then hard-linked to the name (link fails if the name exists), so a lock is never seen empty
 * or half-written, even from a process killed in the middle. Returns false when it exists.
 */
function createWithContent(file: string, text: string): boolean {
  const tmp = path.join(path.dirname(file), `.lock.tmp-${process.pid}`);
  fs.writeFileSync(tmp, text);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    // A file system without hard links: O_EXCL creation (a kill between create and write
    // leaves an empty lock, which the caller treats as stale after a second).
    try {
      fs.writeFileSync(file, text, { flag: 'wx' });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e2;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Removes temporary lock files of processes that are gone (killed between write and link). */
function sweepTemporaries(runDir: string): void {
  for (const name of fs.readdirSync(runDir)) {
    const m = TEMPORARY.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) fs.rmSync(path.join(runDir, name), { force: true });
  }
}

/**
 * Removes a stale lock whose content is `seen`, under a short-lived second lock (`.lock.break`,
 * holding the breaker's own record), so that a process which took the lock over meanwhile never
 * has its fresh lock removed. A breaker left by a killed process is itself stale and removed.
 */
function breakStaleLock(file: string, seen: string, me: string): void {
  const breaker = `${file}.break`;
  if (!createWithContent(breaker, me)) {
    const text = readText(breaker);
    const holder = text === undefined ? undefined : parseHolder(text);
    if (text !== undefined && (holder ? isStale(holder) : ageMs(breaker) > 1000)) {
      if (readText(breaker) === text) fs.rmSync(breaker, { force: true });
    } else sleepMs(20);
    return;
  }
  try {
    if (readText(file) === seen) fs.rmSync(file, { force: true });
  } finally {
    if (readText(breaker) === me) fs.rmSync(breaker, { force: true });
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function ageMs(file: string): number {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st ? Date.now() - st.mtimeMs : 0;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
