/**
 * `nvcc export RUN_DIR --format torch`: a run's weights as the official ConvNeXt-V2 state dict.
 * A run folder is made by hand as `nvcc train` leaves it (program.json, stages/<stage>/
 * weights.safetensors) for the demo's `images` stage of examples/mednvc.nvc (ImagesOnly: a
 * ConvNeXt-V2 encoder under `enc.`, the official head), with every parameter random. The export
 * (`--strip enc`) is loaded with strict=True into an independent re-implementation of the
 * official dense PyTorch model (test/fixtures/generators/nvc_torch_ref.py: official module tree,
 * names and shapes, GRN (1, 1, 1, C)) under Debian's python3-torch, and its logits on the same
 * batch equal the tfjs model's within rtol 1e-4 / atol 1e-5. Refusals: an unknown format or
 * stage and a --strip path without parameters exit 1 with the reason and write nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { transposeHost } from '../../runtime/io/layout.js';
import { type HostTensor, writeSafetensors } from '../../runtime/io/safetensors.js';
import { saveWeights } from '../../runtime/io/weights.js';
import { cpuSeeded, freshRepoDir, removeRepoDirs } from '../builder/helpers.js';
import { runCli } from '../support/cli-process.js';

afterAll(removeRepoDirs);

const SCRIPT = `
import json, sys
sys.path.insert(0, 'test/fixtures/generators')
sys.path.insert(0, 'test/support')
import torch
from nvc_torch_ref import ConvNeXtV2
from torch_runner import read_safetensors
model = ConvNeXtV2(in_chans=1, num_classes=2, depths=(1, 1, 2, 1), dims=(16, 32, 64, 128)).eval()
model.load_state_dict(read_safetensors(sys.argv[1]), strict=True)
x = read_safetensors(sys.argv[2])['x']
with torch.no_grad():
    _, logits = model(x)
print(json.dumps(logits.reshape(-1).tolist()))
`;

function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

describe('nvcc export --format torch', () => {
  it('writes the official ConvNeXt-V2 state dict: strict load, same logits as the tfjs model', async () => {
    const run = path.resolve(freshRepoDir());
    const loaded = await loadBuiltProgram('examples/mednvc.nvc', { variant: 'demo', outDir: path.join(run, 'build') });
    await cpuSeeded(3);
    const model = loaded.factories.images!.create();
    let logits: Float32Array;
    const x = values(2 * 64 * 64, 9, 1);
    try {
      model.namedParameters().forEach(([, p], i) => {
        p.variable.assign(nv.tf.tensor(values(p.variable.size, 77 + i, 0.25), p.variable.shape, 'float32'));
      });
      const out = model.forward(
        { training: false, rng: nv.createRng(1) },
        { xray: nv.tf.tensor4d(x, [2, 64, 64, 1]) },
      ) as nv.tf.Tensor;
      logits = out.dataSync() as Float32Array;
      fs.mkdirSync(path.join(run, 'stages', 'images'), { recursive: true });
      await saveWeights(model, path.join(run, 'stages', 'images', 'weights.safetensors'));
    } finally {
      model.dispose();
    }
    fs.writeFileSync(
      path.join(run, 'program.json'),
      JSON.stringify({ file: path.resolve('examples/mednvc.nvc'), variant: 'demo', overrides: {}, cacheKey: 'x' }),
    );
    const out = path.join(run, 'official.safetensors');
    const exported = runCli(['export', run, '--format', 'torch', '--stage', 'images', '--strip', 'enc', '--out', out]);
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('tensors of stage images in PyTorch layout');
    const input: HostTensor = { dtype: 'float32', shape: [2, 64, 64, 1], data: x };
    const inputFile = path.join(run, 'input.safetensors');
    writeSafetensors(inputFile, { x: transposeHost(input, [0, 3, 1, 2]) });
    const py = spawnSync('/usr/bin/python3', ['-c', SCRIPT, out, inputFile], { encoding: 'utf8', timeout: 120_000 });
    expect(py.status, `/usr/bin/python3 with python3-torch is needed:\n${py.stderr}`).toBe(0);
    const torchLogits = JSON.parse(py.stdout) as number[];
    expect(torchLogits.length).toBe(logits!.length);
    torchLogits.forEach((t, i) =>
      expect(Math.abs(t - logits[i]!), `logit ${i}: torch ${t}, tfjs ${logits[i]}`).toBeLessThanOrEqual(
        1e-5 + 1e-4 * Math.abs(logits[i]!),
      ),
    );

    // Refusals write nothing.
    const bogus = path.join(run, 'bogus.safetensors');
    const format = runCli(['export', run, '--format', 'onnx', '--out', bogus]);
    expect(format.code).toBe(1);
    expect(format.stderr).toBe("error: --format must be torch, got 'onnx'\n");
    const stage = runCli(['export', run, '--format', 'torch', '--stage', 'nope', '--out', bogus]);
    expect(stage.code).toBe(1);
    expect(stage.stderr).toContain('no stage `nope` in');
    const strip = runCli(['export', run, '--format', 'torch', '--stage', 'images', '--strip', 'nope', '--out', bogus]);
    expect(strip.code).toBe(1);
    expect(strip.stderr).toContain('nope.* (the --strip path holds no parameter)');
    expect(fs.existsSync(bogus)).toBe(false);
  }, 300_000);
});
