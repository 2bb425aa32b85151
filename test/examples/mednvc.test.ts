/**
 * examples/mednvc.nvc: every Table II row and its demo counterpart compiles, the models have the
 * parameter counts derived by hand from the published architectures, and the numbers the paper
 * states are the ones in the lowered training plan.
 */
import { describe, expect, it } from 'vitest';
import { compileBuild } from '../../compiler/builder/build.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { summarizeStages } from '../../compiler/summary.js';

const FILE = 'examples/mednvc.nvc';

function stageParams(variant?: string): Record<string, number> {
  const r = compileProgramSync(FILE, variant ? { variant } : {});
  expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return Object.fromEntries(summarizeStages(r.program!).map((s) => [s.stage, s.totalParams]));
}

// ConvNeXt-V2-B: 88,717,800 with the 1000-class head (official); the encoder alone drops the
// final LayerNorm (2,048) and the head (1024 * 1000 + 1000).
const CNV2_B_ENCODER = 88_717_800 - 2_048 - 1_025_000;
const mlp = (labs: number, h: number, out: number) => labs * h + h + h * h + h + h * out + out;
const crossAttention = (d: number) => 3 * 2 * d + 4 * (d * d + d) + d * 4 * d + 4 * d + 4 * d * d + d;

describe('examples/mednvc.nvc', () => {
  it("full-size Table II rows have the architectures' parameter counts", () => {
    expect(stageParams('mlp_labs')).toEqual({ finetune: mlp(14, 120, 2) });
    expect(stageParams('convnext_images').finetune).toBe(CNV2_B_ENCODER + 2_048 + 1024 * 2 + 2);
    expect(stageParams('convnext_mlp').finetune).toBe(
      CNV2_B_ENCODER + 2_048 + mlp(14, 120, 120) + (1024 + 120) * 2 + 2,
    );
    // Swin-B: 87,768,224 with the 1000-class head (official), without it 86,743,224.
    expect(stageParams('swin_mlp').finetune).toBe(87_768_224 - 1_025_000 + mlp(14, 120, 120) + (1024 + 120) * 2 + 2);
    const full = stageParams();
    const medNvc = CNV2_B_ENCODER + 14 * (14 * 256) + 14 * 256 + 2 * crossAttention(256) + 2_048 + 1024 * 2 + 2;
    expect(full.finetune).toBe(medNvc);
    expect(stageParams('no_pretrain')).toEqual({ finetune: medNvc });
    expect(stageParams('no_random_throw')).toEqual(full);
  });

  it('demo rows compile and stay laptop-sized', () => {
    for (const v of [
      'demo',
      'demo_mlp_labs',
      'demo_convnext_images',
      'demo_convnext_mlp',
      'demo_swin_mlp',
      'demo_no_pretrain',
      'demo_no_random_throw',
    ]) {
      const p = stageParams(v);
      expect(Math.max(...Object.values(p)), v).toBeLessThan(500_000);
    }
  });

  it("lowers the paper's numbers into the training plan", async () => {
    const { compiled } = await compileBuild(FILE, {}, 'build/mednvc');
    const spec = compiled!.trainSpecs[0]!;
    const [pre, fine] = spec.stages;
    expect(pre).toMatchObject({
      kind: 'masked',
      mask: { ratio: 0.6, patch: 32 },
      epochs: 800,
      batchSize: 24,
      optimizer: { kind: 'lion', lr: 5e-5 },
    });
    expect(pre!.schedule).toEqual([
      { kind: 'warmup', epochs: 10 },
      { kind: 'cosine', to: 5e-7 },
    ]);
    expect(pre!.model.args).toMatchObject({ decoder_dim: 512 });
    expect(fine).toMatchObject({
      kind: 'supervised',
      epochs: 160,
      batchSize: 24,
      optimizer: { kind: 'lion', lr: 5e-6 },
      modalityDropout: { p: 0.2, fill: -10 },
      loss: { kind: 'cross_entropy' },
    });
    expect(fine!.schedule).toEqual([
      { kind: 'warmup', epochs: 10 },
      { kind: 'cosine', to: 5e-8 },
    ]);
    expect(fine!.handover).toEqual([{ from: 'pretrain', modules: [{ source: 'encoder', target: 'enc' }] }]);
    expect(fine!.augment.hflip).toBe(0.5);
    expect(fine!.augment.rotateDegrees).toBeGreaterThan(0);
    const ds = compiled!.datasetSpecs[0]!;
    expect(ds.images.size).toEqual([224, 224]);
    expect(ds.groups[0]!.fields).toHaveLength(14);
    expect(ds.source).toMatchObject({ kind: 'synthetic', patients: 489 });
  });
});
