import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { loadWeights } from '../../runtime/io/weights.js';
import { readJsonl } from '../../runtime/run/jsonl.js';
import { createProgressDisplay } from '../../runtime/run/progress.js';
import { seed } from '../../runtime/rng.js';
import { listCheckpoints } from '../../runtime/train/checkpoint.js';
import { checkSpec, runTraining, TrainingError, type TrainEvent } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { TinyClassifier, TinyMAE, tinyFactories, type TinyConfig } from '../support/train-models.js';
import { finetuneStage, pretrainStage, toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });
const tempRun = () => join(mkdtempSync(join(tmpdir(), 'nvcc-train-')), 'run');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('runTraining end to end', () => {
  it('pretrains, hands the encoder over, fine-tunes, evaluates per patient and writes the report', async () => {
    const runDir = tempRun();
    const events: TrainEvent[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const d = data();
    const result = await runTraining({
      spec: twoStageSpec(),
      dataset: toyDataset,
      models: tinyFactories(config),
      runDir,
      backend: 'cpu',
      data: d,
      onEvent: (e) => events.push(e),
      bootstrapResamples: 200,
    });
    expect(result.status).toBe('completed');
    expect(result.stages.map((s) => [s.name, s.kind])).toEqual([
      ['pretrain', 'masked'],
      ['finetune', 'supervised'],
    ]);
    // Every model, optimizer slot and batch tensor was released.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(d.augmentedLoads).toBe(6 + 9);

    // Hand-over: the fine-tuning model started from the pretrained encoder.
    const start = events.find((e) => e.type === 'stage-start' && e.stage === 'finetune');
    if (start?.type !== 'stage-start' || !start.handover) throw new Error('no hand-over event');
    expect(start.handover.loaded.map((e) => `${e.source}->${e.target}`).sort()).toEqual([
      'encoder.embed.bias->enc.embed.bias',
      'encoder.embed.weight->enc.embed.weight',
      'encoder.mix.bias->enc.mix.bias',
      'encoder.mix.weight->enc.mix.weight',
    ]);
    expect(start.handover.fresh.map((f) => f.path).sort()).toEqual([
      'head.bias',
      'head.weight',
      'lab_proj.bias',
      'lab_proj.weight',
    ]);

    // Step log: 3 steps per epoch (14 train images, batch 4), lr follows warmup then cosine.
    const log = readJsonl(join(runDir, 'log.jsonl')).records;
    const steps = log.filter((r) => r.type === 'step');
    expect(steps.filter((r) => r.stage === 'pretrain').length).toBe(6);
    expect(steps.filter((r) => r.stage === 'finetune').length).toBe(9);
    const lrs = steps.filter((r) => r.stage === 'pretrain').map((r) => r.lr as number);
    expect(lrs[0]).toBe(0);
    expect(lrs[1]).toBeCloseTo(1e-3, 12); // warmup over 3 steps to 3e-3
    expect(lrs[3]).toBeCloseTo(3e-3, 12);
    expect(lrs[5]!).toBeLessThan(lrs[4]!);
    const pre = steps.filter((r) => r.stage === 'pretrain').map((r) => r.loss as number);
    expect(pre.every(Number.isFinite)).toBe(true);

    // Per-epoch validation metrics, per patient, and keep-best.
    const epochs = log.filter((r) => r.type === 'epoch' && r.stage === 'finetune');
    expect(epochs.length).toBe(3);
    for (const e of epochs)
      expect(Object.keys(e.metrics as object).sort()).toEqual([
        'accuracy',
        'auc',
        'loss',
        'sensitivity',
        'specificity',
        'threshold',
      ]);
    const aucs = epochs.map((e) => (e.metrics as { auc: number }).auc);
    const fine = result.stages[1]!;
    expect(fine.best?.value).toBe(Math.max(...aucs));
    expect(fine.best?.epoch).toBe(aucs.indexOf(Math.max(...aucs)) + 1);
    // The stage's weights are the kept-best weights.
    const tensorsOf = (file: string) =>
      [...readSafetensors(join(runDir, 'stages/finetune', file)).tensors].map(([k, e]) => [
        k,
        Array.from(e.tensor.data),
      ]);
    expect(tensorsOf('weights.safetensors')).toEqual(tensorsOf('best.safetensors'));

    // Final evaluation: threshold chosen on validation, applied to test; 6 patients each.
    const evaluation = fine.evaluation as {
      threshold: number;
      splits: Array<{
        split: string;
        nPatients: number;
        nImages: number;
        auc: number;
        aucCi: { resamples: number; lower: number; upper: number };
        threshold: number;
      }>;
    };
    expect(evaluation.splits.map((s) => [s.split, s.nPatients, s.nImages])).toEqual([
      ['validation', 6, 8],
      ['test', 6, 8],
    ]);
    for (const s of evaluation.splits) {
      expect(s.threshold).toBe(evaluation.threshold);
      expect(s.aucCi.resamples).toBe(200);
      expect(s.aucCi.lower).toBeLessThanOrEqual(s.auc);
    }
    expect(evaluation.splits[0]!.auc).toBe(aucs[fine.best!.epoch - 1]);

    // Random throw (p = 0.2 over xray and labs) was applied and tallied per epoch.
    const tallies = epochs.map((e) => e.randomThrow as { samples: number; xray: number; labs: number });
    expect(tallies.map((t) => t.samples)).toEqual([12, 12, 12]);
    const thrownTotal = tallies.reduce((n, t) => n + t.xray + t.labs, 0);
    expect(thrownTotal).toBeGreaterThan(0);
    expect(thrownTotal).toBeLessThan(20); // 36 samples at p = 0.2: mean 7.2, sd 2.4
    expect(
      log.filter((r) => r.type === 'epoch' && r.stage === 'pretrain').every((r) => r.randomThrow === undefined),
    ).toBe(true);

    // Outputs: metrics.json, report.html (self-contained), config.json, loadable weights.
    const summary = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
    expect(summary.stages.map((s: { name: string }) => s.name)).toEqual(['pretrain', 'finetune']);
    expect(result.report).toBe(join(runDir, 'report.html'));
    const html = readFileSync(result.report!, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Stage pretrain');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).spec.name).toBe('Tiny_on_Toy');
    seed(0);
    const clf = new TinyClassifier(config);
    await loadWeights(clf, join(runDir, 'stages/finetune/weights.safetensors'));
    clf.dispose();
  });

  it('keeps frozen modules unchanged and the tensor count flat from step to step', async () => {
    const runDir = tempRun();
    const spec = twoStageSpec({ stages: [pretrainStage(), finetuneStage({ freeze: ['enc'], epochs: 2 })] });
    const counts: number[] = [];
    await runTraining({
      spec,
      dataset: toyDataset,
      models: tinyFactories(config),
      runDir,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 0,
      report: false,
      onEvent: (e) => {
        if (e.type === 'step' && e.stage === 'finetune') counts.push(tf.memory().numTensors);
      },
    });
    // Slots appear in step 1; afterwards every step leaves exactly as many tensors as it found.
    expect(counts.length).toBe(6);
    expect(new Set(counts.slice(1)).size).toBe(1);
    seed(0);
    const pre = new TinyMAE(config);
    const fine = new TinyClassifier(config);
    await loadWeights(pre, join(runDir, 'stages/pretrain/weights.safetensors'));
    await loadWeights(fine, join(runDir, 'stages/finetune/weights.safetensors'));
    expect(Array.from(fine.enc.embed.weight.dataSync())).toEqual(Array.from(pre.encoder.embed.weight.dataSync()));
    expect(Array.from(fine.enc.mix.bias.dataSync())).toEqual(Array.from(pre.encoder.mix.bias.dataSync()));
    const log = readJsonl(join(runDir, 'log.jsonl')).records;
    const stageLine = log.find((r) => r.type === 'stage' && r.stage === 'finetune') as unknown as {
      frozen: string[];
      groups: { frozen: string[] };
    };
    expect(stageLine.frozen).toEqual(['enc.embed.weight', 'enc.embed.bias', 'enc.mix.weight', 'enc.mix.bias']);
    expect(stageLine.groups.frozen).toEqual(stageLine.frozen);
    pre.dispose();
    fine.dispose();
  });

  it('drives the progress display: hand-over summary, steps and epoch summaries as plain lines', async () => {
    const lines: string[] = [];
    const progress = createProgressDisplay({
      stream: { write: (chunk: string) => (lines.push(chunk), true) },
      tty: false,
      intervalMs: 0,
    });
    const spec = twoStageSpec({ stages: [pretrainStage({ epochs: 1 }), finetuneStage({ epochs: 1 })] });
    await runTraining({
      spec,
      dataset: toyDataset,
      models: tinyFactories(config),
      runDir: tempRun(),
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 0,
      report: false,
      progress,
    });
    const text = lines.join('');
    expect(text).not.toMatch(/\x1b\[/);
    // one line per mapping, not a row per tensor (the full table is in log.jsonl)
    expect(text).toContain('pretrain.encoder -> enc: 4 tensors, 144 values');
    expect(text).not.toContain('pretrain.encoder.mix.weight');
    expect(text).toMatch(/finetune/);
    expect(text.split('\n').filter((l) => /auc/i.test(l)).length).toBeGreaterThan(0);
  });

  it('stops with a clear error when the loss is not finite, keeping the last good checkpoint', async () => {
    const runDir = tempRun();
    // A classifier whose logits turn NaN from the second fine-tuning step on.
    let calls = 0;
    const models = {
      ...tinyFactories(config),
      finetune: {
        create: () => {
          const m = new TinyClassifier(config);
          const forward = m.forward.bind(m);
          m.forward = (ctx, inputs) =>
            ctx.training && ++calls >= 2 ? tf.mul(forward(ctx, inputs), Number.NaN) : forward(ctx, inputs);
          return m;
        },
      },
    };
    const attempt = runTraining({
      spec: twoStageSpec(),
      dataset: toyDataset,
      models,
      runDir,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 0,
      report: false,
    });
    await expect(attempt).rejects.toThrow(/stage 'finetune', epoch 1, step 2: the loss is NaN/);
    const latest = listCheckpoints(runDir).at(-1)!;
    expect(JSON.parse(readFileSync(join(latest.path, 'state.json'), 'utf8'))).toMatchObject({
      stage: 'finetune',
      stageStep: 0,
      hasModel: false,
    });
  });

  it('keeps the best masked stage by validation loss', async () => {
    const runDir = tempRun();
    const spec = twoStageSpec({
      stages: [pretrainStage({ epochs: 3, keepBest: { metric: 'val.loss', mode: 'min' } })],
    });
    const result = await runTraining({
      spec,
      dataset: toyDataset,
      models: tinyFactories(config),
      runDir,
      backend: 'cpu',
      data: data(),
      bootstrapResamples: 0,
      report: false,
    });
    const losses = readJsonl(join(runDir, 'log.jsonl'))
      .records.filter((r) => r.type === 'epoch')
      .map((r) => (r.metrics as { loss: number }).loss);
    expect(losses).toHaveLength(3);
    expect(result.stages[0]!.best).toMatchObject({
      metric: 'val.loss',
      value: Math.min(...losses),
      epoch: losses.indexOf(Math.min(...losses)) + 1,
    });
    const evaluation = result.stages[0]!.evaluation as unknown as { loss: { val: number } };
    expect(evaluation.loss.val).toBe(Math.min(...losses));
  });

  it('refuses bad specs before writing anything', async () => {
    const models = tinyFactories(config);
    expect(() => checkSpec(twoStageSpec({ stages: [finetuneStage(), pretrainStage()] }), models)).toThrow(
      /weights from 'pretrain', which is not an earlier stage/,
    );
    expect(() =>
      checkSpec(
        twoStageSpec({ stages: [pretrainStage({ model: { factory: 'nope', className: 'X', args: {} } })] }),
        models,
      ),
    ).toThrow(/no model factory 'nope'/);
    expect(() => checkSpec(twoStageSpec({ stages: [pretrainStage({ mask: undefined })] }), models)).toThrow(
      /lacks a mask policy/,
    );
    expect(() =>
      checkSpec(twoStageSpec({ stages: [pretrainStage(), finetuneStage({ metrics: ['accuracy'] })] }), models),
    ).toThrow(/'auc' is not in metrics/);
    expect(() =>
      checkSpec(
        twoStageSpec({
          stages: [
            pretrainStage(),
            finetuneStage({ modalityDropout: { kind: 'random_throw', p: 0.2, fill: -10, modalities: ['ct'] } }),
          ],
        }),
        models,
      ),
    ).toThrow(/'ct', which is not among the inputs/);
    const runDir = tempRun();
    await expect(
      runTraining({
        spec: twoStageSpec({ stages: [pretrainStage({ epochs: 0 })] }),
        dataset: toyDataset,
        models,
        runDir,
        backend: 'cpu',
        data: data(),
      }),
    ).rejects.toBeInstanceOf(TrainingError);
    expect(existsSync(runDir)).toBe(false);
  });
});
