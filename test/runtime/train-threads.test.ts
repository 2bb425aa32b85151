/**
 * Data-parallel training steps (runtime/train/parallel.ts) on the built miniature MED-NVC
 * (test/fixtures/emit/mini-mednvc.nvc: FCMAE pretraining with a patch mask, then fine-tuning
 * with random throw) on the runtime's synthetic PJI cohort, wasm backend, the workers importing
 * the generated train.js:
 *  - two threads follow one thread's loss curve (every step of both stages, relative
 *    difference <= 2e-3: only float rounding of the split and of the reduction differs);
 *  - the same thread count gives bit-identical losses (a two-thread run stopped after 9 steps
 *    against the uninterrupted two-thread run);
 *  - that stopped run resumed with one thread completes both stages;
 *  - --threads / NVCC_THREADS values are checked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadableCopyOf, loadBuiltProgram, type LoadedProgram } from '../../compiler/builder/build.js';
import { initBackend } from '../../runtime/backend.js';
import type { DatasetSpec } from '../../runtime/data/spec.js';
import { pjiDatasetSpec } from '../../runtime/data/synthetic-pji.js';
import { resolveThreads, THREADS_ENV } from '../../runtime/train/parallel.js';
import { resume, runTraining, type TrainEvent } from '../../runtime/train/runner.js';

const FILE = 'test/fixtures/emit/mini-mednvc.nvc';
let root: string;
let program: LoadedProgram;
let dataset: DatasetSpec;
/** The generated train.js the workers import (importing the running runtime, as nvcc train does). */
let workerModels: string;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  root = mkdtempSync(join(tmpdir(), 'nvcc-threads-'));
  program = await loadBuiltProgram(FILE, { outDir: join(root, 'build') });
  workerModels = join(loadableCopyOf(program.outDir), 'train.js');
  // The runtime's synthetic cohort at the fixture model's input: 64x64, 3 channels, 14 labs.
  const synthetic = pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 40, seed: 7, imageSize: 64 });
  dataset = { ...synthetic, images: { ...synthetic.images, channels: 3 } };
}, 300_000);

afterAll(() => {
  for (const dir of [root, dirname(workerModels)]) rmSync(dir, { recursive: true, force: true });
});

// vitest.config.ts sets NVCC_THREADS=1 for the suite; each test here leaves it as it found it.
const suiteThreads = process.env[THREADS_ENV];
afterEach(() => {
  if (suiteThreads === undefined) delete process.env[THREADS_ENV];
  else process.env[THREADS_ENV] = suiteThreads;
});

type Step = Extract<TrainEvent, { type: 'step' }>;

async function train(name: string, threads: number, stopAfter?: number): Promise<{ steps: Step[]; status: string }> {
  const steps: Step[] = [];
  const controller = new AbortController();
  const result = await runTraining({
    spec: program.trainSpec!,
    dataset,
    models: program.factories,
    workerModels,
    threads,
    runDir: join(root, name),
    backend: 'wasm',
    bootstrapResamples: 50,
    report: false,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type !== 'step') return;
      steps.push(e);
      if (stopAfter !== undefined && steps.length >= stopAfter) controller.abort();
    },
  });
  return { steps, status: result.status };
}

describe('training steps on several threads', () => {
  it('follows the one-thread loss curve, repeats itself bit for bit, and resumes on another count', async () => {
    const one = await train('one', 1);
    const two = await train('two', 2);
    expect(one.status).toBe('completed');
    expect(two.status).toBe('completed');
    expect(two.steps.map((s) => [s.stage, s.epoch, s.step])).toEqual(one.steps.map((s) => [s.stage, s.epoch, s.step]));
    expect(one.steps.length).toBeGreaterThan(10);
    for (const [i, s] of two.steps.entries()) {
      const reference = one.steps[i]!.loss;
      expect(Math.abs(s.loss - reference) / Math.abs(reference), `step ${i}`).toBeLessThanOrEqual(2e-3);
    }
    // The float rounding does differ somewhere (else this test would not show the tolerance is needed).
    expect(two.steps.some((s, i) => s.loss !== one.steps[i]!.loss)).toBe(true);

    const stopped = await train('stopped', 2, 9);
    expect(stopped.status).toBe('interrupted');
    expect(stopped.steps.map((s) => s.loss)).toEqual(two.steps.slice(0, stopped.steps.length).map((s) => s.loss));

    const resumedSteps: Step[] = [];
    const resumed = await resume(join(root, 'stopped'), {
      models: program.factories,
      workerModels,
      threads: 1,
      backend: 'wasm',
      bootstrapResamples: 50,
      report: false,
      onEvent: (e) => {
        if (e.type === 'step') resumedSteps.push(e);
      },
    });
    expect(resumed.status).toBe('completed');
    expect(resumed.stages.map((s) => s.name)).toEqual(['pretrain', 'finetune']);
    expect(stopped.steps.length + resumedSteps.length).toBe(one.steps.length);
    expect(resumedSteps.every((s) => Number.isFinite(s.loss))).toBe(true);
  }, 900_000);

  it('takes the thread count from --threads, then NVCC_THREADS, else every core, and refuses bad values', () => {
    process.env[THREADS_ENV] = '3';
    expect(resolveThreads()).toBe(3);
    expect(resolveThreads(2)).toBe(2);
    delete process.env[THREADS_ENV];
    expect(resolveThreads()).toBeGreaterThanOrEqual(1);
    expect(() => resolveThreads(0)).toThrow("--threads must be a whole number of threads >= 1, got '0'");
    process.env[THREADS_ENV] = 'many';
    expect(() => resolveThreads()).toThrow(`${THREADS_ENV} must be a whole number of threads >= 1, got 'many'`);
  });
});
