/**
 * Layout conversions on host tensors (row-major), used by checkpoint import.
 * In: a HostTensor and a permutation or a new shape. Out: a new HostTensor. Holds afterwards:
 * out[j_0..j_n] = in[i_perm^-1...], i.e. `transpose(t, perm).shape[k] = t.shape[perm[k]]`, the
 * numpy/torch `permute` convention.
 */
import { product, type HostTensor } from './safetensors.js';

export function transposeHost(t: HostTensor, perm: readonly number[]): HostTensor {
  const rank = t.shape.length;
  if (perm.length !== rank || [...perm].sort().some((p, i) => p !== i))
    throw new Error(`bad permutation [${perm.join(', ')}] for rank ${rank}`);
  const outShape = perm.map((p) => t.shape[p]!);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= t.shape[i]!;
  }
  const strideForOut = perm.map((p) => inStrides[p]!);
  const n = product(t.shape);
  const out = t.dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let k = 0; k < n; k++) {
    out[k] = t.data[src]!;
    // Increment the output multi-index (last axis fastest) and track the source offset.
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      src += strideForOut[a]!;
      if (idx[a]! < outShape[a]!) break;
      src -= strideForOut[a]! * outShape[a]!;
      idx[a] = 0;
    }
  }
  return { dtype: t.dtype, shape: outShape, data: out };
}

export function reshapeHost(t: HostTensor, shape: readonly number[]): HostTensor {
  if (product(shape) !== t.data.length)
    throw new Error(`cannot reshape [${t.shape.join(', ')}] to [${shape.join(', ')}]`);
  return { dtype: t.dtype, shape: [...shape], data: t.data };
}
