/**
 * Checkpoint folders: written whole or not at all.
 * In: a run folder, the checkpoint's files (tensor containers and a `state.json`) and its
 * sequence number. Out: `<run>/checkpoints/ckpt-<seq>/` holding those files. Holds afterwards:
 * a folder under a final name `ckpt-<6 digits>` is always complete, because the files are
 * written (and fsynced) into `.ckpt-<seq>.tmp-<pid>/` and the folder is then renamed, which is
 * atomic; old checkpoints are removed by renaming them to a `.trash-` name first, so a crash
 * during deletion never leaves a half-deleted folder under a final name. A process killed at
 * any point leaves the newest complete checkpoint resumable; leftover temporary folders are
 * swept by the next writer. A checkpoint damaged afterwards (a truncated file, a garbled
 * state.json) is skipped by `newestIntactCheckpoint` in favour of the previous intact one.
 *
 * Test hook: with NVCC_TEST_CHECKPOINT_PAUSE=<seq> in the environment, the writer of checkpoint
 * <seq> prints `nvcc-test: checkpoint <seq> paused before rename` to stderr after writing every
 * file into the temporary folder and then waits forever, so a test can SIGKILL it inside the
 * window where a crash would matter. `<seq>:files` pauses after the first file (state.json not
 * yet written), `<seq>:prune` while checkpoint <seq> removes an older one (renamed to .trash-,
 * not yet deleted); the message names the phase instead of "before rename".
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDirectory, writeAndFsyncSync } from '../run/atomic.js';

export const CHECKPOINT_DIR = 'checkpoints';
export const STATE_FILE = 'state.json';
const FINAL_NAME = /^ckpt-(\d{6,})$/;

export function checkpointName(seq: number): string {
  return `ckpt-${String(seq).padStart(6, '0')}`;
}

/**
 * Writes a checkpoint folder atomically and returns its path. `files` must contain STATE_FILE;
 * it is written last so that even the temporary folder is only ever "complete" with it.
 */
export async function writeCheckpoint(
  runDir: string,
  seq: number,
  files: ReadonlyMap<string, Uint8Array | string>,
): Promise<string> {
  if (!files.has(STATE_FILE)) throw new Error(`a checkpoint needs a ${STATE_FILE}`);
  const root = join(runDir, CHECKPOINT_DIR);
  mkdirSync(root, { recursive: true });
  sweepTemporaries(root);
  const name = checkpointName(seq);
  const finalPath = join(root, name);
  if (existsSync(finalPath)) throw new Error(`checkpoint ${finalPath} already exists`);
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  for (const [file, bytes] of files)
    if (file !== STATE_FILE) {
      writeAndFsyncSync(join(tmp, file), bytes);
      await testPause(seq, 'files', 'after a file');
    }
  writeAndFsyncSync(join(tmp, STATE_FILE), files.get(STATE_FILE)!);
  fsyncDirectory(tmp);
  await testPause(seq, '', 'before rename');
  renameSync(tmp, finalPath);
  fsyncDirectory(root);
  return finalPath;
}

/** The test hook of the module comment: waits forever when NVCC_TEST_CHECKPOINT_PAUSE names this point. */
async function testPause(seq: number, phase: '' | 'files' | 'prune', shown: string): Promise<void> {
  const want = process.env.NVCC_TEST_CHECKPOINT_PAUSE;
  if (want === undefined || want !== (phase ? `${seq}:${phase}` : String(seq))) return;
  process.stderr.write(`nvcc-test: checkpoint ${seq} paused ${shown}\n`);
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}

/** testPause for synchronous code: blocks the thread (stderr to a pipe or file is written at once). */
function testPauseSync(seq: number, phase: 'prune', shown: string): void {
  if (process.env.NVCC_TEST_CHECKPOINT_PAUSE !== `${seq}:${phase}`) return;
  process.stderr.write(`nvcc-test: checkpoint ${seq} paused ${shown}\n`);
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1 << 30);
}

/** Removes temporary and trashed folders left by killed writers. */
function sweepTemporaries(root: string): void {
  for (const entry of readdirSync(root)) {
    if (entry.startsWith('.ckpt-') || entry.startsWith('.trash-'))
      rmSync(join(root, entry), { recursive: true, force: true });
  }
}

/** Complete checkpoints of a run, oldest first. */
export function listCheckpoints(runDir: string): Array<{ seq: number; path: string }> {
  const root = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((entry) => ({ entry, m: FINAL_NAME.exec(entry) }))
    .filter((x): x is { entry: string; m: RegExpExecArray } => x.m !== null)
    .map(({ entry, m }) => ({ seq: Number(m[1]), path: join(root, entry) }))
    .sort((a, b) => a.seq - b.seq);
}

export interface DamagedCheckpoint {
  readonly seq: number;
  readonly path: string;
  /** Why it cannot be used (the message of what `open` threw). */
  readonly reason: string;
}

/**
 * The newest checkpoint that `open` accepts (it throws for a damaged one), with what it returned,
 * and the newer ones it refused, newest first. Only an Error counts as "damaged"; anything else
 * thrown is rethrown.
 */
export function newestIntactCheckpoint<T>(
  runDir: string,
  open: (path: string) => T,
): { checkpoint?: { seq: number; path: string; value: T }; damaged: DamagedCheckpoint[] } {
  const damaged: DamagedCheckpoint[] = [];
  for (const c of listCheckpoints(runDir).reverse()) {
    try {
      return { checkpoint: { ...c, value: open(c.path) }, damaged };
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      damaged.push({ ...c, reason: e.message });
    }
  }
  return { damaged };
}

/**
 * Moves damaged checkpoints out of the way of the next writer (whose sequence numbers they
 * hold) to `damaged-ckpt-<seq>[-n]`, kept for inspection; returns the new paths.
 */
export function setAsideDamaged(runDir: string, damaged: readonly DamagedCheckpoint[]): string[] {
  const root = join(runDir, CHECKPOINT_DIR);
  return damaged.map((d) => {
    let target = join(root, `damaged-${checkpointName(d.seq)}`);
    for (let n = 2; existsSync(target); n++) target = join(root, `damaged-${checkpointName(d.seq)}-${n}`);
    renameSync(d.path, target);
    return target;
  });
}

export function latestCheckpoint(runDir: string): { seq: number; path: string } | undefined {
  const all = listCheckpoints(runDir);
  return all[all.length - 1];
}

/** Keeps the newest `keep` checkpoints (and any listed in `protect`), removing the rest safely. */
export function pruneCheckpoints(runDir: string, keep: number, protect: readonly string[] = []): void {
  const all = listCheckpoints(runDir);
  const root = join(runDir, CHECKPOINT_DIR);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) {
    if (protect.includes(c.path)) continue;
    const trash = join(root, `.trash-${checkpointName(c.seq)}-${process.pid}`);
    renameSync(c.path, trash);
    testPauseSync(all.at(-1)!.seq, 'prune', 'while pruning');
    rmSync(trash, { recursive: true, force: true });
  }
}

export function readCheckpointFile(checkpointPath: string, file: string): Buffer {
  const path = join(checkpointPath, file);
  if (!existsSync(path)) throw new Error(`${checkpointPath}: checkpoint has no ${file}`);
  return readFileSync(path);
}
