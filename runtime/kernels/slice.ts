/**
 * Slice for the wasm backend that copies only the slice.
 * In: Slice's {x} and {begin, size}. Out: the same values; a float32 or int32 slice that is one
 * contiguous run of x's storage (rows of a batch: what micro-batching and the thread shards
 * take) is copied straight from x's buffer, everything else goes to wasm's own kernel. Holds
 * afterwards: nothing is allocated but the output.
 *
 * Why: tfjs-backend-wasm 4.22's Slice first reads the whole input out of the heap (`readSync`,
 * a copy of x) and then copies the slice from that copy; for the rows of a 224x224 batch that
 * is a 9.6 MB copy per slice (1.6% of a step in the profile).
 */
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];

interface WasmHeapBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): tf.TensorInfo;
}

export function makeSliceConfig(original: KernelFunc): tf.KernelConfig {
  return {
    kernelName: 'Slice',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
      if (x.dtype !== 'float32' && x.dtype !== 'int32') return original(args);
      const [from, extent] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
      if (!tf.slice_util.isSliceContinous(x.shape, from, extent)) return original(args);
      const offset = tf.slice_util.computeFlatOffset(from, tf.util.computeStrides(x.shape));
      const count = extent.reduce((a, b) => a * b, 1);
      const backend = args.backend as unknown as WasmHeapBackend;
      const out = backend.makeOutput(extent, x.dtype);
      // Views after the allocation: growing the heap detaches earlier ones.
      const source = backend.typedArrayFromHeap(x);
      backend.typedArrayFromHeap(out).set(source.subarray(offset, offset + count));
      return out;
    },
  };
}
