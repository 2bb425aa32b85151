/**
 * Compares nvcc against PyTorch outputs committed in test/fixtures/torch (made by
 * test/fixtures/generators/make_torch_fixtures.py; no Python needed here). Weights are not
 * stored: both sides build them with the shared deterministic generator.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Module, type ForwardContext } from '../../runtime/module.js';
import { createRng, seed } from '../../runtime/rng.js';
import { readSafetensors, type HostTensor } from '../../runtime/io/safetensors.js';
import { convertConvNeXtV2State, importConvNeXtV2 } from '../../runtime/io/convnextv2-import.js';
import { assignParameters, WeightsMismatchError } from '../../runtime/io/weights.js';
import { AdamW, Lion } from '../../runtime/optim/index.js';
import { genValues, torchShapeOf } from '../fixtures/generators/weightgen.js';
import { RefBlock, RefConvNeXtV2 } from '../fixtures/generators/convnextv2-nvc.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/torch/', import.meta.url));
const ctx: ForwardContext = { training: false, rng: createRng(0) };

function fixture(name: string): Map<string, HostTensor> {
  return new Map([...readSafetensors(FIXTURES + name).tensors].map(([k, e]) => [k, e.tensor] as const));
}

function toTensor(h: HostTensor): tf.Tensor {
  return tf.tensor(h.data, [...h.shape], h.dtype);
}

/** Fills a module from the generator: values are made in PyTorch layout and converted by the importer. */
function fillFromGenerator(m: Module, prefix = ''): void {
  const official = new Map<string, HostTensor>();
  for (const [path, p] of m.namedParameters()) {
    const shape = torchShapeOf(path, p.variable.shape);
    official.set(path, { dtype: 'float32', shape, data: genValues(prefix + path, shape) });
  }
  const { tensors } = convertConvNeXtV2State(m, official, 'generator');
  assignParameters(m, tensors, 'generator');
}

/** max |a-b| - (atol + rtol*|b|) <= 0 elementwise; returns the worst excess and the max abs diff. */
function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): { worstExcess: number; maxAbs: number } {
  expect(actual.length).toBe(expected.length);
  let worstExcess = -Infinity;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    maxAbs = Math.max(maxAbs, d);
    worstExcess = Math.max(worstExcess, d - (atol + rtol * Math.abs(expected[i]!)));
  }
  return { worstExcess, maxAbs };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  seed(1);
});

describe('PyTorch fixtures: ConvNeXt-V2', () => {
  it('the TS weight generator reproduces the Python one bit for bit (spot values)', () => {
    // Values printed by nvc_torch_ref.gen_values for these paths (see README.md).
    const dw = genValues('stages.0.0.dwconv.weight', [40, 1, 7, 7]);
    expect(Array.from(dw.slice(0, 4))).toEqual([-0.09994630515575409, 0.14350003004074097, 0.05320160835981369, -0.17590537667274475]);
    expect(Array.from(genValues('grn', [3], 0, 0.5))).toEqual([-0.13705506920814514, -0.12019181996583939, 0.46144920587539673]);
  });

  it('the TS generator reproduces all 3.7M atto weights of the Python generator bit for bit (sha256)', () => {
    const meta = readSafetensors(FIXTURES + 'atto_forward_64.safetensors').metadata;
    const model = new RefConvNeXtV2([2, 2, 6, 2], [40, 80, 160, 320], 1000);
    const digest = createHash('sha256');
    for (const [path, p] of [...model.namedParameters()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const v = genValues(path, torchShapeOf(path, p.variable.shape));
      digest.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
    expect(digest.digest('hex')).toBe(meta.weights_sha256);
    model.dispose();
  });

  it('one block (dim 16, non-zero GRN gamma/beta) matches PyTorch: rtol 1e-4, atol 1e-5', () => {
    const f = fixture('block_dim16.safetensors');
    const block = new RefBlock(16);
    fillFromGenerator(block);
    const gamma = block.grn.gamma.dataSync();
    expect(Math.max(...Array.from(gamma, Math.abs))).toBeGreaterThan(0.1);
    const x = toTensor(f.get('input_nhwc')!);
    const y = block.forward(ctx, x);
    const r = compare(y.dataSync(), f.get('output_nhwc')!.data, 1e-4, 1e-5);
    expect(r.worstExcess, `max abs diff ${r.maxAbs}`).toBeLessThanOrEqual(0);
    tf.dispose([x, y]);
    block.dispose();
  });

  it('ConvNeXt-V2-atto forward on 2x64x64x3 matches PyTorch at every stage and the logits: rtol 1e-4, atol 1e-5', () => {
    const f = fixture('atto_forward_64.safetensors');
    const model = new RefConvNeXtV2([2, 2, 6, 2], [40, 80, 160, 320], 1000);
    expect(model.parameterCount()).toBe(3_708_400); // reference doc section 2
    fillFromGenerator(model);
    const before = tf.memory().numTensors;
    const x = toTensor(f.get('input_nhwc')!);
    const out = model.run(ctx, x);
    for (let i = 0; i < 4; i++) {
      const r = compare(out.stages[i]!.dataSync(), f.get(`stage${i}_nhwc`)!.data, 1e-4, 1e-5);
      expect(r.worstExcess, `stage ${i}: max abs diff ${r.maxAbs}`).toBeLessThanOrEqual(0);
    }
    const r = compare(out.logits!.dataSync(), f.get('logits')!.data, 1e-4, 1e-5);
    expect(r.worstExcess, `logits: max abs diff ${r.maxAbs}`).toBeLessThanOrEqual(0);
    tf.dispose([x, ...out.stages, out.logits!]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('PyTorch fixtures: checkpoint import', () => {
  const depths = [1, 1, 2, 1];
  const dims = [8, 16, 24, 32];

  it('imports an official dense checkpoint (module. prefix, GRN (1,1,1,C)) and reproduces the logits', () => {
    const f = fixture('import_small_outputs.safetensors');
    const model = new RefConvNeXtV2(depths, dims, 5);
    const report = importConvNeXtV2(model, FIXTURES + 'import_small_dense.safetensors');
    expect(report.loaded.length).toBe(model.namedParameters().length);
    expect(report.dropped).toEqual([]);
    const x = toTensor(f.get('input_nhwc')!);
    const out = model.run(ctx, x);
    const r = compare(out.logits!.dataSync(), f.get('logits')!.data, 1e-4, 1e-5);
    expect(r.worstExcess, `max abs diff ${r.maxAbs}`).toBeLessThanOrEqual(0);
    tf.dispose([x, ...out.stages, out.logits!]);
    model.dispose();
  });

  it('imports an FCMAE sparse-encoder checkpoint (encoder. prefix, MinkowskiEngine layout) into an encoder-only model', () => {
    const f = fixture('import_small_outputs.safetensors');
    const model = new RefConvNeXtV2(depths, dims);
    const report = importConvNeXtV2(model, FIXTURES + 'import_small_fcmae_me.safetensors');
    expect(report.loaded.length).toBe(model.namedParameters().length);
    expect(report.dropped.map((d) => d.key).sort()).toEqual(['mask_token', 'pred.weight', 'proj.bias', 'proj.weight']);
    const x = toTensor(f.get('input_nhwc')!);
    const out = model.run(ctx, x);
    const r = compare(out.stages[3]!.dataSync(), f.get('features_nhwc')!.data, 1e-4, 1e-5);
    expect(r.worstExcess, `max abs diff ${r.maxAbs}`).toBeLessThanOrEqual(0);
    tf.dispose([x, ...out.stages]);
    model.dispose();
  });

  it('refuses a checkpoint for other dims with one error listing mis-shaped keys and loads nothing', () => {
    const model = new RefConvNeXtV2(depths, [8, 16, 24, 40], 5);
    const before = model.namedParameters().map(([, p]) => p.variable.dataSync().slice());
    let err: unknown;
    try {
      importConvNeXtV2(model, FIXTURES + 'import_small_dense.safetensors');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsMismatchError);
    const e = err as WeightsMismatchError;
    expect(e.misshaped.map((m) => m.key)).toContain('downsample_layers.3.1.weight (file shape in PyTorch layout)');
    expect(e.message).toMatch(/downsample_layers\.3\.1\.weight.*model expects \[2, 2, 24, 40\], file has \[32, 24, 2, 2\]/);
    expect(e.message).toMatch(/stages\.3\.0\.dwconv\.weight.*model expects \[7, 7, 40, 1\], file has \[32, 1, 7, 7\]/);
    model.namedParameters().forEach(([, p], i) => expect(p.variable.dataSync()).toEqual(before[i]));
    model.dispose();
  });
});

describe('PyTorch fixtures: optimizer steps', () => {
  class Params extends Module {
    constructor(init: Map<string, HostTensor>) {
      super();
      const from = (k: string) => () => toTensor(init.get(`init.${k}`)!);
      this.param('weight', [4, 3], from('weight'));
      this.param('bias', [3], from('bias'), { noDecay: true });
      this.param('conv', [2, 2, 2], from('conv'));
    }
  }

  for (const kind of ['lion', 'adamw'] as const) {
    it(`${kind}: three steps match PyTorch (${kind === 'lion' ? 'paper rule, atol 1e-7' : 'torch.optim.AdamW, atol 1e-6'})`, () => {
      const f = fixture('optimizer_steps.safetensors');
      const model = new Params(f);
      const params = model.namedParameters();
      const opt = kind === 'lion' ? new Lion({ weightDecay: 0.3 }) : new AdamW({ weightDecay: 0.3 });
      const atol = kind === 'lion' ? 1e-7 : 1e-6;
      for (let s = 0; s < 3; s++) {
        const grads = new Map(['weight', 'bias', 'conv'].map((k) => [k, toTensor(f.get(`grad${s}.${k}`)!)] as const));
        opt.step(grads, params, 1e-2);
        tf.dispose([...grads.values()]);
        for (const [k, p] of params) {
          const r = compare(p.variable.dataSync(), f.get(`${kind}.step${s}.${k}`)!.data, 0, atol);
          expect(r.worstExcess, `step ${s} ${k}: max abs diff ${r.maxAbs}`).toBeLessThanOrEqual(0);
        }
      }
      opt.dispose();
      model.dispose();
    });
  }
});
