import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readJsonl } from '../../runtime/run/jsonl.js';
import { runTraining, type TrainEvent } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('runTraining', () => {
  it('runs pretrain then finetune with hand-over, metrics and a log', async () => {
    const runDir = join(mkdtempSync(join(tmpdir(), 'nvcc-train-')), 'run');
    const events: TrainEvent[] = [];
    const result = await runTraining({ spec: twoStageSpec(), dataset: toyDataset, models: tinyFactories(config), runDir, backend: 'cpu', data: data(), onEvent: (e) => events.push(e), bootstrapResamples: 50 });
    expect(result.status).toBe('completed');
    expect(result.stages.map((s) => s.name)).toEqual(['pretrain', 'finetune']);
    const start = events.find((e) => e.type === 'stage-start' && e.stage === 'finetune');
    expect(start && start.type === 'stage-start' && start.handoverTable).toContain('pretrain.encoder.embed.weight');
    const log = readJsonl(join(runDir, 'log.jsonl')).records;
    console.log(JSON.stringify(result.stages[1]!.evaluation).slice(0, 600));
    expect(log.filter((r) => r.type === 'step').length).toBeGreaterThan(0);
  });
});
