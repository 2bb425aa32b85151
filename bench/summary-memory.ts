/**
 * How close `nvcc summary`'s training-step memory estimate comes to what tfjs allocates.
 *
 *   npx tsx bench/summary-memory.ts [--variant demo] [--backend cpu|wasm]
 *
 * In: examples/mednvc.nvc with a variant. For each stage: the summary's estimate (weights,
 * gradients, optimizer state, batch x (inputs + activations), float32) read from
 * `nvcc summary --format json`, and a measurement: the stage's generated model, one batch of
 * random inputs at the stage's batch size and the data's sizes (a mask drawn for masked stages),
 * and the runtime's own batch gradient (runtime/train/gradients.ts) inside `tf.profile`, whose
 * peakBytes counts every live tensor (weights included) at the worst moment; the optimizer
 * state (never allocated here) is added from the parameter count. Out: a table of both and
 * their ratio. The estimate counts every intermediate result once; tfjs frees some of them
 * during the backward pass and keeps some extra gradient temporaries, so the ratio says which
 * side the estimate errs on.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadBuiltProgram } from '../compiler/builder/build.js';
import { initBackend, type BackendRequest } from '../runtime/backend.js';
import { encodedWidth } from '../runtime/data/spec.js';
import { setInitRng } from '../runtime/module.js';
import { createRng } from '../runtime/rng.js';
import { batchGradients } from '../runtime/train/gradients.js';
import { drawMask } from '../runtime/train/objective.js';
import { imageInputOf } from '../runtime/train/common.js';
import type { TrainableModel } from '../runtime/train/spec.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const variant = flag('--variant', 'demo');
const backend = flag('--backend', 'cpu') as BackendRequest;
const file = 'examples/mednvc.nvc';
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

interface SummaryJson {
  readonly stages: {
    stage: string;
    trainableParams: number;
    training?: { batch: number; statesPerWeight: number; bytes: number };
  }[];
}
const summary = JSON.parse(
  execFileSync(process.execPath, ['bin/nvcc.js', 'summary', file, '--variant', variant, '--format', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }),
) as SummaryJson;

await initBackend({ backend, quiet: true });
const program = await loadBuiltProgram(file, {
  variant,
  outDir: path.join('build', `bench-summary-memory-${variant}`),
});
const spec = program.trainSpec!;
const dataset = program.datasetSpec!;
const [height, width] = dataset.images.size;
const channels = dataset.images.channels;
const labWidth = (group: string) =>
  dataset.groups.some((g) => g.name === group) ? encodedWidth(dataset, group) : undefined;

console.log(
  `nvcc summary's training-step estimate vs tf.profile peak, ${file} --variant ${variant}, ${backend} backend\n`,
);
console.log('stage      batch   estimate    measured (peak + optimizer state)   estimate / measured');
for (const stage of spec.stages) {
  const estimate = summary.stages.find((s) => s.stage === stage.name)?.training;
  if (!estimate) {
    console.log(`${stage.name.padEnd(10)} no estimate (optimizer or batch unknown)`);
    continue;
  }
  setInitRng(createRng(7).fork(stage.name));
  const model = program.factories[stage.model.factory]!.create() as unknown as TrainableModel & {
    namedParameters(): [string, { variable: tf.Variable; trainable: boolean }][];
    dispose(): void;
  };
  const rng = createRng(1);
  const inputs: Record<string, tf.Tensor> = {};
  for (const name of stage.inputs) {
    const labs = labWidth(name);
    inputs[name] = labs
      ? tf.randomNormal([stage.batchSize, labs])
      : tf.randomNormal([stage.batchSize, height, width, channels]);
  }
  const labels = tf.tensor1d(
    Array.from({ length: stage.batchSize }, (_, i) => i % 2),
    'int32',
  );
  const mask = stage.mask ? drawMask(stage.mask, inputs[imageInputOf(stage)]!, rng) : undefined;
  const varList = model
    .namedParameters()
    .filter(([, p]) => p.trainable)
    .map(([, p]) => p.variable);
  const profile = await tf.profile(() => {
    const { loss, grads } = batchGradients(stage, model, inputs, labels, mask, rng.fork('dropout'), varList);
    loss.dispose();
    for (const g of grads.values()) g.dispose();
  });
  const trainable = varList.reduce((n, v) => n + v.size, 0);
  const measured = profile.peakBytes + 4 * trainable * estimate.statesPerWeight;
  console.log(
    `${stage.name.padEnd(10)} ${String(stage.batchSize).padStart(5)}   ${mb(estimate.bytes).padStart(9)}   ` +
      `${mb(measured).padStart(9)} (${mb(profile.peakBytes)} + ` +
      `${mb(4 * trainable * estimate.statesPerWeight)})${' '.repeat(6)}${(estimate.bytes / measured).toFixed(2)}`,
  );
  for (const t of Object.values(inputs)) t.dispose();
  labels.dispose();
  mask?.dispose();
  model.dispose();
}
