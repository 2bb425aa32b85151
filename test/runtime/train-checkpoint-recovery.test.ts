/**
 * Damaged checkpoints and weights (each case failed before its fix): a truncated or garbled
 * newest checkpoint is skipped for the previous intact one, with a warning naming both, and the
 * resumed run still ends bit-identical to the uninterrupted one; a garbled state.json is a
 * data error naming the folder (the CLI prints it as a message, not an internal error);
 * weights holding NaN or infinity are refused when loading, leaving the model untouched.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../runtime/io/safetensors.js';
import { loadWeights, saveWeights } from '../../runtime/io/weights.js';
import { readJsonl } from '../../runtime/run/jsonl.js';
import { listCheckpoints } from '../../runtime/train/checkpoint.js';
import { TrainingError } from '../../runtime/train/common.js';
import { evaluateCheckpoint } from '../../runtime/train/evaluate.js';
import { resume, runTraining } from '../../runtime/train/runner.js';
import { DamagedCheckpointError, readCheckpointState } from '../../runtime/train/state.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { toyDataset, twoStageSpec } from '../support/train-specs.js';

const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });
const models = tinyFactories(config);
const spec = twoStageSpec();
const common = { models, backend: 'cpu' as const, bootstrapResamples: 20, report: false };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tempRun(): string {
  return join(mkdtempSync(join(tmpdir(), 'nvcc-recovery-')), 'run');
}

function stepKeys(runDir: string): string[] {
  return readJsonl(join(runDir, 'log.jsonl'))
    .records.filter((r) => r.type === 'step')
    .map((r) => `${r.stage}/${r.epoch}/${r.step}`);
}

async function interruptAt(runDir: string, stage: string, globalStep: number): Promise<void> {
  const controller = new AbortController();
  const result = await runTraining({
    ...common,
    spec,
    dataset: toyDataset,
    runDir,
    data: data(),
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === 'step' && e.stage === stage && e.globalStep === globalStep) controller.abort();
    },
  });
  expect(result.status).toBe('interrupted');
}

const weightsOf = (runDir: string, stage: string) => readFileSync(join(runDir, 'stages', stage, 'weights.safetensors'));

describe('a damaged newest checkpoint', () => {
  let reference: string;
  beforeAll(async () => {
    reference = tempRun();
    const r = await runTraining({ ...common, spec, dataset: toyDataset, runDir: reference, data: data() });
    expect(r.status).toBe('completed');
  });

  for (const damage of ['truncated model.safetensors', 'garbled state.json'] as const)
    it(`(${damage}) is skipped for the previous intact one, and the run ends bit-identical`, async () => {
      const runDir = tempRun();
      await interruptAt(runDir, 'pretrain', 5);
      const [older, newest] = listCheckpoints(runDir).slice(-2);
      if (damage === 'truncated model.safetensors') truncateSync(join(newest!.path, 'model.safetensors'), 100);
      else writeFileSync(join(newest!.path, 'state.json'), '{"format": "nvcc-checkpoint", "version": 1, "seq": ');
      expect(() => readCheckpointState(newest!.path)).toThrow(DamagedCheckpointError);
      const warnings: string[] = [];
      const result = await resume(runDir, { ...common, data: data(), warn: (m) => warnings.push(m) });
      expect(result.status).toBe('completed');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`${newest!.path}: damaged checkpoint: `);
      expect(warnings[0]).toContain(
        damage === 'truncated model.safetensors'
          ? 'model.safetensors does not match the sha256 recorded in state.json'
          : 'state.json is not valid JSON',
      );
      expect(warnings[0]).toContain(`using the previous intact checkpoint ${older!.path}`);
      // Kept for inspection, out of the way of the checkpoints written after it.
      const kept = join(runDir, 'checkpoints', `damaged-${newest!.path.split('/').at(-1)}`);
      expect(warnings[0]).toContain(`kept as ${kept}`);
      expect(existsSync(kept)).toBe(true);
      for (const stage of ['pretrain', 'finetune'])
        expect(weightsOf(runDir, stage).equals(weightsOf(reference, stage))).toBe(true);
      expect(stepKeys(runDir)).toEqual(stepKeys(reference));
    });

  it('every checkpoint damaged: refused with each reason, nothing loaded', async () => {
    const runDir = tempRun();
    await interruptAt(runDir, 'pretrain', 5);
    for (const c of listCheckpoints(runDir)) writeFileSync(join(c.path, 'state.json'), 'garbage');
    const e = await resume(runDir, { ...common, data: data() }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(TrainingError);
    expect((e as Error).message).toMatch(/has no complete checkpoint: every checkpoint is damaged \(.*not valid JSON/);
  });

  it('a garbled state.json of a named checkpoint: eval says so (a data error, not an internal error)', async () => {
    const runDir = tempRun();
    await interruptAt(runDir, 'finetune', 4);
    const newest = listCheckpoints(runDir).at(-1)!;
    writeFileSync(join(newest.path, 'state.json'), '{"format": "nvcc-checkpoint", "version": 1, "seq": "x"}');
    const e = await evaluateCheckpoint({
      runDir,
      models,
      data: data(),
      weights: newest.path,
      split: 'val',
      backend: 'cpu',
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(DamagedCheckpointError);
    expect(e).toMatchObject({ kind: 'data', exitCode: 1, path: newest.path });
    expect((e as Error).message).toBe(`${newest.path}: damaged checkpoint: field 'seq' is missing or invalid`);
  });
});

describe('weights with NaN or infinity', () => {
  it('are refused when loading, naming the tensors, and nothing is assigned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-nan-'));
    const file = join(dir, 'w.safetensors');
    const model = models[Object.keys(models)[0]!]!.create();
    await saveWeights(model, file);
    const before = model.namedParameters().map(([, p]) => p.variable.dataSync().slice());
    // Overwrite the last 4 data bytes (the last float of the last tensor) with a NaN and drop
    // the manifest, as a corrupted copy would arrive without one.
    const bytes = readFileSync(file);
    bytes.writeFloatLE(Number.NaN, bytes.length - 4);
    writeFileSync(file, bytes);
    for (const f of readdirSync(dir)) if (f.endsWith('.json')) writeFileSync(join(dir, f), '{}');
    const e = await loadWeights(model, file).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as Error).message).toMatch(
      new RegExp(`^${file}: invalid safetensors: non-finite values in '[^']+' \\(1 NaN, 0 infinite of \\d+\\); `),
    );
    expect((e as Error).message).toContain('(nothing was loaded)');
    const after = model.namedParameters().map(([, p]) => p.variable.dataSync());
    expect(after).toEqual(before);
  });
});
