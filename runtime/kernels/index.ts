/**
 * Registers the kernels the wasm backend needs to train MED-NVC-style networks.
 * In: a process where `@tensorflow/tfjs-backend-wasm` has been imported (so the 'wasm' backend
 * is registered). Out: Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput/Filter and
 * UnsortedSegmentSum registered for 'wasm', and BatchMatMul/_FusedMatMul re-routed onto XNNPACK;
 * stride-1 depthwise convs (forward, both gradients) on nvcc's SIMD module (simd/depthwise.ts;
 * NVCC_WASM_SIMD_DEPTHWISE=0 sends every call back to the previous kernels); MaxPoolGrad replaced
 * by a host kernel (max-pool-grad.ts: wasm's own drops the gradient of negative window maxima);
Identity (hence tf.clone and every tensor saved for backward) shares its input's buffer
(identity.ts: wasm's own copies it); Sum over leading or middle axes summed in place (sum.ts:
wasm's own transposes first); contiguous Slices copied straight from the input (slice.ts).
 * Holds afterwards: calling it again changes nothing; the cpu backend is untouched.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.js';
import { makeSharedIdentityConfig } from './identity.js';
import { makeSliceConfig } from './slice.js';
import { makeSumConfig } from './sum.js';
import { makeBatchMatMulConfig, makeFusedMatMulConfig } from './matmul.js';
import { makeMaxPoolGradConfig } from './max-pool-grad.js';
import {
  makeSimdBackpropFilterConfig,
  makeSimdBackpropInputConfig,
  makeSimdDepthwiseForwardConfig,
  makeSimdFusedDepthwiseConfig,
} from './simd/depthwise.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

export { conv2dBackpropFilter } from './conv2d-backprop-filter.js';
export { depthwiseBackpropFilter, depthwiseBackpropInput } from './depthwise-backprop.js';
export { maxPoolGrad } from './max-pool-grad.js';
export { unsortedSegmentSum } from './unsorted-segment-sum.js';
export { UnsupportedKernelCase } from './util.js';

/** Kernels that wasm lacks and nvcc provides. */
export const ADDED_WASM_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'UnsortedSegmentSum',
] as const;

/** Kernels wasm has but nvcc replaces with a faster routing. */
export const REROUTED_WASM_KERNELS = [
  'BatchMatMul',
  '_FusedMatMul',
  'DepthwiseConv2dNative',
  'FusedDepthwiseConv2D',
  // wasm's own gives no gradient to windows whose maximum is negative.
  'MaxPoolGrad',
  // wasm's own copies the buffer; every tensor saved for backward is such a clone.
  'Identity',
  // wasm's own transposes the input before summing over any axes but the innermost.
  'Sum',
  // wasm's own copies the whole input out of the heap before slicing it.
  'Slice',
] as const;

const ROUTED = Symbol.for('nvcc.routedKernel');

function isRouted(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, 'wasm') as (tf.KernelConfig & { [ROUTED]?: boolean }) | undefined;
  return k?.[ROUTED] === true;
}

function reroute(kernelName: string, make: (original: tf.KernelConfig['kernelFunc']) => tf.KernelConfig): void {
  if (isRouted(kernelName)) return;
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original)
    throw new Error(
      `nvcc: wasm backend has no '${kernelName}' kernel to re-route (is tfjs-backend-wasm 4.22 installed?)`,
    );
  const routed = make(original.kernelFunc);
  tf.unregisterKernel(kernelName, 'wasm');
  // Keep the original setup so that a backend initialised later still binds its wasm function.
  tf.registerKernel({
    ...routed,
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    [ROUTED]: true,
  } as tf.KernelConfig);
}

/** Idempotent: registers the missing training kernels and the matmul routing for 'wasm'. */
export function registerWasmTrainingKernels(): void {
  const simdBackpropInput = makeSimdBackpropInputConfig(depthwiseBackpropInputConfig.kernelFunc);
  const simdBackpropFilter = makeSimdBackpropFilterConfig(depthwiseBackpropFilterConfig.kernelFunc);
  for (const config of [conv2dBackpropFilterConfig, simdBackpropInput, simdBackpropFilter, unsortedSegmentSumConfig]) {
    if (!tf.getKernel(config.kernelName, 'wasm')) tf.registerKernel(config);
  }
  reroute('BatchMatMul', makeBatchMatMulConfig);
  reroute('_FusedMatMul', makeFusedMatMulConfig);
  reroute('DepthwiseConv2dNative', makeSimdDepthwiseForwardConfig);
  reroute('FusedDepthwiseConv2D', makeSimdFusedDepthwiseConfig);
  reroute('MaxPoolGrad', makeMaxPoolGradConfig);
  reroute('Identity', makeSharedIdentityConfig);
  reroute('Sum', makeSumConfig);
  reroute('Slice', makeSliceConfig);
}
