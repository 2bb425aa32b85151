/**
 * Compressed and multi-frame DICOM, checked against pydicom (Debian's python3-pydicom, which CI
 * installs): every compressed file decodes to the stored values pydicom gives for it, or, where
 * this pydicom cannot decode it (JPEG-LS, JPEG lossless: no plugin in Debian), to the values of
 * its uncompressed twin. Lossless syntaxes must match exactly; JPEG-LS near-lossless within its
 * NEAR bound of 2; lossy JPEG and JPEG 2000 against pydicom's own decode of the same stream
 * (Pillow's libjpeg-turbo and OpenJPEG), within 1 stored unit. Before this change every one of
 * these files was refused ("compressed DICOM (transfer syntax ...) is not supported"), and a
 * multi-frame file was read as frame 0 alone.
 *
 * Files: pydicom's sample files by name, and test/fixtures/dicom/ (made from them by
 * make_fixtures.py with DCMTK; see its README.md).
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, validateDataset } from '../../runtime/data/dataset.js';
import { decodeDicom, decodeDicomFrames, openDicom } from '../../runtime/data/dicom.js';
import { filesSpec, GOOD_CSV, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';
import { PYTHON } from '../support/python.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));
const SCRIPT = join(FIXTURES, 'pydicom_pixels.py');

/** Runs Debian's Python (pydicom) and parses the JSON line it prints (tens of MB for the large files). */
function pythonJson<T>(args: readonly string[]): T {
  const r = spawnSync(PYTHON, [...args], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120_000 });
  if (r.error || r.status !== 0)
    throw new Error(`${PYTHON} ${args[0]} failed (${r.error?.message ?? r.stderr}); these tests need python3-pydicom`);
  return JSON.parse(r.stdout) as T;
}

type Reference = { readonly shape: number[]; readonly values: number[] } | { readonly error: string };

/** pydicom's sample files (found by pydicom itself), and ours by path. */
const PYDICOM_FILES = [
  'MR_small.dcm',
  'MR_small_RLE.dcm',
  'MR_small_jp2klossless.dcm',
  'MR_small_jpeg_ls_lossless.dcm',
  'J2K_pixelrep_mismatch.dcm',
  '693_J2KI.dcm',
  'JPEG2000.dcm',
  'rtdose.dcm',
  'rtdose_rle.dcm',
  'image_dfl.dcm',
];
const OUR_FILES = [
  'MR_small_3frames.dcm',
  'gray8_128.dcm',
  'gray8_128_jpeg_baseline.dcm',
  'gray8_128_rle.dcm',
  'gray8_128_jpeg_ls_near2.dcm',
  'MR_small_jpeg_lossless_sv1.dcm',
];

let reference: Record<string, Reference> = {};
const paths: Record<string, string> = {};

beforeAll(() => {
  const located = pythonJson<Record<string, string>>([
    '-c',
    'import json,sys\nfrom pydicom.data import get_testdata_file as g\n' +
      'print(json.dumps({n: g(n) for n in sys.argv[1:]}))',
    ...PYDICOM_FILES,
  ]);
  Object.assign(paths, located);
  for (const f of [...OUR_FILES, 'MR_small_jpeg_lossless_sv6.dcm']) paths[f] = join(FIXTURES, f);
  for (const f of ['MR_small_3frames_jpeg_ls.dcm', 'MR_small_3frames_jpeg_fragments.dcm', 'MR_small_3frames_rle.dcm'])
    paths[f] = join(FIXTURES, f);
  reference = pythonJson<Record<string, Reference>>([
    SCRIPT,
    ...PYDICOM_FILES.map((f) => paths[f]!),
    ...OUR_FILES.map((f) => paths[f]!),
  ]);
  for (const f of [...PYDICOM_FILES, ...OUR_FILES]) reference[f] = reference[paths[f]!]!;
}, 120_000);

/** nvcc's stored values of every frame, flattened frame after frame, with the frame count. */
async function stored(file: string): Promise<{ frames: number; values: number[] }> {
  const image = openDicom(new Uint8Array(await readFile(paths[file]!)));
  const values: number[] = [];
  for (let k = 0; k < image.frameCount; k++) for (const v of await image.storedValues(k)) values.push(v);
  return { frames: image.frameCount, values };
}

function expected(file: string): { shape: number[]; values: number[] } {
  const r = reference[file];
  if (!r || 'error' in r) throw new Error(`pydicom could not decode ${file}: ${r ? r.error : 'not asked'}`);
  return r;
}

function maxDifference(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('compressed DICOM decodes as pydicom decodes it', () => {
  const exact: Array<[string, string]> = [
    ['MR_small_RLE.dcm', 'RLE Lossless, 16-bit signed'],
    ['gray8_128_rle.dcm', 'RLE Lossless, 8-bit'],
    ['rtdose_rle.dcm', 'RLE Lossless, 32-bit, 15 frames'],
    ['MR_small_jp2klossless.dcm', 'JPEG 2000 lossless'],
    ['J2K_pixelrep_mismatch.dcm', 'JPEG 2000 lossless, 13 bits stored, unsigned stream in a signed image'],
    ['image_dfl.dcm', 'Deflated Explicit VR Little Endian'],
  ];
  for (const [file, what] of exact)
    it(`${file} (${what}): exactly`, async () => {
      const ours = await stored(file);
      const ref = expected(file);
      expect(ours.frames).toBe(ref.shape.length === 3 ? ref.shape[0] : 1);
      expect(maxDifference(ours.values, ref.values)).toBe(0);
    });

  const lossy: Array<[string, string]> = [
    ['693_J2KI.dcm', 'JPEG 2000 lossy, 14 bits stored, signed'],
    ['JPEG2000.dcm', 'JPEG 2000 lossy, 16-bit signed'],
    ['gray8_128_jpeg_baseline.dcm', 'JPEG baseline, 8-bit'],
  ];
  for (const [file, what] of lossy)
    it(`${file} (${what}): within 1 of pydicom's decode of the same stream`, async () => {
      const ours = await stored(file);
      expect(maxDifference(ours.values, expected(file).values)).toBeLessThanOrEqual(1);
    });
});

describe('compressed DICOM pydicom cannot decode here equals its uncompressed twin', () => {
  const twins: Array<[string, string, string]> = [
    ['MR_small_jpeg_ls_lossless.dcm', 'MR_small.dcm', 'JPEG-LS lossless (pydicom sample)'],
    ['MR_small_jpeg_lossless_sv1.dcm', 'MR_small.dcm', 'JPEG lossless, first-order prediction'],
    ['MR_small_jpeg_lossless_sv6.dcm', 'MR_small.dcm', 'JPEG lossless, selection value 6'],
    ['MR_small_3frames_jpeg_ls.dcm', 'MR_small_3frames.dcm', 'JPEG-LS, 3 frames, one fragment each'],
    [
      'MR_small_3frames_jpeg_fragments.dcm',
      'MR_small_3frames.dcm',
      'JPEG lossless, 3 frames in 1 KB fragments, empty offset table',
    ],
    ['MR_small_3frames_rle.dcm', 'MR_small_3frames.dcm', 'RLE, 3 frames'],
  ];
  for (const [file, twin, what] of twins)
    it(`${file} (${what}) equals ${twin} exactly`, async () => {
      const ours = await stored(file);
      const ref = expected(twin);
      expect(ours.frames).toBe(ref.shape.length === 3 ? ref.shape[0] : 1);
      expect(ours.values).toEqual(ref.values);
    });

  it('rtdose_rle.dcm equals its uncompressed twin rtdose.dcm (32-bit, 15 frames)', async () => {
    const ours = await stored('rtdose_rle.dcm');
    expect(ours.frames).toBe(15);
    expect(ours.values).toEqual(expected('rtdose.dcm').values);
  });

  it('gray8_128_jpeg_ls_near2.dcm (JPEG-LS, NEAR 2) differs from gray8_128.dcm by at most 2, and by 2', async () => {
    const ours = await stored('gray8_128_jpeg_ls_near2.dcm');
    const twin = expected('gray8_128.dcm').values;
    expect(maxDifference(ours.values, twin)).toBe(2);
  });
});

describe('refusals name the syntax and what to do', () => {
  it('a damaged stream names the syntax; a stream of another size is refused before decoding', async () => {
    const bytes = new Uint8Array(await readFile(paths['MR_small_jpeg_ls_lossless.dcm']!));
    // Cut the file in the middle of the JPEG-LS scan: the fragment's length now runs past the end.
    const cut = bytes.subarray(0, bytes.length - 2000);
    await expect(decodeDicom(cut, DICOM)).rejects.toThrow(/not a readable DICOM file|JPEG-LS Lossless/);
    // Scramble the scan data but keep the lengths: CharLS fails, nvcc says which syntax.
    const scrambled = bytes.slice();
    for (let i = scrambled.length - 3000; i < scrambled.length - 100; i++) scrambled[i] = (i * 151) & 0xff;
    await expect(decodeDicom(scrambled, DICOM)).rejects.toThrow(
      /JPEG-LS Lossless \(1\.2\.840\.10008\.1\.2\.4\.80\): the JPEG-LS data could not be decoded/,
    );
    // The stream's frame header says 64 x 64; Rows says 65 (a patched Rows value, US 0040 -> 0041).
    const rows = findRows(bytes);
    const patched = bytes.slice();
    patched[rows] = 65;
    await expect(decodeDicom(patched, DICOM)).rejects.toThrow(
      'the JPEG-LS stream holds a 64x64 image but Columns/Rows say 64x65',
    );
    // And the decoder still works afterwards.
    expect((await decodeDicom(bytes, DICOM)).pixels.length).toBe(64 * 64);
  });
});

/** Offset of the Rows (0028,0010) value in an explicit VR little endian file. */
function findRows(bytes: Uint8Array): number {
  for (let i = 132; i + 8 < bytes.length; i++)
    if (bytes[i] === 0x28 && bytes[i + 1] === 0 && bytes[i + 2] === 0x10 && bytes[i + 3] === 0 && bytes[i + 4] === 0x55)
      return i + 8;
  throw new Error('no Rows element');
}

const DICOM = { window: 'none', invertMonochrome1: true } as const;

describe('multi-frame DICOM: each frame is one image of its patient', () => {
  it('decodeDicomFrames gives every frame, windowed on its own; decodeDicom refuses naming the count', async () => {
    const bytes = new Uint8Array(await readFile(paths['MR_small_3frames_jpeg_ls.dcm']!));
    const pictures = await decodeDicomFrames(bytes, DICOM);
    expect(pictures).toHaveLength(3);
    const [a, b, c] = pictures.map((p) => p.pixels);
    // Frame 2 is frame 1 mirrored left-right, frame 3 upside down (make_fixtures.py).
    for (let y = 0; y < 64; y++)
      for (let x = 0; x < 64; x++) {
        expect(b![y * 64 + x]).toBe(a![y * 64 + (63 - x)]);
        expect(c![y * 64 + x]).toBe(a![(63 - y) * 64 + x]);
      }
    await expect(decodeDicom(bytes, DICOM)).rejects.toThrow('the file has 3 frames');
  });

  it('a dataset gets three images for the patient of a 3-frame file, named by frame', async () => {
    const dir = await tempDir();
    await writeSmallDataset(dir, GOOD_CSV, { A1: 1, A2: 1, A3: 1 });
    await writeFile(join(dir, 'images', 'A4_0.dcm'), await readFile(paths['MR_small_3frames_rle.dcm']!));
    const ds = await loadDataset(filesSpec(dir));
    const a4 = ds.patients.findIndex((p) => p.id === 'A4');
    const files = ds.patients[a4]!.images.map((k) => ds.images[k]!.file);
    expect(files).toEqual([1, 2, 3].map((k) => `${join(dir, 'images', 'A4_0.dcm')} [frame ${k}/3]`));
    // Frames 2 and 3 are frame 1 mirrored and flipped: the same grey levels, other places.
    const [f1, f2] = ds.patients[a4]!.images.map((k) => ds.images[k]!.pixels);
    expect(Array.from(f1!)).not.toEqual(Array.from(f2!));
    expect(await validateDataset(filesSpec(dir))).toEqual([]);
  });
});
