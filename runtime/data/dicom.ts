/**
 * DICOM decoding to 8-bit grayscale pictures, one per frame, through dicom-parser and
 * dicom-codecs.ts.
 * In: the bytes of a DICOM file (Part 10, or a data set without the preamble), uncompressed,
 * deflated, RLE, JPEG (8-bit baseline, 8- and 12-bit extended, lossless), JPEG-LS or JPEG 2000; grey
 * (MONOCHROME1/2) or colour (RGB, YBR_FULL, YBR_FULL_422, YBR_ICT and YBR_RCT from JPEG 2000,
 * PALETTE COLOR; planar configuration 0 or 1); DicomOptions.
 * Out: one { width, height, pixels: Uint8Array } per frame (one channel, row-major); a file of N
 * frames gives N pictures, in frame order (each is one image of its patient).
 * Holds afterwards: only the Bits Stored bits ending at High Bit of a stored word hold the value
 * (sign-extended when signed); a colour pixel becomes its luma (`lumaOf`: BT.601 weights of its
 * R, G and B, YBR first converted to RGB, a palette index first looked up); grey values are mapped
 * to modality units with Rescale Slope/Intercept; then every frame is windowed (the declared
 * window, else the file's first Window Center/Width for grey, else the min-max of the frame) with
 * the linear DICOM VOI function, and MONOCHROME1 images are inverted (when asked) so that dense
 * material is always bright. Unsupported or damaged files raise `DicomError` with a plain message
 * (a transfer syntax or photometric interpretation by name, with what to do), which callers turn
 * into a DataError naming the file.
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
  /** Samples per pixel: 1 (grey, palette) or 3 (colour). */
  readonly samplesPerPixel: number;
  readonly slope: number;
  readonly intercept: number;
  /** The file's first Window Center/Width, when it has one of positive width. */
  readonly fileWindow?: { readonly center: number; readonly width: number };
  /**
   * Frame `index` (from 0): grey, the values of Bits Stored, sign-extended, before rescaling;
   * colour, each pixel's luma in sample units (not rounded).
   */
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
  const encapsulated = codec !== 'native' && codec !== 'deflate';
  const planar = (ds.uint16('x00280006') ?? 0) === 1;
  const space = colourSpace(photometric, samples, codec, syntax.label);
  if (space !== 'MONOCHROME' && signed)
    throw new DicomError(`${photometric} samples must be unsigned, but Pixel Representation is 1 (signed)`);
  const palette = space === 'PALETTE COLOR' ? readPalette(ds) : undefined;
  // The JPEG family holds at most 16-bit samples; uncompressed and RLE data may hold 32.
  const wordBits = encapsulated && codec !== 'rle' ? [8, 16] : [8, 16, 32];
  if (!wordBits.includes(bits))
    throw new DicomError(`Bits Allocated ${bits} is not supported (${wordBits.join(', ')})`);
  if (stored < 1 || stored > bits || highBit >= bits || highBit < stored - 1)
    throw new DicomError(`inconsistent Bits Stored ${stored} / High Bit ${highBit} for Bits Allocated ${bits}`);
  const n = rows * cols;
  if (space === 'YBR_FULL_422' && cols % 2 !== 0)
    throw new DicomError(`YBR_FULL_422 pairs pixels along a row, but Columns is odd (${cols})`);
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
  // The modality and VOI LUT modules apply to grey images only (PS3.3 C.11.1, C.11.2).
  const grey = space === 'MONOCHROME';
  const slope = grey ? (ds.floatString('x00281053') ?? 1) : 1;
  const intercept = grey ? (ds.floatString('x00281052') ?? 0) : 0;
  const fileCenter = ds.floatString('x00281050');
  const fileWidth = ds.floatString('x00281051');
  const fileWindow =
    grey && fileCenter !== undefined && fileWidth !== undefined && fileWidth > 0
      ? { center: fileCenter, width: fileWidth }
      : undefined;

  // Only bits highBit-stored+1 .. highBit of a word hold the value (PS3.5 8.1.1): the others may
  // carry overlays or garbage; a signed value is sign-extended from its top stored bit. Values a
  // codec returns are already shifted down (their stream holds Bits Stored bits).
  const range = 2 ** stored;
  const signBit = 2 ** (stored - 1);
  const fromWords = (words: ArrayLike<number>, shift: number, count = n): Float64Array => {
    const values = new Float64Array(count);
    const divisor = 2 ** shift;
    for (let i = 0; i < count; i++) {
      const w = words[i]!;
      let v = (shift === 0 ? w : Math.floor(w / divisor)) % range;
      if (v < 0) v += range; // a codec's signed sample
      if (signed && v >= signBit) v -= range;
      values[i] = v;
    }
    return values;
  };

  // Words per pixel in the uncompressed layout: YBR_FULL_422 stores Y1 Y2 Cb Cr for two pixels.
  const wordsPerPixel = space === 'YBR_FULL_422' ? 2 : samples;
  const frameWords = n * wordsPerPixel;
  const frameBytes = frameWords * (bits / 8);
  const colour = (values: Float64Array, planarSamples: boolean, decodedSpace: ColourSpace): Float64Array =>
    decodedSpace === 'MONOCHROME'
      ? values
      : lumaOf(values, { pixels: n, planar: planarSamples, space: decodedSpace, bitsStored: stored, palette });
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
      const words = new Float64Array(frameWords);
      for (let i = 0; i < frameWords; i++)
        words[i] =
          bits === 8
            ? view.getUint8(i)
            : bits === 16
              ? view.getUint16(2 * i, !bigEndian)
              : view.getUint32(4 * i, !bigEndian);
      return colour(fromWords(words, highBit + 1 - stored, frameWords), planar, space);
    }
    const frame = fragmentFrame(index);
    let decoded: Awaited<ReturnType<typeof decodeFrame>>;
    try {
      decoded = await decodeFrame(codec, frame, {
        rows,
        columns: cols,
        bitsAllocated: bits,
        samplesPerPixel: samples,
        photometric,
      });
    } catch (e) {
      if (e instanceof CodecError)
        throw new DicomError(`${syntax.label}${frameCount > 1 ? `, frame ${index + 1}` : ''}: ${e.message}`);
      throw e;
    }
    const values = fromWords(decoded.samples, decoded.words ? highBit + 1 - stored : 0, n * samples);
    // libjpeg-turbo hands colour back as RGB, having undone the stream's YCbCr transform where its
    // JFIF or Adobe marker declares one (whatever the data set says), or, without a marker, where
    // the data set says YBR_FULL or YBR_FULL_422; OpenJPEG undoes YBR_ICT's and YBR_RCT's
    // multi-component transform.
    const decodedSpace = codec === 'jpeg' && samples === 3 && !isLosslessJpeg(frame) ? 'RGB' : space;
    return colour(values, decoded.planar, decodedSpace);
  };

  return {
    rows,
    columns: cols,
    frameCount,
    syntax: syntax.label,
    photometric,
    samplesPerPixel: samples,
    slope,
    intercept,
    fileWindow,
    storedValues,
  };
}

/**
 * How a frame's decoded samples are turned into grey: MONOCHROME (the values themselves), a
 * palette lookup, or the luma of RGB, YBR_FULL or YBR_FULL_422 (uncompressed only; JPEG hands it
 * back as RGB). YBR_ICT and YBR_RCT name JPEG 2000's multi-component transforms, which OpenJPEG
 * undoes: the decoded samples are RGB.
 */
type ColourSpace = 'MONOCHROME' | 'PALETTE COLOR' | 'RGB' | 'YBR_FULL' | 'YBR_FULL_422';

const COLOUR_SUPPORTED =
  'MONOCHROME1, MONOCHROME2, PALETTE COLOR, RGB, YBR_FULL, YBR_FULL_422 (uncompressed or JPEG), ' +
  'YBR_ICT and YBR_RCT (JPEG 2000)';

function colourSpace(photometric: string, samples: number, codec: Codec, syntax: string): ColourSpace {
  const expectSamples = (k: number) => {
    if (samples !== k)
      throw new DicomError(
        `${photometric} has ${k} sample${k > 1 ? 's' : ''} per pixel, but Samples per Pixel is ${samples}`,
      );
  };
  switch (photometric) {
    case 'MONOCHROME1':
    case 'MONOCHROME2':
      expectSamples(1);
      return 'MONOCHROME';
    case 'PALETTE COLOR':
      expectSamples(1);
      return 'PALETTE COLOR';
    case 'RGB':
    case 'YBR_FULL':
      expectSamples(3);
      return photometric;
    case 'YBR_FULL_422':
      expectSamples(3);
      if (codec === 'jpeg') return 'YBR_FULL';
      if (codec === 'native' || codec === 'deflate') return 'YBR_FULL_422';
      throw new DicomError(`YBR_FULL_422 is read from uncompressed or JPEG data only, not from ${syntax}`);
    case 'YBR_ICT':
    case 'YBR_RCT':
      expectSamples(3);
      if (codec === 'jpeg2000') return 'RGB';
      throw new DicomError(`${photometric} names a JPEG 2000 colour transform, but the file is ${syntax}`);
    default:
      throw new DicomError(
        `the photometric interpretation ${photometric || '(empty)'} is not supported (nvcc reads ${COLOUR_SUPPORTED})`,
      );
  }
}

/** True for a JPEG stream of a lossless process (SOF3, 7, 11, 15), which has no colour transform. */
function isLosslessJpeg(frame: Uint8Array): boolean {
  for (let at = 2; at + 4 <= frame.length && frame[at] === 0xff; ) {
    const marker = frame[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return (marker & 3) === 3;
    at += 2 + ((frame[at + 2]! << 8) | frame[at + 3]!);
  }
  return false;
}

/** A palette's red, green and blue tables (PS3.3 C.7.6.3.1.5), and how indices map into them. */
interface Palette {
  readonly tables: readonly [Float64Array, Float64Array, Float64Array];
  /** The stored value that maps to the first entry; lower values take the first entry. */
  readonly first: number;
}

function readPalette(ds: DataSet): Palette {
  if (ds.elements['x00281221'] || ds.elements['x00281222'] || ds.elements['x00281223'])
    throw new DicomError(
      'segmented palette colour lookup tables (0028,1221-1223) are not supported: convert the file to RGB first',
    );
  const tables: Float64Array[] = [];
  let first = 0;
  for (const [k, colour] of ['red', 'green', 'blue'].entries()) {
    const descriptorTag = `x0028110${k + 1}`;
    const dataTag = `x0028120${k + 1}`;
    const data = ds.elements[dataTag];
    if (!ds.elements[descriptorTag] || !data)
      throw new DicomError(`PALETTE COLOR without its ${colour} lookup table (descriptor and data)`);
    const entries = ds.uint16(descriptorTag, 0) || 65536;
    first = ds.uint16(descriptorTag, 1) ?? 0;
    const entryBits = ds.uint16(descriptorTag, 2);
    if (entryBits !== 8 && entryBits !== 16)
      throw new DicomError(`the ${colour} palette has ${entryBits}-bit entries; 8 or 16 are defined`);
    // 8-bit entries are one byte each (PS3.3 C.7.9); some writers keep each in a 16-bit word.
    const wordEntries = entryBits === 16 || data.length >= 2 * entries;
    const needed = wordEntries ? 2 * entries : entries;
    if (data.length < needed || data.dataOffset + needed > ds.byteArray.length)
      throw new DicomError(`the ${colour} palette holds ${data.length} bytes, ${needed} needed for ${entries} entries`);
    const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + data.dataOffset, needed);
    const table = new Float64Array(entries);
    for (let i = 0; i < entries; i++)
      table[i] = wordEntries ? view.getUint16(2 * i, true) & (2 ** entryBits - 1) : view.getUint8(i);
    tables.push(table);
  }
  return { tables: tables as unknown as Palette['tables'], first };
}

/**
 * ITU-R BT.601 luma weights of R, G and B. They are the ones DICOM's own YBR_FULL defines Y with
 * (PS3.3 C.7.6.3.1.2) and JPEG's JFIF uses, so the grey of a colour picture is the same whether it
 * was stored as RGB or as YBR, and what Pillow's `convert("L")` and OpenCV's `cvtColor` give, so a
 * Python pipeline reading the same files sees the same grey.
 */
export const LUMA_WEIGHTS = { r: 0.299, g: 0.587, b: 0.114 } as const;

/**
 * Each pixel's luma. `values` holds the frame's samples: RGB or YBR_FULL pixel by pixel or
 * (planar) component by component, YBR_FULL_422 as Y1 Y2 Cb Cr per pair of pixels, palette
 * indices one per pixel. YBR is first converted to RGB with PS3.3 C.7.6.3.1.2's equations
 * (generalised from 8 bits: the chroma offset is half the sample range) and clipped to the sample
 * range, as a display shows it.
 */
export function lumaOf(
  values: Float64Array,
  f: {
    pixels: number;
    planar: boolean;
    space: Exclude<ColourSpace, 'MONOCHROME'>;
    bitsStored: number;
    palette?: Palette;
  },
): Float64Array {
  const { pixels: n, planar, space } = f;
  const out = new Float64Array(n);
  const { r: wr, g: wg, b: wb } = LUMA_WEIGHTS;
  if (space === 'PALETTE COLOR') {
    const { tables, first } = f.palette!;
    const [red, green, blue] = tables;
    const last = red.length - 1;
    for (let i = 0; i < n; i++) {
      const k = Math.min(last, Math.max(0, values[i]! - first));
      out[i] = wr * red[k]! + wg * green[k]! + wb * blue[k]!;
    }
    return out;
  }
  const max = 2 ** f.bitsStored - 1;
  const half = 2 ** (f.bitsStored - 1);
  const clip = (v: number) => Math.min(max, Math.max(0, v));
  const fromYbr = (y: number, cb: number, cr: number) =>
    wr * clip(y + 1.402 * (cr - half)) +
    wg * clip(y - 0.344136 * (cb - half) - 0.714136 * (cr - half)) +
    wb * clip(y + 1.772 * (cb - half));
  if (space === 'YBR_FULL_422') {
    for (let j = 0; j < n / 2; j++) {
      const cb = values[4 * j + 2]!;
      const cr = values[4 * j + 3]!;
      out[2 * j] = fromYbr(values[4 * j]!, cb, cr);
      out[2 * j + 1] = fromYbr(values[4 * j + 1]!, cb, cr);
    }
    return out;
  }
  const [a, b, c] = planar ? [0, n, 2 * n] : [0, 1, 2];
  const step = planar ? 1 : 3;
  for (let i = 0; i < n; i++) {
    const x = values[a + step * i]!;
    const y = values[b + step * i]!;
    const z = values[c + step * i]!;
    out[i] = space === 'RGB' ? wr * x + wg * y + wb * z : fromYbr(x, y, z);
  }
  return out;
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
