/**
 * Synthetic PJI cohort benchmark: the Bayes-optimal AUCs the generative model implies
 * (Monte Carlo over the known latent variables), generation and loading speed, and whether
 * small models actually learn each modality at 64x64 on a CPU.
 * In: flags. Out: figures on stdout (docs/synthetic-cohort.md quotes them).
 *
 *   npx tsx bench/synthetic-pji.ts                 # Bayes AUCs + timings
 *   npx tsx bench/synthetic-pji.ts --learn         # + tiny CNN / logistic / fused models
 *   flags: --mc N (Monte-Carlo patients, default 200000) --seed S --epochs E --size PX
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../runtime/backend.js';
import { loadDataset, type Dataset } from '../runtime/data/dataset.js';
import {
  bayesAuc,
  bayesScores,
  generatePjiCohort,
  pjiDatasetSpec,
  rocAuc,
  samplePjiPatients,
} from '../runtime/data/synthetic-pji.js';
import { createRng } from '../runtime/rng.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const mcPatients = flag('mc', args.includes('--learn') ? 20000 : 200000);
const seed = flag('seed', 7);
const epochs = flag('epochs', 10);
const size = flag('size', 64);

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(48)} ${value}\n`);
}

// 1. Bayes-optimal AUCs.
let t = performance.now();
const mc = bayesAuc(mcPatients, 1000 + seed);
line(`Bayes AUC, ${mcPatients} MC patients: labs`, mc.labs.toFixed(4));
line('Bayes AUC: images (ideal reader of the findings)', mc.images.toFixed(4));
line('Bayes AUC: labs + images', mc.combined.toFixed(4));
line('  (Monte-Carlo time)', `${((performance.now() - t) / 1000).toFixed(1)} s`);
const paper = samplePjiPatients(489, seed);
const y = paper.map((p) => p.infected);
const s = paper.map(bayesScores);
line(
  `Bayes AUC on the 489-patient cohort, seed ${seed}`,
  `labs ${rocAuc(
    s.map((x) => x.labs),
    y,
  ).toFixed(3)}, images ${rocAuc(
    s.map((x) => x.images),
    y,
  ).toFixed(3)}, both ${rocAuc(
    s.map((x) => x.combined),
    y,
  ).toFixed(3)}`,
);

// 2. Speed.
// CPU time as well as wall time: the machine is shared, and wall time measures the neighbours.
const timed = async <T>(label: string, f: () => T | Promise<T>): Promise<T> => {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const out = await f();
  const used = process.cpuUsage(cpu);
  line(
    label,
    `${((performance.now() - wall) / 1000).toFixed(2)} s wall, ${((used.user + used.system) / 1e6).toFixed(2)} s cpu`,
  );
  return out;
};
const cohort = await timed(`generate 489 patients at ${size}x${size}`, () =>
  generatePjiCohort({ patients: 489, seed: seed + 1, imageSize: size }),
);
line('  images', String(cohort.images.length));
const spec = pjiDatasetSpec({ kind: 'synthetic', name: 'pji', patients: 489, seed, imageSize: size });
const ds = await timed('loadDataset (generates in memory, checks, encodes)', () => loadDataset(spec));

await initBackend({ quiet: true });
t = performance.now();
let n = 0;
for (const b of ds.batches('train', {
  batchSize: 24,
  shuffle: true,
  rng: createRng(1),
  augment: { hflip: 0.5, rotateDegrees: 15 },
})) {
  n += b.patientIds.length;
  tf.dispose([b.images, b.labels, ...Object.values(b.labs)]);
}
line(
  `one augmented train epoch of batches (${tf.getBackend()})`,
  `${((performance.now() - t) / 1000).toFixed(2)} s for ${n} images`,
);

// 3. Learnability: image-only CNN, labs-only logistic regression, and both (concatenated).
if (args.includes('--learn')) await learn(ds);

function tensorsOf(
  d: Dataset,
  split: 'train' | 'val' | 'test' | 'all',
): { x: tf.Tensor4D; labs: tf.Tensor2D; y: tf.Tensor1D; patients: number[] } {
  const [b] = [...d.batches(split, { batchSize: 100000 })];
  return { x: b!.images, labs: b!.labs.labs!, y: b!.labels, patients: d.samples(split).map((q) => q.patient) };
}

/** Max over each patient's images of the positive-class probability. */
function pooled(patients: number[], probs: Float32Array): Map<number, number> {
  const best = new Map<number, number>();
  patients.forEach((p, i) => best.set(p, Math.max(best.get(p) ?? -Infinity, probs[i]!)));
  return best;
}

function patientAuc(d: Dataset, scores: Map<number, number>): number {
  const ids = [...scores.keys()];
  return rocAuc(
    ids.map((p) => scores.get(p)!),
    ids.map((p) => d.patients[p]!.label as 0 | 1),
  );
}

async function learn(d: Dataset): Promise<void> {
  tf.setBackend(tf.getBackend());
  const train = tensorsOf(d, 'train');
  const test = tensorsOf(d, 'test');
  const evalSplits = [...d.splits.val, ...d.splits.test];
  line('held-out patients (val + test)', String(evalSplits.length));
  const heldX = tf.concat([tensorsOf(d, 'val').x, test.x]);
  const heldLabs = tf.concat([tensorsOf(d, 'val').labs, test.labs]);
  const heldPatients = [...d.samples('val'), ...d.samples('test')].map((q) => q.patient);
  const yTrain = tf.oneHot(train.y, 2);

  const imageBranch = (input: tf.SymbolicTensor): tf.SymbolicTensor => {
    let h = input;
    for (const filters of [8, 16, 32]) {
      h = tf.layers
        .conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })
        .apply(h) as tf.SymbolicTensor;
      h = tf.layers
        .conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu' })
        .apply(h) as tf.SymbolicTensor;
    }
    return tf.layers.globalMaxPooling2d({}).apply(h) as tf.SymbolicTensor;
  };
  const [H, W, C] = [d.spec.images.size[0], d.spec.images.size[1], d.spec.images.channels];
  const imgIn = tf.input({ shape: [H, W, C] });
  const labIn = tf.input({ shape: [d.widths.labs!] });

  const run = async (
    name: string,
    outputs: tf.SymbolicTensor,
    inputs: tf.SymbolicTensor[],
    xs: tf.Tensor[],
    held: tf.Tensor[],
    ep: number,
  ): Promise<Map<number, number>> => {
    const model = tf.model({ inputs, outputs });
    model.compile({ optimizer: tf.train.adam(2e-3), loss: 'categoricalCrossentropy' });
    const started = performance.now();
    await model.fit(xs.length === 1 ? xs[0]! : xs, yTrain, { epochs: ep, batchSize: 32, shuffle: true, verbose: 0 });
    const p = model.predict(held.length === 1 ? held[0]! : held) as tf.Tensor2D;
    const pos = (await p.slice([0, 1], [-1, 1]).data()) as Float32Array;
    const scores = pooled(heldPatients, pos);
    line(
      `${name}: held-out patient AUC (max over images)`,
      `${patientAuc(d, scores).toFixed(3)} after ${ep} epochs, ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
    return scores;
  };
  const dense = (units: number, activation?: 'relu' | 'softmax') => tf.layers.dense({ units, activation });
  const labScores = await run(
    'labs only (logistic)',
    dense(2, 'softmax').apply(labIn) as tf.SymbolicTensor,
    [labIn],
    [train.labs],
    [heldLabs],
    60,
  );
  const imageScores = await run(
    'images only (6-conv CNN)',
    dense(2, 'softmax').apply(imageBranch(imgIn)) as tf.SymbolicTensor,
    [imgIn],
    [train.x],
    [heldX],
    epochs,
  );
  // Late fusion: add the two models' log-odds (exact if the modalities were independent given the label).
  const logit = (p: number): number => Math.log(Math.max(p, 1e-7) / Math.max(1 - p, 1e-7));
  const late = new Map([...labScores.keys()].map((p) => [p, logit(labScores.get(p)!) + logit(imageScores.get(p)!)]));
  line('late fusion (sum of the two log-odds)', patientAuc(d, late).toFixed(3));
  const fused = tf.layers
    .concatenate()
    .apply([imageBranch(imgIn), dense(16, 'relu').apply(labIn) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  await run(
    'labs + images (concatenated)',
    dense(2, 'softmax').apply(fused) as tf.SymbolicTensor,
    [imgIn, labIn],
    [train.x, train.labs],
    [heldX, heldLabs],
    epochs,
  );
}
