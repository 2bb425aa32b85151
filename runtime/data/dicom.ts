/**
 * DICOM decoding to 8-bit grayscale pictures, one per frame, through dicom-parser and
 * dicom-codecs.ts.
 * In: the bytes of a DICOM file (Part 10, or a data set without the preamble), uncompressed,
 * deflated, RLE, JPEG (8-bit baseline and extended, lossless), JPEG-LS or JPEG 2000; DicomOptions.
 * Out: one { width, height, pixels: Uint8Array } per frame (one channel, row-major); a file of N
 * frames gives N pictures, in frame order (each is one image of its patient).
 * Holds afterwards: only the Bits Stored bits ending at High Bit of a stored word hold the value
 * (sign-extended when signed); values are mapped to modality units with Rescale Slope/Intercept,
 * then windowed (the declared window, else the file's first Window Center/Width, else the min-max
 * of the frame) with the linear DICOM VOI function, and MONOCHROME1 images are inverted (when
 * asked) so that dense material is always bright. Unsupported or damaged files raise
 * `DicomError` with a plain message (a transfer syntax by name, with what to do), which callers
 * turn into a DataError naming the file.
 */
import { NvccError } from '../errors.js';
import dicomParser from 'dicom-parser';
import { inflateRawSync } from 'node:zlib';
import { CodecError, decodeFrame, transferSyntax, type Codec } from './dicom-codecs.js';
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

/**
 * The largest frame nvcc decodes (8192 x 8192 pixels; a mammogram is about 4000 x 5000), and the
 * most a deflated data set may inflate to: a header or a deflate stream of a few bytes cannot
 * make nvcc allocate gigabytes.
 */
export const MAX_FRAME_PIXELS = 2 ** 26;
export const MAX_INFLATED_BYTES = 2 ** 30;

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

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

function parserMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  return (e as { exception?: string })?.exception ?? String(e);
}

/** Inflates a deflated data set (dicom-parser's own inflater has no size limit). */
function inflate(byteArray: Uint8Array, position: number): Uint8Array {
  let body: Buffer;
  try {
    body = inflateRawSync(byteArray.subarray(position), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw code === 'ERR_BUFFER_TOO_LARGE'
      ? `the deflated data set inflates past ${MAX_INFLATED_BYTES} bytes`
      : `the deflated data set is damaged (${(e as Error).message})`;
  }
  const full = new Uint8Array(position + body.length);
  full.set(byteArray.subarray(0, position));
  full.set(body, position);
  return full;
}

function parse(bytes: Uint8Array): DataSet {
  try {
    const raw = rawDataSet(bytes);
    // Without a preamble there is no file meta to name the transfer syntax: little endian, the
    // VR form the first element shows.
    return dicomParser.parseDicom(bytes, {
      inflater: inflate,
      ...(raw === undefined
        ? {}
        : { TransferSyntaxUID: raw === 'explicit' ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2' }),
    });
  } catch (e) {
    throw new DicomError(`not a readable DICOM file (${parserMessage(e)})`);
  }
}

/** A DICOM image's pixel description, and its frames' stored values on demand. */
export interface DicomImage {
  readonly rows: number;
  readonly columns: number;
  readonly frameCount: number;
  /** The transfer syntax's name and UID. */
  readonly syntax: string;
  readonly photometric: string;
  readonly slope: number;
  readonly intercept: number;
  /** The file's first Window Center/Width, when it has one of positive width. */
  readonly fileWindow?: { readonly center: number; readonly width: number };
  /** Frame `index` (from 0): the values of Bits Stored, sign-extended, before rescaling. */
  storedValues(index: number): Promise<Float64Array>;
}

/** Parses a DICOM file and checks what nvcc needs to decode its frames; decodes nothing yet. */
export function openDicom(bytes: Uint8Array): DicomImage {
  const ds = parse(bytes);
  const uid = (ds.string('x00020010') ?? '1.2.840.10008.1.2.1').replace(/\0/g, '').trim();
  const syntax = transferSyntax(uid);
  if (!syntax.codec)
    throw new DicomError(
      `the transfer syntax ${syntax.label} is not supported: convert the file to an uncompressed, RLE, ` +
        "JPEG, JPEG-LS or JPEG 2000 syntax first, e.g. with GDCM's `gdcmconv --raw in.dcm out.dcm` or " +
        "DCMTK's `dcmconv +te in.dcm out.dcm`",
    );
  const codec: Codec = syntax.codec;
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
  const encapsulated = codec !== 'native' && codec !== 'deflate';
  // The JPEG family holds at most 16-bit samples; uncompressed and RLE data may hold 32.
  const wordBits = encapsulated && codec !== 'rle' ? [8, 16] : [8, 16, 32];
  if (!wordBits.includes(bits))
    throw new DicomError(`Bits Allocated ${bits} is not supported (${wordBits.join(', ')})`);
  if (stored < 1 || stored > bits || highBit >= bits || highBit < stored - 1)
    throw new DicomError(`inconsistent Bits Stored ${stored} / High Bit ${highBit} for Bits Allocated ${bits}`);
  const n = rows * cols;
  if (n > MAX_FRAME_PIXELS)
    throw new DicomError(`a ${cols}x${rows} frame is larger than nvcc reads (${MAX_FRAME_PIXELS} pixels)`);
  const framesText = ds.string('x00280008');
  const frameCount = framesText === undefined || framesText.trim() === '' ? 1 : Number(framesText.trim());
  if (!Number.isInteger(frameCount) || frameCount < 1)
    throw new DicomError(`Number of Frames '${framesText}' is not a whole number of at least 1`);
  if (encapsulated !== (pixelElement.encapsulatedPixelData === true))
    throw new DicomError(
      encapsulated
        ? `the pixel data of a ${syntax.label} file must be encapsulated (in fragments), but are not`
        : `the pixel data are encapsulated (in fragments), which ${syntax.label} does not allow`,
    );
  const array = ds.byteArray;
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const fileCenter = ds.floatString('x00281050');
  const fileWidth = ds.floatString('x00281051');
  const fileWindow =
    fileCenter !== undefined && fileWidth !== undefined && fileWidth > 0
      ? { center: fileCenter, width: fileWidth }
      : undefined;

  // Only bits highBit-stored+1 .. highBit of a word hold the value (PS3.5 8.1.1): the others may
  // carry overlays or garbage; a signed value is sign-extended from its top stored bit. Values a
  // codec returns are already shifted down (their stream holds Bits Stored bits).
  const range = 2 ** stored;
  const signBit = 2 ** (stored - 1);
  const fromWords = (words: ArrayLike<number>, shift: number): Float64Array => {
    const values = new Float64Array(n);
    const divisor = 2 ** shift;
    for (let i = 0; i < n; i++) {
      const w = words[i]!;
      let v = (shift === 0 ? w : Math.floor(w / divisor)) % range;
      if (v < 0) v += range; // a codec's signed sample
      if (signed && v >= signBit) v -= range;
      values[i] = v;
    }
    return values;
  };

  const frameBytes = n * (bits / 8);
  let fragmentFrame: (index: number) => Uint8Array = () => new Uint8Array();
  if (encapsulated) {
    const fragments = pixelElement.fragments ?? [];
    if (fragments.length < frameCount)
      throw new DicomError(`${frameCount} frames declared but the pixel data hold ${fragments.length} fragments`);
    // Frames are found by the Basic Offset Table, else one fragment each, else (JPEG family) by
    // the end-of-image marker that closes each frame's stream.
    let table = pixelElement.basicOffsetTable ?? [];
    if (frameCount > 1 && table.length === 0 && fragments.length !== frameCount) {
      if (codec === 'rle')
        throw new DicomError(
          `${frameCount} frames in ${fragments.length} fragments without a Basic Offset Table: the frames ` +
            'of an RLE file cannot be told apart',
        );
      table = dicomParser.createJPEGBasicOffsetTable(ds, pixelElement);
    }
    fragmentFrame = (index) => {
      try {
        if (frameCount === 1)
          return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixelElement, 0, fragments.length);
        if (table.length === 0) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixelElement, index, 1);
        return dicomParser.readEncapsulatedImageFrame(ds, pixelElement, index, table);
      } catch (e) {
        throw new DicomError(
          `frame ${index + 1} of ${frameCount} cannot be found in the pixel data (${parserMessage(e)})`,
        );
      }
    };
  } else {
    const needed = frameBytes * frameCount;
    if (pixelElement.length < needed || pixelElement.dataOffset + needed > array.length)
      throw new DicomError(
        `truncated pixel data: ${Math.min(pixelElement.length, array.length - pixelElement.dataOffset)} of ` +
          `${needed} bytes${frameCount > 1 ? ` (${frameCount} frames)` : ''}`,
      );
  }
  const bigEndian = uid === '1.2.840.10008.1.2.2';

  const storedValues = async (index: number): Promise<Float64Array> => {
    if (!Number.isInteger(index) || index < 0 || index >= frameCount)
      throw new RangeError(`frame ${index} of a ${frameCount}-frame image`);
    if (!encapsulated) {
      const view = new DataView(
        array.buffer,
        array.byteOffset + pixelElement.dataOffset + index * frameBytes,
        frameBytes,
      );
      const words = new Float64Array(n);
      for (let i = 0; i < n; i++)
        words[i] =
          bits === 8
            ? view.getUint8(i)
            : bits === 16
              ? view.getUint16(2 * i, !bigEndian)
              : view.getUint32(4 * i, !bigEndian);
      return fromWords(words, highBit + 1 - stored);
    }
    const frame = fragmentFrame(index);
    let decoded: Awaited<ReturnType<typeof decodeFrame>>;
    try {
      decoded = await decodeFrame(codec, frame, { rows, columns: cols, bitsAllocated: bits });
    } catch (e) {
      if (e instanceof CodecError)
        throw new DicomError(`${syntax.label}${frameCount > 1 ? `, frame ${index + 1}` : ''}: ${e.message}`);
      throw e;
    }
    return fromWords(decoded.samples, decoded.words ? highBit + 1 - stored : 0);
  };

  return {
    rows,
    columns: cols,
    frameCount,
    syntax: syntax.label,
    photometric,
    slope,
    intercept,
    fileWindow,
    storedValues,
  };
}

/** One frame's stored values to 8-bit grey: rescale, window (linear VOI), invert MONOCHROME1. */
function toPicture(image: DicomImage, stored: Float64Array, options: DicomOptions): GrayPicture {
  const n = stored.length;
  const values = new Float64Array(n);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = stored[i]! * image.slope + image.intercept;
    values[i] = v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let center: number;
  let width: number;
  if (typeof options.window === 'object') ({ center, width } = options.window);
  else if (options.window === 'auto' && image.fileWindow) ({ center, width } = image.fileWindow);
  else {
    // Min-max: the linear window that maps lo to 0 and hi to 255.
    width = Math.max(hi - lo, 1e-6) + 1;
    center = lo + 0.5 + (width - 1) / 2;
  }
  width = Math.max(width, 1 + 1e-6);
  const invert = image.photometric === 'MONOCHROME1' && options.invertMonochrome1;
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
  return { width: image.columns, height: image.rows, pixels };
}

/** Every frame of a DICOM file as an 8-bit grey picture, in frame order. */
export async function decodeDicomFrames(bytes: Uint8Array, options: DicomOptions): Promise<GrayPicture[]> {
  const image = openDicom(bytes);
  const pictures: GrayPicture[] = [];
  for (let k = 0; k < image.frameCount; k++) pictures.push(toPicture(image, await image.storedValues(k), options));
  return pictures;
}

/** A single-frame DICOM file as an 8-bit grey picture; a multi-frame file is refused by its count. */
export async function decodeDicom(bytes: Uint8Array, options: DicomOptions): Promise<GrayPicture> {
  const image = openDicom(bytes);
  if (image.frameCount !== 1)
    throw new DicomError(`the file has ${image.frameCount} frames; decodeDicomFrames reads each`);
  return toPicture(image, await image.storedValues(0), options);
}
