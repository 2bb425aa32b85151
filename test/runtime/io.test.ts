import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Module } from '../../runtime/module.js';
import { seed } from '../../runtime/rng.js';
import {
  encodeSafetensors,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
  type HostTensor,
} from '../../runtime/io/safetensors.js';
import {
  loadWeights,
  manifestPathFor,
  saveWeights,
  WeightsMismatchError,
  type WeightsManifest,
} from '../../runtime/io/weights.js';
import { importConvNeXtV2 } from '../../runtime/io/convnextv2-import.js';
import { transposeHost } from '../../runtime/io/layout.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/torch/', import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  seed(3);
});

const f32 = (shape: number[], values: number[]): HostTensor => ({
  dtype: 'float32',
  shape,
  data: Float32Array.from(values),
});

/** Hand-assembles a safetensors file from a header object and raw data bytes. */
function assemble(header: unknown, data: Uint8Array, declaredLength?: number): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 and I32 tensors and metadata, with the documented byte layout', () => {
    const bytes = encodeSafetensors(
      {
        b: f32([2, 2], [1, -2, 3.5, 1e-30]),
        a: { dtype: 'int32', shape: [3], data: Int32Array.from([1, -7, 2147483647]) },
      },
      { who: 'test' },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    expect(header.a).toEqual({ dtype: 'I32', shape: [3], data_offsets: [0, 12] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [2, 2], data_offsets: [12, 28] });
    expect(header.__metadata__).toEqual({ who: 'test' });
    const back = parseSafetensors(bytes);
    expect(Array.from(back.tensors.get('b')!.tensor.data)).toEqual(Array.from(Float32Array.from([1, -2, 3.5, 1e-30])));
    expect(Array.from(back.tensors.get('a')!.tensor.data)).toEqual([1, -7, 2147483647]);
    expect(back.metadata).toEqual({ who: 'test' });
  });

  it('reads F16, BF16 and I64 written by PyTorch, upcast exactly as torch does', () => {
    const f = readSafetensors(FIXTURES + 'dtypes.safetensors');
    expect(f.tensors.get('f16')!.storedDtype).toBe('F16');
    expect(f.tensors.get('bf16')!.storedDtype).toBe('BF16');
    expect(Array.from(f.tensors.get('f16')!.tensor.data)).toEqual(Array.from(f.tensors.get('f16_as_f32')!.tensor.data));
    expect(Array.from(f.tensors.get('bf16')!.tensor.data)).toEqual(
      Array.from(f.tensors.get('bf16_as_f32')!.tensor.data),
    );
    expect(f.tensors.get('i64')!.tensor).toEqual({
      dtype: 'int32',
      shape: [2, 2],
      data: Int32Array.from([1, -2, 2147483647, -2147483648]),
    });
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
  });

  it('rejects damaged files with clear errors', () => {
    const good = encodeSafetensors({ x: f32([2], [1, 2]) });
    expect(() => parseSafetensors(good.subarray(0, 5), 'f')).toThrow(/shorter than the 8-byte header length/);
    expect(() => parseSafetensors(good.subarray(0, good.length - 4), 'f')).toThrow(/out of range.*truncated/);
    expect(() => parseSafetensors(assemble({ x: {} }, new Uint8Array(0), 9999), 'f')).toThrow(
      /header claims 9999 bytes/,
    );
    const data8 = new Uint8Array(8);
    expect(() =>
      parseSafetensors(
        assemble(
          {
            x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          data8,
        ),
        'f',
      ),
    ).toThrow(/overlaps/);
    expect(() =>
      parseSafetensors(assemble({ x: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, data8), 'f'),
    ).toThrow(/unknown dtype "Q7"/);
    expect(() =>
      parseSafetensors(assemble({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data8), 'f'),
    ).toThrow(/needs 12 bytes but data_offsets span 8/);
    expect(() =>
      parseSafetensors(assemble({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data8), 'f'),
    ).toThrow(/hole/);
    expect(() =>
      parseSafetensors(assemble({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data8), 'f'),
    ).toThrow(/4 trailing bytes/);
    expect(() =>
      parseSafetensors(assemble({ x: { dtype: 'U16', shape: [4], data_offsets: [0, 8] } }, data8), 'f'),
    ).toThrow(/not supported by nvcc/);
    expect(() => parseSafetensors(assemble([1, 2], data8), 'f')).toThrow(/does not start with "\{"/);
    const bad = assemble(
      { x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
      new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]),
    );
    expect(() => parseSafetensors(bad, 'f')).toThrow(/does not fit int32/);
  });

  it('writes atomically and leaves no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-st-'));
    const path = join(dir, 'w.safetensors');
    writeFileSync(path, 'old');
    writeSafetensors(path, { x: f32([1], [5]) });
    expect(readdirSync(dir)).toEqual(['w.safetensors']);
    expect(Array.from(readSafetensors(path).tensors.get('x')!.tensor.data)).toEqual([5]);
  });

  it('transposeHost follows the torch permute convention', () => {
    const t = f32([2, 3], [0, 1, 2, 3, 4, 5]);
    expect(transposeHost(t, [1, 0])).toEqual(f32([3, 2], [0, 3, 1, 4, 2, 5]));
    const c = f32([2, 1, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]); // (out=2, in=1, kh=2, kw=2)
    const k = transposeHost(c, [2, 3, 1, 0]); // [kh, kw, in, out]
    expect(k.shape).toEqual([2, 2, 1, 2]);
    expect(Array.from(k.data)).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
  });
});

class Small extends Module {
  constructor(outDim = 3, withExtra = false) {
    super();
    const r = (shape: readonly number[]) => tf.randomNormal([...shape], 0, 1, 'float32', 7);
    this.param('weight', [2, outDim], r);
    this.param('bias', [outDim], r, { noDecay: true });
    if (withExtra) this.param('extra', [1], r);
  }
}

describe('saveWeights / loadWeights', () => {
  it('round-trips a module with a manifest (paths, shapes, sha256, version, spec hash)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-w-'));
    const path = join(dir, 'model.safetensors');
    const a = new Small();
    const manifest = await saveWeights(a, path, { specHash: 'abc123', metadata: { stage: 'pretrain' } });
    expect(manifestPathFor(path)).toBe(join(dir, 'model.json'));
    const onDisk = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as WeightsManifest;
    expect(onDisk).toEqual(manifest);
    expect(onDisk.parameters).toEqual([
      { path: 'weight', shape: [2, 3], dtype: 'float32' },
      { path: 'bias', shape: [3], dtype: 'float32' },
    ]);
    expect(onDisk.specHash).toBe('abc123');
    expect(onDisk.nvccVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(onDisk.sha256).toMatch(/^[0-9a-f]{64}$/);
    const b = new Small();
    b.namedParameters().forEach(([, p]) => p.variable.assign(tf.zerosLike(p.variable)));
    const report = await loadWeights(b, path);
    expect(report.loaded.sort()).toEqual(['bias', 'weight']);
    expect(report.metadata.spec_hash).toBe('abc123');
    for (const [k, p] of b.namedParameters())
      expect(p.variable.dataSync()).toEqual(
        a
          .namedParameters()
          .find(([j]) => j === k)![1]
          .variable.dataSync(),
      );
    a.dispose();
    b.dispose();
  });

  it('refuses with ONE error listing missing, unexpected and mis-shaped keys, loading nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-w-'));
    const path = join(dir, 'm.safetensors');
    writeSafetensors(path, { weight: f32([2, 4], new Array(8).fill(1)), bogus: f32([1], [1]) });
    const target = new Small(3, true);
    const before = target.namedParameters().map(([, p]) => Array.from(p.variable.dataSync()));
    const err = await loadWeights(target, path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightsMismatchError);
    const e = err as WeightsMismatchError;
    expect(e.missing).toEqual(['bias', 'extra']);
    expect(e.unexpected).toEqual(['bogus']);
    expect(e.misshaped).toEqual([{ key: 'weight', expected: [2, 3], found: [2, 4] }]);
    expect(e.message).toMatch(/nothing was loaded/);
    expect(e.message).toMatch(/weight: model expects \[2, 3\], file has \[2, 4\]/);
    target.namedParameters().forEach(([, p], i) => expect(Array.from(p.variable.dataSync())).toEqual(before[i]));
    // strict: false tolerates missing/unexpected keys but never a wrong shape.
    await expect(loadWeights(target, path, { strict: false })).rejects.toThrow(/wrong shape/);
    writeSafetensors(path, { weight: f32([2, 3], [1, 2, 3, 4, 5, 6]), bogus: f32([1], [1]) });
    const r = await loadWeights(target, path, { strict: false });
    expect(r).toMatchObject({ loaded: ['weight'], missing: ['bias', 'extra'], unexpected: ['bogus'] });
    target.dispose();
  });

  it('lists a dtype mismatch in the same single error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-w-'));
    const path = join(dir, 'd.safetensors');
    writeSafetensors(path, {
      weight: f32([2, 3], [1, 2, 3, 4, 5, 6]),
      bias: { dtype: 'int32', shape: [3], data: Int32Array.from([1, 2, 3]) },
    });
    const target = new Small();
    const err = (await loadWeights(target, path).catch((e: unknown) => e)) as WeightsMismatchError;
    expect(err).toBeInstanceOf(WeightsMismatchError);
    expect(err.message).toMatch(/'bias' is int32 in the file but float32 in the model/);
    target.dispose();
  });

  it('detects a weights file that no longer matches its manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-w-'));
    const path = join(dir, 'model.safetensors');
    const a = new Small();
    await saveWeights(a, path);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(path, bytes);
    await expect(loadWeights(a, path)).rejects.toThrow(/does not match the manifest/);
    a.dispose();
  });
});

describe('ConvNeXt-V2 import errors', () => {
  it('refuses PyTorch pickles with a conversion hint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvcc-imp-'));
    const pt = join(dir, 'convnextv2_atto_1k_224_fcmae.pt');
    writeFileSync(pt, Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0, 0]));
    const m = new Small();
    expect(() => importConvNeXtV2(m, pt)).toThrow(/pickle checkpoints \(\.pt\/\.pth\) are not supported.*safetensors/);
    const disguised = join(dir, 'ckpt.safetensors');
    writeFileSync(disguised, Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0, 0, 0, 0, 0]));
    expect(() => importConvNeXtV2(m, disguised)).toThrow(/pickle/);
    expect(existsSync(pt)).toBe(true);
    m.dispose();
  });
});
