/**
 * Colour DICOM becomes the grey the model takes: each pixel's BT.601 luma (0.299 R + 0.587 G +
 * 0.114 B), checked against pydicom (Debian's python3-pydicom, which CI installs) turning the same
 * file into RGB with its own colour conversion (convert_color_space for YBR, apply_color_lut for
 * palettes; test/fixtures/dicom/pydicom_luma.py), for uncompressed and compressed files. Where
 * this pydicom cannot decode a file (JPEG lossless, JPEG-LS: no plugin in Debian) the file must
 * equal its lossless twin. Before this change every colour file was refused ("only grayscale
 * (MONOCHROME1/2) DICOM is supported, got RGB").
 *
 * Files: pydicom's sample files by name, and test/fixtures/dicom/ (made by make_colour_fixtures.py;
 * see its README.md). Tolerances are in sample units of the luma (0-255 for 8-bit samples).
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../runtime/data/dataset.js';
import { decodeDicom, LUMA_WEIGHTS, openDicom } from '../../runtime/data/dicom.js';
import { filesSpec, GOOD_CSV, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';
import { PYTHON } from '../support/python.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));

type Reference = { readonly shape: number[]; readonly values: number[] } | { readonly error: string };

/** pydicom's samples, by name (pydicom finds them); `ybr:` as pydicom_luma.py reads it. */
const PYDICOM_FILES = [
  'SC_rgb_rle.dcm',
  'SC_rgb_rle_16bit.dcm',
  'SC_rgb_rle_2frame.dcm',
  'SC_rgb_rle_32bit_2frame.dcm',
  'ExplVR_BigEnd.dcm',
  'SC_rgb_small_odd.dcm',
  'SC_rgb_jpeg_dcmd.dcm',
  'SC_ybr_full_422_uncompressed.dcm',
  'SC_rgb_dcmtk_+eb+cr.dcm',
  'SC_rgb_dcmtk_+eb+cy+n1.dcm',
  'SC_rgb_dcmtk_+eb+cy+np.dcm',
  'SC_rgb_dcmtk_+eb+cy+s2.dcm',
  'SC_rgb_jpeg_dcmtk.dcm',
  'SC_jpeg_no_color_transform.dcm',
  'SC_jpeg_no_color_transform_2.dcm',
  'SC_rgb_jpeg_app14_dcmd.dcm',
  'SC_rgb_small_odd_jpeg.dcm',
  'SC_rgb_jpeg_lossy_gdcm.dcm',
  'SC_rgb_gdcm_KY.dcm',
  'SC_rgb_jpeg_gdcm.dcm',
];
const OUR_FILES = [
  'rgb8_planar1.dcm',
  'ybr_full8.dcm',
  'rgb8_j2k_rct.dcm',
  'rgb8_j2k_ict.dcm',
  'palette8.dcm',
  'rgb8_jpeg_ls_ilv_none.dcm',
  'rgb8_bars_jpeg_ls.dcm',
];

const paths: Record<string, string> = {};
let reference: Record<string, Reference> = {};

function pythonJson<T>(args: readonly string[]): T {
  const r = spawnSync(PYTHON, [...args], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120_000 });
  if (r.error || r.status !== 0)
    throw new Error(`${PYTHON} ${args[0]} failed (${r.error?.message ?? r.stderr}); these tests need python3-pydicom`);
  return JSON.parse(r.stdout) as T;
}

beforeAll(() => {
  Object.assign(
    paths,
    pythonJson<Record<string, string>>([
      '-c',
      'import json,sys\nfrom pydicom.data import get_testdata_file as g\n' +
        'print(json.dumps({n: g(n) for n in sys.argv[1:]}))',
      ...PYDICOM_FILES,
    ]),
  );
  for (const f of OUR_FILES) paths[f] = join(FIXTURES, f);
  const args = [...PYDICOM_FILES, ...OUR_FILES].map((f) =>
    // GDCM wrote this stream as YCbCr with subsampled chroma but no JFIF or Adobe marker, into a
    // file labelled RGB; this pydicom hands the YCbCr samples back unconverted, nvcc converts them
    // (subsampled chroma can only be YCbCr).
    f === 'SC_rgb_jpeg_lossy_gdcm.dcm' ? `ybr:${paths[f]}` : paths[f]!,
  );
  const byArg = pythonJson<Record<string, Reference>>([join(FIXTURES, 'pydicom_luma.py'), ...args]);
  reference = Object.fromEntries([...PYDICOM_FILES, ...OUR_FILES].map((f, k) => [f, byArg[args[k]!]!]));
}, 120_000);

/** nvcc's luma of every frame, flattened frame after frame, with the frame count. */
async function luma(file: string): Promise<{ frames: number; values: number[] }> {
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

/** Frames pydicom's shape holds: (frames, rows, columns) for more than one frame. */
const framesOf = (shape: readonly number[]) => (shape.length === 3 ? shape[0] : 1);

describe('the luma rule', () => {
  it('is BT.601, whose weights sum to 1 (white stays white)', () => {
    expect(LUMA_WEIGHTS).toEqual({ r: 0.299, g: 0.587, b: 0.114 });
    expect(LUMA_WEIGHTS.r + LUMA_WEIGHTS.g + LUMA_WEIGHTS.b).toBeCloseTo(1, 12);
  });
});

describe('colour DICOM decodes to the luma of pydicom’s RGB', () => {
  // Lossless RGB and palettes: the same samples, the same weights (float rounding only).
  const exact: Array<[string, string]> = [
    ['SC_rgb_rle.dcm', 'RLE, 8-bit RGB'],
    ['SC_rgb_rle_16bit.dcm', 'RLE, 16-bit RGB'],
    ['SC_rgb_rle_2frame.dcm', 'RLE, 8-bit RGB, 2 frames'],
    ['SC_rgb_rle_32bit_2frame.dcm', 'RLE, 32-bit RGB, 2 frames'],
    ['ExplVR_BigEnd.dcm', 'uncompressed big endian RGB, planar configuration 1'],
    ['SC_rgb_small_odd.dcm', 'uncompressed 3x3 RGB, planar configuration 0'],
    ['SC_rgb_jpeg_dcmd.dcm', 'uncompressed implicit VR RGB'],
    ['rgb8_planar1.dcm', 'uncompressed RGB, planar configuration 1'],
    ['rgb8_j2k_rct.dcm', 'JPEG 2000 lossless, YBR_RCT'],
    ['palette8.dcm', 'PALETTE COLOR, 16-bit entries, first mapped value 16'],
  ];
  for (const [file, what] of exact)
    it(`${file} (${what}): within 1e-6`, async () => {
      const ours = await luma(file);
      const ref = expected(file);
      expect(ours.frames).toBe(framesOf(ref.shape));
      expect(maxDifference(ours.values, ref.values) / Math.max(1, ...ref.values)).toBeLessThan(1e-9);
    });

  // YBR to RGB: pydicom rounds each converted sample to an integer, nvcc keeps the float, so the
  // luma differs by at most 0.5 (the weights sum to 1); both clip to the sample range.
  const ybr: Array<[string, string]> = [
    ['SC_ybr_full_422_uncompressed.dcm', 'uncompressed YBR_FULL_422'],
    ['ybr_full8.dcm', 'uncompressed YBR_FULL, saturated colours clipped'],
  ];
  for (const [file, what] of ybr)
    it(`${file} (${what}): within 0.5`, async () => {
      expect(maxDifference((await luma(file)).values, expected(file).values)).toBeLessThanOrEqual(0.5);
    });

  // Lossy streams: nvcc's libjpeg-turbo and OpenJPEG against Pillow's, and libjpeg-turbo's
  // integer YCbCr conversion against pydicom's float one.
  const lossy: Array<[string, string]> = [
    ['SC_rgb_dcmtk_+eb+cr.dcm', 'JPEG baseline, RGB stream'],
    ['SC_rgb_dcmtk_+eb+cy+n1.dcm', 'JPEG baseline, YBR_FULL'],
    ['SC_rgb_dcmtk_+eb+cy+np.dcm', 'JPEG baseline, YBR_FULL_422, no subsampling'],
    ['SC_rgb_dcmtk_+eb+cy+s2.dcm', 'JPEG baseline, YBR_FULL_422, 4:2:2'],
    ['SC_rgb_jpeg_dcmtk.dcm', 'JPEG baseline, YBR_FULL'],
    ['SC_jpeg_no_color_transform.dcm', 'JPEG baseline, RGB without a colour transform'],
    ['SC_jpeg_no_color_transform_2.dcm', 'JPEG baseline, RGB without a colour transform'],
    ['SC_rgb_jpeg_app14_dcmd.dcm', 'JPEG baseline, Adobe marker'],
    ['SC_rgb_small_odd_jpeg.dcm', 'JPEG baseline, 3x3, YBR_FULL'],
    ['SC_rgb_jpeg_lossy_gdcm.dcm', 'JPEG baseline, subsampled YCbCr stream labelled RGB'],
    ['SC_rgb_gdcm_KY.dcm', 'JPEG 2000 lossy, RGB'],
    ['rgb8_j2k_ict.dcm', 'JPEG 2000 lossy, YBR_ICT'],
  ];
  for (const [file, what] of lossy)
    it(`${file} (${what}): within 1`, async () => {
      expect(maxDifference((await luma(file)).values, expected(file).values)).toBeLessThanOrEqual(1);
    });
});

describe('colour files pydicom cannot decode here equal their lossless twins', () => {
  const twins: Array<[string, string, string]> = [
    ['SC_rgb_jpeg_gdcm.dcm', 'SC_rgb_rle.dcm', 'JPEG lossless RGB'],
    ['rgb8_bars_jpeg_ls.dcm', 'SC_rgb_rle.dcm', 'JPEG-LS lossless RGB, line-interleaved'],
    ['rgb8_jpeg_ls_ilv_none.dcm', 'rgb8_planar1.dcm', 'JPEG-LS lossless RGB, not interleaved'],
  ];
  for (const [file, twin, what] of twins)
    it(`${file} (${what}) equals ${twin}`, async () => {
      if (file === 'SC_rgb_jpeg_gdcm.dcm') expect(reference[file]).toHaveProperty('error');
      expect(maxDifference((await luma(file)).values, expected(twin).values)).toBeLessThan(1e-9);
    });

  it('SC_rgb_jpeg_lossy_gdcm.dcm (subsampled YCbCr labelled RGB) is the picture of SC_rgb_rle.dcm', async () => {
    // Read as YCbCr, it is the colour bars of the other SC_rgb files: within 10 grey levels
    // (measured 7.8, at the edges between bars, where 4:2:0 chroma is shared by 2x2 pixels). Read
    // as its RGB label says, as this pydicom reads it, it is 141 grey levels off.
    const bars = expected('SC_rgb_rle.dcm').values;
    expect(maxDifference((await luma('SC_rgb_jpeg_lossy_gdcm.dcm')).values, bars)).toBeLessThan(10);
  });

  it('ybr_full8.dcm (YBR_FULL) is rgb8_planar1.dcm (its RGB source) within 1', async () => {
    expect(maxDifference((await luma('ybr_full8.dcm')).values, expected('rgb8_planar1.dcm').values)).toBeLessThan(1);
  });
});

const DICOM = { window: 'none', invertMonochrome1: true } as const;

describe('colour DICOM in a dataset and its refusals', () => {
  it('a colour image is an 8-bit grey picture of its luma, windowed min-max', async () => {
    const picture = await decodeDicom(new Uint8Array(await readFile(paths['rgb8_planar1.dcm']!)), DICOM);
    const ref = expected('rgb8_planar1.dcm').values;
    const lo = Math.min(...ref);
    const hi = Math.max(...ref);
    expect(picture.width).toBe(128);
    expect(picture.height).toBe(96);
    // The linear VOI function over [lo, hi] (width hi - lo + 1): within one grey level of it.
    let worst = 0;
    for (let i = 0; i < ref.length; i++)
      worst = Math.max(worst, Math.abs(picture.pixels[i]! - ((ref[i]! - lo) / (hi - lo)) * 255));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('a dataset reads a colour image of a patient', async () => {
    const dir = await tempDir();
    await writeSmallDataset(dir, GOOD_CSV, { A1: 1, A2: 1, A3: 1 });
    await writeFile(join(dir, 'images', 'A4_0.dcm'), await readFile(paths['SC_rgb_rle_2frame.dcm']!));
    const ds = await loadDataset(filesSpec(dir));
    const a4 = ds.patients.find((p) => p.id === 'A4')!;
    expect(a4.images.map((k) => ds.images[k]!.file)).toEqual(
      [1, 2].map((k) => `${join(dir, 'images', 'A4_0.dcm')} [frame ${k}/2]`),
    );
  });

  it('an unsupported photometric interpretation is refused by name', async () => {
    const bytes = new Uint8Array(await readFile(paths['ybr_full8.dcm']!));
    const at = Buffer.from(bytes).indexOf('YBR_FULL');
    const patched = bytes.slice();
    patched.set(Buffer.from('CMYK    '), at);
    await expect(decodeDicom(patched, DICOM)).rejects.toThrow(
      'the photometric interpretation CMYK is not supported (nvcc reads MONOCHROME1, MONOCHROME2, PALETTE COLOR, ' +
        'RGB, YBR_FULL, YBR_FULL_422 (uncompressed or JPEG), YBR_ICT and YBR_RCT (JPEG 2000))',
    );
    patched.set(Buffer.from('YBR_ICT '), at);
    await expect(decodeDicom(patched, DICOM)).rejects.toThrow(
      'YBR_ICT names a JPEG 2000 colour transform, but the file is Explicit VR Little Endian (1.2.840.10008.1.2.1)',
    );
  });
});
