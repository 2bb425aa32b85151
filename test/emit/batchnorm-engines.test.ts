/**
 * BatchNorm in both engines: the tfjs runtime's BatchNorm against the torch target's (PyTorch's
 * own nn.BatchNorm behind nvcc_layers.BatchNorm), on test/fixtures/emit/batchnorm.nvc.
 * Same state (every parameter and buffer random, num_batches_tracked included), same batch:
 * evaluation output (running statistics), training output (batch statistics), the gradient of
 * sum(output * upstream) for every parameter, and the state after the training pass (running
 * statistics moved with momentum 0.3 / 0.1 and the unbiased variance, num_batches_tracked
 * counted). Outputs within rtol 1e-4 / atol 1e-5 elementwise, gradients within 1e-4 normwise
 * plus 1e-5 absolute (the bias of `fc` feeds a BatchNorm in training, so its gradient is zero in
 * exact arithmetic and both engines return float32 noise of about 1e-6), the counter exactly.
 * Runs Debian's /usr/bin/python3 with python3-torch (CI installs it).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { buildTorchPackage } from '../../compiler/emit/torch/build.js';
import * as nv from '../../runtime/index.js';
import { transposeHost } from '../../runtime/io/layout.js';
import { readSafetensors, writeSafetensors, type HostTensor } from '../../runtime/io/safetensors.js';
import { moduleTorchLayouts, moduleToTorchState, toTorch } from '../../runtime/io/torch-layout.js';
import { cpuSeeded, freshDir } from '../builder/helpers.js';

const PYTHON = '/usr/bin/python3';
const RUNNER = path.resolve('test/support/batchnorm_runner.py');
const FILE = 'test/fixtures/emit/batchnorm.nvc';
const work = freshDir('nvcc-bn-engines-');

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Deterministic values in [-1, 1) (xorshift), so no RNG state is involved. */
function values(n: number, seed: number, scale: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = offset + ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

const host = (t: nv.tf.Tensor): HostTensor => ({
  dtype: t.dtype === 'int32' ? 'int32' : 'float32',
  shape: [...t.shape],
  data: t.dataSync() as Float32Array | Int32Array,
});

function expectClose(actual: HostTensor, expected: HostTensor, what: string): void {
  expect(actual.shape, what).toEqual(expected.shape);
  for (let i = 0; i < expected.data.length; i++) {
    const tol = 1e-5 + 1e-4 * Math.abs(expected.data[i]!);
    if (!(Math.abs(actual.data[i]! - expected.data[i]!) <= tol))
      throw new Error(`${what}: element ${i} is ${actual.data[i]} vs ${expected.data[i]} (rtol 1e-4, atol 1e-5)`);
  }
}

function expectNormClose(actual: HostTensor, expected: HostTensor, what: string): void {
  expect(actual.shape, what).toEqual(expected.shape);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.data.length; i++) {
    diff += (actual.data[i]! - expected.data[i]!) ** 2;
    norm += expected.data[i]! ** 2;
  }
  expect(Math.sqrt(diff), `${what}: ||tfjs - torch|| vs ||torch|| = ${Math.sqrt(norm)}`).toBeLessThanOrEqual(
    1e-4 * Math.sqrt(norm) + 1e-5,
  );
}

describe('BatchNorm: tfjs engine vs torch engine, training and evaluation', () => {
  it('gives the same outputs, gradients and running statistics', { timeout: 300_000 }, async () => {
    const loaded = await loadBuiltProgram(FILE, { outDir: path.join(work, 'tfjs') });
    const torch = await buildTorchPackage(FILE, { outDir: path.join(work, 'torch') });
    expect(torch.ok, JSON.stringify(torch.problems)).toBe(true);
    await cpuSeeded(3);
    const model = loaded.modelFactories.BNNet!.create();
    // Every parameter and buffer random: variances positive, the counter some count.
    model.namedState().forEach(([p, v], i) => {
      if (v.dtype === 'int32') v.assign(nv.tf.scalar(5, 'int32'));
      else if (p.endsWith('running_var')) v.assign(nv.tf.tensor(values(v.size, 90 + i, 0.5, 1), v.shape));
      else v.assign(nv.tf.tensor(values(v.size, 90 + i, 0.5), v.shape));
    });
    const before = await moduleToTorchState(model);
    expect([...before.keys()]).toEqual([
      'conv.weight',
      'conv.bias',
      'bn.weight',
      'bn.bias',
      'bn.running_mean',
      'bn.running_var',
      'bn.num_batches_tracked',
      'fc.weight',
      'fc.bias',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
      'head.weight',
      'head.bias',
    ]);
    expect(model.parameterCount()).toBe(3 * 3 * 3 * 6 + 6 + 12 + 6 * 12 + 12 + 24 + 12 * 3 + 3);

    const shape = [4, 7, 7, 3];
    const x = nv.tf.tensor(values(4 * 7 * 7 * 3, 7, 1), shape);
    const upstream = nv.tf.tensor(values(4 * 3, 8, 1), [4, 3]);
    const evalOut = host(model.forward({ training: false, rng: nv.createRng(1) }, { x }) as nv.tf.Tensor);
    const vars = model.namedParameters().map(([p, param]) => [p, param.variable] as const);
    let trainOut: HostTensor | undefined;
    const { grads } = nv.tf.variableGrads(
      () => {
        const y = model.forward({ training: true, rng: nv.createRng(1) }, { x }) as nv.tf.Tensor;
        trainOut = host(y);
        return nv.tf.sum(nv.tf.mul(y, upstream)) as nv.tf.Scalar;
      },
      vars.map(([, v]) => v),
    );
    const after = await moduleToTorchState(model);

    const stateFile = path.join(work, 'state.safetensors');
    const file = new Map(before);
    file.set('input', transposeHost(host(x), [0, 3, 1, 2]));
    file.set('upstream', host(upstream));
    writeSafetensors(stateFile, file);
    const outFile = path.join(work, 'torch-out.safetensors');
    const run = spawnSync(PYTHON, [RUNNER, path.join(work, 'torch'), 'BNNet', stateFile, outFile], {
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(run.status, `${PYTHON} ${RUNNER} (needs python3-torch):\n${run.stderr}${run.stdout}`).toBe(0);
    const ref = readSafetensors(outFile).tensors;
    const get = (k: string) => {
      const t = ref.get(k)?.tensor;
      if (!t) throw new Error(`torch returned no ${k}`);
      return t;
    };
    expectClose(evalOut, get('eval'), 'evaluation output');
    expectClose(trainOut!, get('train'), 'training output');
    const layouts = moduleTorchLayouts(model);
    for (const [p, v] of vars)
      expectNormClose(toTorch(host(grads[v.name]!), layouts.get(p) ?? 'same', p), get(`grad:${p}`), `gradient of ${p}`);
    for (const [k, t] of after) {
      if (t.dtype === 'int32') {
        expect(t.data[0], k).toBe(6);
        expect(get(`state:${k}`).data[0], k).toBe(6);
      } else expectClose(t, get(`state:${k}`), `${k} after the training pass`);
    }
    // The running statistics did move (the comparison above is not of unchanged values).
    expect(after.get('bn1.running_mean')!.data).not.toEqual(before.get('bn1.running_mean')!.data);
    model.dispose();
  });
});

describe('a `buffer` declared in .nvc in the torch build', () => {
  it('is a registered buffer with its start value, beside a parameter named `weight`', {
    timeout: 300_000,
  }, async () => {
    const out = path.join(work, 'buffer-torch');
    const torch = await buildTorchPackage('test/fixtures/emit/buffer-block.nvc', { outDir: out });
    expect(torch.ok, JSON.stringify(torch.problems)).toBe(true);
    const code = [
      'import importlib.util, json, sys',
      `spec = importlib.util.spec_from_file_location('pkg', '${out}/__init__.py',` +
        ` submodule_search_locations=['${out}'])`,
      'pkg = importlib.util.module_from_spec(spec); sys.modules["pkg"] = pkg; spec.loader.exec_module(pkg)',
      'm = pkg.build_model("WithBuffer")',
      'print(json.dumps({"params": [k for k, _ in m.named_parameters()],',
      '  "buffers": {k: b.tolist() for k, b in m.named_buffers()},',
      '  "state": list(m.state_dict().keys())}))',
    ].join('\n');
    const run = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const got = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(got).toEqual({
      params: ['norm.weight', 'head.weight', 'head.bias'],
      buffers: { 'norm.shift': [0.5, 0.5, 0.5, 0.5] },
      state: ['norm.weight', 'norm.shift', 'head.weight', 'head.bias'],
    });
  });
});
