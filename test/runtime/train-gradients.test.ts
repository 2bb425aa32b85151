import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readJsonl } from '../../runtime/run/jsonl.js';
import { createRng, seed } from '../../runtime/rng.js';
import { batchGradients } from '../../runtime/train/gradients.js';
import { drawMask } from '../../runtime/train/objective.js';
import { runTraining } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { TinyClassifier, TinyMAE, tinyFactories, type TinyConfig } from '../support/train-models.js';
import { finetuneStage, pretrainStage, toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function maxRelativeDifference(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let worst = 0;
  for (const [k, x] of a) {
    const xs = x.dataSync();
    const ys = b.get(k)!.dataSync();
    const scale = Math.max(1e-6, ...Array.from(xs, Math.abs));
    for (let i = 0; i < xs.length; i++) worst = Math.max(worst, Math.abs(xs[i]! - ys[i]!) / scale);
  }
  return worst;
}

describe('batchGradients with micro-batches', () => {
  it('equals the full-batch loss and gradient for cross-entropy (chunks of 3 over 8 samples)', () => {
    seed(1);
    const model = new TinyClassifier(config);
    const vars = model.namedParameters().map(([, p]) => p.variable);
    const batch = new TinyData({ patients: { train: 8, val: 0, test: 0 }, seed: 2, side: 8 }).load(
      'train',
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    const stage = finetuneStage();
    const full = batchGradients(stage, model, batch.inputs, batch.labels, undefined, createRng(0), vars);
    const micro = batchGradients(stage, model, batch.inputs, batch.labels, undefined, createRng(0), vars, 3);
    expect(micro.loss.dataSync()[0]).toBeCloseTo(full.loss.dataSync()[0]!, 6);
    expect(micro.grads.size).toBe(vars.length);
    expect(maxRelativeDifference(full.grads, micro.grads)).toBeLessThan(1e-5);
    // The comparison can fail: a gradient of half the batch is not the full-batch gradient.
    const half = batchGradients(
      stage,
      model,
      { xray: batch.inputs.xray!.slice(0, 4), labs: batch.inputs.labs!.slice(0, 4) },
      batch.labels!.slice(0, 4),
      undefined,
      createRng(0),
      vars,
    );
    expect(maxRelativeDifference(full.grads, half.grads)).toBeGreaterThan(1e-2);
  });

  it('weights masked-MSE chunks by their removed patches', () => {
    seed(1);
    const model = new TinyMAE(config);
    const vars = model.namedParameters().map(([, p]) => p.variable);
    const batch = new TinyData({ patients: { train: 6, val: 0, test: 0 }, seed: 2, side: 8 }).load(
      'train',
      [0, 1, 2, 3, 4, 5, 6],
    );
    const stage = pretrainStage({ mask: { kind: 'random_patches', ratio: 0.4, patch: 4 } });
    const mask = drawMask(stage.mask!, batch.inputs.xray!, createRng(3));
    const full = batchGradients(stage, model, batch.inputs, batch.labels, mask, createRng(0), vars);
    const micro = batchGradients(stage, model, batch.inputs, batch.labels, mask, createRng(0), vars, 2);
    expect(micro.loss.dataSync()[0]).toBeCloseTo(full.loss.dataSync()[0]!, 6);
    expect(maxRelativeDifference(full.grads, micro.grads)).toBeLessThan(1e-5);
  });

  it('trains with micro_batch and logs the same first-step loss as the whole batch', async () => {
    const run = async (microBatch?: number) => {
      const runDir = join(mkdtempSync(join(tmpdir(), 'nvcc-micro-')), 'run');
      const spec = twoStageSpec({ stages: [pretrainStage({ epochs: 1, ...(microBatch ? { microBatch } : {}) })] });
      await runTraining({
        spec,
        dataset: toyDataset,
        models: tinyFactories(config),
        runDir,
        backend: 'cpu',
        data: new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 }),
        bootstrapResamples: 0,
        report: false,
      });
      return readJsonl(join(runDir, 'log.jsonl'))
        .records.filter((r) => r.type === 'step')
        .map((r) => r.loss as number);
    };
    const whole = await run();
    const micro = await run(1);
    expect(micro.length).toBe(whole.length);
    expect(micro[0]).toBeCloseTo(whole[0]!, 6);
  });
});
