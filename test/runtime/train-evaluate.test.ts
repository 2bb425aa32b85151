import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../../runtime/train/checkpoint.js';
import { evaluateCheckpoint, predict, splitSource, type SampleSource } from '../../runtime/train/evaluate.js';
import { runTraining, type RunResult } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { finetuneStage, toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });
const models = tinyFactories(config);
const spec = twoStageSpec({ stages: [finetuneStage({ handover: [], epochs: 2, keepBest: undefined })] });

interface Split {
  split: string;
  auc: number;
  threshold: number;
  confusion: { tp: number; fp: number; tn: number; fn: number };
}

let runDir: string;
let run: RunResult;

beforeAll(async () => {
  await tf.setBackend('cpu');
  runDir = join(mkdtempSync(join(tmpdir(), 'nvcc-eval-')), 'run');
  run = await runTraining({
    spec,
    dataset: toyDataset,
    models,
    runDir,
    backend: 'cpu',
    data: data(),
    bootstrapResamples: 100,
    report: false,
  });
});

describe('evaluateCheckpoint', () => {
  it('reproduces the final evaluation of the run from the saved weights', async () => {
    const result = await evaluateCheckpoint({ runDir, models, data: data(), backend: 'cpu', bootstrapResamples: 100 });
    expect(result.stage).toBe('finetune');
    const expected = JSON.parse(JSON.stringify(run.stages[0]!.evaluation));
    expect(JSON.parse(JSON.stringify(result.evaluation))).toEqual(expected);
  });

  it('scores a checkpoint folder and refuses one of another stage or a missing stage', async () => {
    const checkpoints = listCheckpoints(runDir);
    const first = checkpoints[0]!;
    const result = await evaluateCheckpoint({
      runDir,
      models,
      data: data(),
      backend: 'cpu',
      weights: first.path,
      bootstrapResamples: 0,
      split: 'val',
    });
    const splits = (result.evaluation as unknown as { splits: Split[] }).splits;
    expect(splits.map((s) => s.split)).toEqual(['validation']);
    // the last checkpoint is written after the last stage: it stands for the stages' final weights
    const final = await evaluateCheckpoint({
      runDir,
      models,
      data: data(),
      backend: 'cpu',
      weights: checkpoints.at(-1)!.path,
      bootstrapResamples: 100,
    });
    expect(final.stage).toBe('finetune');
    expect(JSON.parse(JSON.stringify(final.evaluation))).toEqual(JSON.parse(JSON.stringify(run.stages[0]!.evaluation)));
    await expect(
      evaluateCheckpoint({ runDir, models, data: data(), backend: 'cpu', stage: 'pretrain' }),
    ).rejects.toThrow(/no stage 'pretrain'/);
  });
});

describe('predict', () => {
  it('writes per-patient probabilities and calls that agree with the test confusion matrix', async () => {
    const d = data();
    const test = splitSource(d, 'test');
    // New patients carry no labels.
    const unlabelled: SampleSource = {
      size: test.size,
      load: (indices) => {
        const b = test.load(indices);
        b.labels?.dispose();
        return { inputs: b.inputs, patientIds: b.patientIds };
      },
    };
    const out = join(runDir, 'predictions.csv');
    const result = await predict({ runDir, models, patients: unlabelled, out, backend: 'cpu' });
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('patient_id,images,p_positive,predicted');
    expect(lines.length).toBe(1 + 6);
    const evaluation = run.stages[0]!.evaluation as unknown as { threshold: number; splits: Split[] };
    expect(result.threshold).toBe(evaluation.threshold);
    const cm = { tp: 0, fp: 0, tn: 0, fn: 0 };
    for (const line of lines.slice(1)) {
      const [id, images, p, predicted] = line.split(',');
      const probability = Number(p);
      expect(probability).toBeGreaterThanOrEqual(0);
      expect(probability).toBeLessThanOrEqual(1);
      expect(predicted).toBe(probability >= result.threshold ? 'positive' : 'negative');
      // TinyData: patient p is positive when p is odd, and has 2 images when p % 3 == 0.
      const index = Number(id!.split('-')[1]);
      expect(Number(images)).toBe(index % 3 === 0 ? 2 : 1);
      const truth = index % 2 === 1;
      const called = predicted === 'positive';
      if (truth && called) cm.tp++;
      else if (truth) cm.fn++;
      else if (called) cm.fp++;
      else cm.tn++;
    }
    expect(cm).toEqual(evaluation.splits.find((s) => s.split === 'test')!.confusion);
  });
});
