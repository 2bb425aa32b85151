/**
 * Sum over leading or middle axes for the wasm backend, without a transpose.
 * In: Sum's {x} and {axis, keepDims}. Out: the same sums; a float32 x whose reduced axes are one
 * contiguous run that leaves the last axis out ([P, R, C] after a reshape: sum over R) is summed
 * here, everything else goes to wasm's own kernel. Holds afterwards: each output element is the
 * sequential float32 sum of its inputs in index order, as wasm's kernel computes it after its
 * transpose, so the values are the same; nothing is allocated but the output.
 *
 * Why: tfjs-backend-wasm 4.22 reduces only over the innermost axes; for any other axes it first
 * transposes the whole input (a strided scalar copy) and then sums. Training sums over leading
 * axes all the time (every bias and LayerNorm/GRN parameter gradient, GRN's statistics over H and
 * W), on the largest activations: ~11% of a 224x224 ConvNeXt-V2-atto step went to Sum
 * (docs/runtime-performance.md). Here the rows are added into a C-wide accumulator in one pass
 * over memory in storage order.
 */
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];

/** Below this many input elements the original kernel is as fast. */
const MIN_ELEMENTS = 4096;

interface WasmHeapBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/** [P, R, C] when `axes` (sorted, distinct) are one contiguous run that excludes the last axis. */
export function leadingRun(shape: readonly number[], axes: readonly number[]): [number, number, number] | undefined {
  if (axes.length === 0) return undefined;
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  if (last >= shape.length - 1 || last - first + 1 !== axes.length) return undefined;
  const product = (from: number, to: number) => shape.slice(from, to).reduce((a, b) => a * b, 1);
  return [product(0, first), product(first, last + 1), product(last + 1, shape.length)];
}

/** out[p, c] = sum over r of x[p, r, c], sequentially in r, in float32. */
export function sumMiddle(x: Float32Array, out: Float32Array, p: number, r: number, c: number): void {
  out.fill(0);
  for (let i = 0; i < p; i++) {
    const outBase = i * c;
    const acc = out.subarray(outBase, outBase + c);
    let at = i * r * c;
    for (let row = 0; row < r; row++, at += c) for (let k = 0; k < c; k++) acc[k] += x[at + k]!;
  }
}

export function makeSumConfig(original: KernelFunc): tf.KernelConfig {
  return {
    kernelName: 'Sum',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
      if (x.dtype !== 'float32') return original(args);
      const shape = [...x.shape];
      const axes = [...new Set(tf.util.parseAxisParam(axis, shape))].sort((a, b) => a - b);
      const run = leadingRun(shape, axes);
      const elements = shape.reduce((a, b) => a * b, 1);
      if (!run || elements < MIN_ELEMENTS) return original(args);
      const [p, r, c] = run;
      const outShape = keepDims
        ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : shape.filter((_, i) => !axes.includes(i));
      const backend = args.backend as unknown as WasmHeapBackend;
      const out = backend.makeOutput(outShape, 'float32');
      // Views after the allocation: growing the heap detaches earlier ones.
      sumMiddle(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), p, r, c);
      return out;
    },
  };
}
