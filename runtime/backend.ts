/**
 * Backend selection for everything nvcc trains or runs.
 * In: an optional request ('auto' | 'tensorflow' | 'wasm' | 'cpu') from a flag or NVCC_BACKEND.
 * Out: the active tfjs backend and a BackendInfo describing it (printed as one line).
 * Holds afterwards: tensors and variables can be created safely; on wasm the training kernels
 * are registered; an explicitly requested backend that cannot load was reported as a user error
 * (BackendError), never silently replaced. Call it before creating any tensor.
 */
import { NvccError } from './errors.js';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './kernels/index.js';

export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  readonly name: BackendName;
  /** True only when the tensorflow backend runs its kernels on a GPU device. */
  readonly onGpu: boolean;
  /** One human-readable line: what was chosen and why. */
  readonly detail: string;
}

export interface InitBackendOptions {
  /** Overrides NVCC_BACKEND; default 'auto'. */
  readonly backend?: BackendRequest;
  /** Do not print the choice. */
  readonly quiet?: boolean;
  /** Where the choice line goes; default console.error (stdout stays clean for data). */
  readonly log?: (line: string) => void;
}

/** A user error: bad backend name, or an explicitly requested backend that is not usable. */
export class BackendError extends NvccError {
  constructor(message: string) {
    super('user', message);
    this.name = 'BackendError';
  }
}

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let current: { request: BackendRequest; info: BackendInfo } | undefined;
const nodeRequire = createRequire(import.meta.url);

/** The backend chosen by the last successful initBackend, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current?.info;
}

function parseRequest(value: string, source: string): BackendRequest {
  const v = value.trim().toLowerCase();
  if ((BACKEND_REQUESTS as readonly string[]).includes(v)) return v as BackendRequest;
  throw new BackendError(
    `unknown backend '${value}' (from ${source}); expected one of: ${BACKEND_REQUESTS.join(', ')}`,
  );
}

/** Refuses to switch backends under live tensors: moving them lazily corrupts wasm (detached ArrayBuffer). */
function assertNoForeignTensors(target: BackendName): void {
  const engine = tf.engine();
  const live = engine.state.numTensors;
  const active = (engine as unknown as { backendName: string | null }).backendName;
  if (live > 0 && active !== target) {
    throw new BackendError(
      `initBackend('${target}') was called after ${live} tensor(s) were created on backend '${active ?? 'default'}'. ` +
        'Call initBackend() once at start-up, before building models or loading data.',
    );
  }
}

interface NativeLoad {
  readonly pkg: string;
  readonly error?: string;
}

function missingModule(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'MODULE_NOT_FOUND' && (e.message ?? '').includes(`'${pkg}'`);
}

/** Tries the native packages in order; returns which loaded, or why none did. */
function loadNative(): { loaded?: string; failures: NativeLoad[] } {
  const failures: NativeLoad[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      nodeRequire(pkg);
      if (tf.findBackend('tensorflow')) return { loaded: pkg, failures };
      failures.push({ pkg, error: 'loaded but registered no tensorflow backend' });
    } catch (err) {
      failures.push({
        pkg,
        error: missingModule(err, pkg) ? undefined : String((err as Error)?.message ?? err).split('\n')[0],
      });
    }
  }
  return { failures };
}

function describeFailures(failures: NativeLoad[]): string {
  return failures.map((f) => `${f.pkg}: ${f.error ?? 'not installed'}`).join('; ');
}

async function activate(name: BackendName): Promise<boolean> {
  assertNoForeignTensors(name);
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch {
    ok = false;
  }
  if (!ok) return false;
  await tf.ready();
  if (name === 'cpu') {
    // The cpu backend prints a "install tfjs-node" banner on its first write; nvcc prints its own line.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  return true;
}

async function useTensorflow(): Promise<BackendInfo | string> {
  const { loaded, failures } = loadNative();
  if (!loaded) return describeFailures(failures);
  if (!(await activate('tensorflow'))) return `${loaded} loaded but setBackend('tensorflow') failed`;
  const onGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
  const device = onGpu ? 'GPU' : loaded.endsWith('-gpu') ? 'CPU (no usable CUDA/GPU found)' : 'CPU';
  return { name: 'tensorflow', onGpu, detail: `tensorflow (${loaded}) on ${device}` };
}

async function useWasm(): Promise<BackendInfo | string> {
  registerWasmTrainingKernels();
  if (!(await activate('wasm'))) return 'tfjs-backend-wasm failed to initialise';
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  return { name: 'wasm', onGpu: false, detail: `wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread, nvcc training kernels)` };
}

async function useCpu(): Promise<BackendInfo | string> {
  if (!(await activate('cpu'))) return 'tfjs cpu backend failed to initialise';
  return { name: 'cpu', onGpu: false, detail: 'cpu (pure JavaScript; slow)' };
}

async function resolve(request: BackendRequest): Promise<BackendInfo> {
  if (request === 'auto') {
    const reasons: string[] = [];
    const native = await useTensorflow();
    if (typeof native !== 'string') return { ...native, detail: `auto: ${native.detail}` };
    reasons.push(native);
    const wasm = await useWasm();
    if (typeof wasm !== 'string')
      return { ...wasm, detail: `auto: ${wasm.detail}; no native backend (${reasons.join('; ')})` };
    reasons.push(wasm);
    const cpu = await useCpu();
    if (typeof cpu !== 'string') return { ...cpu, detail: `auto: ${cpu.detail}; ${reasons.join('; ')}` };
    throw new BackendError(`no usable TensorFlow.js backend: ${[...reasons, cpu].join('; ')}`);
  }
  const attempt =
    request === 'tensorflow' ? await useTensorflow() : request === 'wasm' ? await useWasm() : await useCpu();
  if (typeof attempt === 'string') {
    const hint =
      request === 'tensorflow'
        ? ' (install @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node 4.22.0 with its libtensorflow, or use ' +
          '--backend auto)'
        : '';
    throw new BackendError(`backend '${request}' was requested but cannot be used: ${attempt}${hint}`);
  }
  return attempt;
}

/**
 * Selects and initialises the backend. Precedence: options.backend, then NVCC_BACKEND, then
 * 'auto' (tensorflow → wasm → cpu). Idempotent for the same request; throws BackendError for an
 * unknown name, an unusable explicit backend, or a switch after tensors exist elsewhere.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const env = process.env.NVCC_BACKEND;
  const request =
    options.backend !== undefined
      ? parseRequest(options.backend, 'the backend option')
      : env !== undefined && env.trim() !== ''
        ? parseRequest(env, 'NVCC_BACKEND')
        : 'auto';
  if (current && (current.request === request || (request === 'auto' && current.request === 'auto')))
    return current.info;
  if (current && request === current.info.name) {
    current = { request, info: current.info };
    return current.info;
  }
  const info = await resolve(request);
  current = { request, info };
  if (!options.quiet) (options.log ?? ((line: string) => console.error(line)))(`nvcc: backend ${info.detail}`);
  return info;
}
