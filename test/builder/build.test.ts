/**
 * `nvcc build` outputs: byte-identical across runs and entry spellings, no absolute paths,
 * a manifest with the spec hash over every source (std included), the cache (a second build
 * writes nothing; an edited source or new overrides rebuild), refused builds write nothing, and
 * the built program loads and runs in-process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, COMPILER_VERSION, loadBuiltProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshDir, freshRepoDir, readTree, removeRepoDirs } from './helpers.js';

const MINI = 'test/fixtures/emit/mini-mednvc.nvc';

describe('nvcc build output', () => {
  afterAll(removeRepoDirs);

  it('is byte-identical across runs and entry spellings, and holds no absolute path', async () => {
    // Two folders at the same depth inside the repository (as `build/<stem>` is).
    const a = path.join(freshRepoDir(), 'out');
    const b = path.join(freshRepoDir(), 'out');
    const ra = await buildProgram(MINI, { outDir: a });
    const rb = await buildProgram(path.resolve(MINI), { outDir: b });
    expect(ra.ok && rb.ok).toBe(true);
    const ta = readTree(a);
    const tb = readTree(b);
    expect(Object.keys(ta)).toEqual([
      'config.resolved.json',
      'manifest.json',
      'model.d.ts',
      'model.js',
      'model.ts',
      'overrides.schema.json',
      'package.json',
      'train.d.ts',
      'train.js',
      'train.ts',
    ]);
    expect(tb).toEqual(ta);
    expect(ta['model.ts']).toContain('import * as nv from "nvcc/runtime";');
    for (const [name, text] of Object.entries(ta)) {
      expect(text.includes(process.cwd()), name).toBe(false);
      expect(text.includes(path.resolve(a)), name).toBe(false);
      expect(text.includes(path.basename(path.dirname(a))), name).toBe(false);
    }
  });

  it(
    'writes a manifest with the spec hash over every source, compiler, variant, overrides and parameter ' + 'counts',
    async () => {
      const out = path.join(freshDir(), 'out');
      const r = await buildProgram(MINI, { outDir: out, variant: 'wide_fusion', overrides: { 'finetune.epochs': 3 } });
      expect(r.ok).toBe(true);
      const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
      expect(m.compiler).toBe(COMPILER_VERSION);
      expect(m.variant).toBe('wide_fusion');
      expect(m.overrides).toEqual({ 'finetune.epochs': 3 });
      expect(m.sources.map((s: { file: string }) => s.file)).toEqual([
        'mini-mednvc.nvc',
        'std/attention.nvc',
        'std/convnextv2.nvc',
      ]);
      expect(m.specHash).toMatch(/^[0-9a-f]{64}$/);
      expect(m.models.pretrain).toEqual({ className: 'FCMAE', parameters: 129344, train: 'Mini', stage: 'pretrain' });
      // wide_fusion has three CrossAttention blocks of 3,312 parameters each, the base two.
      const base = await buildProgram(MINI, { outDir: path.join(freshDir(), 'out') });
      expect(m.models.finetune.parameters - base.manifest!.models.finetune!.parameters).toBe(3312);
      const resolved = JSON.parse(fs.readFileSync(path.join(out, 'config.resolved.json'), 'utf8'));
      expect(resolved.values['finetune.epochs']).toBe(3);
      expect(resolved.values['MiniMEDNVC.fusion_depth']).toBe(3);
    },
  );

  it('serves an unchanged build from the cache and rebuilds on an edited source or new overrides', async () => {
    const dir = freshDir();
    const src = path.join(dir, 'prog.nvc');
    fs.writeFileSync(src, fs.readFileSync(MINI, 'utf8'));
    const out = path.join(dir, 'out');
    const first = await buildProgram(src, { outDir: out });
    expect(first.ok && !first.cached).toBe(true);
    const mtimes = Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]));
    const second = await buildProgram(src, { outDir: out });
    expect(second.cached).toBe(true);
    expect(second.manifest).toEqual(first.manifest);
    expect(Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]))).toEqual(
      mtimes,
    );
    const withSet = await buildProgram(src, { outDir: out, overrides: { 'finetune.batch': 8 } });
    expect(withSet.cached).toBe(false);
    fs.writeFileSync(src, fs.readFileSync(MINI, 'utf8').replace('heads: int = 2', 'heads: int = 4'));
    const edited = await buildProgram(src, { outDir: out });
    expect(edited.cached).toBe(false);
    expect(edited.manifest!.specHash).not.toBe(first.manifest!.specHash);
    expect(fs.readFileSync(path.join(out, 'model.ts'), 'utf8')).toContain('heads = 4');
  });

  it('writes nothing for a program with errors', async () => {
    const dir = freshDir();
    const src = path.join(dir, 'bad.nvc');
    fs.writeFileSync(
      src,
      fs
        .readFileSync(MINI, 'utf8')
        .replace('head = Linear(enc.dims[3], classes)', 'head = Linear(enc.dims[2], classes)'),
    );
    const out = path.join(dir, 'out');
    const r = await buildProgram(src, { outDir: out });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.some((d) => d.severity === 'error')).toBe(true);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('loads in-process: factories, TrainSpec, DatasetSpec, resolved configuration', async () => {
    const out = path.join(freshDir(), 'out');
    const p = await loadBuiltProgram(MINI, { outDir: out });
    expect(Object.keys(p.factories)).toEqual(['pretrain', 'finetune']);
    expect(p.trainSpec!.stages.map((s) => [s.name, s.kind, s.model.factory, s.model.className])).toEqual([
      ['pretrain', 'masked', 'pretrain', 'FCMAE'],
      ['finetune', 'supervised', 'finetune', 'MiniMEDNVC'],
    ]);
    expect(p.trainSpec!.stages[1]!.handover).toEqual([
      { from: 'pretrain', modules: [{ source: 'encoder', target: 'enc' }] },
    ]);
    expect(p.trainSpec!.stages[0]!.schedule).toEqual([
      { kind: 'warmup', epochs: 1 },
      { kind: 'cosine', to: 5e-7 },
    ]);
    expect(p.datasetSpec!.groups[0]!.fields.length).toBe(14);
    expect(p.resolvedConfig.values).toMatchObject({ 'finetune.optimizer.lr': 5e-6 });
    const again = await loadBuiltProgram(MINI, { outDir: out });
    expect(again.cached).toBe(true);
    await cpuSeeded(1);
    const model = p.factories.finetune!.create();
    const y = nv.tf.tidy(
      () =>
        model.forward(
          { training: false, rng: nv.createRng(1) },
          { xray: nv.tf.zeros([2, 64, 64, 3]), labs: nv.tf.zeros([2, 14]) },
        ) as nv.tf.Tensor,
    );
    expect(y.shape).toEqual([2, 2]);
    // The same seed builds the same weights.
    await cpuSeeded(1);
    const twin = p.factories.finetune!.create();
    const w1 = model.namedParameters().map(([k, v]) => [k, Array.from(v.variable.dataSync()).slice(0, 4)]);
    const w2 = twin.namedParameters().map(([k, v]) => [k, Array.from(v.variable.dataSync()).slice(0, 4)]);
    expect(w2).toEqual(w1);
    model.dispose();
    twin.dispose();
    y.dispose();
  });
});
