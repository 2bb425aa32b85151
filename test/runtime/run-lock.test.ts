/**
 * The run-folder lock (runtime/run/lock.ts): a live holder refuses a second writer naming it; a
 * lock left by a dead process, by a pid now reused by another process, or by a garbled write is
 * stale and taken over; a lock from another host is never taken over. Held and released by the
 * training runner.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireRunLock, LOCK_FILE, processStartTime, RunLockedError } from '../../runtime/run/lock.js';
import { RunDirError } from '../../runtime/run/rundir.js';
import { runTraining } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { toyDataset, twoStageSpec } from '../support/train-specs.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'nvcc-lock-'));

function writeLock(dir: string, holder: Record<string, unknown>): void {
  writeFileSync(
    join(dir, LOCK_FILE),
    JSON.stringify({ purpose: 'train', since: '2026-01-01T00:00:00.000Z', ...holder }),
  );
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('run-folder lock', () => {
  it('a live holder refuses a second writer, naming pid, host and command; released, it can be taken', () => {
    const dir = fresh();
    const held = acquireRunLock(dir, 'train --resume');
    const holder = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, host: hostname(), purpose: 'train --resume' });
    let e: unknown;
    try {
      acquireRunLock(dir, 'train --resume');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(RunLockedError);
    expect(e).toBeInstanceOf(RunDirError); // the CLI's known refusals
    expect((e as Error).message).toBe(
      `${dir} is in use by \`nvcc train --resume\` (pid ${process.pid} on ${hostname()}, since ${holder.since}); ` +
        'wait for it to finish or stop it, then try again',
    );
    held.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    acquireRunLock(dir, 'train').release();
  });

  it('a lock left by a process that died (SIGKILL) is taken over', () => {
    const dir = fresh();
    writeLock(dir, { pid: deadPid(), host: hostname() });
    const lock = acquireRunLock(dir, 'train --resume');
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('a pid now used by another process (another start time) is stale; the same start time is not', () => {
    const dir = fresh();
    const start = processStartTime(process.pid);
    expect(start, '/proc is readable on the test machines').toBeTypeOf('number');
    writeLock(dir, { pid: process.pid, host: hostname(), start: start! + 1 });
    acquireRunLock(dir, 'train').release();
    writeLock(dir, { pid: process.pid, host: hostname(), start });
    expect(() => acquireRunLock(dir, 'train')).toThrow(RunLockedError);
  });

  it('a lock from another boot is stale', () => {
    const dir = fresh();
    writeLock(dir, { pid: process.pid, host: hostname(), boot: 'not-this-boot' });
    acquireRunLock(dir, 'train').release();
  });

  it('a lock from another host is never taken over; the message says how to clear it', () => {
    const dir = fresh();
    writeLock(dir, { pid: deadPid(), host: 'elsewhere.example' });
    expect(() => acquireRunLock(dir, 'train')).toThrow(
      `it runs on another machine, so nvcc cannot tell whether it is alive: if it is not, delete ` +
        `${join(dir, LOCK_FILE)}`,
    );
  });

  it('an empty or garbled lock file (written by something else) is taken over once it is old', () => {
    const dir = fresh();
    writeFileSync(join(dir, LOCK_FILE), '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, LOCK_FILE), old, old);
    acquireRunLock(dir, 'train').release();
  });

  it('what a process killed while locking leaves (a breaker, a temporary file) blocks nobody', () => {
    const dir = fresh();
    const dead = deadPid();
    writeLock(dir, { pid: dead, host: hostname() });
    writeFileSync(join(dir, `${LOCK_FILE}.break`), JSON.stringify({ pid: dead, host: hostname(), purpose: 'train' }));
    writeFileSync(join(dir, `${LOCK_FILE}.tmp-${dead}`), 'partial');
    const lock = acquireRunLock(dir, 'train');
    expect(readdirSync(dir).sort()).toEqual([LOCK_FILE]);
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('the training runner holds the lock', () => {
  const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('during the run (a second runner on the folder is refused) and releases it at the end', async () => {
    const runDir = join(fresh(), 'run');
    const common = {
      spec: twoStageSpec(),
      dataset: toyDataset,
      models: tinyFactories(config),
      runDir,
      backend: 'cpu' as const,
      bootstrapResamples: 20,
      report: false,
    };
    const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });
    let second: unknown;
    const result = await runTraining({
      ...common,
      data: data(),
      onEvent: (e) => {
        if (e.type === 'checkpoint' && second === undefined) {
          try {
            acquireRunLock(runDir, 'train --resume');
            second = 'acquired';
          } catch (err) {
            second = err;
          }
        }
      },
    });
    expect(result.status).toBe('completed');
    expect(second).toBeInstanceOf(RunLockedError);
    expect(existsSync(join(runDir, LOCK_FILE))).toBe(false);
  });
});
