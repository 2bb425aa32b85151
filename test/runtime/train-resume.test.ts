/**
 * Exact resume: a run interrupted mid-epoch (in either stage) and resumed ends with the same
 * weights, byte for byte, as the uninterrupted run, and the same log of steps.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readJsonl } from '../../runtime/run/jsonl.js';
import { listCheckpoints } from '../../runtime/train/checkpoint.js';
import { resume, runTraining, type TrainEvent } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });
const models = tinyFactories(config);
const spec = twoStageSpec();

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tempRun(): string {
  return join(mkdtempSync(join(tmpdir(), 'nvcc-resume-')), 'run');
}

/** Step and epoch lines without wall-clock fields. */
function trainingLog(runDir: string): unknown[] {
  return readJsonl(join(runDir, 'log.jsonl'))
    .records.filter((r) => r.type === 'step' || r.type === 'epoch' || r.type === 'stage-end')
    .map(({ elapsed: _elapsed, ...rest }) => rest);
}

function bytes(runDir: string, stage: string, file: string): Buffer {
  return readFileSync(join(runDir, 'stages', stage, file));
}

async function interruptAt(runDir: string, stage: string, globalStep: number): Promise<TrainEvent[]> {
  const controller = new AbortController();
  const events: TrainEvent[] = [];
  const result = await runTraining({
    spec,
    dataset: toyDataset,
    models,
    runDir,
    backend: 'cpu',
    data: data(),
    bootstrapResamples: 20,
    report: false,
    signal: controller.signal,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'step' && e.stage === stage && e.globalStep === globalStep) controller.abort();
    },
  });
  expect(result.status).toBe('interrupted');
  return events;
}

describe('resume', () => {
  let reference: string;

  beforeAll(async () => {
    reference = tempRun();
    const result = await runTraining({
      spec,
      dataset: toyDataset,
      models,
      runDir: reference,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 20,
      report: false,
    });
    expect(result.status).toBe('completed');
  });

  it('continues a run stopped mid-epoch in the fine-tuning stage to identical weights', async () => {
    const runDir = tempRun();
    await interruptAt(runDir, 'finetune', 4); // 3 steps per epoch: epoch 2, step 1
    expect(existsSync(join(runDir, 'stages', 'finetune', 'weights.safetensors'))).toBe(false);
    const events: TrainEvent[] = [];
    const result = await resume(runDir, {
      models,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 20,
      report: false,
      onEvent: (e) => events.push(e),
    });
    expect(result.status).toBe('completed');
    const start = events.find((e) => e.type === 'stage-start');
    expect(start).toMatchObject({ stage: 'finetune', resumedAt: { epoch: 1, step: 1 } });
    expect(events.filter((e) => e.type === 'step').length).toBe(9 - 4);
    for (const stage of ['pretrain', 'finetune'])
      expect(bytes(runDir, stage, 'weights.safetensors').equals(bytes(reference, stage, 'weights.safetensors'))).toBe(
        true,
      );
    expect(bytes(runDir, 'finetune', 'best.safetensors').equals(bytes(reference, 'finetune', 'best.safetensors'))).toBe(
      true,
    );
    expect(trainingLog(runDir)).toEqual(trainingLog(reference));
    expect(JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')).stages).toEqual(
      JSON.parse(readFileSync(join(reference, 'metrics.json'), 'utf8')).stages,
    );
  });

  it('replays from an older checkpoint when the newest one is lost (pretraining stage)', async () => {
    const runDir = tempRun();
    await interruptAt(runDir, 'pretrain', 5); // epoch 2, step 2
    const checkpoints = listCheckpoints(runDir);
    // Lose the interruption checkpoint, as if the process had been killed before writing it:
    // the every-2-steps checkpoint (pretrain step 4) remains, and step 5 must be replayed.
    const newest = checkpoints[checkpoints.length - 1]!;
    renameSync(newest.path, join(runDir, 'checkpoints', '.trash-lost'));
    const state = JSON.parse(readFileSync(join(listCheckpoints(runDir).at(-1)!.path, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ stage: 'pretrain', epoch: 1, step: 1, stageStep: 4 });
    const result = await resume(runDir, {
      models,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 20,
      report: false,
    });
    expect(result.status).toBe('completed');
    for (const stage of ['pretrain', 'finetune'])
      expect(bytes(runDir, stage, 'weights.safetensors').equals(bytes(reference, stage, 'weights.safetensors'))).toBe(
        true,
      );
    expect(trainingLog(runDir)).toEqual(trainingLog(reference));
  });

  it('resumes a finished run without training again', async () => {
    const events: TrainEvent[] = [];
    const before = readFileSync(join(reference, 'stages', 'finetune', 'weights.safetensors'));
    const result = await resume(reference, {
      models,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 20,
      report: false,
      onEvent: (e) => events.push(e),
    });
    expect(result.status).toBe('completed');
    expect(result.stages.map((s) => s.name)).toEqual(['pretrain', 'finetune']);
    expect(events.filter((e) => e.type === 'step' || e.type === 'stage-start')).toEqual([]);
    expect(readFileSync(join(reference, 'stages', 'finetune', 'weights.safetensors')).equals(before)).toBe(true);
  });

  it('gives different weights for a different seed (the comparison can fail)', async () => {
    const runDir = tempRun();
    await runTraining({
      spec: { ...spec, seed: 12 },
      dataset: toyDataset,
      models,
      runDir,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 20,
      report: false,
    });
    expect(
      bytes(runDir, 'pretrain', 'weights.safetensors').equals(bytes(reference, 'pretrain', 'weights.safetensors')),
    ).toBe(false);
  });

  it('refuses to resume with a changed configuration or without checkpoints', async () => {
    const runDir = tempRun();
    await interruptAt(runDir, 'pretrain', 2);
    await expect(
      runTraining({
        spec: { ...spec, seed: 99 },
        dataset: toyDataset,
        models,
        runDir,
        backend: 'cpu',
        data: data(),
        resume: true,
      }),
    ).rejects.toThrow(/configuration differs/);
    await expect(resume(tempRun(), { models, backend: 'cpu', data: data() })).rejects.toThrow(/no complete checkpoint/);
  });
});
