/**
 * Experiment overrides: the derived schema, valid overrides changing the built model, and
 * refusals (misspelt path with a did-you-mean, wrong type, out of range) that write nothing,
 * through buildProgram and through the `nvcc build` command line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram, loadBuiltProgram, overrideSchemaOf } from '../../compiler/builder/build.js';
import { main } from '../../cli/main.js';
import {
  parseSetArgs,
  readConfigFile,
  validateOverrides,
  type OverrideSchema,
} from '../../compiler/schema/overrides.js';
import { cpuSeeded, freshDir } from './helpers.js';

const MINI = 'test/fixtures/emit/mini-mednvc.nvc';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('override schema', () => {
  let schema: OverrideSchema | undefined;
  beforeAll(async () => {
    schema = (await overrideSchemaOf(MINI)).schema;
  });

  it('lists every tunable value with a stable dotted path, type, range and current value', () => {
    const props = schema!.schema.properties as Record<string, Record<string, unknown>>;
    expect(props['finetune.optimizer.lr']).toMatchObject({ type: 'number', exclusiveMinimum: 0, default: 5e-6 });
    expect(props['pretrain.mask.ratio']).toMatchObject({
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.6,
    });
    expect(props['pretrain.schedule.cosine.to']).toMatchObject({ type: 'number', default: 5e-7 });
    expect(props['finetune.epochs']).toMatchObject({ type: 'integer', minimum: 1, default: 2 });
    expect(props['MiniMEDNVC.fusion_depth']).toMatchObject({ type: 'integer', default: 2 });
    expect(props['PJI.split.seed']).toMatchObject({ type: 'integer', minimum: 0, default: 7 });
    expect(props['Mini.seed']).toMatchObject({ type: 'integer', default: 7 });
    expect(props['pretrain.model.encoder.dims']).toMatchObject({
      type: 'array',
      items: { type: 'integer' },
      default: [8, 16, 32, 64],
    });
    expect(props['finetune.pooling']).toMatchObject({ enum: ['mean', 'max'] });
    expect(schema!.schema.additionalProperties).toBe(false);
  });

  it('refuses a misspelt path with a did-you-mean, a wrong type and an out-of-range value', () => {
    const problems = validateOverrides(schema!, {
      'finetune.optimizer.lrr': 1e-5,
      'finetune.epochs': 'ten',
      'pretrain.mask.ratio': 1.5,
      'MiniMEDNVC.heads': 2.5,
    });
    expect(problems.map((p) => [p.path, p.kind])).toEqual([
      ['finetune.optimizer.lrr', 'unknown-path'],
      ['finetune.epochs', 'wrong-type'],
      ['pretrain.mask.ratio', 'out-of-range'],
      ['MiniMEDNVC.heads', 'wrong-type'],
    ]);
    expect(problems[0]!.message).toContain('did you mean `finetune.optimizer.lr`?');
    expect(problems[1]!.message).toBe('`finetune.epochs` (stage finetune) must be an integer, found the string "ten"');
    expect(problems[2]!.message).toBe(
      '`pretrain.mask.ratio` (stage pretrain, mask, random_patches(ratio = ...)) must be >= 0 and < 1, found 1.5',
    );
    expect(
      validateOverrides(schema!, { 'finetune.optimizer.lr': 1e-5, 'pretrain.augment': 3 }).map((p) => p.kind),
    ).toEqual(['unknown-path']);
  });

  it('reads --set values as YAML scalars or JSON, and --config files as paths or nested mappings', () => {
    expect(parseSetArgs(['a.b=5e-5', 'c=[1, 2]', 'd=true', 'e=max', 'f="7"']).overrides).toEqual({
      'a.b': 5e-5,
      c: [1, 2],
      d: true,
      e: 'max',
      f: '7',
    });
    expect(parseSetArgs(['nonsense']).problems[0]!.message).toContain('expected path=value');
    const dir = freshDir();
    const file = path.join(dir, 'o.yaml');
    fs.writeFileSync(
      file,
      'finetune:\n  optimizer:\n    lr: 1e-5\n  epochs: 3\npretrain.model.encoder.dims: [8, 16, 32, 48]\n',
    );
    const known = new Set(schema!.tunables.keys());
    expect(readConfigFile(file, known).overrides).toEqual({
      'finetune.optimizer.lr': 1e-5,
      'finetune.epochs': 3,
      'pretrain.model.encoder.dims': [8, 16, 32, 48],
    });
  });
});

describe('overrides reach the built model', () => {
  it('changes the model, the train spec and the dataset spec as asked', async () => {
    const overrides = {
      'MiniMEDNVC.fusion_depth': 3,
      'finetune.optimizer.lr': 1e-4,
      'pretrain.model.encoder.dims': [8, 16, 32, 48],
      'PJI.split.seed': 11,
      'pretrain.schedule.cosine.to': 1e-6,
      'finetune.micro_batch': 2,
      'pretrain.micro_batch': 4,
    };
    const p = await loadBuiltProgram(MINI, { outDir: path.join(freshDir(), 'out'), overrides });
    const base = await loadBuiltProgram(MINI, { outDir: path.join(freshDir(), 'out') });
    expect(p.trainSpec!.stages[1]!.optimizer.lr).toBe(1e-4);
    expect(p.trainSpec!.stages[0]!.schedule[1]).toEqual({ kind: 'cosine', to: 1e-6 });
    expect(p.datasetSpec!.split.seed).toBe(11);
    // micro_batch reaches the trainer below the batch; equal to the batch it is no chunking.
    expect(p.trainSpec!.stages[1]!.microBatch).toBe(2);
    expect(p.trainSpec!.stages[0]!.microBatch).toBeUndefined();
    expect(p.resolvedConfig.overrides).toEqual(overrides);
    await cpuSeeded(2);
    const m = p.factories.finetune!.create();
    const names = m.namedParameters().map(([k]) => k);
    expect(names.some((k) => k.startsWith('fusion.2.'))).toBe(true);
    expect(m.find('enc.stages.3.0.dwconv')!.namedParameters()[0]![1].variable.shape).toEqual([7, 7, 48, 1]);
    expect(p.manifest.models.finetune!.parameters).not.toBe(base.manifest.models.finetune!.parameters);
    expect(m.parameterCount()).toBe(p.manifest.models.finetune!.parameters);
    m.dispose();
  });

  it('a rebuild into a folder this process already imported from runs the new code', async () => {
    // Node caches model.js by URL; without care the second load would create the old model.
    const out = path.join(freshDir(), 'out');
    const first = await loadBuiltProgram(MINI, { outDir: out });
    const second = await loadBuiltProgram(MINI, { outDir: out, overrides: { 'MiniMEDNVC.fusion_depth': 3 } });
    const again = await loadBuiltProgram(MINI, { outDir: out, overrides: { 'MiniMEDNVC.fusion_depth': 3 } });
    await cpuSeeded(2);
    const counts = [first, second, again].map((p) => {
      const m = p.factories.finetune!.create();
      const n = m.parameterCount();
      expect(n).toBe(p.manifest.models.finetune!.parameters);
      m.dispose();
      return n;
    });
    expect(counts[1]).toBeGreaterThan(counts[0]!);
    expect(counts[2]).toBe(counts[1]);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['out']);
  });

  it('builds with different overrides go to different default folders, so side-by-side runs cannot mix', async () => {
    // A uniquely named copy: its default folders build/<stem>... belong to this test alone.
    const stem = `mini-set-${process.pid}`;
    const copy = path.join(freshDir(), `${stem}.nvc`);
    fs.copyFileSync(MINI, copy);
    try {
      const plain = await cli(['build', copy]);
      const lr4 = await cli(['build', copy, '--set', 'finetune.optimizer.lr=1e-4']);
      const lr5 = await cli(['build', copy, '--set', 'finetune.optimizer.lr=1e-5']);
      const lr4Again = await cli(['build', copy, '--set', 'finetune.optimizer.lr=1e-4']);
      const folderOf = (r: { stdout: string }) => /^(?:built|up to date) (\S+) in/.exec(r.stdout)![1]!;
      expect(folderOf(plain)).toBe(path.join('build', stem));
      expect(folderOf(lr4)).toMatch(new RegExp(`^build/${stem}-set-[0-9a-f]{10}$`));
      expect(new Set([plain, lr4, lr5].map(folderOf)).size).toBe(3);
      expect(folderOf(lr4Again)).toBe(folderOf(lr4));
      expect(lr4Again.stdout).toMatch(/^up to date /);
      const overridesIn = (r: { stdout: string }) =>
        JSON.parse(fs.readFileSync(path.join(folderOf(r), 'manifest.json'), 'utf8')).overrides;
      expect([plain, lr4, lr5].map(overridesIn)).toEqual([
        {},
        { 'finetune.optimizer.lr': 1e-4 },
        { 'finetune.optimizer.lr': 1e-5 },
      ]);
    } finally {
      for (const f of fs.readdirSync('build').filter((f) => f.startsWith(stem)))
        fs.rmSync(path.join('build', f), { recursive: true, force: true });
    }
  });

  it('refuses bad overrides through the command line with clear messages and writes nothing', async () => {
    const out = path.join(freshDir(), 'out');
    const r = await cli([
      'build',
      MINI,
      '--out',
      out,
      '--set',
      'finetune.optimizer.lrr=1e-5',
      '--set',
      'finetune.batch=many',
      '--set',
      'pretrain.mask.ratio=-0.5',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown override path `finetune.optimizer.lrr`; did you mean `finetune.optimizer.lr`?');
    expect(r.stderr).toContain('`finetune.batch` (stage finetune) must be an integer, found the string "many"');
    expect(r.stderr).toContain(
      '`pretrain.mask.ratio` (stage pretrain, mask, random_patches(ratio = ...)) must be >= 0 and < 1, found -0.5',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(out)).toBe(false);
    const bad = await buildProgram(MINI, { outDir: out, overrides: { 'MiniMEDNVC.fusion_depth': 'two' } });
    expect(bad.ok).toBe(false);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('builds with --set and --config through the command line', async () => {
    const dir = freshDir();
    const cfg = path.join(dir, 'exp.yaml');
    fs.writeFileSync(cfg, 'finetune:\n  epochs: 5\n');
    const out = path.join(dir, 'out');
    const r = await cli(['build', MINI, '--out', out, '--config', cfg, '--set', 'finetune.optimizer.lr=2e-5']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^built .*out in \d+ ms: pretrain FCMAE \(129,344 parameters\), finetune MiniMEDNVC \(80,098 parameters\)\n$/,
    );
    const resolved = JSON.parse(fs.readFileSync(path.join(out, 'config.resolved.json'), 'utf8'));
    expect(resolved.overrides).toEqual({ 'finetune.epochs': 5, 'finetune.optimizer.lr': 2e-5 });
    expect(resolved.values['finetune.epochs']).toBe(5);
    const again = await cli(['build', MINI, '--out', out, '--config', cfg, '--set', 'finetune.optimizer.lr=2e-5']);
    expect(again.stdout).toMatch(/^up to date /);
  });

  it('prints the AST, IR or TypeScript with --emit and writes nothing', async () => {
    const out = path.join(freshDir(), 'out');
    const ast = await cli(['build', MINI, '--out', out, '--emit', 'ast']);
    expect(ast.code).toBe(0);
    expect(ast.stdout).toContain('Block');
    const ir = await cli(['build', MINI, '--out', out, '--emit', 'ir']);
    expect(ir.stdout).toContain('graph ConvNeXtV2Block#');
    expect(ir.stdout).toContain('%0 = input[x] : [B, H, W, 8]');
    const tsOut = await cli(['build', MINI, '--out', out, '--emit', 'ts']);
    expect(tsOut.stdout).toContain('export class MiniMEDNVC extends nv.Module');
    expect(tsOut.stdout).toContain('export const factories');
    const bad = await cli(['build', MINI, '--emit', 'js']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--emit must be ast, ir or ts');
    expect(fs.existsSync(out)).toBe(false);
  });
});
