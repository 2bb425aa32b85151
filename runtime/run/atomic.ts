/**
 * Crash-safe file replacement.
 * In: a target path and its new contents. Out: the target holds exactly the new contents.
 * Holds afterwards: at every instant the target is either the complete old file or the
 * complete new file, never a mix: the data goes to a temporary file in the same directory
 * (same filesystem, so rename is atomic), is fsynced, renamed over the target, and the
 * directory is fsynced so the rename itself survives a power loss. A failure before the rename
 * removes the temporary file and leaves the old target untouched; an operating-system failure
 * (disk full, read-only folder) is a SystemError naming the target.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { systemErrorOf } from '../errors.js';

/** An operating-system error while writing `target` becomes a SystemError naming it (not its temporary). */
function writeError(err: unknown, target: string): unknown {
  return systemErrorOf(err, { path: target, action: 'write' }) ?? err;
}

export interface AtomicWriteOptions {
  /** File mode of the new file; default 0o644. */
  readonly mode?: number;
  /**
   * Called after the temporary file is written and fsynced, before the rename. Tests use it to
   * inject a failure at the most delicate moment; production code leaves it unset.
   */
  readonly beforeRename?: (tempPath: string) => void | Promise<void>;
}

/** Temporary name beside the target: hidden, unique per process and call. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** fsyncs a directory, so that renames and creations inside it survive a power loss. */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (error) {
    // Some filesystems refuse fsync on a directory (EINVAL/EISDIR/EPERM); the rename is done.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw error;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Atomically replaces `target` with `data` (see the module comment). */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = tempPathFor(target);
  let renamed = false;
  try {
    const handle = await fs.promises.open(temp, 'wx', options.mode ?? 0o644);
    try {
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (options.beforeRename) await options.beforeRename(temp);
      await fs.promises.rename(temp, target);
      renamed = true;
      fsyncDirectory(path.dirname(target));
    } finally {
      if (!renamed) await fs.promises.rm(temp, { force: true });
    }
  } catch (err) {
    throw writeError(err, target);
  }
}

/** Writes `value` as indented JSON, atomically (NaN and Infinity become null, as JSON has them not). */
export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes `data` to `file` and fsyncs it, without the rename: for files inside a temporary folder
 * that is itself renamed into place (checkpoints). `flag` 'wx' refuses an existing file.
 */
export function writeAndFsyncSync(
  file: string,
  data: string | Uint8Array,
  options: { readonly mode?: number; readonly flag?: 'w' | 'wx' } = {},
): void {
  try {
    writeAndFsyncRaw(file, data, options);
  } catch (err) {
    throw writeError(err, file);
  }
}

function writeAndFsyncRaw(
  file: string,
  data: string | Uint8Array,
  options: { readonly mode?: number | undefined; readonly flag?: 'w' | 'wx' },
): void {
  const fd = fs.openSync(file, options.flag ?? 'w', options.mode ?? 0o644);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Synchronous twin of `writeFileAtomic`, for exit paths where awaiting is not possible. */
export function writeFileAtomicSync(
  target: string,
  data: string | Uint8Array,
  options: Omit<AtomicWriteOptions, 'beforeRename'> = {},
): void {
  const temp = tempPathFor(target);
  let renamed = false;
  try {
    writeAndFsyncRaw(temp, data, { mode: options.mode, flag: 'wx' });
    fs.renameSync(temp, target);
    renamed = true;
    fsyncDirectory(path.dirname(target));
  } catch (err) {
    throw writeError(err, target);
  } finally {
    if (!renamed) fs.rmSync(temp, { force: true });
  }
}

const TEMP_PATTERN = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes temporary files left in `dir` by atomic writes of a killed process (resume calls this
 * on the run folder and its checkpoint folder). Skips files of the live process; returns the
 * names removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!TEMP_PATTERN.test(name)) continue;
    const pid = Number(name.split('.').at(-3));
    if (pid === process.pid) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
