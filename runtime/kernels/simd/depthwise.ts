/**
 * Stride-1 depthwise convolution (forward, input gradient, filter gradient) on the wasm backend
 * through a small SIMD module of our own (depthwise.wat / depthwise.wasm beside this file).
 * Why: tfjs-backend-wasm 4.22's XNNPACK has fast depthwise microkernels only for 4, 9 and 25 taps;
 * a 7x7 runs a scalar path that is ~20x slower than a 3x3 per tap (docs/runtime-performance.md).
 * In: NHWC float32 tensors in the tfjs wasm heap; stride 1, dilation 1, channel multiplier 1,
 * every pad in [0, k-1] (covers 'same' and 'valid' for any k); forward convs of more than 9 taps
 * (XNNPACK's own 3x3 and 2x2 paths are as fast). Inputs are copied into this
 * module's own memory (zero-padded spatially and to a multiple of 4 channels), computed there, and
 * copied into a freshly allocated tfjs output. Out: the same values as the tfjs kernels (float32
 * summation order differs). Other cases, and every call while NVCC_WASM_SIMD_DEPTHWISE=0, go to
 * the kernel this one replaced. Holds afterwards: no tfjs tensor is left behind; this module's
 * memory is kept (grown on demand) and reused by later calls.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { packagePath } from '../../package-root.js';

const WASM_PATH = packagePath('runtime', 'kernels', 'simd', 'depthwise.wasm');

/** Geometry of one stride-1 depthwise convolution; pads are those of the forward conv. */
export interface DepthwiseGeometry {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly kh: number;
  readonly kw: number;
  readonly top: number;
  readonly left: number;
  readonly ho: number;
  readonly wo: number;
}

interface SimdExports {
  memory: WebAssembly.Memory;
  forward(
    xp: number,
    w: number,
    bias: number,
    y: number,
    n: number,
    ho: number,
    wo: number,
    cp: number,
    kh: number,
    kw: number,
  ): void;
  filterGrad(
    xp: number,
    dy: number,
    dw: number,
    n: number,
    ho: number,
    wo: number,
    cp: number,
    kh: number,
    kw: number,
  ): void;
}

let instance: SimdExports | undefined;
let heap = new Float32Array(0);

function simd(): SimdExports {
  if (!instance) {
    const module = new WebAssembly.Module(fs.readFileSync(WASM_PATH));
    instance = new WebAssembly.Instance(module, {}).exports as unknown as SimdExports;
    heap = new Float32Array(instance.memory.buffer);
  }
  return instance;
}

/** Makes this module's memory hold at least `floats` floats; returns the (fresh) view. */
function reserve(floats: number): Float32Array {
  const mod = simd();
  const bytes = floats * 4;
  if (mod.memory.buffer.byteLength < bytes) {
    mod.memory.grow(Math.ceil((bytes - mod.memory.buffer.byteLength) / 65536));
  }
  if (heap.buffer !== mod.memory.buffer) heap = new Float32Array(mod.memory.buffer);
  return heap;
}

const roundUp4 = (v: number) => (v + 3) & ~3;

/**
 * Copies x [n,h,w,c] into dst at `at` as [n,hp,wp,cp] with `top` rows and `left` columns of zeros before it,
 * plus 3 pixels of zero slack.
 */
function copyPadded(
  dst: Float32Array,
  at: number,
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  top: number,
  left: number,
  hp: number,
  wp: number,
  cp: number,
): void {
  dst.fill(0, at, at + (n * hp * wp + 3) * cp);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < h; r++) {
      const s = (b * h + r) * w * c;
      const d = at + ((b * hp + r + top) * wp + left) * cp;
      if (c === cp) {
        dst.set(x.subarray(s, s + w * c), d);
      } else {
        for (let col = 0; col < w; col++) {
          for (let ch = 0; ch < c; ch++) dst[d + col * cp + ch] = x[s + col * c + ch]!;
        }
      }
    }
  }
}

/** Copies `pixels` pixels of cp channels at `at` into out as pixels of c channels. */
function copyUnpadded(out: Float32Array, src: Float32Array, at: number, pixels: number, c: number, cp: number): void {
  if (c === cp) {
    out.set(src.subarray(at, at + pixels * c));
    return;
  }
  for (let p = 0; p < pixels; p++) {
    for (let ch = 0; ch < c; ch++) out[p * c + ch] = src[at + p * cp + ch]!;
  }
}

/** Filter [kh,kw,c] (optionally flipped in both spatial axes) as [kh,kw,cp]. */
function copyFilter(
  dst: Float32Array,
  at: number,
  filter: Float32Array,
  kh: number,
  kw: number,
  c: number,
  cp: number,
  flip: boolean,
): void {
  dst.fill(0, at, at + kh * kw * cp);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const s = ((flip ? kh - 1 - i : i) * kw + (flip ? kw - 1 - j : j)) * c;
      const d = at + (i * kw + j) * cp;
      for (let ch = 0; ch < c; ch++) dst[d + ch] = filter[s + ch]!;
    }
  }
}

/**
 * y = depthwise(x, filter) + bias, written into the array `allocate` returns (called after the
 * inputs were consumed, so it may allocate in the tfjs heap and invalidate their views).
 */
export function simdDepthwiseForward(
  x: Float32Array,
  filter: Float32Array,
  bias: Float32Array | null,
  g: DepthwiseGeometry,
  allocate: () => Float32Array,
): void {
  const { n, h, w, c, kh, kw, top, left, ho, wo } = g;
  const cp = roundUp4(c);
  const hp = ho + kh - 1;
  const wp = wo + kw - 1;
  const xAt = 0;
  const wAt = xAt + (n * hp * wp + 3) * cp;
  const bAt = wAt + kh * kw * cp;
  const yAt = bAt + cp;
  const mem = reserve(yAt + n * ho * wo * cp);
  copyPadded(mem, xAt, x, n, h, w, c, top, left, hp, wp, cp);
  copyFilter(mem, wAt, filter, kh, kw, c, cp, false);
  mem.fill(0, bAt, bAt + cp);
  if (bias) mem.set(bias.subarray(0, c), bAt);
  simd().forward(xAt * 4, wAt * 4, bAt * 4, yAt * 4, n, ho, wo, cp, kh, kw);
  copyUnpadded(allocate(), mem, yAt, n * ho * wo, c, cp);
}

/** dx [n,h,w,c] from dy [n,ho,wo,c]: the full correlation of dy with the flipped filter. */
export function simdDepthwiseBackpropInput(
  dy: Float32Array,
  filter: Float32Array,
  g: DepthwiseGeometry,
  allocate: () => Float32Array,
): void {
  const { n, h, w, c, kh, kw, top, left, ho, wo } = g;
  const cp = roundUp4(c);
  const hp = h + kh - 1;
  const wp = w + kw - 1;
  const dyAt = 0;
  const wAt = dyAt + (n * hp * wp + 3) * cp;
  const bAt = wAt + kh * kw * cp;
  const dxAt = bAt + cp;
  const mem = reserve(dxAt + n * h * w * cp);
  copyPadded(mem, dyAt, dy, n, ho, wo, c, kh - 1 - top, kw - 1 - left, hp, wp, cp);
  copyFilter(mem, wAt, filter, kh, kw, c, cp, true);
  mem.fill(0, bAt, bAt + cp);
  simd().forward(dyAt * 4, wAt * 4, bAt * 4, dxAt * 4, n, h, w, cp, kh, kw);
  copyUnpadded(allocate(), mem, dxAt, n * h * w, c, cp);
}

/** dW [kh,kw,c] from x [n,h,w,c] and dy [n,ho,wo,c]. */
export function simdDepthwiseBackpropFilter(
  x: Float32Array,
  dy: Float32Array,
  g: DepthwiseGeometry,
  allocate: () => Float32Array,
): void {
  const { n, h, w, c, kh, kw, top, left, ho, wo } = g;
  const cp = roundUp4(c);
  const hp = ho + kh - 1;
  const wp = wo + kw - 1;
  const xAt = 0;
  const dyAt = xAt + (n * hp * wp + 3) * cp;
  const dwAt = dyAt + n * ho * wo * cp;
  const mem = reserve(dwAt + kh * kw * cp);
  copyPadded(mem, xAt, x, n, h, w, c, top, left, hp, wp, cp);
  copyPadded(mem, dyAt, dy, n, ho, wo, c, 0, 0, ho, wo, cp);
  simd().filterGrad(xAt * 4, dyAt * 4, dwAt * 4, n, ho, wo, cp, kh, kw);
  copyUnpadded(allocate(), mem, dwAt, kh * kw, c, cp);
}

// ------------------------------------------------------------------ tfjs wasm kernels

/** The part of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendLike {
  dataIdMap: { get(dataId: object): unknown };
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Args = Parameters<KernelFunc>[0];

interface ConvAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: 'NHWC' | 'NCHW';
  inputShape?: number[];
  filterShape?: number[];
  activation?: string;
}

/**
 * Forward convs with at most this many taps stay on XNNPACK: its 4- and 9-tap microkernels match
 * this module there ([16,56,56,40] 3x3: 5.1 vs 5.6 ms CPU), and 5x5 is already 2.4x faster here.
 */
const XNNPACK_FORWARD_MAX_TAPS = 9;

/** True unless NVCC_WASM_SIMD_DEPTHWISE=0 (read on every call, so benches and tests can compare). */
export function simdDepthwiseEnabled(): boolean {
  return process.env['NVCC_WASM_SIMD_DEPTHWISE'] !== '0';
}

/** The geometry when this kernel handles the case, else null (the caller delegates). */
export function supportedGeometry(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: ConvAttrs,
): DepthwiseGeometry | null {
  if (xShape.length !== 4 || filterShape.length !== 4 || filterShape[3] !== 1) return null;
  if (attrs.dataFormat === 'NCHW') return null;
  let info: tf.backend_util.Conv2DInfo;
  try {
    info = tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad as never,
      attrs.dimRoundingMode,
      true,
    );
  } catch {
    return null;
  }
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1)
    return null;
  const { top, left, bottom, right } = info.padInfo;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  if (Math.min(top, left, bottom, right) < 0 || Math.max(top, bottom) > kh - 1 || Math.max(left, right) > kw - 1)
    return null;
  const [n, h, w, c] = xShape as [number, number, number, number];
  if (n < 1 || h < 1 || w < 1 || c < 1 || info.outHeight < 1 || info.outWidth < 1) return null;
  if (info.outHeight !== h + top + bottom - kh + 1 || info.outWidth !== w + left + right - kw + 1) return null;
  return { n, h, w, c, kh, kw, top, left, ho: info.outHeight, wo: info.outWidth };
}

/**
 * Heap views of the inputs. Every entry is touched first: moving data in from another backend may grow
 * (and detach) the heap.
 */
function heapViews(backend: WasmBackendLike, ...ts: tf.TensorInfo[]): Float32Array[] {
  for (const t of ts) backend.dataIdMap.get(t.dataId);
  return ts.map((t) => backend.typedArrayFromHeap(t));
}

function allFloat32(...ts: Array<tf.TensorInfo | undefined>): boolean {
  return ts.every((t) => t !== undefined && t.dtype === 'float32');
}

function outputOf(
  backend: WasmBackendLike,
  shape: number[],
): { info: () => tf.TensorInfo; allocate: () => Float32Array } {
  let out: tf.TensorInfo | undefined;
  return {
    info: () => out!,
    allocate: () => {
      out = backend.makeOutput(shape, 'float32');
      return backend.typedArrayFromHeap(out);
    },
  };
}

/** DepthwiseConv2dNative for 'wasm'; `original` handles every case this one does not. */
export function makeSimdDepthwiseForwardConfig(original: KernelFunc): tf.KernelConfig {
  return {
    kernelName: 'DepthwiseConv2dNative',
    backendName: 'wasm',
    kernelFunc: (args: Args) => {
      const { x, filter } = args.inputs as { x?: tf.TensorInfo; filter?: tf.TensorInfo };
      if (!simdDepthwiseEnabled() || !allFloat32(x, filter)) return original(args);
      const g = supportedGeometry(x!.shape, filter!.shape, args.attrs as unknown as ConvAttrs);
      if (!g || g.kh * g.kw <= XNNPACK_FORWARD_MAX_TAPS) return original(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const out = outputOf(backend, [g.n, g.ho, g.wo, g.c]);
      const [xv, fv] = heapViews(backend, x!, filter!);
      simdDepthwiseForward(xv!, fv!, null, g, out.allocate);
      return out.info();
    },
  };
}

/** FusedDepthwiseConv2D for 'wasm': handled here with an optional bias and no activation. */
export function makeSimdFusedDepthwiseConfig(original: KernelFunc): tf.KernelConfig {
  return {
    kernelName: 'FusedDepthwiseConv2D',
    backendName: 'wasm',
    kernelFunc: (args: Args) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const attrs = args.attrs as unknown as ConvAttrs;
      if (!simdDepthwiseEnabled() || preluActivationWeights || (attrs.activation ?? 'linear') !== 'linear')
        return original(args);
      if (!allFloat32(x, filter) || (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1)))
        return original(args);
      const g = supportedGeometry(x!.shape, filter!.shape, attrs);
      if (!g || g.kh * g.kw <= XNNPACK_FORWARD_MAX_TAPS || (bias && bias.shape[0] !== g.c)) return original(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const out = outputOf(backend, [g.n, g.ho, g.wo, g.c]);
      const [xv, fv, bv] = heapViews(backend, x!, filter!, ...(bias ? [bias] : []));
      simdDepthwiseForward(xv!, fv!, bv ?? null, g, out.allocate);
      return out.info();
    },
  };
}

/** DepthwiseConv2dNativeBackpropInput for 'wasm'; `fallback` handles every case this one does not. */
export function makeSimdBackpropInputConfig(fallback: KernelFunc): tf.KernelConfig {
  return {
    kernelName: 'DepthwiseConv2dNativeBackpropInput',
    backendName: 'wasm',
    kernelFunc: (args: Args) => {
      const { dy, filter } = args.inputs as { dy?: tf.TensorInfo; filter?: tf.TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs;
      if (!simdDepthwiseEnabled() || !allFloat32(dy, filter) || !attrs.inputShape) return fallback(args);
      const g = supportedGeometry(attrs.inputShape, filter!.shape, attrs);
      if (!g || dy!.shape.join() !== [g.n, g.ho, g.wo, g.c].join()) return fallback(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const out = outputOf(backend, [g.n, g.h, g.w, g.c]);
      const [dyv, fv] = heapViews(backend, dy!, filter!);
      simdDepthwiseBackpropInput(dyv!, fv!, g, out.allocate);
      return out.info();
    },
  };
}

/** DepthwiseConv2dNativeBackpropFilter for 'wasm'; `fallback` handles every case this one does not. */
export function makeSimdBackpropFilterConfig(fallback: KernelFunc): tf.KernelConfig {
  return {
    kernelName: 'DepthwiseConv2dNativeBackpropFilter',
    backendName: 'wasm',
    kernelFunc: (args: Args) => {
      const { x, dy } = args.inputs as { x?: tf.TensorInfo; dy?: tf.TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs;
      if (!simdDepthwiseEnabled() || !allFloat32(x, dy) || !attrs.filterShape) return fallback(args);
      const g = supportedGeometry(x!.shape, attrs.filterShape, attrs);
      if (!g || dy!.shape.join() !== [g.n, g.ho, g.wo, g.c].join()) return fallback(args);
      const backend = args.backend as unknown as WasmBackendLike;
      const out = outputOf(backend, [g.kh, g.kw, g.c, 1]);
      const [xv, dyv] = heapViews(backend, x!, dy!);
      simdDepthwiseBackpropFilter(xv!, dyv!, g, out.allocate);
      return out.info();
    },
  };
}
