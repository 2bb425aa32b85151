/**
 * End to end on the real data runtime: a synthetic PJI cohort (labs.csv + PNG radiographs),
 * masked FCMAE pretraining of a ConvNeXt-V2-style encoder built from the runtime's layers,
 * hand-over to a cross-attention fusion classifier, fine-tuning with random throw, per-patient
 * evaluation, report, then prediction for new patients from a CSV and images.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../runtime/backend.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataRefusedError } from '../../runtime/data/errors.js';
import { generatePjiCohort, pjiDatasetSpec, writePjiCohort } from '../../runtime/data/synthetic-pji.js';
import type { DatasetSpec } from '../../runtime/data/spec.js';
import { rocAuc } from '../../runtime/metrics/index.js';
import { evaluateRunFolder, predictFromFiles } from '../../runtime/train/commands.js';
import { parsePredictionsCsv } from '../../runtime/train/evaluate.js';
import { resume, runTraining, type TrainEvent } from '../../runtime/train/runner.js';
import type { TrainSpec } from '../../runtime/train/spec.js';
import { miniFactories, type MiniConfig } from '../support/train-convnext.js';
import { finetuneStage } from '../support/train-specs.js';

const mini: MiniConfig = { channels: 1, dims: [8, 16], labs: 14 };

function spec(): TrainSpec {
  return {
    name: 'MiniMEDNVC_on_PJI',
    dataset: 'PJI',
    seed: 7,
    checkpointEverySteps: 5,
    stages: [
      {
        name: 'pretrain',
        kind: 'masked',
        model: { factory: 'pretrain', className: 'MiniFCMAE', args: { dims: [8, 16] } },
        inputs: ['xray'],
        mask: { kind: 'random_patches', ratio: 0.6, patch: 8 },
        loss: { kind: 'masked_mse', target: 'patch_normalized', input: 'xray' },
        optimizer: {
          kind: 'lion',
          lr: 1e-3,
          betas: [0.9, 0.99],
          weightDecay: 0.05,
          noDecay: [{ kind: 'official', rule: 'pretrain' }],
        },
        schedule: [
          { kind: 'warmup', epochs: 1 },
          { kind: 'cosine', to: 1e-5 },
        ],
        epochs: 2,
        batchSize: 8,
        augment: { hflip: 0.5, rotateDegrees: 10 },
        metrics: [],
        handover: [],
        freeze: [],
      },
      finetuneStage({
        model: { factory: 'finetune', className: 'MiniMEDNVC', args: { enc: 'pretrain.encoder' } },
        loss: { kind: 'cross_entropy', labelSmoothing: 0 },
        optimizer: {
          kind: 'lion',
          lr: 3e-4,
          betas: [0.9, 0.99],
          weightDecay: 0.05,
          noDecay: [{ kind: 'official', rule: 'finetune' }],
        },
        schedule: [
          { kind: 'warmup', epochs: 1 },
          { kind: 'cosine', to: 1e-6 },
        ],
        epochs: 2,
        batchSize: 8,
      }),
    ],
  };
}

let root: string;
let dataset: DatasetSpec;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
  root = mkdtempSync(join(tmpdir(), 'nvcc-e2e-'));
  await writePjiCohort(generatePjiCohort({ patients: 40, seed: 3, imageSize: 32 }), join(root, 'cohort'));
  dataset = {
    ...pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 40, seed: 3, imageSize: 32 }),
    source: { kind: 'files', table: 'cohort/labs.csv', images: 'cohort/images' },
  };
});

describe('pretrain -> finetune on a synthetic PJI cohort', () => {
  it('trains both stages, hands over every encoder weight, evaluates and reports, then predicts', async () => {
    const runDir = join(root, 'run');
    const events: TrainEvent[] = [];
    const result = await runTraining({
      spec: spec(),
      dataset,
      models: miniFactories(mini),
      runDir,
      backend: 'wasm',
      dataBaseDir: root,
      bootstrapResamples: 200,
      onEvent: (e) => events.push(e),
    });
    expect(result.status).toBe('completed');

    const start = events.find((e) => e.type === 'stage-start' && e.stage === 'finetune');
    if (start?.type !== 'stage-start' || !start.handover) throw new Error('no hand-over');
    // Every encoder parameter arrived, nothing else: 2 downsampling layers (conv + LN, 4 tensors
    // each) and 2 blocks (dwconv, norm, pwconv1, grn, pwconv2: 10 tensors each).
    expect(start.handover.loaded.length).toBe(2 * 4 + 2 * 10);
    expect(start.handover.loaded.every((e) => e.target === `enc.${e.source.slice('encoder.'.length)}`)).toBe(true);
    expect(start.handover.loaded.map((e) => e.target)).toContain('enc.stages.1.0.grn.gamma');
    expect(start.handover.fresh.every((f) => !f.path.startsWith('enc.'))).toBe(true);
    expect(start.handoverTable).toMatch(
      new RegExp(
        String.raw`pretrain\.encoder\.downsample_layers\.0\.0\.weight\s+` +
          String.raw`enc\.downsample_layers\.0\.0\.weight\s+\[4, 4, 1, 8\]\s+128`,
      ),
    );

    // 69 training images in batches of 8: 8 steps per epoch (the last 5 images dropped).
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.filter((e) => e.stage === 'pretrain').length).toBe(16);
    expect(steps.filter((e) => e.stage === 'finetune').length).toBe(16);
    expect(steps.every((e) => e.type === 'step' && Number.isFinite(e.loss))).toBe(true);

    const fine = result.stages[1]!;
    const evaluation = fine.evaluation as unknown as {
      splits: Array<{ split: string; nPatients: number; nImages: number; auc: number }>;
    };
    expect(evaluation.splits.map((s) => [s.split, s.nPatients, s.nImages])).toEqual([
      ['validation', 4, 10],
      ['test', 9, 18],
    ]);
    expect(fine.best?.metric).toBe('val.auc');
    // The per-patient scores behind those numbers are kept for paired comparisons.
    const predictions = readFileSync(join(runDir, 'stages/finetune/predictions.csv'), 'utf8');
    const classes = ['negative', 'positive'];
    for (const [split, name] of [
      ['val', 'validation'],
      ['test', 'test'],
    ] as const) {
      const rows = parsePredictionsCsv(predictions, classes, split, 'predictions.csv');
      const reported = evaluation.splits.find((s) => s.split === name)!;
      expect(rows.patientIds.length).toBe(reported.nPatients);
      expect(Array.from(rows.imageCounts!).reduce((a, b) => a + b, 0)).toBe(reported.nImages);
      expect(rocAuc(rows.labels, rows.scores)).toBeCloseTo(reported.auc, 6);
    }
    const pretrainEval = result.stages[0]!.evaluation as unknown as {
      kind: string;
      loss: { val: number; test: number };
    };
    expect(pretrainEval.kind).toBe('masked');
    expect(Number.isFinite(pretrainEval.loss.test)).toBe(true);

    expect(existsSync(join(runDir, 'report.html'))).toBe(true);
    expect(readFileSync(join(runDir, 'report.html'), 'utf8')).toContain('Stage finetune');
    const stats = JSON.parse(readFileSync(join(runDir, 'data-stats.json'), 'utf8'));
    expect(stats.image.mean).toHaveLength(1);

    // New patients: another cohort written as files, scored with the run's statistics.
    await writePjiCohort(generatePjiCohort({ patients: 6, seed: 99, imageSize: 32 }), join(root, 'new'));
    const out = join(root, 'predictions.csv');
    const predicted = await predictFromFiles({
      runDir,
      models: miniFactories(mini),
      table: 'new/labs.csv',
      images: 'new/images',
      out,
      baseDir: root,
      backend: 'wasm',
    });
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('patient_id,images,p_positive,predicted');
    expect(lines.length).toBe(7);
    expect(predicted.rows.every((r) => r.probability >= 0 && r.probability <= 1)).toBe(true);
    expect(predicted.thresholdSource).toMatch(/chosen on validation/);

    // `nvcc eval`: the run folder alone (config, statistics, data location) reproduces the
    // final evaluation of the fine-tuning stage.
    const again = await evaluateRunFolder({
      runDir,
      models: miniFactories(mini),
      backend: 'wasm',
      bootstrapResamples: 200,
    });
    expect(again.stage).toBe('finetune');
    expect(JSON.parse(JSON.stringify(again.evaluation))).toEqual(JSON.parse(JSON.stringify(fine.evaluation)));
    // `nvcc train --resume` of the finished run finds its data from the folder and trains nothing.
    const resumed = await resume(runDir, { models: miniFactories(mini), backend: 'wasm', report: false });
    expect(resumed.status).toBe('completed');
  });

  it('refuses bad data before creating the run folder, naming file, row and column', async () => {
    const table = readFileSync(join(root, 'cohort/labs.csv'), 'utf8').split('\n');
    const header = table[0]!.split(',');
    const crp = header.indexOf('crp');
    const broken = table
      .map((line, i) =>
        i === 3
          ? line
              .split(',')
              .map((c, j) => (j === crp ? 'abc' : c))
              .join(',')
          : line,
      )
      .join('\n');
    writeFileSync(join(root, 'cohort/broken.csv'), broken);
    const runDir = join(root, 'refused');
    const attempt = runTraining({
      spec: spec(),
      dataset: { ...dataset, source: { kind: 'files', table: 'cohort/broken.csv', images: 'cohort/images' } },
      models: miniFactories(mini),
      runDir,
      backend: 'wasm',
      dataBaseDir: root,
    });
    await expect(attempt).rejects.toBeInstanceOf(DataRefusedError);
    await expect(attempt).rejects.toThrow(/broken\.csv.*4.*crp|crp.*4/s);
    expect(existsSync(runDir)).toBe(false);
  });
});
