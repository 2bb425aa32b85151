/**
 * 12-bit JPEG Extended (1.2.840.10008.1.2.4.51, process 4), decoded through dcmjs-codecs (DCMTK's
 * 12-bit IJG library in WebAssembly). It used to be refused ("12-bit JPEG ... is not supported").
 * This pydicom cannot decode 12-bit JPEG (Pillow reads 8-bit JPEG only; asserted below), so the
 * references are DCMTK's own decoding (dcmdjpeg, the same IJG 6b code built natively), kept
 * losslessly by make_jpeg12_fixtures.py, and, for mr12_jpeg_extended.dcm, the uncompressed
 * original it was encoded from (quality 90: lossy, so within a measured bound).
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeDicom, openDicom } from '../../runtime/data/dicom.js';
import { PYTHON } from '../support/python.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));

type Reference = { readonly shape: number[]; readonly values: number[] } | { readonly error: string };

const paths: Record<string, string> = {};
let reference: Record<string, Reference> = {};

beforeAll(() => {
  const located = spawnSync(
    PYTHON,
    [
      '-c',
      'import json,sys\nfrom pydicom.data import get_testdata_file as g\n' +
        'print(json.dumps({n: g(n) for n in sys.argv[1:]}))',
      'JPGExtended.dcm',
      'JPEG-lossy.dcm',
    ],
    { encoding: 'utf8' },
  );
  if (located.status !== 0) throw new Error(`pydicom is needed: ${located.stderr}`);
  Object.assign(paths, JSON.parse(located.stdout));
  for (const f of [
    'mr12.dcm',
    'mr12_jpeg_extended.dcm',
    'mr12_jpeg_extended_dcmtk.dcm',
    'JPGExtended_dcmtk_jpeg_ls.dcm',
  ])
    paths[f] = join(FIXTURES, f);
  const files = ['JPGExtended.dcm', 'mr12.dcm', 'mr12_jpeg_extended.dcm', 'mr12_jpeg_extended_dcmtk.dcm'];
  const r = spawnSync(PYTHON, [join(FIXTURES, 'pydicom_pixels.py'), ...files.map((f) => paths[f]!)], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`pydicom_pixels.py failed: ${r.stderr}`);
  const byPath = JSON.parse(r.stdout) as Record<string, Reference>;
  reference = Object.fromEntries(files.map((f) => [f, byPath[paths[f]!]!]));
}, 120_000);

async function stored(file: string): Promise<number[]> {
  const image = openDicom(new Uint8Array(await readFile(paths[file]!)));
  expect(image.frameCount).toBe(1);
  return Array.from(await image.storedValues(0));
}

function expected(file: string): number[] {
  const r = reference[file];
  if (!r || 'error' in r) throw new Error(`pydicom could not read ${file}: ${r ? r.error : 'not asked'}`);
  return r.values;
}

function differences(a: readonly number[], b: readonly number[]): { max: number; rms: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let squares = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    squares += d * d;
  }
  return { max, rms: Math.sqrt(squares / a.length) };
}

describe('12-bit JPEG Extended decodes as DCMTK decodes it', () => {
  it('this pydicom cannot decode it (why the reference is DCMTK)', () => {
    expect(reference['JPGExtended.dcm']).toHaveProperty('error');
    expect(reference['mr12_jpeg_extended.dcm']).toHaveProperty('error');
  });

  it("pydicom's JPGExtended.dcm and JPEG-lossy.dcm (1024x256, 12 bits) equal dcmdjpeg's decoding exactly", async () => {
    const dcmtk = await stored('JPGExtended_dcmtk_jpeg_ls.dcm');
    for (const file of ['JPGExtended.dcm', 'JPEG-lossy.dcm']) {
      const ours = await stored(file);
      expect(ours).toHaveLength(1024 * 256);
      expect(differences(ours, dcmtk).max).toBe(0);
    }
    // A value-level property beside it: 12-bit unsigned values, not all one value.
    expect(dcmtk.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(0);
    expect(dcmtk.reduce((a, b) => Math.max(a, b))).toBeLessThan(4096);
    expect(new Set(dcmtk).size).toBeGreaterThan(100);
  });

  it('mr12_jpeg_extended.dcm equals dcmdjpeg’s decoding exactly, its original within quality 90’s loss', async () => {
    const ours = await stored('mr12_jpeg_extended.dcm');
    expect(differences(ours, expected('mr12_jpeg_extended_dcmtk.dcm')).max).toBe(0);
    // The original spans 0..4095; at quality 90 every value stays within 0.5% of that range of it
    // (measured: max 14, RMS 3.9), so the picture is the original's.
    const loss = differences(ours, expected('mr12.dcm'));
    expect(loss.max).toBeLessThanOrEqual(20);
    expect(loss.rms).toBeLessThan(5);
  });

  it('the 8-bit picture of the 12-bit JPEG is that of its DCMTK twin', async () => {
    const options = { window: 'none', invertMonochrome1: true } as const;
    const ours = await decodeDicom(new Uint8Array(await readFile(paths['mr12_jpeg_extended.dcm']!)), options);
    const twin = await decodeDicom(new Uint8Array(await readFile(paths['mr12_jpeg_extended_dcmtk.dcm']!)), options);
    expect(Array.from(ours.pixels)).toEqual(Array.from(twin.pixels));
  });
});
