/**
 * The training process of the kill loop (test/runtime/train-kill-loop.test.ts): the tiny
 * two-stage spec with more epochs (KILL_LOOP_SPEC), started (argv[3] = start) or resumed
 * (argv[3] = resume) in the run folder argv[2] on the cpu backend. It prints `step <stage>
 * <globalStep>` after each logged step and then waits NVCC_TEST_STEP_MS milliseconds, so the
 * parent can land a SIGKILL between two given steps; NVCC_TEST_CHECKPOINT_PAUSE pauses it inside
 * a checkpoint write (runtime/train/checkpoint.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { resume, runTraining } from '../../runtime/train/runner.js';
import { childConfig, childData } from './train-child.js';
import { tinyFactories } from './train-models.js';
import { finetuneStage, pretrainStage, toyDataset, twoStageSpec } from './train-specs.js';

/** 4 + 6 epochs of 3 steps, a checkpoint every 2 steps: about 30 checkpoints to kill around. */
export const KILL_LOOP_SPEC = twoStageSpec({ stages: [pretrainStage({ epochs: 4 }), finetuneStage({ epochs: 6 })] });

async function main(): Promise<void> {
  const [runDir, mode] = process.argv.slice(2);
  if (!runDir || (mode !== 'start' && mode !== 'resume')) throw new Error('usage: RUN_DIR start|resume');
  await tf.setBackend('cpu');
  const pause = Number(process.env.NVCC_TEST_STEP_MS ?? 0);
  const common = {
    models: tinyFactories(childConfig),
    backend: 'cpu' as const,
    data: childData(),
    bootstrapResamples: 20,
    report: false,
    onEvent: (e: { type: string; stage?: string; globalStep?: number }) => {
      if (e.type !== 'step') return;
      process.stdout.write(`step ${e.stage} ${e.globalStep}\n`);
      if (pause > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    },
  };
  const result =
    mode === 'resume'
      ? await resume(runDir, common)
      : await runTraining({ ...common, spec: KILL_LOOP_SPEC, dataset: toyDataset, runDir });
  process.stdout.write(`status ${result.status}\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
