/**
 * The official FCMAE checkpoint in the torch engine: test/fixtures/torch/fcmae_official.safetensors
 * (the official FCMAE layout: sparse MinkowskiEngine encoder names, `proj`, `mask_token`
 * [1, C, 1, 1], `decoder.<i>`, `pred`; made with its float64 reference outputs by
 * test/fixtures/generators/make_fcmae_fixtures.py from the official models/fcmae.py) is converted
 * as `nvcc train --init` converts it (runtime/io/convnextv2-import.ts, into the tfjs layout under
 * the std FCMAE program's keys), loaded strictly into the model `nvcc build --target torch` makes
 * from test/fixtures/emit/fcmae-official.nvc (nvcc_layout.load_tfjs_state), and run under the
 * fixture's patch mask: its prediction matches the official one within 1e-5 normwise (float32
 * against float64), as the tfjs engine's does (test/runtime/fcmae-official.test.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { buildTorchPackage } from '../../compiler/emit/torch/build.js';
import { convertConvNeXtV2State } from '../../runtime/io/convnextv2-import.js';
import { type HostTensor, readSafetensors, writeSafetensors } from '../../runtime/io/safetensors.js';
import { cpuSeeded, freshDir } from '../builder/helpers.js';
import { genValues } from '../fixtures/generators/weightgen.js';
import { PYTHON } from '../support/python.js';

const FIXTURE = 'test/fixtures/emit/fcmae-official.nvc';
const CHECKPOINT = 'test/fixtures/torch/fcmae_official.safetensors';
const work = freshDir('nvcc-torch-fcmae-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const SCRIPT = `
import importlib, importlib.util, json, sys
sys.path.insert(0, 'test/support')
import torch
from torch_runner import read_safetensors
folder, weights = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('pkg', folder + '/__init__.py', submodule_search_locations=[folder])
pkg = importlib.util.module_from_spec(spec); sys.modules['pkg'] = pkg; spec.loader.exec_module(pkg)
layers = sys.modules['pkg.nvcc_layers']
layout = importlib.import_module('pkg.nvcc_layout')
tensors = read_safetensors(weights)
x, mask = tensors.pop('input:x'), tensors.pop('mask')
model = pkg.build_model('fcmae_official').eval()
layout.load_tfjs_state(model, tensors, weights)
with torch.no_grad(), layers.mask_context(mask):
    pred = model(x)
print(json.dumps({'shape': list(pred.shape), 'pred': pred.permute(0, 2, 3, 1).reshape(-1).tolist()}))
`;

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

describe('the official FCMAE checkpoint in the torch engine', () => {
  it('converts, loads strictly and predicts what the official model predicts (1e-5 normwise)', async () => {
    const outputs = readSafetensors('test/fixtures/torch/fcmae_outputs.safetensors').tensors;
    const tfjs = await loadBuiltProgram(FIXTURE, { outDir: path.join(work, 'tfjs') });
    await cpuSeeded(3);
    const model = tfjs.modelFactories.fcmae_official!.create();
    const raw = new Map([...readSafetensors(CHECKPOINT).tensors].map(([k, e]) => [k, e.tensor] as const));
    const { tensors, dropped, keptInitial } = convertConvNeXtV2State(model, raw, CHECKPOINT);
    model.dispose();
    expect(dropped).toEqual([]);
    expect(keptInitial).toEqual([]);
    const file = new Map<string, HostTensor>(tensors);
    file.set('input:x', {
      dtype: 'float32',
      shape: [2, 3, 64, 96],
      data: genValues('fcmae_input', [2, 3, 64, 96], 0, 1),
    });
    file.set('mask', { ...outputs.get('mask')!.tensor, shape: [2, 2, 3] });
    const weights = path.join(work, 'state.safetensors');
    writeSafetensors(weights, file);
    const built = await buildTorchPackage(FIXTURE, { outDir: path.join(work, 'torch') });
    expect(built.ok, JSON.stringify(built.problems)).toBe(true);
    const run = spawnSync(PYTHON, ['-c', SCRIPT, path.join(work, 'torch'), weights], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    expect(run.status, `${PYTHON} with python3-torch is needed:\n${run.stderr}`).toBe(0);
    const r = JSON.parse(run.stdout) as { shape: number[]; pred: number[] };
    // [B, p*p*C, H/p, W/p], as the official `pred` convolution.
    expect(r.shape).toEqual([2, 3072, 2, 3]);
    expect(normwise(r.pred, outputs.get('pred')!.tensor.data)).toBeLessThan(1e-5);
  }, 600_000);
});
