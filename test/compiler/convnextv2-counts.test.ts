import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { countParams, summarizeModel } from '../../compiler/summary.js';

// Reference: shared/reference/convnextv2-fcmae.md section 2 (exact counts; conv + linear MACs
// at 224, which the doc gives to three decimals in GMACs).
const table = [
  { v: 'atto', params: 3_708_400, encoder: 3_386_760, fcmae: 7_257_992, gmacs: 0.547 },
  { v: 'femto', params: 5_233_240, encoder: 4_847_472, fcmae: 8_751_472, gmacs: 0.78 },
  { v: 'pico', params: 9_066_280, encoder: 8_552_256, fcmae: 12_521_792, gmacs: 1.367 },
  { v: 'nano', params: 15_623_800, encoder: 14_981_520, fcmae: 19_016_592, gmacs: 2.446 },
  { v: 'tiny', params: 28_635_496, encoder: 27_864_960, fcmae: 31_965_568, gmacs: 4.456 },
  { v: 'base', params: 88_717_800, encoder: 87_690_752, fcmae: 91_922_432, gmacs: 15.355 },
  { v: 'large', params: 197_956_840, encoder: 196_416_768, fcmae: 200_910_592, gmacs: 34.361 },
  { v: 'huge', params: 660_289_640, encoder: 657_467_008, fcmae: 662_616_192, gmacs: 114.92 },
];

describe('std ConvNeXt-V2 parameter counts and MACs', () => {
  const std = compileProgramSync('std/convnextv2.nvc');
  const fx = compileProgramSync('test/compiler/fixtures/variants.nvc');

  it('std/convnextv2.nvc and the fixture check without diagnostics', () => {
    expect(std.diagnostics).toEqual([]);
    expect(fx.diagnostics).toEqual([]);
  });

  for (const row of table) {
    it(`${row.v}: classifier with a 1000-class head, encoder only, FCMAE`, () => {
      const cls = std.program!.models.find((m) => m.name === `convnextv2_${row.v}`)!;
      expect(countParams(cls.root)).toBe(row.params);
      const enc = fx.program!.models.find((m) => m.name === `enc_${row.v}`)!;
      expect(countParams(enc.root)).toBe(row.encoder);
      const fcmae = fx.program!.models.find((m) => m.name === `fcmae_${row.v}`)!;
      expect(countParams(fcmae.root)).toBe(row.fcmae);
      const s = summarizeModel(
        cls,
        new Map([
          ['B', 1],
          ['H', 224],
          ['W', 224],
        ]),
      );
      expect(s.totalParams).toBe(row.params);
      // The doc prints GMACs rounded to 3 decimals (2 for huge).
      expect(Math.abs(s.macs / 1e9 - row.gmacs)).toBeLessThan(row.v === 'huge' ? 0.005 : 0.0006);
    });
  }

  it('atto MACs at 224 are exactly the conv + linear sum of the closed form', () => {
    const cls = std.program!.models.find((m) => m.name === 'convnextv2_atto')!;
    const s = summarizeModel(cls);
    // stem (56^2 * 40 * 3 * 16) + blocks (h^2 d 49 + 2 h^2 d 4d) + downsamples + head 320 * 1000
    const dims = [40, 80, 160, 320];
    const depths = [2, 2, 6, 2];
    const sides = [56, 28, 14, 7];
    let macs = 56 * 56 * 40 * 3 * 16 + 320 * 1000;
    for (let i = 0; i < 4; i++) {
      const h = sides[i]!;
      const d = dims[i]!;
      macs += depths[i]! * (h * h * d * 49 + 2 * h * h * d * 4 * d);
      if (i > 0) macs += h * h * dims[i - 1]! * d * 4;
    }
    expect(s.macs).toBe(macs);
  });

  it('the classifier uses the official parameter names', () => {
    const cls = std.program!.models.find((m) => m.name === 'convnextv2_atto')!;
    const names: string[] = [];
    const walk = (n: typeof cls.root) => {
      for (const w of n.weights) names.push(n.path ? `${n.path}.${w.name}` : w.name);
      n.children.forEach(walk);
    };
    walk(cls.root);
    expect(names.slice(0, 4)).toEqual([
      'downsample_layers.0.0.weight',
      'downsample_layers.0.0.bias',
      'downsample_layers.0.1.weight',
      'downsample_layers.0.1.bias',
    ]);
    expect(names).toContain('stages.2.5.grn.gamma');
    expect(names).toContain('stages.0.1.dwconv.weight');
    expect(names).toContain('downsample_layers.3.1.weight');
    expect(names.slice(-4)).toEqual(['norm.weight', 'norm.bias', 'head.weight', 'head.bias']);
    const dw = cls.root.children
      .find((c) => c.path === 'stages')!
      .children[0]!.children[0]!.children.find((c) => c.path.endsWith('dwconv'))!;
    expect(dw.sparse).toBe(true);
    expect(dw.weights[0]!.shape).toEqual([7, 7, 40, 1]);
  });

  it('stochastic depth rates follow linspace(0, rate, sum(depths))', () => {
    const m = fx.program!.models.find((x) => x.name === 'two_class_atto')!;
    const stages = m.root.children.find((c) => c.path === 'stages')!;
    const rates = stages.children.flatMap((s) => s.children.map((b) => b.params['drop_path_rate'] as number));
    expect(rates.length).toBe(12);
    expect(rates[0]).toBe(0);
    expect(rates[11]).toBeCloseTo(0.1, 12);
    expect(rates[4]).toBeCloseTo((0.1 * 4) / 11, 12);
    expect(countParams(m.root)).toBe(3_708_400 - 998 * 320 - 998);
  });
});
