/**
 * Buffers through training: a two-stage run whose encoder holds a BatchNorm. The running
 * statistics move in training steps only (validation and test run in evaluation mode), are
 * saved in checkpoints and weights files under PyTorch's names, are handed over with the encoder
 * to the next stage, and a run interrupted mid-epoch and resumed ends with the same weights
 * and buffers, byte for byte, as the uninterrupted run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../runtime/io/safetensors.js';
import { BatchNorm } from '../../runtime/layers/batchnorm.js';
import { Module, type ForwardContext } from '../../runtime/module.js';
import { resume, runTraining, type TrainEvent } from '../../runtime/train/runner.js';
import type { ModelFactory, TrainableModel } from '../../runtime/train/spec.js';
import { TinyData } from '../support/train-data.js';
import { Dense, toPatches, type TinyConfig } from '../support/train-models.js';
import { toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });
const spec = twoStageSpec();

/** Patch embedding, BatchNorm over every patch of the batch, ReLU. */
class BNEncoder extends Module {
  readonly embed: Dense;
  readonly bn: BatchNorm;
  constructor() {
    super();
    this.embed = this.child('embed', new Dense(config.patch * config.patch * config.channels, config.dim));
    this.bn = this.child('bn', new BatchNorm(config.dim));
  }
  apply(ctx: ForwardContext, image: tf.Tensor): tf.Tensor {
    return tf.relu(this.bn.forward(ctx, this.embed.apply(toPatches(image, config.patch))));
  }
}

class BNMAE extends Module implements TrainableModel {
  readonly encoder = this.child('encoder', new BNEncoder());
  readonly decoder = this.child('decoder', new Dense(config.dim, config.patch * config.patch * config.channels));
  forward(ctx: ForwardContext, inputs: Readonly<Record<string, tf.Tensor>>): Record<string, tf.Tensor> {
    return { pred: this.decoder.apply(this.encoder.apply(ctx, inputs[config.image]!)) };
  }
}

class BNClassifier extends Module implements TrainableModel {
  readonly enc = this.child('enc', new BNEncoder());
  readonly labProj = this.child('lab_proj', new Dense(config.labs, config.dim));
  readonly head = this.child('head', new Dense(config.dim, config.classes));
  forward(ctx: ForwardContext, inputs: Readonly<Record<string, tf.Tensor>>): tf.Tensor {
    const v = this.enc.apply(ctx, inputs[config.image]!).mean([1, 2]);
    return this.head.apply(tf.relu(tf.add(v, this.labProj.apply(inputs[config.labInput]!))));
  }
}

const models: Record<string, ModelFactory> = {
  pretrain: { create: () => new BNMAE() },
  finetune: { create: () => new BNClassifier() },
};

const tempRun = () => join(mkdtempSync(join(tmpdir(), 'nvcc-bn-resume-')), 'run');
const weightsOf = (run: string, stage: string) => readFileSync(join(run, 'stages', stage, 'weights.safetensors'));
const options = (runDir: string) => ({
  spec,
  dataset: toyDataset,
  models,
  runDir,
  backend: 'cpu' as const,
  data: data(),
  bootstrapResamples: 20,
  report: false,
});

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('BatchNorm buffers through training, hand-over and resume', () => {
  let reference: string;
  let steps: Record<string, number>;

  beforeAll(async () => {
    reference = tempRun();
    const events: TrainEvent[] = [];
    const result = await runTraining({ ...options(reference), onEvent: (e) => events.push(e) });
    expect(result.status).toBe('completed');
    steps = { pretrain: 0, finetune: 0 };
    for (const e of events) if (e.type === 'step') steps[e.stage]!++;
  });

  it('saves the running statistics under PyTorch names, counting training steps only', () => {
    const pre = parseSafetensors(weightsOf(reference, 'pretrain'), 'pretrain').tensors;
    expect([...pre.keys()].filter((k) => k.startsWith('encoder.bn.')).sort()).toEqual([
      'encoder.bn.bias',
      'encoder.bn.num_batches_tracked',
      'encoder.bn.running_mean',
      'encoder.bn.running_var',
      'encoder.bn.weight',
    ]);
    // Validation passes run in evaluation mode: the counter is the number of optimizer steps.
    expect(pre.get('encoder.bn.num_batches_tracked')!.tensor.data[0]).toBe(steps.pretrain);
    expect(pre.get('encoder.bn.num_batches_tracked')!.storedDtype).toBe('I32');
    expect([...pre.get('encoder.bn.running_mean')!.tensor.data].some((v) => v !== 0)).toBe(true);
    // Handed over with the encoder, counted on through fine-tuning, and restored with the kept
    // best epoch's weights (keep_best): the buffers are part of the weights everywhere.
    const file = parseSafetensors(weightsOf(reference, 'finetune'), 'finetune');
    const bestEpoch = Number(/at epoch (\d+)/.exec(file.metadata.kept_best ?? '')?.[1]);
    const perEpoch = steps.finetune! / spec.stages[1]!.epochs;
    expect(file.tensors.get('enc.bn.num_batches_tracked')!.tensor.data[0]).toBe(steps.pretrain! + bestEpoch * perEpoch);
    expect(steps.finetune).toBeGreaterThan(0);
  });

  it('resumes a run stopped mid-epoch to identical weights and buffers', async () => {
    const runDir = tempRun();
    const controller = new AbortController();
    const stopped = await runTraining({
      ...options(runDir),
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'step' && e.stage === 'finetune' && e.globalStep === 4) controller.abort();
      },
    });
    expect(stopped.status).toBe('interrupted');
    const result = await resume(runDir, {
      models,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 20,
      report: false,
    });
    expect(result.status).toBe('completed');
    for (const stage of ['pretrain', 'finetune'])
      expect(weightsOf(runDir, stage).equals(weightsOf(reference, stage))).toBe(true);
  });
});
