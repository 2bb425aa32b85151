/**
 * Micro-benchmark of stride-1 'same' depthwise convolutions on the wasm backend: forward,
 * backprop-input and backprop-filter, old (XNNPACK forward; forward-op gradients of
 * runtime/kernels/depthwise-backprop.ts) vs new (runtime/kernels/simd, nvcc's SIMD module).
 * In: flags `--reps N` (default 5), `--k 7` (kernel size; also `--k 3,7`).
 * Out: a table of CPU ms per call (process user+system time, min over reps: robust to other load
 * on a shared machine) and wall ms (min), old vs new, with the speed-up by CPU time.
 *
 *   npx tsx bench/depthwise.ts [--reps 5] [--k 3,7]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../runtime/backend.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const REPS = Number(flag('reps', '5'));
const KS = flag('k', '7').split(',').map(Number);
const SHAPES: Array<[number, number, number, number]> = [
  [16, 56, 56, 40],
  [16, 14, 14, 160],
];

function time(f: () => void): { cpu: number; wall: number } {
  f(); // warm-up (compiles, grows memory)
  let cpu = Infinity;
  let wall = Infinity;
  for (let r = 0; r < REPS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    const t1 = performance.now();
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1000);
    wall = Math.min(wall, t1 - t0);
  }
  return { cpu, wall };
}

await initBackend({ backend: 'wasm' });
const rows: string[][] = [['shape', 'k', 'op', 'old CPU ms', 'new CPU ms', 'speed-up', 'old wall ms', 'new wall ms']];
for (const shape of SHAPES) {
  for (const k of KS) {
    const fShape = [k, k, shape[3], 1];
    const x = tf.randomNormal(shape);
    const f = tf.randomNormal(fShape);
    const dy = tf.randomNormal(shape);
    const attrs = { strides: 1, pad: 'same', dilations: 1 };
    const ops: Array<[string, () => void]> = [
      ['forward', () => tf.engine().runKernel('DepthwiseConv2dNative', { x, filter: f }, attrs as never)],
      [
        'backprop-input',
        () =>
          tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, {
            ...attrs,
            inputShape: shape,
          } as never),
      ],
      [
        'backprop-filter',
        () =>
          tf
            .engine()
            .runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape } as never),
      ],
    ];
    for (const [name, op] of ops) {
      // wasm kernels are synchronous: no read-back, so only the kernel is timed.
      const run = () =>
        tf.tidy(() => {
          op();
        });
      process.env['NVCC_WASM_SIMD_DEPTHWISE'] = '0';
      const old = time(run);
      delete process.env['NVCC_WASM_SIMD_DEPTHWISE'];
      const neu = time(run);
      rows.push([
        `[${shape.join(',')}]`,
        `${k}x${k}`,
        name,
        old.cpu.toFixed(1),
        neu.cpu.toFixed(1),
        `${(old.cpu / neu.cpu).toFixed(1)}x`,
        old.wall.toFixed(1),
        neu.wall.toFixed(1),
      ]);
      console.error(rows[rows.length - 1]!.join('  '));
    }
    tf.dispose([x, f, dy]);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
console.log(
  `min over ${REPS} reps after 1 warm-up; load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
