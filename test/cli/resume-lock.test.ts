/**
 * Two `nvcc train --resume RUN` at once: the second is refused with a message naming the holder
 * and writes nothing; the lock a SIGKILLed run leaves behind is stale and does not block the next
 * resume, which completes with each step logged once. Child processes, since the lock is about
 * processes and SIGKILL.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonl } from '../../runtime/run/jsonl.js';
import { REPO } from '../support/cli-process.js';

interface Child {
  readonly pid: number;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves when stderr contains `text`. */
  waitFor(text: string): Promise<void>;
  kill(): void;
}

function nvcc(args: readonly string[], cwd: string, env: Record<string, string> = {}): Child {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('VITEST') || k === 'NODE_OPTIONS') delete childEnv[k];
  const p = spawn(process.execPath, [join(REPO, 'bin', 'nvcc.js'), ...args], {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  p.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const w of waiters.splice(0))
      if (stderr.includes(w.text)) w.resolve();
      else waiters.push(w);
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    p.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    pid: p.pid!,
    done,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        if (stderr.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void done.then((r) => reject(new Error(`exited (${r.code ?? r.signal}) before '${text}':\n${r.stderr}`)));
      }),
    kill: () => p.kill('SIGKILL'),
  };
}

const paused = (seq: number) => `nvcc-test: checkpoint ${seq} paused before rename`;

describe('nvcc train --resume twice at once', () => {
  it('the second is refused naming the holder; a SIGKILLed holder does not block the next resume', {
    timeout: 600_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-resume-lock-'));
    copyFileSync(join(REPO, 'test/cli/fixtures/tiny.nvc'), join(dir, 'tiny.nvc'));
    const args = ['train', 'tiny.nvc', '--set', 'Tiny_on_PJI.checkpoint_every=1', '--backend', 'cpu', '--quiet'];

    // A run killed while writing its second checkpoint: checkpoint 1 and a stale lock remain.
    const first = nvcc([...args, '--out', 'run'], dir, { NVCC_TEST_CHECKPOINT_PAUSE: '2' });
    await first.waitFor(paused(2));
    first.kill();
    await first.done;
    const stale = JSON.parse(readFileSync(join(dir, 'run', '.lock'), 'utf8'));
    expect(stale.pid).toBe(first.pid);

    // A resume takes the stale lock over and holds it (paused inside its next checkpoint) ...
    const holder = nvcc([...args, '--resume', 'run'], dir, { NVCC_TEST_CHECKPOINT_PAUSE: '3' });
    await holder.waitFor(paused(3));
    const log = statSync(join(dir, 'run', 'log.jsonl')).size;

    // ... so a second resume at the same time is refused, naming it, and writes nothing.
    const second = await nvcc([...args, '--resume', 'run'], dir).done;
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(`run is in use by \`nvcc train --resume\` \\(pid ${holder.pid} on [^,]+, since [^)]+\\); wait for it`),
    );
    expect(second.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(statSync(join(dir, 'run', 'log.jsonl')).size).toBe(log);

    holder.kill();
    await holder.done;
    const last = await nvcc([...args, '--resume', 'run'], dir).done;
    expect(last.stderr).not.toMatch(/error/);
    expect(last.code).toBe(0);
    const steps = readJsonl(join(dir, 'run', 'log.jsonl'))
      .records.filter((r) => r.type === 'step')
      .map((r) => `${r.stage}/${r.epoch}/${r.step}`);
    expect(new Set(steps).size).toBe(steps.length);
    // tiny.nvc: 2 epochs of 7 steps (the training split's images in batches of 8), each once.
    expect(steps).toEqual([1, 2].flatMap((e) => [1, 2, 3, 4, 5, 6, 7].map((k) => `fit/${e}/${k}`)));
  });
});
