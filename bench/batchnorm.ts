/**
 * Micro-benchmark of BatchNorm's training step (forward and backward to x, weight and bias):
 * the float64 host primitive (runtime/ops/batchnorm.ts, batchNormTrainHost, what cpu and wasm
 * run) vs the composition of tf ops with its autodiff (batchNormTrainComposed, float32 sums).
 * In: flags `--reps N` (default 5), `--backend wasm|cpu` (default wasm).
 * Out: a table of CPU ms per forward + backward (process user+system time, min over reps:
 * robust to other load on a shared machine) and wall ms (min), composed vs host.
 *
 *   npx tsx bench/batchnorm.ts [--reps 5] [--backend wasm]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../runtime/backend.js';
import { batchNormTrainComposed, batchNormTrainHost } from '../runtime/ops/batchnorm.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const REPS = Number(flag('reps', '5'));
const BACKEND = flag('backend', 'wasm') as 'wasm' | 'cpu';
// ResNet-50's stem and last stage, MobileNetV2's widest depthwise stage, at batch 16 and 224 px.
const SHAPES: Array<[number, number, number, number]> = [
  [16, 112, 112, 64],
  [16, 56, 56, 144],
  [16, 7, 7, 2048],
];

function time(f: () => void): { cpu: number; wall: number } {
  f(); // warm-up (compiles, grows memory)
  let cpu = Infinity;
  let wall = Infinity;
  for (let r = 0; r < REPS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    const t1 = performance.now();
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
    wall = Math.min(wall, t1 - t0);
  }
  return { cpu, wall };
}

await initBackend({ backend: BACKEND });
const rows: string[][] = [['shape', 'composed CPU ms', 'host CPU ms', 'host / composed', 'composed wall', 'host wall']];
for (const shape of SHAPES) {
  const c = shape[3];
  const x = tf.randomNormal(shape);
  const w = tf.variable(tf.randomUniform([c], 0.5, 1.5));
  const b = tf.variable(tf.randomUniform([c], -0.5, 0.5));
  const dy = tf.randomNormal(shape);
  const step = (train: typeof batchNormTrainHost) => () =>
    tf.tidy(() => {
      const g = tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => {
        const { y, stats } = train(xi, wi, bi, 1e-5);
        tf.dispose([stats.mean, stats.unbiasedVariance]);
        return tf.sum(tf.mul(y, dy));
      })([x, w, b]);
      for (const t of g) t.dataSync();
    });
  const composed = time(step(batchNormTrainComposed));
  const host = time(step(batchNormTrainHost));
  rows.push([
    shape.join('x'),
    composed.cpu.toFixed(1),
    host.cpu.toFixed(1),
    (host.cpu / composed.cpu).toFixed(2),
    composed.wall.toFixed(1),
    host.wall.toFixed(1),
  ]);
  tf.dispose([x, w, b, dy]);
}
console.log(`BatchNorm training forward + backward on ${BACKEND}, ${REPS} reps (min)`);
for (const r of rows) console.log(r.map((v, i) => (i === 0 ? v.padEnd(16) : v.padStart(16))).join(''));
