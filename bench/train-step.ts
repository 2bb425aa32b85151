/**
 * Training-step benchmark of the product path: ConvNeXt-V2-atto (depths 2,2,6,2; dims
 * 40,80,160,320; 1000-class head; 3,708,400 parameters) built from std/convnextv2.nvc by the
 * builder `nvcc build` and `nvcc train` use (loadBuiltProgram, model `convnextv2_atto`), trained
 * through runtime/train/step.ts's trainingStep (the function `nvcc train` calls per batch:
 * random throw and mask drawing, gradients over micro-batches, the stage's optimizer built by
 * the runner's buildOptimizer; Lion lr 1e-4, wd 0.05) with the batch already in memory; batch 16
 * at 64x64 and 224x224, on the wasm backend (and, optionally, the stock cpu backend), next to
 * the same model in PyTorch (bench/train_step_torch.py, every core) when /usr/bin/python3 has
 * torch.
 * In: flags (below). Out: a table on stdout with wall ms/step, CPU ms/step (user + system of
 * every thread of the process), images/s, peak RSS, peak tensor bytes (tfjs: tf.profile's
 * peakBytes over one extra step, which counts a buffer once per tensor on it; PyTorch: weights,
 * optimizer state and the storages autograd saved for backward; with --threads > 1 the main
 * thread's shard only, while peak RSS covers every thread), tfjs's peak of distinct live wasm
 * buffers over the same step (what the ratio to PyTorch uses), the main thread's wasm heap at
 * the end (its peak: it never shrinks) and the 1-minute load average when each row ran. Each
 * configuration
 * runs in its own child process so that peak RSS and backend state are per configuration.
 *
 *   npx tsx bench/train-step.ts                      # wasm and PyTorch at 64 and 224
 *   npx tsx bench/train-step.ts --quick              # 64x64 only
 *   npx tsx bench/train-step.ts --profile wasm 64    # per-kernel time of one wasm step
 *   flags: --steps N --warmup N --batch N --sizes 64,224 --backends wasm,cpu --no-torch
 *          --threads N (tfjs: data-parallel threads, runtime/train/parallel.ts; PyTorch: torch
 *          threads; default NVCC_THREADS, else every core)
 *          --micro N (micro-batch size, the stage's `micro_batch`; default: the whole batch up to
 *          16 images at 224x224 on wasm, to stay well inside its 4 GiB heap) --by-shape (with --profile)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { loadableCopyOf, loadBuiltProgram } from '../compiler/builder/build.js';
import { initBackend, type BackendRequest } from '../runtime/backend.js';
import { setInitRng } from '../runtime/module.js';
import { createRng } from '../runtime/rng.js';
import { buildOptimizer } from '../runtime/train/runner.js';
import type { StageSpec } from '../runtime/train/spec.js';
import { ParallelGradients, resolveThreads } from '../runtime/train/parallel.js';
import { trainingStep, type StepContext } from '../runtime/train/step.js';

const NUM_CLASSES = 1000;
const EXPECTED_PARAMS = 3_708_400;

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
  /** Bytes of the main thread's wasm heap at the end (it only grows: its peak), 0 off wasm. */
  wasmHeap?: number;
  /** Peak bytes of distinct live wasm buffers over the profiled step (shared buffers once). */
  peakBufferBytes?: number;
  loss: number;
  params: number;
  /** 1-minute load average when the configuration finished. */
  load?: number;
  error?: string;
}

// ---------------------------------------------------------------- child: one configuration

const ENTRY = 'std/convnextv2.nvc';
const MODEL = 'convnextv2_atto';
// Under build/ (ignored by git and tsc): the generated model.ts imports nvcc/runtime.
const BUILD_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'build', 'bench-train-step');

/** A supervised stage as the compiler lowers `optimizer = lion(lr = 1e-4, weight_decay = 0.05)`. */
function benchStage(batch: number, microBatch: number | undefined): StageSpec {
  return {
    name: 'bench',
    kind: 'supervised',
    model: { factory: MODEL, className: 'ConvNeXtV2', args: {} },
    inputs: ['x'],
    loss: { kind: 'cross_entropy', labelSmoothing: 0 },
    optimizer: {
      kind: 'lion',
      lr: 1e-4,
      betas: [0.9, 0.99],
      weightDecay: 0.05,
      noDecay: [{ kind: 'flagged' }, { kind: 'rank1' }],
    },
    schedule: [],
    epochs: 1,
    batchSize: batch,
    ...(microBatch !== undefined && microBatch < batch ? { microBatch } : {}),
    augment: {},
    metrics: [],
    handover: [],
    freeze: [],
  };
}

async function runChild(
  backend: BackendRequest,
  size: number,
  batch: number,
  warmup: number,
  steps: number,
  micro: number | undefined,
  threads: number,
  profile: boolean,
): Promise<void> {
  await initBackend({ backend, quiet: true });
  const program = await loadBuiltProgram(ENTRY, { outDir: BUILD_DIR });
  const factory = program.modelFactories[MODEL];
  if (!factory) throw new Error(`${ENTRY} has no model ${MODEL}`);
  setInitRng(createRng(1).fork('init'));
  const model = factory.create();
  const stage = benchStage(batch, micro);
  const optimizer = buildOptimizer(stage);
  const params = model.namedParameters();
  const trainable = params.filter(([, p]) => p.trainable);
  // The workers import the build against this process's runtime, as loadBuiltProgram does.
  const workerCopy = threads > 1 ? loadableCopyOf(program.outDir) : undefined;
  const parallel = workerCopy
    ? await ParallelGradients.start({
        threads,
        stage,
        model,
        source: { module: path.join(workerCopy, 'train.js'), table: 'modelFactories' },
      })
    : undefined;
  const ctx: StepContext = {
    stage,
    model,
    optimizer,
    params,
    varList: trainable.map(([, p]) => p.variable),
    varToPath: new Map(params.map(([name, p]) => [p.variable.name, name] as const)),
    ...(parallel ? { gradients: parallel } : {}),
  };
  const batchData = {
    inputs: { x: tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 7) },
    labels: tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i * 37) % NUM_CLASSES),
      'int32',
    ),
    patientIds: [],
  };
  const root = createRng(2);
  const streams = { modality_dropout: root.fork('throw'), mask: root.fork('mask'), dropout: root.fork('dropout') };
  let peakRss = process.memoryUsage().rss;
  let lastLoss = NaN;
  const step = async () => {
    lastLoss = (await trainingStep(ctx, batchData, streams, stage.optimizer.lr)).loss;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  if (profile) {
    await step();
    const info = await tf.profile(step);
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
        `${total.toFixed(0)} ms kernel time, load average ${os.loadavg()[0]!.toFixed(2)}`,
    );
    for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
      console.log(
        `${name.slice(0, 90).padEnd(40)} ${e.ms.toFixed(1).padStart(9)} ms ` +
          `${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${String(e.calls).padStart(5)} calls`,
      );
    }
    await parallel?.close();
    if (workerCopy) fs.rmSync(workerCopy, { recursive: true, force: true });
    return;
  }
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await step();
    const dt = performance.now() - t0;
    const dc = process.cpuUsage(c0);
    if (i >= warmup) {
      times.push(dt);
      cpuTimes.push((dc.user + dc.system) / 1000);
    }
  }
  // One more step under tf.profile: the peak of live tensor bytes (weights, optimizer state,
  // activations) is a property of the step, not of the timing, so it is measured apart.
  const buffers = trackWasmBuffers();
  const peakTfBytes = (await tf.profile(step)).peakBytes;
  await parallel?.close();
  if (workerCopy) fs.rmSync(workerCopy, { recursive: true, force: true });
  const chunk = stage.microBatch ?? batch;
  const microLabel = chunk < batch ? `, micro_batch ${chunk}` : '';
  const result: ChildResult = {
    backend: `${tf.getBackend()}, ${threads} thread${threads > 1 ? 's' : ''}${microLabel}`,
    size,
    batch,
    warmup,
    steps,
    msPerStep: times,
    cpuMsPerStep: cpuTimes,
    peakRss,
    peakTfBytes,
    wasmHeap: wasmHeapBytes(),
    ...(buffers ? { peakBufferBytes: buffers.peak() } : {}),
    loss: lastLoss,
    params: model.parameterCount(),
    load: os.loadavg()[0]!,
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/**
 * The size of this thread's wasm memory: tfjs's heap never shrinks, so this is its peak, the
 * memory the tensors really took (tf.memory's bytes count a buffer once per tensor on it).
 */
function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength ?? 0;
}

/**
 * Counts the bytes of the wasm backend's live buffers from now on (its allocations and frees),
 * so that a buffer shared by several tensors (a reshape, a tensor saved for backward) counts
 * once, as PyTorch's storages do. Undefined off wasm.
 */
function trackWasmBuffers(): { peak(): number } | undefined {
  type Info = { shape: number[]; dtype: string };
  const backend = tf.backend() as unknown as {
    dataIdMap?: { get(id: object): Info | undefined };
    move?: (id: object, values: unknown, shape: number[], dtype: string, refCount: number) => void;
    makeOutput?: (shape: number[], dtype: string, offset?: number, values?: unknown) => unknown;
    disposeData?: (id: object, force?: boolean) => boolean;
  };
  const { dataIdMap, move, makeOutput, disposeData } = backend;
  if (tf.getBackend() !== 'wasm' || !dataIdMap || !move || !makeOutput || !disposeData) return undefined;
  const bytes = (shape: number[], dtype: string) =>
    dtype === 'string' ? 0 : shape.reduce((a, b) => a * b, 1) * (dtype === 'bool' ? 1 : dtype === 'complex64' ? 8 : 4);
  let live = 0;
  let peak = 0;
  const add = (n: number) => {
    live += n;
    peak = Math.max(peak, live);
  };
  // What is alive now (weights, optimizer state, the batch; no buffer of theirs is shared)
  // counts from the start.
  add(tf.memory().numBytes);
  backend.move = (id, values, shape, dtype, refCount) => {
    move.call(backend, id, values, shape, dtype, refCount);
    add(bytes(shape, dtype));
  };
  backend.makeOutput = (shape, dtype, offset, values) => {
    // Without an offset makeOutput allocates through move (counted there).
    if (offset != null) add(bytes(shape, dtype));
    return makeOutput.call(backend, shape, dtype, offset, values);
  };
  backend.disposeData = (id, force) => {
    const info = dataIdMap.get(id);
    const freed = disposeData.call(backend, id, force);
    if (freed && info) live -= bytes(info.shape, info.dtype);
    return freed;
  };
  return { peak: () => peak };
}

// ---------------------------------------------------------------- parent: table

/**
 * The micro-batch that keeps one wasm pass well inside its 4 GiB heap: 16 images at 224x224
 * (1.55 GB of heap for one thread, docs/runtime-performance.md), the whole batch below.
 */
function defaultMicroBatch(backend: string, size: number, batch: number): number | undefined {
  if (backend !== 'wasm') return undefined;
  const fits = Math.max(1, Math.floor((16 * 224 * 224) / (size * size)));
  return fits < batch ? fits : undefined;
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
  threads: number,
): ChildResult | { error: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'train_step_torch.py');
  const r = spawnSync(
    py,
    [
      script,
      ...['--size', String(size), '--batch', String(batch), '--warmup', String(warmup), '--steps', String(steps)],
      ...['--threads', String(threads)],
    ],
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
  const microFlag = flag(args, '--micro');
  if (args[0] === '--child') {
    const [, backend, size, batch, warmup, steps] = args;
    await runChild(
      backend as BackendRequest,
      Number(size),
      Number(batch),
      Number(warmup),
      Number(steps),
      microFlag ? Number(microFlag) : undefined,
      resolveThreads(flag(args, '--threads')),
      false,
    );
    return;
  }
  const profileAt = args.indexOf('--profile');
  const batch = Number(flag(args, '--batch') ?? 16);
  if (profileAt >= 0) {
    const backend = args[profileAt + 1] ?? 'wasm';
    const size = Number(args[profileAt + 2] ?? 64);
    const micro = microFlag ? Number(microFlag) : defaultMicroBatch(backend, size, batch);
    await runChild(backend as BackendRequest, size, batch, 0, 1, micro, resolveThreads(flag(args, '--threads')), true);
    return;
  }
  const quick = args.includes('--quick');
  const sizes = (flag(args, '--sizes') ?? (quick ? '64' : '64,224')).split(',').map(Number);
  const backends = (flag(args, '--backends') ?? 'wasm').split(',');
  const steps = Number(flag(args, '--steps') ?? 5);
  const warmup = Number(flag(args, '--warmup') ?? 2);
  // `--threads 1,2`: one tfjs row per count; PyTorch runs with the largest.
  const threadCounts = (flag(args, '--threads') ?? String(resolveThreads())).split(',').map((t) => resolveThreads(t));
  const threads = Math.max(...threadCounts);
  const loadNow = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `${MODEL} from ${ENTRY} (nvcc build; depths 2,2,6,2; dims 40,80,160,320; ${NUM_CLASSES}-class head), ` +
      `batch ${batch}, trained by runtime/train/step.ts (Lion lr 1e-4, wd 0.05)`,
  );
  console.log(
    `machine: ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? '?'}), load average at start ${loadNow()}, node ` +
      `${process.version}`,
  );
  const rows: string[][] = [
    [
      'impl',
      'input',
      'warm-up',
      'timed',
      'wall ms/step (median)',
      'CPU ms/step',
      'images/s',
      'peak RSS',
      'peak tensor bytes',
      'peak buffers',
      'wasm heap',
      'load avg',
      'loss',
    ],
  ];
  const results = new Map<string, number>();
  const cpuResults = new Map<string, number>();
  const peaks = new Map<string, number>();
  const rssPeaks = new Map<string, number>();
  const addRow = (impl: string, size: number, r: ChildResult | { error: string }) => {
    if ('error' in r && !('msPerStep' in r)) {
      rows.push([impl, `${size}`, '-', '-', `FAILED: ${r.error}`]);
      return;
    }
    const res = r as ChildResult;
    const ms = median(res.msPerStep);
    results.set(`${impl}@${size}`, ms);
    // Distinct buffers where measured (PyTorch's figure counts each storage once too).
    rssPeaks.set(`${impl}@${size}`, res.peakRss);
    const peak = res.peakBufferBytes ?? res.peakTfBytes;
    if (peak > 0) peaks.set(`${impl}@${size}`, peak);
    if (res.params !== EXPECTED_PARAMS)
      rows.push([impl, `${size}`, '', '', `WARNING: ${res.params} parameters, expected ${EXPECTED_PARAMS}`]);
    const cpuMs = res.cpuMsPerStep ? median(res.cpuMsPerStep) : NaN;
    if (Number.isFinite(cpuMs)) cpuResults.set(`${impl}@${size}`, cpuMs);
    rows.push([
      `${impl} (${res.backend})`,
      `${size}x${size}`,
      String(res.warmup),
      String(res.steps),
      ms.toFixed(0),
      Number.isFinite(cpuMs) ? cpuMs.toFixed(0) : 'n/a',
      ((1000 * res.batch) / ms).toFixed(2),
      mb(res.peakRss),
      res.peakTfBytes > 0 ? mb(res.peakTfBytes) : 'n/a',
      res.peakBufferBytes ? mb(res.peakBufferBytes) : 'n/a',
      res.wasmHeap ? mb(res.wasmHeap) : 'n/a',
      (res.load ?? os.loadavg()[0]!).toFixed(2),
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
      const micro = microFlag ? Number(microFlag) : defaultMicroBatch(backend, size, batch);
      for (const t of threadCounts) {
        const childArgs = [backend, String(size), String(batch), String(w), String(s), '--threads', String(t)];
        const microArgs = micro !== undefined ? ['--micro', String(micro)] : [];
        addRow(`tfjs ${backend} ${t}t`, size, spawnTs([...childArgs, ...microArgs]));
      }
    }
    if (py) {
      const r = runTorch(py, size, batch, warmup, steps, threads);
      if ('msPerStep' in r) r.load = os.loadavg()[0]!;
      addRow('PyTorch', size, r);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  '));
  if (!py && !args.includes('--no-torch')) console.log('PyTorch: not installed (needs python3 with torch)');
  for (const size of sizes) {
    const at = (m: Map<string, number>, key: string) => m.get(`${key}@${size}`);
    const torchKey = 'PyTorch';
    for (const key of [...results.keys()].filter((k) => k.startsWith('tfjs') && k.endsWith(`@${size}`))) {
      const impl = key.slice(0, key.lastIndexOf('@'));
      const parts: string[] = [];
      const [ours, torch] = [at(results, impl), at(results, torchKey)];
      if (ours && torch)
        parts.push(`throughput ${(torch / ours).toFixed(2)}x PyTorch's by wall clock (target >= 0.5x)`);
      const [oursCpu, torchCpu] = [at(cpuResults, impl), at(cpuResults, torchKey)];
      if (oursCpu && torchCpu) parts.push(`${(torchCpu / oursCpu).toFixed(2)}x by CPU time`);
      const [oursPeak, torchPeak] = [at(peaks, impl), at(peaks, torchKey)];
      if (oursPeak && torchPeak)
        parts.push(`peak tensor bytes (distinct buffers) ${(oursPeak / torchPeak).toFixed(2)}x PyTorch's`);
      const [oursRss, torchRss] = [at(rssPeaks, impl), at(rssPeaks, torchKey)];
      if (oursRss && torchRss) parts.push(`peak RSS ${(oursRss / torchRss).toFixed(2)}x PyTorch's`);
      if (parts.length) console.log(`${size}x${size}, ${impl}: ${parts.join('; ')}`);
    }
  }
  console.log(`load average at end ${loadNow()}`);
}

await main();
