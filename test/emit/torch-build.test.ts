/**
 * `nvcc build --target torch` for every program of std/ and examples/mednvc.nvc (the base
 * program and every variant), and `nvcc check --target torch` / the CLI flags.
 * Checked: each build succeeds and writes model.py, nvcc_layers.py, __init__.py and a manifest
 * whose file hashes match; in Python (Debian's /usr/bin/python3 with python3-torch, installed by
 * CI) every package imports, every model under 5M parameters is built with build_model(), its
 * state_dict keys are exactly the IR's weight paths and its parameter count the IR's; the
 * command line refuses what the torch target cannot express (NVC5101) and an unknown target.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTorchPackage, torchModelEntries } from '../../compiler/emit/torch/build.js';
import type { ModuleNode } from '../../compiler/ir/ir.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { runCli } from '../support/cli-process.js';
import { freshDir } from '../builder/helpers.js';

const PYTHON = '/usr/bin/python3';
const work = freshDir('nvcc-torch-build-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const MEDNVC_VARIANTS = [
  undefined,
  'mlp_labs',
  'convnext_images',
  'convnext_mlp',
  'swin_mlp',
  'no_pretrain',
  'no_random_throw',
  'demo',
  'demo_mlp_labs',
  'demo_convnext_images',
  'demo_convnext_mlp',
  'demo_swin_mlp',
  'demo_no_pretrain',
  'demo_no_random_throw',
];
const PROGRAMS: { file: string; variant?: string }[] = [
  { file: 'std/convnextv2.nvc' },
  { file: 'std/attention.nvc' },
  { file: 'std/swin.nvc' },
  ...MEDNVC_VARIANTS.map((variant) => ({ file: 'examples/mednvc.nvc', ...(variant ? { variant } : {}) })),
];

function weightPaths(node: ModuleNode, out: string[] = []): string[] {
  for (const w of node.weights) out.push(node.path ? `${node.path}.${w.name}` : w.name);
  for (const c of node.children) weightPaths(c, out);
  return out;
}

/** One Python process imports every package and builds every model under 5M parameters. */
const PROBE = `
import importlib.util, json, sys
result = {}
for i, (folder, expected) in enumerate(json.load(open(sys.argv[1]))):
    name = 'pkg%d' % i
    spec = importlib.util.spec_from_file_location(name, folder + '/__init__.py', submodule_search_locations=[folder])
    pkg = importlib.util.module_from_spec(spec); sys.modules[name] = pkg; spec.loader.exec_module(pkg)
    out = {'models': sorted(pkg.MODEL_CLASSES), 'built': {}}
    for model, e in expected.items():
        if e['count'] > 5_000_000:
            continue
        m = pkg.build_model(model)
        out['built'][model] = {'keys': list(m.state_dict().keys()), 'count': sum(p.numel() for p in m.parameters())}
    result[folder] = out
print(json.dumps(result))
`;

interface Expected {
  readonly keys: string[];
  readonly count: number;
}
const expectations = new Map<string, Record<string, Expected>>();
const problems = new Map<string, string[]>();
let probe: Record<string, { models: string[]; built: Record<string, Expected> }> = {};

describe('nvcc build --target torch: every program of std/ and examples/mednvc.nvc', () => {
  beforeAll(async () => {
    const jobs: [string, Record<string, Expected>][] = [];
    for (const [i, p] of PROGRAMS.entries()) {
      const outDir = path.join(work, `p${i}`);
      const built = await buildTorchPackage(p.file, { ...(p.variant ? { variant: p.variant } : {}), outDir });
      const found = [
        ...built.problems.map((x) => x.message),
        ...built.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
      ];
      if (!built.ok) found.push('build failed');
      problems.set(outDir, found);
      if (!built.ok) continue;
      const manifest = JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8')) as {
        models: Record<string, { parameters: number }>;
      };
      // What the IR says each model must hold.
      const program = compileProgramSync(p.file, p.variant ? { variant: p.variant } : {}).program!;
      const expected = Object.fromEntries(
        torchModelEntries(program).map((e) => [
          e.key,
          { keys: weightPaths(e.model.root), count: manifest.models[e.key]!.parameters },
        ]),
      );
      expectations.set(outDir, expected);
      jobs.push([outDir, expected]);
    }
    const jobsFile = path.join(work, 'jobs.json');
    fs.writeFileSync(jobsFile, JSON.stringify(jobs));
    const run = spawnSync(PYTHON, ['-c', PROBE, jobsFile], { encoding: 'utf8', timeout: 300_000 });
    if (run.status !== 0)
      throw new Error(
        `${PYTHON} failed (the torch tests need Debian's python3-torch):\n${run.error ?? ''}${run.stderr}`,
      );
    probe = JSON.parse(run.stdout);
  }, 600_000);

  for (const [i, p] of PROGRAMS.entries()) {
    it(`${p.file}${p.variant ? ` --variant ${p.variant}` : ''}`, () => {
      const outDir = path.join(work, `p${i}`);
      expect(problems.get(outDir)).toEqual([]);
      const manifest = JSON.parse(fs.readFileSync(path.join(outDir, 'manifest.json'), 'utf8')) as {
        files: Record<string, string>;
      };
      for (const f of ['model.py', 'nvcc_layers.py', '__init__.py']) expect(Object.keys(manifest.files)).toContain(f);
      for (const [f, hash] of Object.entries(manifest.files))
        expect(
          createHash('sha256')
            .update(fs.readFileSync(path.join(outDir, f)))
            .digest('hex'),
          f,
        ).toBe(hash);
      const expected = expectations.get(outDir)!;
      const got = probe[outDir]!;
      expect(got.models).toEqual(Object.keys(expected).sort());
      for (const [name, e] of Object.entries(expected)) {
        if (e.count > 5_000_000) continue;
        const model = got.built[name];
        expect(model, name).toBeDefined();
        expect([...model!.keys].sort(), name).toEqual([...e.keys].sort());
        expect(model!.count, name).toBe(e.count);
      }
    });
  }
});

describe('the command line', () => {
  it('nvcc check --target torch reports what the torch target refuses, plain check what tfjs refuses', () => {
    const named = 'test/fixtures/diagnostics/target-torch-unsupported.nvc';
    const torch = runCli(['check', named, '--target', 'torch']);
    expect(torch.code).toBe(1);
    expect(torch.stderr).toContain(
      "error[NVC5101]: the layer `training` of `Named` would shadow torch.nn.Module's own `training`",
    );
    // The name is the torch target's problem only.
    expect(runCli(['check', named]).code).toBe(0);
    // Grouped convolutions, refused by both targets before issue 14, now check for both.
    const grouped = 'test/fixtures/emit/vocabulary.nvc';
    expect(runCli(['check', grouped, '--target', 'torch']).code).toBe(0);
    expect(runCli(['check', grouped]).code).toBe(0);
  });

  it('nvcc build --target torch writes the package, refuses what it cannot build and unknown targets', () => {
    const out = path.join(work, 'cli');
    const ok = runCli(['build', 'test/fixtures/emit/tiny-conv.nvc', '--target', 'torch', '--out', out]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^built .* \(torch\): TinyConv TinyConv \(234 parameters\)\n$/);
    expect(fs.existsSync(path.join(out, 'model.py'))).toBe(true);
    const refusedOut = path.join(work, 'refused');
    const refused = runCli([
      'build',
      'test/fixtures/diagnostics/target-torch-unsupported.nvc',
      '--target',
      'torch',
      '--out',
      refusedOut,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('NVC5101');
    expect(fs.existsSync(refusedOut)).toBe(false);
    const bogus = runCli(['build', 'test/fixtures/emit/tiny-conv.nvc', '--target', 'jax']);
    expect(bogus.code).toBe(1);
    expect(bogus.stderr).toBe("error: --target must be tfjs or torch, got 'jax'\n");
  });
});
