/**
 * A training process for the kill test: runs the tiny two-stage spec in the run folder given as
 * argv[2] on the cpu backend (`resume` as argv[3] continues it). Used with
 * NVCC_TEST_CHECKPOINT_PAUSE so the parent can SIGKILL it in the middle of a checkpoint write.
 */
import * as tf from '@tensorflow/tfjs';
import { resume, runTraining } from '../../runtime/train/runner.js';
import { TinyData } from './train-data.js';
import { tinyFactories } from './train-models.js';
import { toyDataset, twoStageSpec } from './train-specs.js';

export const childConfig = {
  patch: 4,
  channels: 1,
  dim: 6,
  labs: 3,
  classes: 2,
  image: 'xray',
  labInput: 'labs',
} as const;
export const childData = () => new TinyData({ patients: { train: 10, val: 6, test: 6 }, seed: 3, side: 8 });

async function main(): Promise<void> {
  const runDir = process.argv[2];
  if (!runDir) throw new Error('usage: train-child.ts RUN_DIR [resume]');
  await tf.setBackend('cpu');
  const models = tinyFactories(childConfig);
  const result =
    process.argv[3] === 'resume'
      ? await resume(runDir, { models, backend: 'cpu', data: childData(), bootstrapResamples: 20, report: false })
      : await runTraining({
          spec: twoStageSpec(),
          dataset: toyDataset,
          models,
          runDir,
          backend: 'cpu',
          data: childData(),
          bootstrapResamples: 20,
          report: false,
        });
  process.stdout.write(`status ${result.status}\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
