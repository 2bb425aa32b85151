/**
 * TensorBoard event files and metrics.csv: the CRC, a byte golden, an independent reader
 * (Debian's protoc + python3-protobuf, with its own CRC32C), and a killed-and-resumed run whose
 * event file holds exactly the uninterrupted run's scalars.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../runtime/run/jsonl.js';
import { crc32c, findEventFile, maskedCrc32c, metricsCsv, ScalarLog } from '../../runtime/run/scalars.js';
import { resume, runTraining } from '../../runtime/train/runner.js';
import { TinyData } from '../support/train-data.js';
import { tinyFactories, type TinyConfig } from '../support/train-models.js';
import { toyDataset, twoStageSpec } from '../support/train-specs.js';

const FIXTURES = 'test/fixtures/events';
const PYTHON = '/usr/bin/python3';

const records: LogRecord[] = [
  { type: 'run', name: 'T', dataset: 'D', seed: 1, stages: ['pre', 'fine'] },
  { type: 'step', stage: 'pre', epoch: 1, step: 1, globalStep: 1, loss: 0.75, lr: 0.001, elapsed: 1.5 },
  { type: 'step', stage: 'pre', epoch: 1, step: 2, globalStep: 2, loss: 0.5, lr: 0.0005, elapsed: 2.5 },
  { type: 'epoch', stage: 'pre', epoch: 1, trainLoss: 0.625, lr: 0.0005, metrics: {}, elapsed: 3 },
  { type: 'step', stage: 'fine', epoch: 1, step: 1, globalStep: 1, loss: 0.6875, lr: 1.5e-5, elapsed: 4 },
  { type: 'epoch', stage: 'fine', epoch: 1, trainLoss: 0.6875, metrics: { auc: 0.8125, loss: null }, elapsed: 5 },
];

/** Compiles the test's proto with Debian's protoc and reads an event file with Python. */
function readWithPython(file: string): { version: string; scalars: [string, number, number, number][] } {
  const out = mkdtempSync(join(tmpdir(), 'nvcc-proto-'));
  execFileSync('protoc', [`--proto_path=${FIXTURES}`, `--python_out=${out}`, 'tensorboard_event.proto']);
  const text = execFileSync(PYTHON, [join(FIXTURES, 'read_events.py'), out, file], { encoding: 'utf8' });
  return JSON.parse(text);
}

describe('event file format', () => {
  it('CRC32C gives the Castagnoli check value and TensorFlow masks it', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const crc = 0xe3069283;
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe((((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
  });

  it('a fixed log gives the committed event file byte for byte, and metrics.csv row by row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-scalars-'));
    const log = new ScalarLog(dir, { runStart: 1_700_000_000, existing: records });
    log.close();
    const golden = join(FIXTURES, 'golden.tfevents');
    const bytes = readFileSync(log.eventsPath);
    if (process.env.UPDATE_BASELINES) writeFileSync(golden, bytes);
    expect(bytes.equals(readFileSync(golden))).toBe(true);
    expect(readFileSync(log.csvPath, 'utf8')).toBe(
      'stage,epoch,step,train_loss,lr,val_auc,val_loss,elapsed_s\n' +
        'pre,1,2,0.625,0.0005,,,3\n' +
        'fine,1,1,0.6875,,0.8125,,5\n',
    );
  });

  it('an independent reader verifies every CRC and reads the scalars back', () => {
    const parsed = readWithPython(join(FIXTURES, 'golden.tfevents'));
    expect(parsed.version).toBe('brain.Event:2');
    expect(parsed.scalars).toEqual([
      ['pre/train/loss', 1, 0.75, 1_700_000_001.5],
      ['pre/train/lr', 1, Math.fround(0.001), 1_700_000_001.5],
      ['pre/train/loss', 2, 0.5, 1_700_000_002.5],
      ['pre/train/lr', 2, Math.fround(0.0005), 1_700_000_002.5],
      ['pre/train/epoch_loss', 2, 0.625, 1_700_000_003],
      ['fine/train/loss', 1, Math.fround(0.6875), 1_700_000_004],
      ['fine/train/lr', 1, Math.fround(1.5e-5), 1_700_000_004],
      ['fine/train/epoch_loss', 1, Math.fround(0.6875), 1_700_000_005],
      ['fine/val/auc', 1, 0.8125, 1_700_000_005],
    ]);
  });

  it('metrics.csv quotes a stage name with a comma and leaves non-finite values empty', () => {
    const csv = metricsCsv([{ type: 'epoch', stage: 'a,b', epoch: 2, trainLoss: Number.NaN, metrics: { auc: 0.5 } }]);
    expect(csv).toBe('stage,epoch,step,train_loss,lr,val_auc,elapsed_s\n"a,b",2,0,,,0.5,\n');
  });
});

describe('a training run', () => {
  const config: TinyConfig = { patch: 4, channels: 1, dim: 6, labs: 3, classes: 2, image: 'xray', labInput: 'labs' };
  const data = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });
  const models = tinyFactories(config);
  const spec = twoStageSpec();
  const options = { spec, dataset: toyDataset, models, backend: 'cpu' as const, bootstrapResamples: 20, report: false };

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const withoutTime = (file: string) => readWithPython(file).scalars.map(([tag, step, value]) => [tag, step, value]);
  const csvWithoutTime = (dir: string) =>
    readFileSync(join(dir, 'metrics.csv'), 'utf8')
      .split('\n')
      .map((line) => line.split(',').slice(0, -1).join(','));

  it('writes an event file and metrics.csv; a killed and resumed run ends with the same scalars', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nvcc-scalars-run-'));
    const reference = join(root, 'reference');
    expect((await runTraining({ ...options, runDir: reference, data: data() })).status).toBe('completed');
    const referenceEvents = findEventFile(reference);
    expect(referenceEvents).toBeDefined();
    const scalars = withoutTime(referenceEvents!);
    const tags = new Set(scalars.map(([tag]) => tag));
    expect([...tags].sort()).toEqual(
      [...spec.stages.flatMap((s) => [`${s.name}/train/loss`, `${s.name}/train/lr`, `${s.name}/train/epoch_loss`])]
        .concat(scalars.filter(([t]) => String(t).includes('/val/')).map(([t]) => String(t)))
        .filter((t, i, all) => all.indexOf(t) === i)
        .sort(),
    );

    const interrupted = join(root, 'interrupted');
    const controller = new AbortController();
    const second = spec.stages[1]!.name;
    const first = await runTraining({
      ...options,
      runDir: interrupted,
      data: data(),
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'step' && e.stage === second && e.globalStep === 2) controller.abort();
      },
    });
    expect(first.status).toBe('interrupted');
    expect(existsSync(findEventFile(interrupted)!)).toBe(true);
    const resumed = await resume(interrupted, {
      models,
      backend: 'cpu',
      bootstrapResamples: 20,
      report: false,
      data: data(),
    });
    expect(resumed.status).toBe('completed');
    const resumedEvents = findEventFile(interrupted)!;
    expect(withoutTime(resumedEvents)).toEqual(scalars);
    expect(csvWithoutTime(interrupted)).toEqual(csvWithoutTime(reference));
  });
});
