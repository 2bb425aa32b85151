/**
 * DICOM pixel words are read as PS3.5 8.1.1 says (each case failed before its fix): only the Bits
 * Stored bits ending at High Bit hold the value, a signed value is sign-extended from its top
 * stored bit, and a data set without the 128-byte preamble and "DICM" is read (it was "not a PNG,
 * JPEG or DICOM image"). Pixels are compared through a fixed window, so each stored value maps
 * to a known grey level.
 */
import { describe, expect, it } from 'vitest';
import { decodeDicom, isDicom } from '../../runtime/data/dicom.js';
import { writeDicom } from '../fixtures/data/dicom-writer.js';

/** window [0, 255] for unsigned, [-128, 127] for signed: grey = value - (center - 127.5) rounded. */
const identity = (center: number) => ({ window: { center, width: 256 }, invertMonochrome1: true }) as const;

describe('Bits Stored and High Bit', () => {
  it('12 bits stored in 16, garbage above the high bit: masked away', async () => {
    const values = [0, 10, 100, 255];
    const words = values.map((v, i) => v | ((0xa + i) << 12)); // an overlay plane's bits above bit 11
    const bytes = writeDicom({ rows: 2, columns: 2, pixels: values, words, bitsStored: 12 });
    const pic = await decodeDicom(bytes, identity(128));
    expect(Array.from(pic.pixels)).toEqual(values);
  });

  it('a value stored in bits 4..11 (High Bit 11, 8 bits stored) is shifted down', async () => {
    const values = [1, 2, 50, 200];
    const words = values.map((v) => (v << 4) | 0xf); // low 4 bits unused
    const bytes = writeDicom({ rows: 2, columns: 2, pixels: values, words, bitsStored: 8, highBit: 11 });
    expect(Array.from((await decodeDicom(bytes, identity(128))).pixels)).toEqual(values);
  });

  it('signed 12-bit values are sign-extended from bit 11', async () => {
    const values = [-128, -1, 0, 127];
    const words = values.map((v) => v & 0xfff);
    const bytes = writeDicom({ rows: 2, columns: 2, pixels: values, words, bitsStored: 12, signed: true });
    // center 0: -128 -> 0, -1 -> 127, 0 -> 128, 127 -> 255
    expect(Array.from((await decodeDicom(bytes, identity(0))).pixels)).toEqual([0, 127, 128, 255]);
  });

  it('inconsistent Bits Stored / High Bit are refused by name', async () => {
    const bytes = writeDicom({ rows: 1, columns: 1, pixels: [0], bitsStored: 12, highBit: 8 });
    await expect(decodeDicom(bytes, identity(128))).rejects.toThrow('inconsistent Bits Stored 12 / High Bit 8');
  });
});

describe('a data set without the preamble', () => {
  it('is recognised and decoded like the same pixels with one', async () => {
    const f = { rows: 2, columns: 2, pixels: [3, 30, 90, 250], bitsAllocated: 8 as const };
    const bare = writeDicom({ ...f, preamble: false });
    expect(isDicom(bare)).toBe(true);
    expect(Array.from((await decodeDicom(bare, identity(128))).pixels)).toEqual(
      Array.from((await decodeDicom(writeDicom(f), identity(128))).pixels),
    );
    expect(Array.from((await decodeDicom(bare, identity(128))).pixels)).toEqual([3, 30, 90, 250]);
  });

  it('PNG and JPEG signatures are not taken for one', () => {
    expect(isDicom(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))).toBe(false);
    expect(isDicom(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]))).toBe(false);
  });
});
