import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { countParams } from '../../compiler/summary.js';
import { main } from '../../cli/main.js';

describe('examples/mednvc.nvc', () => {
  const r = compileProgramSync('examples/mednvc.nvc');

  it('checks clean', () => {
    expect(r.diagnostics).toEqual([]);
    expect(r.program?.trains.map((t) => t.name)).toEqual(['MEDNVC_on_PJI']);
  });

  it('has the paper configuration in its stages', () => {
    const train = r.program!.trains[0]!;
    const pre = train.stages.find((s) => s.name === 'pretrain')!;
    const fine = train.stages.find((s) => s.name === 'finetune')!;
    expect(pre.mask).toEqual({ type: 'random_patches', ratio: 0.6, patch: 32 });
    expect(pre.settings['epochs']).toBe(800);
    expect(pre.settings['batch']).toBe(24);
    expect(fine.settings['epochs']).toBe(160);
    expect(fine.settings['modality_dropout']).toMatchObject({ type: 'random_throw', p: 0.2, fill: -10 });
    expect(fine.handOver).toEqual([{ to: 'enc', fromStage: 'pretrain', fromPath: 'encoder' }]);
    // The hand-over moves exactly the encoder: same parameter count on both sides.
    const enc = fine.model.root.children.find((c) => c.path === 'enc')!;
    const src = pre.model.root.children.find((c) => c.path === 'encoder')!;
    expect(countParams(enc)).toBe(countParams(src));
    expect(countParams(src)).toBe(87_690_752);
  });

  it('encodes 14 lab values, matching the model input', () => {
    const ds = r.program!.datasets[0]!;
    const width = ds.fieldGroups['labs']!.reduce((n, f) => n + f.width, 0);
    expect(width).toBe(14);
  });

  it('`nvcc check` exits 0 on it and 1 on a broken fixture', async () => {
    expect(await main(['check', 'examples/mednvc.nvc'])).toBe(0);
    expect(await main(['check', 'test/fixtures/diagnostics/shapes-layer-input.nvc'])).toBe(1);
  });
});

describe('variants and overrides', () => {
  it('no_pretrain removes the stage and its hand-over', () => {
    const r = compileProgramSync('examples/mednvc.nvc', { variant: 'no_pretrain' });
    expect(r.diagnostics).toEqual([]);
    const stages = r.program!.trains[0]!.stages;
    expect(stages.map((s) => s.name)).not.toContain('pretrain');
    expect(stages.find((s) => s.name === 'finetune')!.handOver).toEqual([]);
  });

  it('demo adds the images stage between pretraining and fusion, and hands its encoder on', () => {
    const r = compileProgramSync('examples/mednvc.nvc', { variant: 'demo' });
    expect(r.diagnostics).toEqual([]);
    const stages = r.program!.trains[0]!.stages;
    expect(stages.map((s) => s.name)).toEqual(['pretrain', 'images', 'finetune']);
    const images = stages[1]!;
    expect(images.settings['epochs']).toBe(10);
    expect(images.handOver).toEqual([{ to: 'enc', fromStage: 'pretrain', fromPath: 'encoder' }]);
    expect(stages[2]!.handOver).toEqual([{ to: 'enc', fromStage: 'images', fromPath: 'enc' }]);
    // A variant extending demo edits the added stage like any other, and `remove` drops it.
    const scratch = compileProgramSync('examples/mednvc.nvc', { variant: 'demo_no_pretrain' });
    expect(scratch.diagnostics).toEqual([]);
    expect(scratch.program!.trains[0]!.stages.map((s) => [s.name, s.handOver.map((h) => h.fromStage)])).toEqual([
      ['images', []],
      ['finetune', ['images']],
    ]);
    const labs = compileProgramSync('examples/mednvc.nvc', { variant: 'demo_mlp_labs' });
    expect(labs.program!.trains[0]!.stages.map((s) => s.name)).toEqual(['finetune']);
    // `--set` reaches a stage a variant added.
    const set = compileProgramSync('examples/mednvc.nvc', { variant: 'demo', overrides: { 'images.epochs': 3 } });
    expect(set.program!.trains[0]!.stages[1]!.settings['epochs']).toBe(3);
  });

  it('`after` places an added stage behind the named one', () => {
    const source =
      readFileSync('examples/mednvc.nvc', 'utf8') +
      '\nvariant probe { stage calibrate after finetune { model = MEDNVC(enc = pretrain.encoder); inputs = ' +
      '[xray, labs]; loss = cross_entropy; optimizer = lion(lr = 1e-6); epochs = 1; batch = 24 } }\n';
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-after-'));
    writeFileSync(join(dir, 'mednvc.nvc'), source);
    const r = compileProgramSync(join(dir, 'mednvc.nvc'), { variant: 'probe' });
    expect(r.diagnostics).toEqual([]);
    expect(r.program!.trains[0]!.stages.map((s) => s.name)).toEqual(['pretrain', 'finetune', 'calibrate']);
  });

  it('an override changes a stage setting and a block default', () => {
    const r = compileProgramSync('examples/mednvc.nvc', {
      overrides: { 'finetune.epochs': 3, 'finetune.optimizer.lr': 0.001 },
    });
    expect(r.diagnostics).toEqual([]);
    const fine = r.program!.trains[0]!.stages.find((s) => s.name === 'finetune')!;
    expect(fine.settings['epochs']).toBe(3);
    expect((fine.settings['optimizer'] as { lr: number }).lr).toBe(0.001);
  });

  it('an override with a misspelt path is NVC5010 with a did-you-mean, and out-of-range values are refused', () => {
    const bad = compileProgramSync('examples/mednvc.nvc', { overrides: { 'finetune.epochz': 3 } });
    expect(bad.diagnostics.map((d) => d.code)).toEqual(['NVC5010']);
    expect(bad.diagnostics[0]!.help.join(' ')).toContain('finetune.epochs');
    const range = compileProgramSync('examples/mednvc.nvc', { overrides: { 'pretrain.mask.ratio': 1.5 } });
    expect(range.diagnostics.map((d) => d.code)).toEqual(['NVC5008']);
    expect(range.program).toBeUndefined();
  });

  it('an unknown --variant is NVC5011 listing the variants', () => {
    const r = compileProgramSync('examples/mednvc.nvc', { variant: 'no_pretrian' });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['NVC5011']);
    expect(r.diagnostics[0]!.help[0]).toBe('did you mean `no_pretrain`?');
  });
});

describe('cascade suppression', () => {
  it('one bad layer reports once, not at every later use', () => {
    const text = `model M() {
  a = Linear(16, 32)
  b = Linear(64, 8)
  c = Linear(8, 4)
  forward(x: [B, 16]) -> [B, 4] {
    let y = b(a(x))
    let z = c(y) + c(y)
    return z |> relu
  }
}
`;
    const r = compileProgramSync('cascade.nvc', { text });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['NVC3002']);
  });
});

describe('a mistyped --variant', () => {
  it('is reported at the command line, not at line 1 of the file, with a did-you-mean', () => {
    const r = compileProgramSync('examples/mednvc.nvc', { variant: 'dmeo' });
    const d = r.diagnostics.find((x) => x.code === 'NVC5011');
    expect(d?.span.file).toBe('command line (--variant dmeo)');
    expect(d?.help).toContain('did you mean `demo`?');
  });
});
