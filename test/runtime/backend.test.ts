/**
 * Backend selection (runtime/backend.ts). Each scenario runs in a fresh Node process, because
 * the tfjs backend is process-global and some scenarios depend on start-up state.
 * In this environment neither tfjs-node nor tfjs-node-gpu is installed, so 'auto' must land on
 * wasm and an explicit 'tensorflow' must be refused.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const backendModule = path.join(root, 'runtime/backend.ts');

interface Outcome {
  ok: boolean;
  result?: { name: string; onGpu: boolean; detail: string; tfBackend: string; extra?: unknown };
  error?: { name: string; message: string };
  stderr: string;
}

/** Runs `body` (an async function body with `initBackend` and `tf` in scope) in a child process. */
function scenario(body: string, env: Record<string, string | undefined> = {}): Outcome {
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { initBackend, BackendError } from ${JSON.stringify(backendModule)};
    try {
      const out = await (async () => { ${body} })();
      const result = { ...out.info, tfBackend: tf.getBackend(), extra: out.extra };
      console.log('OUT ' + JSON.stringify({ ok: true, result }));
    } catch (e) {
      const error = { name: e.name, message: e.message, isBackendError: e instanceof BackendError };
      console.log('OUT ' + JSON.stringify({ ok: false, error }));
    }
  `;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: childEnv,
    encoding: 'utf8',
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('OUT '));
  if (!line) throw new Error(`child produced no result (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return { ...(JSON.parse(line.slice(4)) as Omit<Outcome, 'stderr'>), stderr: r.stderr };
}

const noEnv = { NVCC_BACKEND: undefined };

describe('initBackend', () => {
  it(
    'auto picks wasm here, reports onGpu=false, survives absent native packages, prints one line, is ' +
      'idempotent and trains',
    () => {
      const o = scenario(
        `const lines = []; const info = await initBackend({ log: (l) => lines.push(l) });
      const again = await initBackend({ log: (l) => lines.push(l) });
      const needed = [
        'Conv2DBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
        'DepthwiseConv2dNativeBackpropFilter',
        'UnsortedSegmentSum',
      ];
      const kernels = needed.every((n) => tf.getKernel(n, 'wasm'));
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1);
      const w = tf.variable(tf.randomNormal([4, 4, 3, 4], 0, 0.1, 'float32', 2));
      const d = tf.variable(tf.randomNormal([7, 7, 4, 1], 0, 0.1, 'float32', 3));
      const loss = () => tf.sum(tf.square(tf.depthwiseConv2d(tf.conv2d(x, w, 4, 'valid'), d, 1, 'same')));
      const { grads } = tf.variableGrads(loss, [w, d]);
      const finite = Object.values(grads).every((g) => g.dataSync().every(Number.isFinite));
      return { info, extra: { lines, kernels, same: info === again, finite } };`,
        noEnv,
      );
      expect(o.ok).toBe(true);
      expect(o.result!.name).toBe('wasm');
      expect(o.result!.tfBackend).toBe('wasm');
      expect(o.result!.onGpu).toBe(false);
      expect(o.result!.detail).toMatch(/@tensorflow\/tfjs-node-gpu: not installed/);
      expect(o.result!.extra).toEqual({
        lines: [expect.stringMatching(/^nvcc: backend auto: wasm/)],
        kernels: true,
        same: true,
        finite: true,
      });
    },
  );

  it('honours NVCC_BACKEND=cpu and silences the cpu banner', () => {
    const o = scenario(`const info = await initBackend({ quiet: true }); tf.ones([3]).dataSync(); return { info };`, {
      NVCC_BACKEND: 'cpu',
    });
    expect(o.ok).toBe(true);
    expect(o.result!.name).toBe('cpu');
    expect(o.result!.tfBackend).toBe('cpu');
    expect(o.stderr).not.toMatch(/Hi, looks like you are running TensorFlow\.js/);
  });

  it('lets an explicit option override NVCC_BACKEND, then refuses to switch once tensors exist', () => {
    const o = scenario(
      `const info = await initBackend({ backend: 'wasm', quiet: true }); tf.ones([2]);
      let refusal = null;
      try { await initBackend({ backend: 'cpu', quiet: true }); } catch (e) { refusal = e.name + ': ' + e.message; }
      return { info, extra: refusal };`,
      { NVCC_BACKEND: 'cpu' },
    );
    expect(o.result!.name).toBe('wasm');
    expect(o.result!.extra).toMatch(
      /^BackendError: initBackend\('cpu'\) was called after 1 tensor\(s\) were created on backend 'wasm'/,
    );
  });

  it('rejects an unknown name, and an explicit tensorflow backend that is not installed, with clear messages', () => {
    const o = scenario(
      `let unknown = null;
      try { await initBackend({ quiet: true }); } catch (e) { unknown = e.name + ': ' + e.message; }
      return { info: await initBackend({ backend: 'tensorflow', quiet: true }), extra: unknown };`,
      { NVCC_BACKEND: 'cuda' },
    );
    expect(o.ok).toBe(false);
    expect(o.error!.name).toBe('BackendError');
    expect(o.error!.message).toMatch(
      new RegExp(
        "^backend 'tensorflow' was requested but cannot be used:" +
          String.raw` @tensorflow\/tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed`,
      ),
    );
    const again = scenario(`return { info: await initBackend({ quiet: true }) };`, { NVCC_BACKEND: 'cuda' });
    expect(again.error).toEqual({
      name: 'BackendError',
      message: "unknown backend 'cuda' (from NVCC_BACKEND); expected one of: auto, tensorflow, wasm, cpu",
      isBackendError: true,
    });
  });
});
