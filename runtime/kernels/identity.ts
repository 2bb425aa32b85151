/**
 * Identity for the wasm backend that shares its input's buffer instead of copying it.
 * In: one tensor. Out: a tensor of the same shape and dtype on the same wasm buffer (the
 * buffer's reference count raised, as wasm's own Reshape does). Holds afterwards: the buffer is
 * freed when the last tensor on it is disposed; no bytes are copied.
 *
 * Why: tfjs clones every tensor a kernel saves for backward (`engine.saveTensorsForBackwardMode`
 * keeps `clone(t)`, and clone runs Identity). The cpu backend's Identity shares the buffer;
 * tfjs-backend-wasm 4.22's copies it, so on wasm every saved activation existed twice while the
 * forward pass still held the original, and the copies cost ~5% of a 224x224 step
 * (docs/runtime-performance.md, "224x224 after the idle run"). No tfjs kernel writes into its
 * inputs (Variable.assign swaps buffers), so sharing is safe; string tensors keep the original.
 */
import type * as tf from '@tensorflow/tfjs';

interface SharingBackend {
  incRef(dataId: tf.DataId): void;
}

export function makeSharedIdentityConfig(original: tf.KernelConfig['kernelFunc']): tf.KernelConfig {
  return {
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      if (x.dtype === 'string') return original(args);
      (args.backend as unknown as SharingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    },
  };
}
