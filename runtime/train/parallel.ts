/**
 * Data-parallel gradients over worker threads: how `nvcc train --threads N` uses every core.
 * In: a thread count, the stage, the main thread's model, and where a worker finds the same
 * generated model (the built train.js and the factory key). Out: a GradientEngine
 * (runtime/train/step.ts) that splits each batch into N contiguous shards, computes shard 0 on
 * the calling thread and shards 1..N-1 in worker threads, each with its own TensorFlow.js
 * instance (own wasm heap) and a replica of the model, and returns the batch loss and
 * gradients. Holds afterwards:
 *  - the replicas hold the main model's weights at the start of every step (copied through a
 *    SharedArrayBuffer before each batch); only the main thread steps the optimizer;
 *  - gradients are reduced on the main thread in shard order, each weighted by its shard's
 *    share of the loss denominator (lossShares), so a run is bitwise reproducible for a given
 *    thread count and seed; another thread count changes only float rounding (and the
 *    dropout draws, see below), so the loss curve is the same up to rounding;
 *  - random throw and the mask were drawn for the whole batch before the split; each shard's
 *    dropout stream is a fork of one draw from the stage's `dropout` stream per step;
 *  - ops that couple the samples of a batch (GRN with masked_pooling = "batch") see one shard,
 *    as they see one micro-batch with `micro_batch`;
 *  - one thread (or a one-sample batch) is exactly the single-thread path, no worker started.
 * The workers run this same module (bundled or through tsx), so they share its runtime code.
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { currentBackend, initBackend, type BackendName } from '../backend.js';
import { setInitRng, type Rng, type RngState } from '../module.js';
import { createRng, restoreRng } from '../rng.js';
import { TrainingError } from './common.js';
import { batchGradients, lossShares, sliceRows, type BatchGradients } from './gradients.js';
import type { ModelFactory, StageSpec, TrainableModel } from './spec.js';
import type { GradientEngine } from './step.js';

/** The environment variable that sets the thread count when `--threads` is not given. */
export const THREADS_ENV = 'NVCC_THREADS';

/** Every core the process may use. */
export function allCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** `--threads` if given, else NVCC_THREADS, else every core; a bad value is a user error. */
export function resolveThreads(requested?: number | string): number {
  const env = process.env[THREADS_ENV];
  const [raw, source] =
    requested !== undefined
      ? [String(requested), '--threads']
      : env !== undefined && env.trim() !== ''
        ? [env.trim(), THREADS_ENV]
        : [undefined, ''];
  if (raw === undefined) return allCores();
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new TrainingError(`${source} must be a whole number of threads >= 1, got '${raw}'`);
  return value;
}

/** Where a worker imports the stage's model from: a built program's train.js. */
export interface WorkerModelSource {
  /** Absolute path of the generated train.js. */
  readonly module: string;
  /** Which export holds the factory: stage factories or top-level model factories. */
  readonly table: 'factories' | 'modelFactories';
}

interface Layout {
  /** Parameter paths in the main model's order. */
  readonly paths: string[];
  readonly shapes: number[][];
  /** Float offset of each parameter in the weights buffer. */
  readonly offsets: number[];
  readonly total: number;
  /** Indices (into paths) of the trainable parameters, the order of the gradient buffers. */
  readonly trainable: number[];
  /** Float offset of each trainable parameter in a gradient buffer. */
  readonly gradOffsets: number[];
  readonly gradTotal: number;
}

interface HostArray {
  readonly data: Float32Array | Int32Array;
  readonly shape: number[];
  readonly dtype: 'float32' | 'int32';
}

type ToWorker =
  | {
      readonly type: 'step';
      /** Copy the weights buffer into the replica first. */
      readonly sync: boolean;
      readonly inputs: Record<string, HostArray>;
      readonly labels?: HostArray;
      readonly mask?: HostArray;
      readonly rng: RngState;
    }
  | { readonly type: 'close' };

type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly loss: number; readonly present: number[] }
  | { readonly type: 'error'; readonly message: string };

interface WorkerInit {
  readonly nvccParallelWorker: true;
  readonly backend: BackendName;
  readonly source: WorkerModelSource;
  readonly factory: string;
  readonly stage: StageSpec;
  readonly layout: Layout;
  readonly weights: SharedArrayBuffer;
  readonly grads: SharedArrayBuffer;
}

function layoutOf(model: TrainableModel): Layout {
  const params = model.namedParameters();
  const paths: string[] = [];
  const shapes: number[][] = [];
  const offsets: number[] = [];
  const trainable: number[] = [];
  const gradOffsets: number[] = [];
  let total = 0;
  let gradTotal = 0;
  params.forEach(([path, p], i) => {
    if (p.variable.dtype !== 'float32')
      throw new TrainingError(`parameter ${path} is ${p.variable.dtype}; threads need float32 parameters`);
    paths.push(path);
    shapes.push([...p.variable.shape]);
    offsets.push(total);
    total += p.variable.size;
    if (p.trainable) {
      trainable.push(i);
      gradOffsets.push(gradTotal);
      gradTotal += p.variable.size;
    }
  });
  return { paths, shapes, offsets, total, trainable, gradOffsets, gradTotal };
}

/** Rows [start, start + size) of t as a host array of its own (safe to transfer to a worker). */
function hostRows(t: tf.Tensor, start: number, size: number): HostArray {
  const dtype = t.dtype === 'int32' ? 'int32' : 'float32';
  const data = tf.tidy(() => {
    const rows = sliceRows(t, start, size);
    // A copy: the cpu backend may hand out its own storage, which a transfer would detach.
    return (dtype === 'int32' ? rows.dataSync() : tf.cast(rows, 'float32').dataSync()).slice();
  }) as Float32Array | Int32Array;
  return { data, shape: [size, ...t.shape.slice(1)], dtype };
}

function fromHost(h: HostArray): tf.Tensor {
  return tf.tensor(h.data, h.shape, h.dtype);
}

/** Copies every parameter of the model into the shared weights buffer. */
function writeWeights(model: TrainableModel, layout: Layout, view: Float32Array, only?: readonly number[]): void {
  const params = model.namedParameters();
  for (const i of only ?? params.map((_, k) => k)) view.set(params[i]![1].variable.dataSync(), layout.offsets[i]!);
}

/** Replaces the replica's parameters by the shared buffer's values. */
function readWeights(model: TrainableModel, layout: Layout, view: Float32Array): void {
  const params = model.namedParameters();
  for (const [i, [, p]] of params.entries()) {
    const values = view.slice(layout.offsets[i]!, layout.offsets[i]! + p.variable.size);
    tf.tidy(() => p.variable.assign(tf.tensor(values, layout.shapes[i]!, 'float32')));
  }
}

class WorkerHandle {
  /** Messages not yet taken by next(), and the next() waiting for one. */
  private readonly inbox: FromWorker[] = [];
  private waiter: { resolve(m: FromWorker): void; reject(e: Error): void } | undefined;
  private failure: Error | undefined;
  readonly gradView: Float32Array;

  constructor(
    readonly worker: Worker,
    grads: SharedArrayBuffer,
  ) {
    this.gradView = new Float32Array(grads);
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') this.fail(new TrainingError(`training thread failed: ${m.message}`));
      else if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(m);
      } else this.inbox.push(m);
    });
    worker.on('error', (e) => this.fail(new TrainingError(`training thread failed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (code !== 0) this.fail(new TrainingError(`training thread exited with code ${code}`));
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }

  /** The worker's next message (in order). */
  next(): Promise<FromWorker> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  send(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }
}

/** The file a worker runs: this module (its .ts source under tsx/vitest, its chunk in the bundle). */
const SELF = fileURLToPath(import.meta.url);

/**
 * Starts a worker on this module. Under tsx (sources, tests) the worker first registers tsx's
 * ESM hooks itself: Node 20 does not apply `--import tsx` to a worker's entry module.
 */
function startWorker(init: WorkerInit): Worker {
  if (!SELF.endsWith('.ts')) return new Worker(SELF, { workerData: init });
  const tsxApi = createRequire(import.meta.url)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const boot =
    `import(${JSON.stringify(pathToFileURL(tsxApi).href)}).then((api) => { api.register(); ` +
    `return import(${JSON.stringify(pathToFileURL(SELF).href)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

/**
 * A GradientEngine over `threads` threads. Start it once per stage (start()) after the model's
 * weights are final for the step (hand-over, resume), and close() it when the stage ends.
 */
export class ParallelGradients implements GradientEngine {
  private readonly layout: Layout;
  private readonly weightsView: Float32Array;
  private readonly handles: WorkerHandle[] = [];
  private firstStep = true;

  private constructor(
    readonly threads: number,
    private readonly model: TrainableModel,
    private readonly weights: SharedArrayBuffer,
    layout: Layout,
  ) {
    this.layout = layout;
    this.weightsView = new Float32Array(weights);
  }

  static async start(options: {
    readonly threads: number;
    readonly stage: StageSpec;
    readonly model: TrainableModel;
    readonly source: WorkerModelSource;
  }): Promise<ParallelGradients> {
    const layout = layoutOf(options.model);
    const weights = new SharedArrayBuffer(4 * layout.total);
    const engine = new ParallelGradients(options.threads, options.model, weights, layout);
    const backend = currentBackend()?.name ?? (tf.getBackend() as BackendName);
    try {
      for (let k = 1; k < options.threads; k++) {
        const grads = new SharedArrayBuffer(4 * Math.max(1, layout.gradTotal));
        const init: WorkerInit = {
          nvccParallelWorker: true,
          backend,
          source: options.source,
          factory: options.stage.model.factory,
          stage: options.stage,
          layout,
          weights,
          grads,
        };
        const worker = startWorker(init);
        engine.handles.push(new WorkerHandle(worker, grads));
      }
      for (const h of engine.handles) {
        const m = await h.next();
        if (m.type !== 'ready') throw new TrainingError(`training thread did not start (${m.type})`);
      }
    } catch (e) {
      await engine.close();
      throw e;
    }
    return engine;
  }

  async gradients(
    stage: StageSpec,
    model: TrainableModel,
    inputs: Readonly<Record<string, tf.Tensor>>,
    labels: tf.Tensor1D | undefined,
    mask: tf.Tensor4D | undefined,
    dropout: Rng,
    varList: tf.Variable[],
  ): Promise<BatchGradients> {
    const first = Object.values(inputs)[0];
    const n = first ? first.shape[0]! : 0;
    const shards = Math.min(this.threads, n);
    // One draw per step from the stage's dropout stream seeds every shard's stream.
    const stepSeed = Math.floor(dropout.uniform() * 2 ** 32);
    const rngs = Array.from({ length: shards }, (_, k) => createRng(stepSeed).fork(`shard ${k}`));
    if (shards <= 1) return batchGradients(stage, model, inputs, labels, mask, rngs[0]!, varList, stage.microBatch);
    const starts = Array.from({ length: shards }, (_, k) => Math.floor((k * n) / shards));
    const ends = [...starts.slice(1), n];
    const shares = lossShares(stage, mask, n, starts);
    // The replicas take the weights the optimizer left: every parameter before the first step
    // (hand-over and resume happened before), the trainable ones afterwards.
    writeWeights(this.model, this.layout, this.weightsView, this.firstStep ? undefined : this.layout.trainable);
    this.firstStep = false;
    const replies: Promise<FromWorker>[] = [];
    for (let k = 1; k < shards; k++) {
      const [start, size] = [starts[k]!, ends[k]! - starts[k]!];
      const host = {
        inputs: Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, hostRows(t, start, size)])),
        ...(labels ? { labels: hostRows(labels, start, size) } : {}),
        ...(mask ? { mask: hostRows(mask, start, size) } : {}),
      };
      const h = this.handles[k - 1]!;
      const reply = h.next();
      const buffers = [...Object.values(host.inputs), host.labels, host.mask]
        .filter((a): a is HostArray => a !== undefined)
        .map((a) => a.data.buffer as ArrayBuffer);
      h.send({ type: 'step', sync: true, ...host, rng: rngs[k]!.state() }, buffers);
      replies.push(reply);
    }
    const local = tf.tidy(() => {
      const part = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, sliceRows(t, 0, ends[0]!)]));
      const partLabels = labels ? (sliceRows(labels, 0, ends[0]!) as tf.Tensor1D) : undefined;
      const partMask = mask ? (sliceRows(mask, 0, ends[0]!) as tf.Tensor4D) : undefined;
      const out = batchGradients(stage, model, part, partLabels, partMask, rngs[0]!, varList, stage.microBatch);
      return { loss: out.loss, grads: Object.fromEntries(out.grads) };
    }) as unknown as { loss: tf.Scalar; grads: Record<string, tf.Tensor> };
    let done: FromWorker[];
    try {
      done = await Promise.all(replies);
    } catch (e) {
      local.loss.dispose();
      for (const g of Object.values(local.grads)) g.dispose();
      throw e;
    }
    const params = this.model.namedParameters();
    const pathOfVar = new Map(params.map(([path, p]) => [p.variable.name, path] as const));
    const trainableIndex = new Map(this.layout.trainable.map((i, j) => [this.layout.paths[i]!, j] as const));
    const grads = new Map<string, tf.Tensor>();
    const lossValue = (await local.loss.data())[0]! * shares[0]!;
    let totalLoss = lossValue;
    done.forEach((m, k) => {
      if (m.type === 'done') totalLoss += m.loss * shares[k + 1]!;
    });
    for (const v of varList) {
      const j = trainableIndex.get(pathOfVar.get(v.name)!);
      if (j === undefined) continue;
      const [offset, i] = [this.layout.gradOffsets[j]!, this.layout.trainable[j]!];
      const size = v.size;
      const parts: (() => tf.Tensor)[] = [];
      if (local.grads[v.name]) parts.push(() => tf.mul(local.grads[v.name]!, shares[0]!));
      done.forEach((m, k) => {
        if (m.type === 'done' && m.present.includes(j)) {
          const values = this.handles[k]!.gradView.slice(offset, offset + size);
          parts.push(() => tf.mul(tf.tensor(values, this.layout.shapes[i]!, 'float32'), shares[k + 1]!));
        }
      });
      if (parts.length === 0) continue;
      // Fixed order: shard 0, then 1, 2, ...: the same sum for the same thread count.
      grads.set(
        v.name,
        tf.tidy(() => parts.slice(1).reduce((acc, part) => tf.add(acc, part()), parts[0]!())),
      );
    }
    local.loss.dispose();
    for (const g of Object.values(local.grads)) g.dispose();
    return { loss: tf.scalar(totalLoss), grads };
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
    this.handles.length = 0;
  }

  /** Bytes of the shared weight buffer (for diagnostics). */
  get sharedBytes(): number {
    return this.weights.byteLength;
  }
}

// ------------------------------------------------------------------ the worker side

async function workerMain(init: WorkerInit): Promise<void> {
  const port = parentPort!;
  const post = (m: FromWorker) => port.postMessage(m);
  let model: TrainableModel;
  let varList: tf.Variable[];
  let pathOfVar: Map<string, string>;
  const weightsView = new Float32Array(init.weights);
  const gradView = new Float32Array(init.grads);
  const trainableIndex = new Map(init.layout.trainable.map((i, j) => [init.layout.paths[i]!, j] as const));
  try {
    await initBackend({ backend: init.backend, quiet: true });
    const mod = (await import(pathToFileURL(init.source.module).href)) as Record<
      string,
      Record<string, ModelFactory> | undefined
    >;
    const factory = mod[init.source.table]?.[init.factory];
    if (!factory) throw new Error(`${init.source.module} has no ${init.source.table}.${init.factory}`);
    // The weights are replaced by the main thread's before every step; the init stream only
    // has to exist.
    setInitRng(createRng(0));
    model = factory.create();
    const params = model.namedParameters();
    const paths = params.map(([p]) => p);
    if (paths.join('\n') !== init.layout.paths.join('\n'))
      throw new Error('the worker built a model with other parameters than the main thread');
    for (const i of init.layout.trainable) params[i]![1].trainable = true;
    const trainableSet = new Set(init.layout.trainable);
    params.forEach(([, p], i) => {
      if (!trainableSet.has(i)) p.trainable = false;
    });
    varList = init.layout.trainable.map((i) => params[i]![1].variable);
    pathOfVar = new Map(params.map(([path, p]) => [p.variable.name, path] as const));
  } catch (e) {
    post({ type: 'error', message: (e as Error).message ?? String(e) });
    return;
  }
  post({ type: 'ready' });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      port.close();
      return;
    }
    try {
      if (m.sync) readWeights(model, init.layout, weightsView);
      const inputs = Object.fromEntries(Object.entries(m.inputs).map(([k, h]) => [k, fromHost(h)]));
      const labels = m.labels ? (fromHost(m.labels) as tf.Tensor1D) : undefined;
      const mask = m.mask ? (fromHost(m.mask) as tf.Tensor4D) : undefined;
      let out: BatchGradients;
      try {
        out = batchGradients(
          init.stage,
          model,
          inputs,
          labels,
          mask,
          restoreRng(m.rng),
          varList,
          init.stage.microBatch,
        );
      } finally {
        for (const t of Object.values(inputs)) t.dispose();
        labels?.dispose();
        mask?.dispose();
      }
      const present: number[] = [];
      for (const [name, g] of out.grads) {
        const j = trainableIndex.get(pathOfVar.get(name)!);
        if (j !== undefined) {
          gradView.set(g.dataSync() as Float32Array, init.layout.gradOffsets[j]!);
          present.push(j);
        }
        g.dispose();
      }
      const loss = out.loss.dataSync()[0]!;
      out.loss.dispose();
      post({ type: 'done', loss, present });
    } catch (e) {
      post({ type: 'error', message: (e as Error).message ?? String(e) });
    }
  });
}

if (!isMainThread && (workerData as Partial<WorkerInit> | null)?.nvccParallelWorker === true) {
  void workerMain(workerData as WorkerInit);
}
