/**
 * The safetensors container as bytes: parse and encode, with no file system (the browser runtime
 * entry uses it; runtime/io/safetensors.ts adds reading and writing files).
 * In: bytes laid out as [u64 little-endian header length N][N bytes of JSON header]
 * [data bytes]; the header maps tensor names to {dtype, shape, data_offsets: [begin, end)}
 * relative to the start of the data, plus an optional `__metadata__` string-to-string map.
 * Out: host tensors (Float32Array for F32/F16/BF16/F64, Int32Array for I32/I64) keyed by name.
 * Holds afterwards: every parse was validated (header inside the bytes, known dtype, shape times
 * element size equals the byte span, spans in range, no overlap, no holes).
 */
import { NvccError } from '../errors.js';

export type HostDType = 'float32' | 'int32';

/** A tensor on the host, in row-major order. */
export interface HostTensor {
  readonly dtype: HostDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export interface SafetensorsEntry {
  /** The dtype as stored in the file (F32, F16, BF16, ...). */
  readonly storedDtype: string;
  readonly tensor: HostTensor;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, SafetensorsEntry>;
  readonly metadata: Record<string, string>;
}

export class SafetensorsError extends NvccError {
  constructor(source: string, message: string) {
    super('data', `${source}: invalid safetensors: ${message}`, { path: source });
    this.name = 'SafetensorsError';
  }
}

const ELEMENT_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};
const READABLE = new Set(['F32', 'F16', 'BF16', 'F64', 'I32', 'I64']);
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function product(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** IEEE half (binary16) bits to a float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Parses and validates safetensors bytes; `source` names the file in error messages. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, msg);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLen);
  if (8 + n > bytes.length)
    fail(`header claims ${n} bytes but the file has only ${bytes.length - 8} after the length (truncated?)`);
  const headerText = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(8, 8 + n));
  if (!headerText.startsWith('{')) fail('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const tensors = new Map<string, SafetensorsEntry>();

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ must be an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__['${k}'] must be a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail(`tensor '${name}': entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in ELEMENT_BYTES))
      fail(`tensor '${name}': unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      fail(`tensor '${name}': shape must be a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0)) {
      fail(`tensor '${name}': data_offsets must be [begin, end] with non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`tensor '${name}': data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLen)
      fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] out of range (data section is ${dataLen} bytes; truncated?)`,
      );
    const elementBytes = ELEMENT_BYTES[dtype as string]!;
    const expected = product(shape as number[]) * elementBytes;
    if (end - begin !== expected)
      fail(
        `tensor '${name}': ${dtype} ${JSON.stringify(shape)} needs ${expected} bytes but data_offsets span ` +
          `${end - begin}`,
      );
    spans.push({ name, begin, end });
    if (!READABLE.has(dtype as string))
      fail(
        `tensor '${name}': dtype ${dtype} is valid safetensors but not supported by nvcc (F32, F16, BF16, ` +
          `F64, I32, I64)`,
      );
    tensors.set(name, {
      storedDtype: dtype as string,
      tensor: decode(
        bytes.subarray(dataStart + begin, dataStart + end),
        dtype as string,
        shape as number[],
        name,
        fail,
      ),
    });
  }

  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of spans) {
    if (s.begin < cursor)
      fail(`tensor '${s.name}' overlaps the previous tensor (begins at ${s.begin}, previous ends at ${cursor})`);
    if (s.begin > cursor) fail(`hole in the data section: bytes ${cursor}..${s.begin} belong to no tensor`);
    cursor = s.end;
  }
  if (cursor !== dataLen) fail(`${dataLen - cursor} trailing bytes after the last tensor`);
  return { tensors, metadata };
}

function decode(raw: Uint8Array, dtype: string, shape: number[], name: string, fail: (m: string) => never): HostTensor {
  // Copy into a fresh, aligned buffer: tensor data in the file need not be 4-byte aligned.
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  const view = new DataView(copy.buffer);
  const count = product(shape);
  switch (dtype) {
    case 'F32':
      // The copy is aligned and the host is little-endian (checked below), so view it directly.
      return { dtype: 'float32', shape, data: new Float32Array(copy.buffer, 0, count) };
    case 'F64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return { dtype: 'float32', shape, data: out };
    }
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return { dtype: 'float32', shape, data: out };
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return { dtype: 'float32', shape, data: new Float32Array(bits.buffer) };
    }
    case 'I32':
      return { dtype: 'int32', shape, data: new Int32Array(copy.buffer, 0, count) };
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (v > 2147483647n || v < -2147483648n)
          fail(`tensor '${name}': I64 value ${v} at index ${i} does not fit int32`);
        out[i] = Number(v);
      }
      return { dtype: 'int32', shape, data: out };
    }
    default:
      return fail(`tensor '${name}': unsupported dtype ${dtype}`);
  }
}

/** Serialises tensors (sorted by name) and metadata to safetensors bytes (F32 / I32). */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, HostTensor> | Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw new TypeError(`metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error("'__metadata__' is reserved and cannot name a tensor");
    if (product(t.shape) !== t.data.length)
      throw new Error(`tensor '${name}': shape ${JSON.stringify(t.shape)} does not match ${t.data.length} values`);
    const dtype = t.dtype === 'float32' ? 'F32' : 'I32';
    if ((t.dtype === 'float32') !== t.data instanceof Float32Array)
      throw new Error(`tensor '${name}': dtype ${t.dtype} does not match its data array`);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data section starts 8-byte aligned (allowed by the format).
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(headerBytes);
    headerBytes = p;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos); // host is little-endian (checked at import below)
    pos += src.length;
  }
  return out;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('nvcc weight I/O assumes a little-endian host');
}
