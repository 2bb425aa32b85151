/**
 * std/ models against torchvision 0.14 (Debian's python3-torchvision), from committed fixtures
 * (test/fixtures/torchvision/*.json, written by generate.py there; this test needs no Python).
 * Per model (test/fixtures/torchvision/models.nvc, the std/ models at a reduced input size), on
 * the wasm backend:
 *  - names: the model's parameters and buffers are torchvision's state_dict keys, in order,
 *    with torchvision's shapes (PyTorch layout);
 *  - weights: every parameter and buffer is set from its key by the formula both sides share
 *    (`fillTorchState`, the twin of generate.py's `fill`), in PyTorch layout, then converted;
 *  - evaluation: the logits of one batch within rtol 1e-4 / atol 1e-5 elementwise;
 *  - training mode: the logits of a training pass (BatchNorm with batch statistics) within 1e-4
 *    normwise (elementwise they differ by up to 5e-4 relative where a channel's batch deviation
 *    is small against its values, which float32 cannot resolve better on either side), the
 *    mean cross-entropy within 1e-4 relative, and every parameter's gradient within 1e-4
 *    normwise. The fixture holds each gradient's norm and its dot products with four Rademacher
 *    vectors r_j (seeded by key): for d = g_nvcc - g_torchvision each <d, r_j> has mean 0 and
 *    variance ||d||^2, so sqrt(mean_j <d, r_j>^2) estimates ||d||; it must be at most
 *    1e-4 ||g_torchvision|| (plus 1e-6 of the largest gradient's norm, for gradients that vanish
 *    in exact arithmetic), and the norms must agree within 1e-4 relative;
 *  - buffers after that pass: the running statistics (norm and two projections, same rule) and
 *    num_batches_tracked (exactly one more than before).
 * The training mode is checked here for ViT-B/16 only; ResNet-50's and MobileNetV2's training
 * steps are compared with a float64 reference in torchvision-training.test.ts (generate.py
 * says why their float32 fixtures here are not used).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram, type LoadedProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { moduleTorchLayouts, toTorch, torchShapeOf } from '../../runtime/io/torch-layout.js';
import { freshDir } from '../builder/helpers.js';
import { useTestBackend } from '../support/backend.js';
import {
  fillModel,
  inputBatch,
  MODELS,
  readFixture,
  type Sketch,
  sketchDistance,
  sketchOf,
} from '../support/torchvision.js';

interface Fixture {
  readonly model: string;
  readonly input: readonly number[];
  readonly labels: readonly number[];
  readonly eval_logits: readonly number[];
  /** The training fields: ViT-B/16's fixture only (ResNet-50's and MobileNetV2's are *.train.json). */
  readonly train_logits?: readonly number[];
  readonly loss?: number;
  readonly grads?: Readonly<Record<string, Sketch>>;
  readonly buffers?: Readonly<Record<string, Sketch | { readonly value: number }>>;
  readonly parameters: number;
  readonly state: ReadonlyArray<readonly [string, readonly number[]]>;
}

const work = freshDir('nvcc-torchvision-');
let loaded: LoadedProgram;

function expectClose(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = -1;
  for (let i = 0; i < expected.length; i++)
    if (!(Math.abs(actual[i]! - expected[i]!) <= 1e-5 + 1e-4 * Math.abs(expected[i]!))) {
      worst = i;
      break;
    }
  expect(worst, worst >= 0 ? `${what}: element ${worst} is ${actual[worst]} vs ${expected[worst]}` : '').toBe(-1);
}

/** ||actual - expected|| <= 1e-4 ||expected||. */
function expectNormClose(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  expect(
    Math.sqrt(diff),
    `${what}: ||nvcc - torchvision|| against ||torchvision|| = ${Math.sqrt(norm)}`,
  ).toBeLessThanOrEqual(1e-4 * Math.sqrt(norm));
}

const fixture = (name: string): Fixture => readFixture<Fixture>(`${name}.json`);

beforeAll(async () => {
  // wasm: its convolutions are several times faster than the cpu backend's.
  await useTestBackend('wasm');
  loaded = await loadBuiltProgram(MODELS, { outDir: path.join(work, 'build') });
}, 600_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function defineCase(name: string, training: boolean): void {
  const what = training
    ? "names, evaluation logits, one training step's loss, gradients and running statistics"
    : 'names and evaluation logits';
  it(`${name}: ${what}`, {
    timeout: 900_000,
  }, async () => {
    const fx = fixture(name);
    nv.seed(1);
    const model = loaded.modelFactories[name]!.create();
    try {
      // Names and shapes: torchvision's state_dict, key for key, in order.
      const layouts = moduleTorchLayouts(model);
      const state = model.namedState();
      const ours = state.map(([k, v]) => [k, torchShapeOf(v.shape, layouts.get(k) ?? 'same')] as const);
      expect(ours.map(([k]) => k)).toEqual(fx.state.map(([k]) => k));
      expect(ours).toEqual(fx.state.map(([k, s]) => [k, [...s]]));
      expect(model.parameterCount()).toBe(fx.parameters);

      fillModel(model, name);
      const x = inputBatch(fx.input);
      const inputs = { x };

      const evalLogits = nv.tf.tidy(() =>
        (model.forward({ training: false, rng: nv.createRng(1) }, inputs) as nv.tf.Tensor).dataSync(),
      );
      expectClose(evalLogits, fx.eval_logits, 'evaluation logits');
      if (!training) return;

      const params = model.namedParameters();
      let trainLogits: Float32Array | undefined;
      const { value, grads } = nv.tf.variableGrads(
        () => {
          const logits = model.forward({ training: true, rng: nv.createRng(1) }, inputs) as nv.tf.Tensor;
          trainLogits = logits.dataSync() as Float32Array;
          return nv.softmaxCrossEntropy(logits, fx.labels);
        },
        params.map(([, p]) => p.variable),
      );
      expectNormClose(trainLogits!, fx.train_logits!, 'training logits');
      expect(Math.abs(value.dataSync()[0]! - fx.loss!), 'loss').toBeLessThanOrEqual(1e-4 * Math.abs(fx.loss!));

      const largest = Math.max(...Object.values(fx.grads!).map((g) => g.norm));
      const bad: string[] = [];
      for (const [k, p] of params) {
        const g = grads[p.variable.name]!;
        const torchG = toTorch(
          { dtype: 'float32', shape: [...g.shape], data: g.dataSync() as Float32Array },
          layouts.get(k) ?? 'same',
          k,
        );
        const want = fx.grads![k]!;
        const { dist, norms } = sketchDistance(sketchOf(k, torchG.data, want.dots.length), want);
        const tol = 1e-4 * want.norm + 1e-6 * largest;
        if (!(dist <= tol && norms <= tol))
          bad.push(
            `${k}: ||d|| ~ ${dist.toExponential(2)}, norms differ by ${norms.toExponential(2)}, ` +
              `||g|| = ${want.norm.toExponential(2)}`,
          );
      }
      expect(bad, `gradients beyond 1e-4 normwise:\n${bad.join('\n')}`).toEqual([]);

      for (const [k, v] of model.namedBuffers()) {
        const want = fx.buffers![k]!;
        if ('value' in want) {
          expect(v.variable.dataSync()[0], k).toBe(want.value);
          continue;
        }
        const { dist, norms } = sketchDistance(sketchOf(k, v.variable.dataSync(), want.dots.length), want);
        expect(Math.max(dist, norms), `${k} after the training pass`).toBeLessThanOrEqual(1e-4 * want.norm + 1e-7);
      }
    } finally {
      model.dispose();
      nv.tf.disposeVariables();
    }
  });
}

describe('std/ models against torchvision 0.14, from committed fixtures', () => {
  defineCase('resnet50', false);
  defineCase('mobilenet_v2', false);
  defineCase('vit_b_16', true);
});
