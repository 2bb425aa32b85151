/**
 * DICOM decoding to an 8-bit grayscale picture, through dicom-parser.
 * In: the bytes of a DICOM file (Part 10, uncompressed transfer syntaxes) and DicomOptions.
 * Out: { width, height, pixels: Uint8Array } (one channel, row-major).
 * Holds afterwards: stored values are mapped to modality units with Rescale Slope/Intercept,
 * then windowed (the declared window, else the file's first Window Center/Width, else the
 * min-max of the image) with the linear DICOM VOI function, and MONOCHROME1 images are
 * inverted (when asked) so that dense material is always bright. Unsupported or damaged files
 * raise `DicomError` with a plain message, which callers turn into a DataError.
 */
import { NvccError } from '../errors.js';
import dicomParser from 'dicom-parser';
import type { DicomOptions } from './spec.js';

/** A DICOM file nvcc cannot read (the data check names the file). */
export class DicomError extends NvccError {
  constructor(message: string) {
    super('data', message);
    this.name = 'DicomError';
  }
}

export interface GrayPicture {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);

/** True when the bytes look like a DICOM Part 10 file ("DICM" at offset 128). */
function hasPreamble(bytes: Uint8Array): boolean {
  return bytes.length > 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

const VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '),
);

/**
 * How a DICOM data set without the Part 10 preamble starts, if these bytes are one: a first
 * element of group 0002 (file meta) or 0008 (identification), little endian, with an explicit VR
 * or an implicit 4-byte length. Such files are valid (PS3.10 7.1 allows media without the
 * preamble in older archives) and were refused as "not a PNG, JPEG or DICOM image".
 */
function rawDataSet(bytes: Uint8Array): 'explicit' | 'implicit' | undefined {
  if (bytes.length < 12 || hasPreamble(bytes)) return undefined;
  const group = bytes[0]! | (bytes[1]! << 8);
  const element = bytes[2]! | (bytes[3]! << 8);
  if ((group !== 0x0002 && group !== 0x0008) || element > 0x00ff) return undefined;
  const vr = String.fromCharCode(bytes[4]!, bytes[5]!);
  if (VRS.has(vr)) return 'explicit';
  const length = bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24);
  return length >= 0 && length < 1 << 16 ? 'implicit' : undefined;
}

/** True when the bytes look like DICOM: a Part 10 file, or a data set without the preamble. */
export function isDicom(bytes: Uint8Array): boolean {
  return hasPreamble(bytes) || rawDataSet(bytes) !== undefined;
}

export function decodeDicom(bytes: Uint8Array, options: DicomOptions): GrayPicture {
  let ds: ReturnType<typeof dicomParser.parseDicom>;
  try {
    const raw = rawDataSet(bytes);
    // Without a preamble there is no file meta to name the transfer syntax: little endian, the
    // VR form the first element shows.
    ds =
      raw === undefined
        ? dicomParser.parseDicom(bytes)
        : dicomParser.parseDicom(bytes, {
            TransferSyntaxUID: raw === 'explicit' ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2',
          });
  } catch (e) {
    const detail =
      typeof e === 'string'
        ? e
        : e instanceof Error
          ? e.message
          : ((e as { exception?: string })?.exception ?? String(e));
    throw new DicomError(`not a readable DICOM file (${detail})`);
  }
  const syntax = ds.string('x00020010') ?? '1.2.840.10008.1.2.1';
  if (!UNCOMPRESSED.has(syntax))
    throw new DicomError(`compressed DICOM (transfer syntax ${syntax}) is not supported; export it uncompressed`);
  const rows = ds.uint16('x00280010');
  const cols = ds.uint16('x00280011');
  const bits = ds.uint16('x00280100') ?? 16;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const stored = ds.uint16('x00280101') ?? bits;
  const highBit = ds.uint16('x00280102') ?? stored - 1;
  const samples = ds.uint16('x00280002') ?? 1;
  const photometric = (ds.string('x00280004') ?? 'MONOCHROME2').trim();
  const pixelElement = ds.elements['x7fe00010'];
  if (!rows || !cols) throw new DicomError('missing Rows/Columns');
  if (!pixelElement) throw new DicomError('no Pixel Data element');
  if (samples !== 1 || !photometric.startsWith('MONOCHROME'))
    throw new DicomError(`only grayscale (MONOCHROME1/2) DICOM is supported, got ${photometric}`);
  if (bits !== 8 && bits !== 16) throw new DicomError(`Bits Allocated ${bits} is not supported (8 or 16)`);
  if (stored < 1 || stored > bits || highBit >= bits || highBit < stored - 1)
    throw new DicomError(`inconsistent Bits Stored ${stored} / High Bit ${highBit} for Bits Allocated ${bits}`);
  const n = rows * cols;
  const needed = n * (bits / 8);
  if (pixelElement.length < needed || pixelElement.dataOffset + needed > bytes.length)
    throw new DicomError(
      `truncated pixel data: ${Math.min(pixelElement.length, bytes.length - pixelElement.dataOffset)} of ` +
        `${needed} bytes`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset + pixelElement.dataOffset, needed);
  const bigEndian = syntax === '1.2.840.10008.1.2.2';
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const values = new Float64Array(n);
  let lo = Infinity;
  let hi = -Infinity;
  // Only bits highBit-stored+1 .. highBit of a word hold the value (PS3.5 8.1.1): the others may
  // carry overlays or garbage; a signed value is sign-extended from its top stored bit.
  const shift = highBit + 1 - stored;
  const mask = stored === 32 ? 0xffffffff : (1 << stored) - 1;
  const signBit = 1 << (stored - 1);
  for (let i = 0; i < n; i++) {
    const word = bits === 8 ? view.getUint8(i) : view.getUint16(2 * i, !bigEndian);
    let value = (word >>> shift) & mask;
    if (signed && value & signBit) value -= mask + 1;
    const v = value * slope + intercept;
    values[i] = v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let center: number;
  let width: number;
  const fileCenter = ds.floatString('x00281050');
  const fileWidth = ds.floatString('x00281051');
  if (typeof options.window === 'object') ({ center, width } = options.window);
  else if (options.window === 'auto' && fileCenter !== undefined && fileWidth !== undefined && fileWidth > 0) {
    center = fileCenter;
    width = fileWidth;
  } else {
    // Min-max: the linear window that maps lo to 0 and hi to 255.
    width = Math.max(hi - lo, 1e-6) + 1;
    center = lo + 0.5 + (width - 1) / 2;
  }
  width = Math.max(width, 1 + 1e-6);
  const invert = photometric === 'MONOCHROME1' && options.invertMonochrome1;
  const pixels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // DICOM PS3.3 C.11.2.1.2.1 linear VOI function.
    const x = values[i]!;
    let y: number;
    if (x <= center - 0.5 - (width - 1) / 2) y = 0;
    else if (x > center - 0.5 + (width - 1) / 2) y = 1;
    else y = (x - (center - 0.5)) / (width - 1) + 0.5;
    y = Math.min(1, Math.max(0, y));
    pixels[i] = Math.round((invert ? 1 - y : y) * 255);
  }
  return { width: cols, height: rows, pixels };
}
