/**
 * Differential tests: the tfjs engine against the torch engine (`nvcc build --target torch`).
 * For each model (every model of std/convnextv2.nvc is the ConvNeXtV2 class at another size:
 * atto stands for them; every Table II row of examples/mednvc.nvc at demo size, whose models
 * use every block of std/: ConvNeXt-V2, FCMAE, CrossAttention, Swin; and the FCMAE of
 * test/fixtures/emit/fcmae-official.nvc with both GRN poolings under a mask; the issue-14 primitives of
 * test/fixtures/emit/vocabulary.nvc, and their options in test/fixtures/emit/windows.nvc): the tfjs model is built
 * with random weights (every parameter, so GRN and the norms are not the identity), run on a
 * random batch, and its state is converted to PyTorch layout (runtime/io/torch-layout.ts); the
 * torch build loads that state with strict=True (so its state_dict keys and shapes are the
 * tfjs parameter paths) and runs the same batch (images NCHW) in one Python process
 * (test/support/torch_runner.py, Debian's /usr/bin/python3 with python3-torch, which CI installs).
 * Checked: forward outputs within rtol 1e-4 / atol 1e-5 elementwise; the FCMAE forward also with
 * an explicit patch mask given to both engines; the gradient of sum(output * upstream) for
 * every parameter within 1e-4 normwise (||g_tfjs - g_torch|| <= 1e-4 ||g_torch|| + 1e-6).
 * One case runs in training mode with drop path and dropout at 0.1 (test/fixtures/emit/drop-parity.nvc,
 * 8 samples): both engines draw the masks from the same seed of nvcc's RNG (the torch side through
 * the bit-exact port, nvcc_layers.random_source), so the same bounds hold there too.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { buildTorchPackage, torchModelEntries } from '../../compiler/emit/torch/build.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { dimConst, dimSubst, type Dim } from '../../compiler/symbolic.js';
import * as nv from '../../runtime/index.js';
import { transposeHost } from '../../runtime/io/layout.js';
import { readSafetensors, type HostTensor } from '../../runtime/io/safetensors.js';
import { moduleTorchLayouts, stateToTorch, toTorch } from '../../runtime/io/torch-layout.js';
import { writeSafetensors } from '../../runtime/io/safetensors.js';
import { cpuSeeded, freshDir } from '../builder/helpers.js';

const PYTHON = '/usr/bin/python3';
const RUNNER = path.resolve('test/support/torch_runner.py');

interface Case {
  readonly name: string;
  readonly file: string;
  readonly variant?: string;
  /** Stage name or top-level model name. */
  readonly model: string;
  /** Size of every symbolic dim other than B. */
  readonly symbol?: number;
  /** Patch size of an explicit FCMAE mask given to both engines. */
  readonly maskPatch?: number;
  readonly grads?: boolean;
  /**
   * Training mode with drop path and dropout drawn from `createRng(seed)` on both engines (torch:
   * nvcc_layers.random_source over the RNG port), on a batch of `batch` samples.
   */
  readonly training?: { readonly seed: number; readonly batch: number };
}

const CASES: Case[] = [
  { name: 'std convnextv2_atto', file: 'std/convnextv2.nvc', model: 'convnextv2_atto', symbol: 64, grads: true },
  { name: 'demo FCMAE pretrain (dense)', file: 'examples/mednvc.nvc', variant: 'demo', model: 'pretrain', grads: true },
  {
    name: 'demo FCMAE pretrain (masked)',
    file: 'examples/mednvc.nvc',
    variant: 'demo',
    model: 'pretrain',
    maskPatch: 32,
    grads: true,
  },
  {
    name: 'demo images stage (ImagesOnly)',
    file: 'examples/mednvc.nvc',
    variant: 'demo',
    model: 'images',
    grads: true,
  },
  { name: 'Table II MED-NVC (demo)', file: 'examples/mednvc.nvc', variant: 'demo', model: 'finetune', grads: true },
  { name: 'Table II MLP labs', file: 'examples/mednvc.nvc', variant: 'demo_mlp_labs', model: 'finetune', grads: true },
  {
    name: 'Table II ConvNeXt images',
    file: 'examples/mednvc.nvc',
    variant: 'demo_convnext_images',
    model: 'finetune',
    grads: true,
  },
  {
    name: 'Table II ConvNeXt + MLP',
    file: 'examples/mednvc.nvc',
    variant: 'demo_convnext_mlp',
    model: 'finetune',
    grads: true,
  },
  {
    name: 'Table II Swin + MLP',
    file: 'examples/mednvc.nvc',
    variant: 'demo_swin_mlp',
    model: 'finetune',
    grads: true,
  },
  {
    name: 'FCMAE, GRN per sample under the mask (masked)',
    file: 'test/fixtures/emit/fcmae-official.nvc',
    model: 'fcmae_official',
    symbol: 64,
    maskPatch: 32,
  },
  {
    name: 'FCMAE, GRN pooled over the batch under the mask (masked)',
    file: 'test/fixtures/emit/fcmae-official.nvc',
    model: 'fcmae_official_batch_grn',
    symbol: 64,
    maskPatch: 32,
    grads: true,
  },
  {
    name: 'issue 14 vocabulary (every new primitive)',
    file: 'test/fixtures/emit/vocabulary.nvc',
    model: 'Vocabulary',
    symbol: 32,
    grads: true,
  },
  {
    name: 'window and resampling options (dilation, ceil_mode)',
    file: 'test/fixtures/emit/windows.nvc',
    model: 'Windows',
    symbol: 32,
    grads: true,
  },
  { name: 'Table II no pretraining', file: 'examples/mednvc.nvc', variant: 'demo_no_pretrain', model: 'finetune' },
  {
    name: 'Table II no random throw',
    file: 'examples/mednvc.nvc',
    variant: 'demo_no_random_throw',
    model: 'finetune',
  },
  {
    name: 'drop path 0.1 and dropout 0.1 in training mode, same draws',
    file: 'test/fixtures/emit/drop-parity.nvc',
    model: 'DropNet',
    grads: true,
    training: { seed: 23, batch: 8 },
  },
];

interface Prepared {
  readonly tfjsOutputs: Map<string, HostTensor>;
  readonly tfjsGrads: Map<string, HostTensor>;
  readonly out: string;
}

const work = freshDir('nvcc-torch-diff-');
const prepared = new Map<string, Prepared>();
let runnerLog = '';

function host(t: nv.tf.Tensor): HostTensor {
  return { dtype: 'float32', shape: [...t.shape], data: t.dataSync() as Float32Array };
}

/** Deterministic values in [-1, 1) from a small integer hash, so no RNG state is involved. */
function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
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

/** Rank-4 tensors NHWC -> NCHW (the torch model's boundary layout); others unchanged. */
function nchw(t: HostTensor): HostTensor {
  return t.shape.length === 4 ? transposeHost(t, [0, 3, 1, 2]) : t;
}

async function prepare(c: Case, index: number): Promise<{ job: Record<string, unknown>; result: Prepared }> {
  const dir = path.join(work, `case${index}`);
  const variant = c.variant !== undefined ? { variant: c.variant } : {};
  const loaded = await loadBuiltProgram(c.file, { ...variant, outDir: path.join(dir, 'tfjs') });
  const torch = await buildTorchPackage(c.file, { ...variant, outDir: path.join(dir, 'torch') });
  expect(torch.ok, JSON.stringify(torch.problems)).toBe(true);
  const stage = loaded.factories[c.model];
  const factory = stage ?? loaded.modelFactories[c.model];
  expect(factory, `no model ${c.model}`).toBeDefined();
  await cpuSeeded(11);
  const model = factory!.create();
  try {
    // Every parameter random, so no layer is the identity (GRN gamma/beta start at 0).
    model.namedParameters().forEach(([, p], i) => {
      p.variable.assign(nv.tf.tensor(values(p.variable.size, 1000 + i, 0.25), p.variable.shape, 'float32'));
    });
    const entry = torch.models!.find((m) => m.key === c.model)!;
    const stageInputs = stage ? (loaded.trainSpec?.stages.find((s) => s.name === c.model)?.inputs ?? []) : [];
    const inputShapes = inputShapesOf(c, c.model, c.training?.batch ?? 2);
    const inputs = new Map<string, HostTensor>();
    entry.inputs.forEach((name, i) => {
      const shape = inputShapes[i]!;
      const n = shape.reduce((a, b) => a * b, 1);
      inputs.set(name, { dtype: 'float32', shape, data: values(n, 7 + i, 1) });
    });
    let mask: nv.tf.Tensor4D | undefined;
    let maskHost: HostTensor | undefined;
    if (c.maskPatch) {
      const first = inputShapes[0]!;
      const [b, gh, gw] = [first[0]!, first[1]! / c.maskPatch, first[2]! / c.maskPatch];
      const bits = Array.from({ length: b * gh * gw }, (_, i) => ((i * 7 + 3) % 5 < 3 ? 1 : 0));
      maskHost = { dtype: 'float32', shape: [b, gh, gw, 1], data: Float32Array.from(bits) };
      mask = nv.tf.tensor4d(maskHost.data as Float32Array, [b, gh, gw, 1]);
    }
    const record = (ts: Map<string, nv.tf.Tensor>) =>
      Object.fromEntries(entry.inputs.map((n, i) => [stage ? (stageInputs[i] ?? n) : n, ts.get(n)!]));
    // A fresh generator per forward pass, so the gradient's pass draws what the output's drew.
    const ctx = () => ({
      training: c.training !== undefined,
      rng: nv.createRng(c.training?.seed ?? 5),
      ...(mask ? { mask } : {}),
    });
    const tfInputs = new Map([...inputs].map(([n, t]) => [n, nv.tf.tensor(t.data, [...t.shape], 'float32')]));
    const outputsOf = (out: nv.tf.Tensor | Record<string, nv.tf.Tensor>) =>
      out instanceof nv.tf.Tensor ? [out] : entry.outputs.map((n) => out[n]!);
    const outs = outputsOf(model.forward(ctx(), record(tfInputs)));
    const tfjsOutputs = new Map(entry.outputs.map((n, i) => [n, host(outs[i]!)]));
    const upstream = new Map(
      [...tfjsOutputs].map(([n, t], i) => [n, { ...t, data: values(t.data.length, 500 + i, 1) } as HostTensor]),
    );
    const tfjsGrads = new Map<string, HostTensor>();
    if (c.grads) {
      const vars = model.namedParameters().map(([p, param]) => [p, param.variable] as const);
      const { grads } = nv.tf.variableGrads(
        () => {
          const o = outputsOf(model.forward(ctx(), record(tfInputs)));
          let loss = nv.tf.scalar(0);
          o.forEach((t, i) => {
            const u = upstream.get(entry.outputs[i]!)!;
            loss = nv.tf.add(loss, nv.tf.sum(nv.tf.mul(t, nv.tf.tensor(u.data, [...u.shape], 'float32'))));
          });
          return loss as nv.tf.Scalar;
        },
        vars.map(([, v]) => v),
      );
      const layouts = moduleTorchLayouts(model);
      for (const [p, v] of vars) tfjsGrads.set(p, toTorch(host(grads[v.name]!), layouts.get(p) ?? 'same', p));
    }
    // The state and the batch in PyTorch layout.
    const state = stateToTorch(
      new Map(model.namedParameters().map(([p, param]) => [p, host(param.variable)])),
      moduleTorchLayouts(model),
    );
    const file = new Map<string, HostTensor>(state);
    for (const [n, t] of inputs) file.set(`input:${n}`, nchw(t));
    for (const [n, t] of upstream) file.set(`upstream:${n}`, nchw(t));
    if (maskHost) file.set('mask', maskHost);
    const weights = path.join(dir, 'state.safetensors');
    writeSafetensors(weights, file);
    const out = path.join(dir, 'torch-out.safetensors');
    return {
      job: {
        package: path.resolve(dir, 'torch'),
        model: c.model,
        weights,
        out,
        grads: !!c.grads,
        mask: !!maskHost,
        ...(c.training ? { dropout_seed: c.training.seed } : {}),
      },
      result: { tfjsOutputs, tfjsGrads, out },
    };
  } finally {
    model.dispose();
    nv.tf.disposeVariables();
  }
}

/** Concrete input shapes from the IR: B = `batch`, every other symbol `symbol` (default 64). */
function inputShapesOf(c: Case, key: string, batch: number): number[][] {
  const program = compileProgramSync(c.file, c.variant !== undefined ? { variant: c.variant } : {}).program!;
  const ir = torchModelEntries(program).find((e) => e.key === key)!.model;
  const graph = ir.graphs.get(ir.root.forwardKey!)!;
  const env = new Map<string, Dim>();
  for (const i of graph.inputs)
    for (const d of i.shape)
      for (const s of d.symbols()) if (!env.has(s)) env.set(s, dimConst(s === 'B' ? batch : (c.symbol ?? 64)));
  return graph.inputs.map((i) => i.shape.map((d) => dimSubst(d, env).asInt()!));
}

function expectClose(actual: HostTensor, expected: HostTensor, what: string): void {
  expect(actual.shape, what).toEqual(expected.shape);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const excess = Math.abs(actual.data[i]! - expected.data[i]!) - (1e-5 + 1e-4 * Math.abs(expected.data[i]!));
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  expect(
    at,
    `${what}: element ${at} is ${actual.data[at]} vs ${expected.data[at]} (beyond rtol 1e-4 / atol 1e-5)`,
  ).toBe(-1);
}

function expectNormClose(actual: HostTensor, expected: HostTensor, what: string): void {
  expect(actual.shape, what).toEqual(expected.shape);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.data.length; i++) {
    diff += (actual.data[i]! - expected.data[i]!) ** 2;
    norm += expected.data[i]! ** 2;
  }
  const rel = Math.sqrt(diff) / (Math.sqrt(norm) + 1e-6 / 1e-4);
  expect(rel, `${what}: ||tfjs - torch|| / ||torch|| = ${Math.sqrt(diff) / Math.sqrt(norm)}`).toBeLessThanOrEqual(1e-4);
}

describe('tfjs engine vs torch engine: same weights, same batch', () => {
  beforeAll(async () => {
    const jobs: Record<string, unknown>[] = [];
    for (const [i, c] of CASES.entries()) {
      const { job, result } = await prepare(c, i);
      jobs.push(job);
      prepared.set(c.name, result);
    }
    const jobsFile = path.join(work, 'jobs.json');
    fs.writeFileSync(jobsFile, JSON.stringify(jobs));
    const run = spawnSync(PYTHON, [RUNNER, jobsFile], { encoding: 'utf8', timeout: 300_000 });
    runnerLog = `${run.error ? `${run.error.message}\n` : ''}${run.stdout ?? ''}${run.stderr ?? ''}`;
    if (run.status !== 0)
      throw new Error(
        `${PYTHON} ${RUNNER} failed (status ${run.status}); the torch tests need Debian's python3-torch:\n${runnerLog}`,
      );
  }, 600_000);

  afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(`${c.name}${c.grads ? ' (outputs and every gradient)' : ' (outputs)'}`, () => {
      const p = prepared.get(c.name)!;
      const torch = readSafetensors(p.out).tensors;
      for (const [n, t] of p.tfjsOutputs) {
        const got = torch.get(`output:${n}`);
        expect(got, `torch returned no output ${n}`).toBeDefined();
        // Rank-4 outputs leave the torch model in NCHW.
        expectClose(got!.tensor, nchw(t), `output ${n}`);
      }
      if (c.grads) {
        expect(p.tfjsGrads.size).toBeGreaterThan(0);
        for (const [param, g] of p.tfjsGrads) {
          const got = torch.get(`grad:${param}`);
          expect(got, `torch has no gradient for ${param}`).toBeDefined();
          expectNormClose(g, got!.tensor, `gradient of ${param}`);
        }
      }
    });
  }
});
