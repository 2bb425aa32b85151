/**
 * The std `FCMAE` program (std/convnextv2.nvc, built by nvcc) against the official FCMAE
 * semantics: test/fixtures/torch/fcmae_* are computed in float64 by make_fcmae_fixtures.py from
 * the documented official models/fcmae.py (dense decoder whose GRN covers every cell, mask
 * tokens included; norm_pix_loss; the encoder as the dense emulation of the sparse one), every
 * parameter randomised. The checkpoint is in the official FCMAE layout (sparse encoder, `proj`,
 * `mask_token` [1, C, 1, 1], `decoder.<i>`, `pred`): importing it is how a user resumes
 * official pre-training, and exporting must give it back. Tolerance: 1e-5 normwise (float32
 * against float64).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram, type LoadedProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { importConvNeXtV2 } from '../../runtime/io/convnextv2-import.js';
import { saveOfficialFcmae } from '../../runtime/io/fcmae-export.js';
import { readSafetensors } from '../../runtime/io/safetensors.js';
import { fcmaeLoss } from '../../runtime/ops/loss.js';
import { genValues } from '../fixtures/generators/weightgen.js';
import { cpuSeeded, freshDir } from '../builder/helpers.js';

const TORCH = 'test/fixtures/torch/';
const CHECKPOINT = TORCH + 'fcmae_official.safetensors';
const summary = JSON.parse(fs.readFileSync(TORCH + 'fcmae_outputs.json', 'utf8')) as {
  loss_norm_pix: number;
  loss_norm_pix_batch_grn: number;
  loss_plain: number;
  mask_ratio: number;
  kept_per_sample: number;
};
const outputs = readSafetensors(TORCH + 'fcmae_outputs.safetensors').tensors;
const stored = (name: string) => {
  const e = outputs.get(name);
  if (!e) throw new Error(`fixture tensor ${name} missing`);
  return e.tensor;
};

/** ||a - b|| / ||b|| over flat arrays of the same length. */
function normwise(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** The fixture input: generator path `fcmae_input`, NCHW [2, 3, 64, 96], as NHWC. */
function input(): nv.tf.Tensor4D {
  const nchw = nv.tf.tensor4d(genValues('fcmae_input', [2, 3, 64, 96], 0, 1), [2, 3, 64, 96]);
  return nv.tf.transpose(nchw, [0, 2, 3, 1]) as nv.tf.Tensor4D;
}

function mask(): nv.tf.Tensor4D {
  return nv.tf.tensor4d(stored('mask').data as Float32Array, [2, 2, 3, 1]);
}

let program: LoadedProgram;

beforeAll(async () => {
  program = await loadBuiltProgram('test/fixtures/emit/fcmae-official.nvc', { outDir: path.join(freshDir(), 'out') });
  await cpuSeeded(3);
}, 120_000);

afterAll(() => nv.tf.disposeVariables());

describe('std FCMAE against the official FCMAE (float64 reference)', () => {
  it('imports the official checkpoint, decoder included, key for key', () => {
    const model = program.modelFactories.fcmae_official!.create();
    const report = importConvNeXtV2(model, CHECKPOINT);
    const params = [...model.namedParameters()].map(([k]) => k);
    expect(report.dropped).toEqual([]);
    expect(report.keptInitial).toEqual([]);
    expect(report.loaded.sort()).toEqual(params.sort());
    expect(params).toContain('decoder.mask_token');
    expect(params).toContain('decoder.decoder.1.grn.gamma');
    model.dispose();
  });

  it('reproduces the encoder, the prediction and the loss within 1e-5 normwise', () => {
    const model = program.modelFactories.fcmae_official!.create();
    importConvNeXtV2(model, CHECKPOINT);
    const x = input();
    const m = mask();
    const ctx = { training: false, rng: nv.createRng(1), mask: m };
    const out = model.forward(ctx, { x }) as { pred: nv.tf.Tensor };
    expect(out.pred.shape).toEqual([2, 2, 3, 3072]);
    const pred = nv.tf.reshape(out.pred, [2, 6, 3072]);
    expect(normwise(pred.dataSync(), stored('pred').data)).toBeLessThan(1e-5);

    const encoder = (model as unknown as { encoder: nv.Module & { forward: nv.Callable['forward'] } }).encoder;
    const features = encoder.forward(ctx, x) as nv.tf.Tensor;
    expect(normwise(features.dataSync(), stored('encoder_sample_nhwc').data)).toBeLessThan(1e-5);

    const loss = fcmaeLoss(x, pred, m, { patchSize: 32, normPix: true }).dataSync()[0]!;
    expect(Math.abs(loss - summary.loss_norm_pix) / summary.loss_norm_pix).toBeLessThan(1e-5);
    const plain = fcmaeLoss(x, pred, m, { patchSize: 32, normPix: false }).dataSync()[0]!;
    expect(Math.abs(plain - summary.loss_plain) / summary.loss_plain).toBeLessThan(1e-5);
    model.dispose();
  });

  it('GRN under the mask: per sample (default) and batch-pooled (MinkowskiGRN) each match their reference', () => {
    const x = input();
    const m = mask();
    const run = (name: string, withMask: boolean) => {
      const model = program.modelFactories[name]!.create();
      importConvNeXtV2(model, CHECKPOINT);
      const ctx = { training: false, rng: nv.createRng(1), ...(withMask ? { mask: m } : {}) };
      const encoder = (model as unknown as { encoder: nv.Module & { forward: nv.Callable['forward'] } }).encoder;
      const features = Array.from((encoder.forward(ctx, x) as nv.tf.Tensor).dataSync());
      const pred = nv.tf.reshape((model.forward(ctx, { x }) as { pred: nv.tf.Tensor }).pred, [2, 6, 3072]);
      const loss = withMask ? fcmaeLoss(x, pred, m, { patchSize: 32, normPix: true }).dataSync()[0]! : Number.NaN;
      model.dispose();
      return { features, loss };
    };
    const sample = run('fcmae_official', true);
    const batch = run('fcmae_official_batch_grn', true);
    expect(normwise(sample.features, stored('encoder_sample_nhwc').data)).toBeLessThan(1e-5);
    expect(normwise(batch.features, stored('encoder_batch_nhwc').data)).toBeLessThan(1e-5);
    // The two statistics give measurably different encoders, so each comparison tells them apart.
    expect(normwise(stored('encoder_batch_nhwc').data, stored('encoder_sample_nhwc').data)).toBeGreaterThan(1e-3);
    expect(Math.abs(batch.loss - summary.loss_norm_pix_batch_grn) / summary.loss_norm_pix_batch_grn).toBeLessThan(1e-5);
    // Without a mask policy the pooling setting changes nothing (the dense model is per sample).
    expect(run('fcmae_official_batch_grn', false).features).toEqual(run('fcmae_official', false).features);
  });

  it('exports the official layout back, byte for byte', async () => {
    const model = program.modelFactories.fcmae_official!.create();
    importConvNeXtV2(model, CHECKPOINT);
    const file = path.join(freshDir(), 'export.safetensors');
    const keys = await saveOfficialFcmae(model, file);
    const original = readSafetensors(CHECKPOINT).tensors;
    const exported = readSafetensors(file).tensors;
    expect(keys).toEqual([...original.keys()].sort());
    for (const [k, e] of original) {
      const got = exported.get(k)!.tensor;
      expect(got.shape, k).toEqual(e.tensor.shape);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(e.tensor.data.buffer)), k).toBe(true);
    }
    expect(exported.get('mask_token')!.tensor.shape).toEqual([1, 8, 1, 1]);
    model.dispose();
  });

  it('resumes pre-training from the checkpoint: every decoder parameter gets a gradient', () => {
    const model = program.modelFactories.fcmae_official!.create();
    importConvNeXtV2(model, CHECKPOINT);
    const x = input();
    const m = mask();
    const ctx = { training: true, rng: nv.createRng(1), mask: m };
    const vars = new Map([...model.namedParameters()].map(([k, p]) => [k, p.variable]));
    const { value, grads } = nv.tf.variableGrads(() => {
      const pred = (model.forward(ctx, { x }) as { pred: nv.tf.Tensor }).pred;
      return fcmaeLoss(x, nv.tf.reshape(pred, [2, 6, 3072]), m, { patchSize: 32, normPix: true });
    });
    expect(Math.abs(value.dataSync()[0]! - summary.loss_norm_pix) / summary.loss_norm_pix).toBeLessThan(1e-5);
    for (const [k, v] of vars) {
      if (!k.startsWith('decoder.')) continue;
      const g = grads[v.name];
      expect(g, k).toBeDefined();
      expect(nv.tf.max(nv.tf.abs(g!)).dataSync()[0]!, k).toBeGreaterThan(0);
    }
    model.dispose();
  });
});
