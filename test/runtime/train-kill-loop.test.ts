/**
 * The kill loop: a small two-stage training is SIGKILLed at least 20 times at seeded random
 * moments (between steps, while starting or resuming, and inside checkpoint writes: after the
 * first file, before the rename, while pruning an older checkpoint), and resumed each time. The
 * run ends with the same weights, byte for byte, as an uninterrupted run, and its log.jsonl holds
 * every step exactly once. Children are killed on events they print, never after a measured time,
 * except the start-up kills, whose delay is only where the kill lands.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readJsonl } from '../../runtime/run/jsonl.js';
import { latestCheckpoint } from '../../runtime/train/checkpoint.js';
import { runTraining } from '../../runtime/train/runner.js';
import { childConfig, childData } from '../support/train-child.js';
import { KILL_LOOP_SPEC } from '../support/train-kill-child.js';
import { tinyFactories } from '../support/train-models.js';
import { toyDataset } from '../support/train-specs.js';

const CHILD = join(import.meta.dirname, '..', 'support', 'train-kill-child.ts');
const KILLS = 22;

/** mulberry32: the test's own seeded choices. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Plan =
  | { readonly kind: 'step'; readonly after: number }
  | { readonly kind: 'checkpoint'; readonly pause: string }
  | { readonly kind: 'startup'; readonly delayMs: number }
  | { readonly kind: 'none' };

/** Runs one child under `plan`; resolves with how it ended. */
function runChild(
  runDir: string,
  mode: 'start' | 'resume',
  plan: Plan,
): Promise<{ killed?: 'step' | 'pause' | 'timer'; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NVCC_TEST_STEP_MS: '15' };
    if (plan.kind === 'checkpoint') env.NVCC_TEST_CHECKPOINT_PAUSE = plan.pause;
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, runDir, mode], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let trigger: 'step' | 'pause' | 'timer' | undefined;
    const kill = (why: 'step' | 'pause' | 'timer') => {
      if (trigger) return;
      trigger = why;
      p.kill('SIGKILL');
    };
    // Every plan but `none` kills: a pause point the run does not reach, or a start-up delay
    // longer than the start, fall back to a kill after a few steps, so no round runs to the end.
    const backstop = plan.kind === 'step' ? plan.after : plan.kind === 'checkpoint' ? 4 : 1;
    p.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const steps = stdout.split('\n').filter((l) => l.startsWith('step ')).length;
      if (plan.kind !== 'none' && steps >= backstop) kill('step');
    });
    p.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (plan.kind === 'checkpoint' && stderr.includes('nvcc-test: checkpoint ')) kill('pause');
    });
    const timer = plan.kind === 'startup' ? setTimeout(() => kill('timer'), plan.delayMs) : undefined;
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ ...(signal === 'SIGKILL' && trigger ? { killed: trigger } : {}), code, stdout, stderr });
    });
  });
}

function stepKeys(runDir: string): string[] {
  return readJsonl(join(runDir, 'log.jsonl'))
    .records.filter((r) => r.type === 'step')
    .map((r) => `${r.stage}/${r.epoch}/${r.step}`);
}

function epochLines(runDir: string): unknown[] {
  return readJsonl(join(runDir, 'log.jsonl'))
    .records.filter((r) => r.type === 'epoch' || r.type === 'stage-end')
    .map(({ elapsed: _elapsed, ...rest }) => rest);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('kill loop', () => {
  it(`${KILLS} SIGKILLs at random moments, resumed each time: bit-identical end, each step logged once`, {
    timeout: 1_500_000,
  }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'nvcc-kill-loop-'));
    const reference = join(root, 'reference');
    const done = await runTraining({
      spec: KILL_LOOP_SPEC,
      dataset: toyDataset,
      models: tinyFactories(childConfig),
      runDir: reference,
      backend: 'cpu',
      data: childData(),
      bootstrapResamples: 20,
      report: false,
    });
    expect(done.status).toBe('completed');
    const totalSteps = stepKeys(reference).length;

    const random = seeded(18);
    const runDir = join(root, 'killed');
    const kinds = { step: 0, pause: 0, timer: 0 };
    let kills = 0;
    let finished = false;
    for (let round = 0; round < 200 && !finished; round++) {
      const started = existsSync(runDir);
      // Killed before its first checkpoint, a run cannot be resumed: start it again, as a user would.
      if (started && !latestCheckpoint(runDir)) rmSync(runDir, { recursive: true, force: true });
      const mode = existsSync(runDir) ? 'resume' : 'start';
      const next = (latestCheckpoint(runDir)?.seq ?? 0) + 1;
      const r = random();
      const plan: Plan =
        kills >= KILLS
          ? { kind: 'none' }
          : r < 0.45
            ? { kind: 'step', after: 1 + Math.floor(random() * 4) }
            : r < 0.8
              ? {
                  kind: 'checkpoint',
                  pause: `${next + Math.floor(random() * 2)}${['', ':files', ':prune'][Math.floor(random() * 3)]}`,
                }
              : { kind: 'startup', delayMs: Math.floor(random() * 1500) };
      const result = await runChild(runDir, mode, plan);
      if (result.killed) {
        kills++;
        kinds[result.killed]++;
        continue;
      }
      // Not killed: the child ran to the end (a pause point it never reached, or no kill planned).
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('status completed');
      finished = kills >= KILLS;
      // A run that completed before enough kills starts over in a fresh folder.
      if (!finished) rmSync(runDir, { recursive: true, force: true });
    }
    expect(finished).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(20);
    // Every kind of moment was hit (the seed is fixed, so this is a check of the plan, not luck).
    expect(kinds.step, JSON.stringify(kinds)).toBeGreaterThan(0);
    expect(kinds.pause, JSON.stringify(kinds)).toBeGreaterThan(2);
    expect(kinds.timer, JSON.stringify(kinds)).toBeGreaterThan(0);

    for (const stage of ['pretrain', 'finetune'])
      for (const file of ['weights.safetensors'])
        expect(
          readFileSync(join(runDir, 'stages', stage, file)).equals(
            readFileSync(join(reference, 'stages', stage, file)),
          ),
          `${stage}/${file}`,
        ).toBe(true);
    const steps = stepKeys(runDir);
    expect(new Set(steps).size, 'no duplicate step').toBe(steps.length);
    expect(steps, 'no missing step').toEqual(stepKeys(reference));
    expect(steps).toHaveLength(totalSteps);
    expect(epochLines(runDir)).toEqual(epochLines(reference));
  });
});
