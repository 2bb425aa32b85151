/**
 * A process SIGKILLed while it writes a checkpoint (after the files are in the temporary folder,
 * before the rename) leaves the previous checkpoint intact; resuming from it ends with the same
 * weights as an uninterrupted run.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../../runtime/train/checkpoint.js';
import { parseCheckpointState } from '../../runtime/train/state.js';
import { resume, runTraining } from '../../runtime/train/runner.js';
import { childConfig, childData } from '../support/train-child.js';
import { tinyFactories } from '../support/train-models.js';
import { toyDataset, twoStageSpec } from '../support/train-specs.js';

const child = join(import.meta.dirname, '..', 'support', 'train-child.ts');

function runChildUntilPaused(
  runDir: string,
  seq: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, runDir], {
      env: { ...process.env, NVCC_TEST_CHECKPOINT_PAUSE: String(seq) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(`nvcc-test: checkpoint ${seq} paused before rename`)) p.kill('SIGKILL');
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('SIGKILL during a checkpoint write', () => {
  it('leaves the previous checkpoint intact and resumable', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nvcc-kill-'));
    const reference = join(root, 'reference');
    const models = tinyFactories(childConfig);
    await runTraining({
      spec: twoStageSpec(),
      dataset: toyDataset,
      models,
      runDir: reference,
      backend: 'cpu',
      data: childData(),
      bootstrapResamples: 20,
      report: false,
    });

    const runDir = join(root, 'killed');
    // Checkpoint 3 is the pretraining stage's step-4 checkpoint (every 2 steps, 3 steps/epoch).
    const { signal, stderr } = await runChildUntilPaused(runDir, 3);
    expect(signal, stderr).toBe('SIGKILL');
    const entries = readdirSync(join(runDir, 'checkpoints'));
    const temporary = entries.filter((e) => e.startsWith('.ckpt-000003.tmp-'));
    expect(temporary).toHaveLength(1);
    // The killed write had put every file in its temporary folder, none under a final name.
    expect(readdirSync(join(runDir, 'checkpoints', temporary[0]!)).sort()).toEqual([
      'model.safetensors',
      'optimizer.safetensors',
      'state.json',
    ]);
    expect(listCheckpoints(runDir).map((c) => c.seq)).toEqual([1, 2]);
    const previous = listCheckpoints(runDir).at(-1)!;
    const state = parseCheckpointState(readFileSync(join(previous.path, 'state.json'), 'utf8'), previous.path);
    expect(state).toMatchObject({ seq: 2, stage: 'pretrain', epoch: 1, step: 0, stageStep: 3 });

    const result = await resume(runDir, {
      models,
      backend: 'cpu',
      data: childData(),
      bootstrapResamples: 20,
      report: false,
    });
    expect(result.status).toBe('completed');
    for (const stage of ['pretrain', 'finetune']) {
      const a = readFileSync(join(runDir, 'stages', stage, 'weights.safetensors'));
      const b = readFileSync(join(reference, 'stages', stage, 'weights.safetensors'));
      expect(a.equals(b)).toBe(true);
    }
    // The next writer swept the dead temporary folder.
    expect(existsSync(join(runDir, 'checkpoints', temporary[0]!))).toBe(false);
  });
});
