/**
 * Official checkpoints in the torch engine: the model `nvcc build --target torch` generates from
 * std/convnextv2.nvc loads an official dense ConvNeXt-V2 state dict with
 * `nvcc_layers.load_official(model, state)` (strict: DataParallel `module.` prefixes stripped,
 * GRN gamma/beta given as [1, 1, 1, C] reshaped, nothing else changed) and gives the logits the
 * official-semantics model computed (test/fixtures/torch/import_small_*, made by
 * test/fixtures/generators/make_torch_fixtures.py under torch 1.13) within rtol 1e-4 / atol 1e-5.
 * A checkpoint with a key the model lacks is refused with the key named.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTorchPackage } from '../../compiler/emit/torch/build.js';
import { freshDir } from '../builder/helpers.js';

const work = freshDir('nvcc-torch-import-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const SCRIPT = `
import importlib.util, json, sys
sys.path.insert(0, 'test/support')
import torch
from torch_runner import read_safetensors
folder = sys.argv[1]
spec = importlib.util.spec_from_file_location('pkg', folder + '/__init__.py', submodule_search_locations=[folder])
pkg = importlib.util.module_from_spec(spec); sys.modules['pkg'] = pkg; spec.loader.exec_module(pkg)
layers = sys.modules['pkg.nvcc_layers']
state = read_safetensors('test/fixtures/torch/import_small_dense.safetensors')
ref = read_safetensors('test/fixtures/torch/import_small_outputs.safetensors')
model = pkg.build_model('small').eval()
layers.load_official(model, state)
with torch.no_grad():
    logits = model(ref['input_nhwc'].permute(0, 3, 1, 2))
refused = ''
try:
    layers.load_official(pkg.build_model('small'), {**state, 'module.extra.weight': torch.zeros(1)})
except RuntimeError as err:
    refused = str(err)
print(json.dumps({'logits': logits.reshape(-1).tolist(), 'expected': ref['logits'].reshape(-1).tolist(),
                  'refused': refused}))
`;

describe('official ConvNeXt-V2 checkpoints in the torch engine', () => {
  it('load strictly into the generated model and give the official logits', async () => {
    const out = path.join(work, 'pkg');
    const built = await buildTorchPackage('test/fixtures/emit/convnextv2-small.nvc', { outDir: out });
    expect(built.problems).toEqual([]);
    expect(built.ok).toBe(true);
    const run = spawnSync('/usr/bin/python3', ['-c', SCRIPT, out], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `/usr/bin/python3 with python3-torch is needed:\n${run.stderr}`).toBe(0);
    const r = JSON.parse(run.stdout) as { logits: number[]; expected: number[]; refused: string };
    expect(r.logits.length).toBe(10);
    r.logits.forEach((v, i) =>
      expect(Math.abs(v - r.expected[i]!), `logit ${i}: ${v} vs ${r.expected[i]}`).toBeLessThanOrEqual(
        1e-5 + 1e-4 * Math.abs(r.expected[i]!),
      ),
    );
    expect(r.refused).toContain('Unexpected key(s) in state_dict: "extra.weight"');
  }, 300_000);
});
