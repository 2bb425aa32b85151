import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadDataset, validateDataset } from '../../runtime/data/dataset.js';
import { decodeDicom } from '../../runtime/data/dicom.js';
import { decodeImage, patternRegex } from '../../runtime/data/images.js';
import type { ImageSpec } from '../../runtime/data/spec.js';
import { writeDicom } from '../fixtures/data/dicom-writer.js';
import { filesSpec, GOOD_CSV, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';

const IMAGE: ImageSpec = {
  per: 'patient_id',
  pattern: '{id}_*',
  size: [4, 4],
  channels: 1,
  fit: 'fill',
  normalize: 'none',
  dicom: { window: 'auto', invertMonochrome1: true },
};

/** The one picture of a PNG, JPEG or single-frame DICOM file. */
function only(decoded: { readonly frames: readonly Uint8Array[] }): Uint8Array {
  expect(decoded.frames).toHaveLength(1);
  return decoded.frames[0]!;
}

// A 4x4 ramp of stored values 0..1500 step 100.
const RAMP = Array.from({ length: 16 }, (_, i) => i * 100);

describe('DICOM decoding', () => {
  it('applies rescale slope/intercept and the file window (linear VOI)', async () => {
    // HU = stored * 2 - 1000; window centre 0, width 1001 -> [-500, 500] maps to [0, 255].
    const bytes = writeDicom({
      rows: 4,
      columns: 4,
      pixels: RAMP,
      rescaleSlope: 2,
      rescaleIntercept: -1000,
      windowCenter: 0,
      windowWidth: 1001,
    });
    const pic = await decodeDicom(bytes, IMAGE.dicom);
    expect([pic.width, pic.height]).toEqual([4, 4]);
    const expected = RAMP.map((s) => {
      const hu = s * 2 - 1000;
      const y = hu <= -500.5 ? 0 : hu > 499.5 ? 1 : (hu + 0.5) / 1000 + 0.5;
      return Math.round(Math.min(1, Math.max(0, y)) * 255);
    });
    expect(Array.from(pic.pixels)).toEqual(expected);
    expect(pic.pixels[0]).toBe(0); // -1000 HU, below the window
    expect(pic.pixels[5]).toBe(128); // stored 500 -> 0 HU, the window centre
    expect(pic.pixels[15]).toBe(255); // 2000 HU, above the window
  });

  it('a declared window overrides the file; none uses min-max', async () => {
    const bytes = writeDicom({ rows: 4, columns: 4, pixels: RAMP, windowCenter: 100, windowWidth: 10 });
    const minmax = await decodeDicom(bytes, { window: 'none', invertMonochrome1: true });
    expect(minmax.pixels[0]).toBe(0);
    expect(minmax.pixels[15]).toBe(255);
    expect(minmax.pixels[8]).toBe(Math.round(((800 - 0) / 1500) * 255));
    const fixed = await decodeDicom(bytes, { window: { center: 750, width: 1501 }, invertMonochrome1: true });
    expect(Array.from(fixed.pixels)).toEqual(Array.from(minmax.pixels));
    const fromFile = await decodeDicom(bytes, IMAGE.dicom);
    expect(fromFile.pixels[0]).toBe(0);
    expect(fromFile.pixels[2]).toBe(255);
  });

  it('inverts MONOCHROME1 so that dense is bright (unless told not to)', async () => {
    const mono2 = await decodeDicom(writeDicom({ rows: 4, columns: 4, pixels: RAMP }), {
      window: 'none',
      invertMonochrome1: true,
    });
    const mono1 = await decodeDicom(writeDicom({ rows: 4, columns: 4, pixels: RAMP, photometric: 'MONOCHROME1' }), {
      window: 'none',
      invertMonochrome1: true,
    });
    expect(Array.from(mono1.pixels)).toEqual(Array.from(mono2.pixels, (v) => 255 - v));
    const kept = await decodeDicom(writeDicom({ rows: 4, columns: 4, pixels: RAMP, photometric: 'MONOCHROME1' }), {
      window: 'none',
      invertMonochrome1: false,
    });
    expect(Array.from(kept.pixels)).toEqual(Array.from(mono2.pixels));
  });

  it('reads signed 16-bit and 8-bit data', async () => {
    const signed = await decodeDicom(writeDicom({ rows: 1, columns: 3, pixels: [-1000, 0, 1000], signed: true }), {
      window: 'none',
      invertMonochrome1: true,
    });
    expect(Array.from(signed.pixels)).toEqual([0, 128, 255]);
    const eight = await decodeDicom(writeDicom({ rows: 1, columns: 2, pixels: [0, 200], bitsAllocated: 8 }), {
      window: 'none',
      invertMonochrome1: true,
    });
    expect(Array.from(eight.pixels)).toEqual([0, 255]);
  });

  it('refuses truncated pixel data, unsupported syntaxes by name, and unencapsulated compressed data', async () => {
    const full = writeDicom({ rows: 4, columns: 4, pixels: RAMP });
    await expect(decodeDicom(full.subarray(0, full.length - 10), IMAGE.dicom)).rejects.toThrow(
      /truncated pixel data|not a readable DICOM/,
    );
    const jpegXl = writeDicom({ rows: 4, columns: 4, pixels: RAMP, transferSyntax: '1.2.840.10008.1.2.4.112' });
    await expect(decodeDicom(jpegXl, IMAGE.dicom)).rejects.toThrow(
      'the transfer syntax JPEG XL (1.2.840.10008.1.2.4.112) is not supported: convert the file to an ' +
        'uncompressed, RLE, JPEG, JPEG-LS or JPEG 2000 syntax first',
    );
    const notEncapsulated = writeDicom({ rows: 4, columns: 4, pixels: RAMP, transferSyntax: '1.2.840.10008.1.2.4.50' });
    await expect(decodeDicom(notEncapsulated, IMAGE.dicom)).rejects.toThrow(
      'the pixel data of a JPEG Baseline (Process 1) (1.2.840.10008.1.2.4.50) file must be encapsulated',
    );
  });

  it('loads .dcm files next to PNGs in a dataset, and reports a truncated one by file', async () => {
    const dir = await tempDir();
    await writeSmallDataset(dir, GOOD_CSV, { A1: 1, A2: 1, A3: 1 });
    await writeFile(
      join(dir, 'images', 'A4_0.dcm'),
      writeDicom({ rows: 8, columns: 8, pixels: Array.from({ length: 64 }, (_, i) => i), photometric: 'MONOCHROME1' }),
    );
    const ds = await loadDataset(filesSpec(dir));
    const img = ds.images.find((i) => i.file.endsWith('A4_0.dcm'))!;
    expect(img.pixels[0]).toBe(255); // inverted min
    expect(img.pixels[63]).toBe(0);
    const bad = writeDicom({ rows: 8, columns: 8, pixels: Array.from({ length: 64 }, (_, i) => i) });
    await writeFile(join(dir, 'images', 'A4_0.dcm'), bad.subarray(0, bad.length - 40));
    const errors = await validateDataset(filesSpec(dir));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.file).toBe(join(dir, 'images', 'A4_0.dcm'));
    expect(errors[0]!.message).toMatch(
      /^unreadable image for patient 'A4' \(.*labs\.csv row 5\): (truncated pixel data|not a readable DICOM)/,
    );
  });
});

describe('PNG/JPEG decoding and caching', () => {
  it('resizes to the declared size, makes 1 or 3 channels, reads JPEG', async () => {
    const rgb = Buffer.alloc(6 * 6 * 3);
    for (let i = 0; i < 36; i++) rgb.set([200, 100, 0], 3 * i);
    const png = await sharp(rgb, { raw: { width: 6, height: 6, channels: 3 } })
      .png()
      .toBuffer();
    const jpg = await sharp(rgb, { raw: { width: 6, height: 6, channels: 3 } })
      .jpeg({ quality: 100 })
      .toBuffer();
    const dir = await tempDir();
    await writeFile(join(dir, 'a.png'), png);
    await writeFile(join(dir, 'a.jpg'), jpg);
    const ref = (f: string) => ({ kind: 'file' as const, path: join(dir, f), display: f, key: 'a' });
    const three = only(await decodeImage(ref('a.png'), { ...IMAGE, channels: 3 }));
    expect(three.length).toBe(4 * 4 * 3);
    expect(Array.from(three.subarray(0, 3))).toEqual([200, 100, 0]);
    const one = only(await decodeImage(ref('a.png'), IMAGE));
    expect(one.length).toBe(16);
    // A luminance mix of the three channels (sharp's b-w), not one channel copied.
    expect(one[0]).toBeGreaterThan(60);
    expect(one[0]).toBeLessThan(140);
    expect([200, 100, 0]).not.toContain(one[0]);
    const fromJpeg = only(await decodeImage(ref('a.jpg'), { ...IMAGE, channels: 3 }));
    expect(Math.abs(fromJpeg[0]! - 200)).toBeLessThan(6);
    const gray = await sharp(Buffer.alloc(16, 77), { raw: { width: 4, height: 4, channels: 1 } })
      .png()
      .toBuffer();
    await writeFile(join(dir, 'g.png'), gray);
    expect(Array.from(only(await decodeImage(ref('g.png'), { ...IMAGE, channels: 3 })).subarray(0, 6))).toEqual([
      77, 77, 77, 77, 77, 77,
    ]);
  });

  it('the disk cache is keyed by content and settings, and is used on the next load', async () => {
    const dir = await tempDir();
    await writeSmallDataset(dir, GOOD_CSV, { A1: 1, A2: 2, A3: 1, A4: 1 });
    const spec = filesSpec(dir, { cache: join(dir, 'cache') });
    const first = await loadDataset(spec);
    const entries = async (): Promise<string[]> =>
      (await readdir(join(dir, 'cache', 'images'), { recursive: true })).filter((f) => f.endsWith('.u8'));
    // Five files, two distinct contents (gray levels 10 and 20): two entries.
    expect(await entries()).toHaveLength(2);
    // Tamper with one cache entry: a second load must read the cache, not decode again.
    const one = (await entries())[0]!;
    await writeFile(join(dir, 'cache', 'images', one), Buffer.alloc(64, 201));
    const second = await loadDataset(spec);
    expect(second.images.some((i) => i.pixels.every((v) => v === 201))).toBe(true);
    expect(first.images.some((i) => i.pixels.every((v) => v === 201))).toBe(false);
    await loadDataset(filesSpec(dir, { cache: join(dir, 'cache'), images: { ...spec.images, size: [4, 4] } }));
    expect(await entries()).toHaveLength(4);
  });

  it('file patterns link images to patients without crossing folders', () => {
    expect(patternRegex('{id}_*').exec('P0001_3.png')?.[1]).toBe('P0001');
    expect(patternRegex('{id}/*').exec('P7/side.dcm')?.[1]).toBe('P7');
    expect(patternRegex('{id}_*').exec('sub/P1_0.png')).toBeNull();
    expect(patternRegex('scan-{id}.dcm').exec('scan-P1.dcm')?.[1]).toBe('P1');
  });
});
