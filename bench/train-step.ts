/**
 * Training-step benchmark: one step (forward, backward, Lion update) of ConvNeXt-V2-atto
 * (depths 2,2,6,2; dims 40,80,160,320; 1000-class head; 3,708,400 parameters) at batch 16, on
 * 64x64 and 224x224 inputs, on the wasm backend (with nvcc's kernels) and the stock cpu backend,
 * next to the same step in PyTorch (bench/train_step_torch.py) when python3 + torch exist.
 * In: flags (below). Out: a table on stdout with ms/step, images/s, peak RSS and peak
 * tf.memory().numBytes. Each configuration runs in its own child process so that peak RSS and
 * backend state are per configuration.
 *
 * The model is written from plain tf ops here (the layer library had not landed when this was
 * written); it follows the official definitions (NHWC, LN eps 1e-6, exact-erf GELU, GRN).
 *
 *   npx tsx bench/train-step.ts                      # full table (cpu at 224: 1 step, 0 warm-up)
 *   npx tsx bench/train-step.ts --quick              # 64x64 only, skips cpu at 224
 *   npx tsx bench/train-step.ts --profile wasm 64    # per-kernel time of one wasm step
 *   flags: --steps N --warmup N --batch N --sizes 64,224 --backends wasm,cpu --no-torch
 *          --conv conv2d|patchify (stem/downsample formulation)  --ops fast|plain (LN/GELU/GRN gradients)
 *          --micro N (split the batch into N accumulated micro-batches; default: 1, or enough on
 *          wasm at large inputs to stay inside its 4 GiB heap)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendRequest } from '../runtime/backend.js';
import { Lion } from '../runtime/optim/lion.js';
import type { Parameter } from '../runtime/module.js';
import { geluExact, grn, layerNormLastAxis, patchifyConv2d } from '../runtime/kernels/fast-ops.js';

const DEPTHS = [2, 2, 6, 2];
const DIMS = [40, 80, 160, 320];
const NUM_CLASSES = 1000;
const EXPECTED_PARAMS = 3_708_400;

type ConvMode = 'conv2d' | 'patchify';
/**
 * 'fast': LayerNorm, GELU and GRN with hand-written gradients (runtime/kernels/fast-ops);
 * 'plain': autodiff of tf ops.
 */
type OpsMode = 'fast' | 'plain';

interface ChildResult {
  backend: string;
  size: number;
  batch: number;
  warmup: number;
  steps: number;
  msPerStep: number[];
  /** Process CPU time (user + system) per step: robust to other load on a shared machine. */
  cpuMsPerStep?: number[];
  peakRss: number;
  peakTfBytes: number;
  loss: number;
  params: number;
  error?: string;
}

// ---------------------------------------------------------------- model (plain tf ops, NHWC)

class Atto {
  readonly params: Array<[string, Parameter]> = [];
  private seed = 1;

  constructor(
    private readonly conv: ConvMode,
    private readonly ops: OpsMode,
  ) {
    this.add('downsample_layers.0.0.weight', [4, 4, 3, DIMS[0]!], 'normal');
    this.add('downsample_layers.0.0.bias', [DIMS[0]!], 'zeros');
    this.add('downsample_layers.0.1.weight', [DIMS[0]!], 'ones');
    this.add('downsample_layers.0.1.bias', [DIMS[0]!], 'zeros');
    for (let i = 1; i < 4; i++) {
      this.add(`downsample_layers.${i}.0.weight`, [DIMS[i - 1]!], 'ones');
      this.add(`downsample_layers.${i}.0.bias`, [DIMS[i - 1]!], 'zeros');
      this.add(`downsample_layers.${i}.1.weight`, [2, 2, DIMS[i - 1]!, DIMS[i]!], 'normal');
      this.add(`downsample_layers.${i}.1.bias`, [DIMS[i]!], 'zeros');
    }
    for (let i = 0; i < 4; i++) {
      const c = DIMS[i]!;
      for (let j = 0; j < DEPTHS[i]!; j++) {
        const p = `stages.${i}.${j}`;
        this.add(`${p}.dwconv.weight`, [7, 7, c, 1], 'normal');
        this.add(`${p}.dwconv.bias`, [c], 'zeros');
        this.add(`${p}.norm.weight`, [c], 'ones');
        this.add(`${p}.norm.bias`, [c], 'zeros');
        this.add(`${p}.pwconv1.weight`, [c, 4 * c], 'normal');
        this.add(`${p}.pwconv1.bias`, [4 * c], 'zeros');
        // GRN gamma starts at 0 officially; a small value keeps its gradient path honest here.
        this.add(`${p}.grn.gamma`, [4 * c], 'normal');
        this.add(`${p}.grn.beta`, [4 * c], 'zeros');
        this.add(`${p}.pwconv2.weight`, [4 * c, c], 'normal');
        this.add(`${p}.pwconv2.bias`, [c], 'zeros');
      }
    }
    this.add('norm.weight', [DIMS[3]!], 'ones');
    this.add('norm.bias', [DIMS[3]!], 'zeros');
    this.add('head.weight', [DIMS[3]!, NUM_CLASSES], 'normal');
    this.add('head.bias', [NUM_CLASSES], 'zeros');
  }

  private add(name: string, shape: number[], init: 'normal' | 'zeros' | 'ones'): void {
    const value =
      init === 'normal'
        ? tf.randomNormal(shape, 0, 0.02, 'float32', this.seed++)
        : init === 'ones'
          ? tf.ones(shape)
          : tf.zeros(shape);
    const variable = tf.variable(value, true, name);
    value.dispose();
    this.params.push([name, { name, variable, noDecay: shape.length <= 1, trainable: true }]);
  }

  p(name: string): tf.Variable {
    const found = this.params.find(([n]) => n === name);
    if (!found) throw new Error(`no parameter ${name}`);
    return found[1].variable;
  }

  count(): number {
    return this.params.reduce((n, [, p]) => n + p.variable.size, 0);
  }

  private layerNorm(x: tf.Tensor, prefix: string): tf.Tensor {
    if (this.ops === 'fast') return layerNormLastAxis(x, this.p(`${prefix}.weight`), this.p(`${prefix}.bias`), 1e-6);
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(
      tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-6))), this.p(`${prefix}.weight`)),
      this.p(`${prefix}.bias`),
    );
  }

  private strideConv(x: tf.Tensor4D, prefix: string, k: number): tf.Tensor4D {
    const w = this.p(`${prefix}.weight`) as tf.Tensor4D;
    const b = this.p(`${prefix}.bias`);
    if (this.conv === 'patchify') return patchifyConv2d(x, w, b);
    return tf.add(tf.conv2d(x, w, k, 'valid'), b) as tf.Tensor4D;
  }

  private linear(x2d: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return tf.add(tf.matMul(x2d, this.p(`${prefix}.weight`) as tf.Tensor2D), this.p(`${prefix}.bias`)) as tf.Tensor2D;
  }

  private block(x: tf.Tensor4D, p: string): tf.Tensor4D {
    const [n, h, w, c] = x.shape;
    let y: tf.Tensor = tf.add(
      tf.depthwiseConv2d(x, this.p(`${p}.dwconv.weight`) as tf.Tensor4D, 1, 'same'),
      this.p(`${p}.dwconv.bias`),
    );
    y = this.layerNorm(y, `${p}.norm`);
    let z: tf.Tensor = this.linear(tf.reshape(y, [n * h * w, c]) as tf.Tensor2D, `${p}.pwconv1`);
    z = this.ops === 'fast' ? geluExact(z) : tf.mul(tf.mul(z, 0.5), tf.add(tf.erf(tf.mul(z, Math.SQRT1_2)), 1));
    const z4 = tf.reshape(z, [n, h, w, 4 * c]);
    let g: tf.Tensor;
    if (this.ops === 'fast') g = grn(z4 as tf.Tensor4D, this.p(`${p}.grn.gamma`), this.p(`${p}.grn.beta`));
    else {
      const gx = tf.sqrt(tf.add(tf.sum(tf.square(z4), [1, 2], true), 1e-12));
      const nx = tf.div(gx, tf.add(tf.mean(gx, -1, true), 1e-6));
      g = tf.add(tf.add(tf.mul(this.p(`${p}.grn.gamma`), tf.mul(z4, nx)), this.p(`${p}.grn.beta`)), z4);
    }
    const out = this.linear(tf.reshape(g, [n * h * w, 4 * c]) as tf.Tensor2D, `${p}.pwconv2`);
    return tf.add(x, tf.reshape(out, [n, h, w, c])) as tf.Tensor4D;
  }

  forward(images: tf.Tensor4D): tf.Tensor2D {
    let x = this.strideConv(images, 'downsample_layers.0.0', 4);
    x = this.layerNorm(x, 'downsample_layers.0.1') as tf.Tensor4D;
    for (let i = 0; i < 4; i++) {
      if (i > 0) {
        x = this.layerNorm(x, `downsample_layers.${i}.0`) as tf.Tensor4D;
        x = this.strideConv(x, `downsample_layers.${i}.1`, 2);
      }
      for (let j = 0; j < DEPTHS[i]!; j++) x = this.block(x, `stages.${i}.${j}`);
    }
    const pooled = this.layerNorm(tf.mean(x, [1, 2]), 'norm') as tf.Tensor2D;
    return this.linear(pooled, 'head');
  }
}

// ---------------------------------------------------------------- child: one configuration

async function runChild(
  backend: BackendRequest,
  size: number,
  batch: number,
  warmup: number,
  steps: number,
  conv: ConvMode,
  ops: OpsMode,
  micro: number,
  profile: boolean,
): Promise<void> {
  await initBackend({ backend, quiet: true });
  if (batch % micro !== 0) throw new Error(`--micro ${micro} must divide the batch ${batch}`);
  const model = new Atto(conv, ops);
  const lion = new Lion({ weightDecay: 0.05 });
  const images = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i * 37) % NUM_CLASSES),
      'int32',
    ),
    NUM_CLASSES,
  );
  const vars = model.params.map(([, p]) => p.variable);
  let peakTfBytes = tf.memory().numBytes;
  let peakRss = process.memoryUsage().rss;
  const sample = () => {
    peakTfBytes = Math.max(peakTfBytes, tf.memory().numBytes);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  let lastLoss = NaN;
  // With micro > 1 the batch is processed in `micro` equal slices whose gradients are averaged
  // (gradient accumulation), then one Lion update: the same step, in less memory.
  const chunk = batch / micro;
  const step = () => {
    let sum: Record<string, tf.Tensor> | undefined;
    let lossSum = 0;
    for (let m = 0; m < micro; m++) {
      const { value, grads } = tf.tidy(() => {
        const x = micro === 1 ? images : tf.slice(images, [m * chunk, 0, 0, 0], [chunk, size, size, 3]);
        const y = micro === 1 ? labels : tf.slice(labels, [m * chunk, 0], [chunk, NUM_CLASSES]);
        return tf.variableGrads(() => {
          const loss = tf.losses.softmaxCrossEntropy(y, model.forward(x)) as tf.Scalar;
          sample(); // all activations saved for backward are alive here
          return loss;
        }, vars);
      });
      sample();
      lossSum += value.dataSync()[0]!;
      value.dispose();
      if (!sum) sum = grads;
      else {
        const prev: Record<string, tf.Tensor> = sum;
        sum = Object.fromEntries(Object.entries(prev).map(([k, g]) => [k, tf.add(g, grads[k]!)]));
        for (const t of [...Object.values(prev), ...Object.values(grads)]) t.dispose();
      }
    }
    tf.tidy(() => {
      const avg = new Map(Object.entries(sum!).map(([k, g]) => [k, micro === 1 ? g : tf.div(g, micro)]));
      lion.step(avg, model.params, 1e-4);
    });
    for (const g of Object.values(sum!)) g.dispose();
    lastLoss = lossSum / micro;
    sample();
  };
  if (profile) {
    step();
    const info = await tf.profile(() => step());
    const byKernel = new Map<string, { ms: number; calls: number }>();
    const byShape = process.argv.includes('--by-shape');
    for (const k of info.kernels) {
      const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const key = byShape ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
      const e = byKernel.get(key) ?? { ms: 0, calls: 0 };
      e.ms += t;
      e.calls += 1;
      byKernel.set(key, e);
    }
    const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
    console.log(
      `profile: ${backend} ${size}x${size} batch ${batch}: ${info.kernels.length} kernel calls, ` +
        `${total.toFixed(0)} ms kernel time`,
    );
    for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
      console.log(
        `${name.slice(0, 90).padEnd(40)} ${e.ms.toFixed(1).padStart(9)} ms ` +
          `${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${String(e.calls).padStart(5)} calls`,
      );
    }
    return;
  }
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    step();
    const dt = performance.now() - t0;
    const dc = process.cpuUsage(c0);
    if (i >= warmup) {
      times.push(dt);
      cpuTimes.push((dc.user + dc.system) / 1000);
    }
  }
  const result: ChildResult = {
    backend: micro > 1 ? `${tf.getBackend()}, ${micro}x${chunk} micro-batches` : tf.getBackend(),
    size,
    batch,
    warmup,
    steps,
    msPerStep: times,
    cpuMsPerStep: cpuTimes,
    peakRss,
    peakTfBytes,
    loss: lastLoss,
    params: model.count(),
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

// ---------------------------------------------------------------- parent: table

/**
 * Smallest divisor of the batch that keeps each micro-batch within what fits the 4 GiB wasm heap:
 * measured peaks at 224x224 were 1.34 GB of tensors for 8 images with the fast ops (--ops fast)
 * and 1.04 GB for 4 images without them.
 */
function microBatchesFor(size: number, batch: number, ops: OpsMode): number {
  const side = ops === 'fast' ? 176 : 128;
  const needed = Math.ceil((size * size * batch) / (16 * side * side));
  for (let m = Math.max(1, needed); m <= batch; m++) if (batch % m === 0) return m;
  return batch;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

function spawnTs(args: string[]): ChildResult | { error: string } {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (!line)
    return {
      error: ((r.stderr ?? '') + (r.stdout ?? '')).trim().split('\n').slice(-3).join(' | ') || `exit ${r.status}`,
    };
  return JSON.parse(line.slice(7)) as ChildResult;
}

function findTorchPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

function runTorch(
  py: string,
  size: number,
  batch: number,
  warmup: number,
  steps: number,
): ChildResult | { error: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'train_step_torch.py');
  const r = spawnSync(
    py,
    [script, '--size', String(size), '--batch', String(batch), '--warmup', String(warmup), '--steps', String(steps)],
    { encoding: 'utf8' },
  );
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) return { error: ((r.stderr ?? '') + (r.stdout ?? '')).trim().split('\n').slice(-2).join(' | ') };
  return JSON.parse(line.slice(7)) as ChildResult;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const conv = (flag(args, '--conv') ?? 'patchify') as ConvMode;
  const ops = (flag(args, '--ops') ?? 'fast') as OpsMode;
  const microFlag = flag(args, '--micro');
  if (args[0] === '--child') {
    const [, backend, size, batch, warmup, steps] = args;
    await runChild(
      backend as BackendRequest,
      Number(size),
      Number(batch),
      Number(warmup),
      Number(steps),
      conv,
      ops,
      Number(microFlag ?? 1),
      args.includes('--profile'),
    );
    return;
  }
  const profileAt = args.indexOf('--profile');
  const batch = Number(flag(args, '--batch') ?? 16);
  if (profileAt >= 0) {
    const backend = args[profileAt + 1] ?? 'wasm';
    const size = Number(args[profileAt + 2] ?? 64);
    await runChild(backend as BackendRequest, size, batch, 0, 1, conv, ops, Number(microFlag ?? 1), true);
    return;
  }
  const quick = args.includes('--quick');
  const sizes = (flag(args, '--sizes') ?? (quick ? '64' : '64,224')).split(',').map(Number);
  const backends = (flag(args, '--backends') ?? 'wasm,cpu').split(',');
  const steps = Number(flag(args, '--steps') ?? 5);
  const warmup = Number(flag(args, '--warmup') ?? 2);
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(
    `ConvNeXt-V2-atto (depths 2,2,6,2; dims 40,80,160,320; ${NUM_CLASSES}-class head), batch ${batch}, Lion; ` +
      `stem/downsample: ${conv}; LN/GELU/GRN: ${ops}`,
  );
  console.log(
    `machine: ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? '?'}), load average at start ${load}, node ` +
      `${process.version}`,
  );
  const rows: string[][] = [
    [
      'impl',
      'input',
      'warm-up',
      'timed',
      'ms/step (median)',
      'CPU ms/step',
      'images/s',
      'peak RSS',
      'peak tf bytes',
      'loss',
    ],
  ];
  const results = new Map<string, number>();
  const cpuResults = new Map<string, number>();
  const addRow = (impl: string, size: number, r: ChildResult | { error: string }) => {
    if ('error' in r && !('msPerStep' in r)) {
      rows.push([impl, `${size}`, '-', '-', `FAILED: ${r.error}`, '', '', '', '', '']);
      return;
    }
    const res = r as ChildResult;
    const ms = median(res.msPerStep);
    results.set(`${impl}@${size}`, ms);
    if (res.params !== EXPECTED_PARAMS)
      rows.push([impl, `${size}`, '', '', `WARNING: ${res.params} parameters, expected ${EXPECTED_PARAMS}`]);
    const cpuMs = res.cpuMsPerStep ? median(res.cpuMsPerStep) : NaN;
    if (Number.isFinite(cpuMs)) cpuResults.set(`${impl}@${size}`, cpuMs);
    rows.push([
      impl,
      `${size}x${size}`,
      String(res.warmup),
      String(res.steps),
      ms.toFixed(0),
      Number.isFinite(cpuMs) ? cpuMs.toFixed(0) : 'n/a',
      ((1000 * res.batch) / ms).toFixed(2),
      mb(res.peakRss),
      res.peakTfBytes > 0 ? mb(res.peakTfBytes) : 'n/a',
      res.loss.toFixed(4),
    ]);
  };
  const py = args.includes('--no-torch') ? undefined : findTorchPython();
  for (const size of sizes) {
    for (const backend of backends) {
      const slowCpu = backend === 'cpu' && size > 64;
      if (slowCpu && quick) continue;
      const w = slowCpu ? 0 : backend === 'cpu' ? Math.min(warmup, 1) : warmup;
      const s = slowCpu ? 1 : backend === 'cpu' ? Math.min(steps, 2) : steps;
      // wasm's heap is capped at 4 GiB: large inputs run as accumulated micro-batches.
      const micro = microFlag ?? (backend === 'wasm' ? String(microBatchesFor(size, batch, ops)) : '1');
      addRow(
        `tfjs ${backend}`,
        size,
        spawnTs([
          backend,
          String(size),
          String(batch),
          String(w),
          String(s),
          '--conv',
          conv,
          '--ops',
          ops,
          '--micro',
          micro,
        ]),
      );
    }
    if (py)
      addRow(`PyTorch ${py === 'python3' ? '' : `(${py}) `}`.trim(), size, runTorch(py, size, batch, warmup, steps));
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  '));
  if (!py && !args.includes('--no-torch')) console.log('PyTorch: not installed');
  for (const size of sizes) {
    const wasm = results.get(`tfjs wasm@${size}`);
    const cpu = results.get(`tfjs cpu@${size}`);
    const torch = [...results].find(([k]) => k.startsWith('PyTorch') && k.endsWith(`@${size}`))?.[1];
    const parts: string[] = [];
    if (wasm && cpu) parts.push(`wasm is ${(cpu / wasm).toFixed(1)}x faster than cpu (target >= 100x)`);
    if (wasm && torch) parts.push(`wasm throughput is ${(torch / wasm).toFixed(2)}x PyTorch's (target >= 0.5x)`);
    const wasmCpu = cpuResults.get(`tfjs wasm@${size}`);
    const cpuCpu = cpuResults.get(`tfjs cpu@${size}`);
    const torchCpu = [...cpuResults].find(([k]) => k.startsWith('PyTorch') && k.endsWith(`@${size}`))?.[1];
    if (wasmCpu && cpuCpu) parts.push(`by CPU time: wasm ${(cpuCpu / wasmCpu).toFixed(1)}x faster than cpu`);
    if (wasmCpu && torchCpu) parts.push(`by CPU time: wasm ${(torchCpu / wasmCpu).toFixed(2)}x PyTorch`);
    if (parts.length) console.log(`${size}x${size}: ${parts.join('; ')}`);
  }
  console.log(
    `load average at end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

await main();
