/**
 * Decoders for compressed DICOM pixel data (PS3.5 section 8.2 and Annex G).
 * In: one frame's encapsulated bytes, its transfer syntax and the geometry the data set declares
 * (rows, columns, bits allocated, samples per pixel: 1 for grey and palette, 3 for colour).
 * Out: the frame's samples in row-major order, as the integers the stream holds (RLE: whole
 * pixel words, to be masked like uncompressed ones); colour samples pixel by pixel (R, G, B of
 * the first pixel, then of the second) or, where `planar`, component by component (RLE's
 * segments, JPEG-LS without interleaving). Colour JPEG comes out of libjpeg-turbo as RGB (it
 * undoes the YCbCr transform the stream's JFIF or Adobe marker declares), colour JPEG 2000 out of
 * OpenJPEG as RGB when its stream has a multi-component transform (YBR_ICT, YBR_RCT); others hold
 * the components the data set's Photometric Interpretation names.
 * Holds afterwards: the stream's own header (size, components, precision) is read and checked
 * against the data set before the decoder runs, so a stream claiming a huge image allocates
 * nothing; 8-bit JPEG goes through libjpeg-turbo, JPEG-LS through CharLS and JPEG 2000 through
 * OpenJPEG (the WebAssembly builds of the Cornerstone project, instantiated on first use, their
 * log lines kept out of the terminal), 12-bit JPEG (JPEG Extended, process 4) through DCMTK's
 * 12-bit IJG library as dcmjs-codecs builds it to WebAssembly (libjpeg-turbo's WebAssembly build
 * reads 8-bit samples only), JPEG lossless (process 14) through jpeg-lossless-decoder-js, and RLE
 * through the PackBits reader below (no maintained package decodes DICOM RLE on its own, and
 * Annex G is a page long); every failure is a `CodecError` with a plain message.
 */
// Type-only here: each decoder's module is imported (and its WebAssembly instantiated) on first use,
// so commands that never meet a compressed file load none of them.
import type charlsFactory from '@cornerstonejs/codec-charls/decodewasmjs';
import type jpegTurboFactory from '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs';
import type openJpegFactory from '@cornerstonejs/codec-openjpeg/decodewasmjs';

/** A frame nvcc cannot decode; the caller adds the file. */
export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

export type Codec = 'native' | 'deflate' | 'rle' | 'jpeg' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000';

interface Syntax {
  readonly name: string;
  /** How nvcc reads it; absent: refused. */
  readonly codec?: Codec;
}

/** Transfer syntaxes of images by UID (PS3.6 Table A-1), with the names the standard gives them. */
const SYNTAXES: Readonly<Record<string, Syntax>> = {
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', codec: 'native' },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', codec: 'native' },
  '1.2.840.10008.1.2.1.99': { name: 'Deflated Explicit VR Little Endian', codec: 'deflate' },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', codec: 'native' },
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', codec: 'rle' },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', codec: 'jpeg' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4)', codec: 'jpeg' },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG Lossless, Non-Hierarchical (Process 14)', codec: 'jpeg-lossless' },
  '1.2.840.10008.1.2.4.70': {
    name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, Selection Value 1)',
    codec: 'jpeg-lossless',
  },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless', codec: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS Lossy (Near-Lossless)', codec: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 (Lossless Only)', codec: 'jpeg2000' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', codec: 'jpeg2000' },
  '1.2.840.10008.1.2.4.92': { name: 'JPEG 2000 Part 2 Multi-component (Lossless Only)' },
  '1.2.840.10008.1.2.4.93': { name: 'JPEG 2000 Part 2 Multi-component' },
  '1.2.840.10008.1.2.4.94': { name: 'JPIP Referenced' },
  '1.2.840.10008.1.2.4.95': { name: 'JPIP Referenced Deflate' },
  '1.2.840.10008.1.2.4.100': { name: 'MPEG2 Main Profile / Main Level' },
  '1.2.840.10008.1.2.4.101': { name: 'MPEG2 Main Profile / High Level' },
  '1.2.840.10008.1.2.4.102': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.1' },
  '1.2.840.10008.1.2.4.103': { name: 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1' },
  '1.2.840.10008.1.2.4.104': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video' },
  '1.2.840.10008.1.2.4.105': { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video' },
  '1.2.840.10008.1.2.4.106': { name: 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2' },
  '1.2.840.10008.1.2.4.107': { name: 'HEVC/H.265 Main Profile / Level 5.1' },
  '1.2.840.10008.1.2.4.108': { name: 'HEVC/H.265 Main 10 Profile / Level 5.1' },
  '1.2.840.10008.1.2.4.110': { name: 'JPEG XL Lossless' },
  '1.2.840.10008.1.2.4.111': { name: 'JPEG XL JPEG Recompression' },
  '1.2.840.10008.1.2.4.112': { name: 'JPEG XL' },
  '1.2.840.10008.1.2.4.201': { name: 'High-Throughput JPEG 2000 (Lossless Only)' },
  '1.2.840.10008.1.2.4.202': { name: 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)' },
  '1.2.840.10008.1.2.4.203': { name: 'High-Throughput JPEG 2000' },
};

/** How to read a transfer syntax, and its name for messages ("JPEG-LS Lossless (1.2.840...)"). */
export function transferSyntax(uid: string): { readonly label: string; readonly codec?: Codec } {
  const known = SYNTAXES[uid];
  if (known) return { label: `${known.name} (${uid})`, codec: known.codec };
  // Retired JPEG processes (PS3.5 Table A.4-1) keep their UIDs 1.2.840.10008.1.2.4.52 to .66.
  const jpeg = /^1\.2\.840\.10008\.1\.2\.4\.(\d+)$/.exec(uid);
  if (jpeg && Number(jpeg[1]) >= 52 && Number(jpeg[1]) <= 66) return { label: `retired JPEG process (${uid})` };
  return { label: `transfer syntax ${uid}` };
}

/** What the data set says one frame holds. */
export interface FrameGeometry {
  readonly rows: number;
  readonly columns: number;
  readonly bitsAllocated: number;
  readonly samplesPerPixel: number;
  /** The data set's Photometric Interpretation (colour JPEG streams without a marker follow it). */
  readonly photometric?: string;
}

/**
 * Samples of one frame, row-major; `words`: RLE's whole pixel words (mask them), else values;
 * `planar`: colour samples component by component, else pixel by pixel.
 */
export interface DecodedFrame {
  readonly samples: ArrayLike<number>;
  readonly words: boolean;
  readonly planar: boolean;
}

/** What the frame header of a JPEG-family stream (JPEG, JPEG lossless, JPEG-LS) declares. */
interface StreamHeader {
  readonly marker: number;
  readonly precision: number;
  readonly rows: number;
  readonly columns: number;
  readonly components: number;
}

/**
 * The first start-of-frame segment of a JPEG or JPEG-LS stream: SOF0-SOF15 (not DHT 0xC4,
 * JPG 0xC8, DAC 0xCC) and JPEG-LS SOF55 (0xF7). Segments before it are skipped by their length.
 */
function jpegFrameHeader(bytes: Uint8Array): StreamHeader | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const sof =
      (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7;
    if (sof) {
      if (at + 10 > bytes.length) return undefined;
      return {
        marker,
        precision: bytes[at + 4]!,
        rows: (bytes[at + 5]! << 8) | bytes[at + 6]!,
        columns: (bytes[at + 7]! << 8) | bytes[at + 8]!,
        components: bytes[at + 9]!,
      };
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image or scan before any frame
    at += 2 + length;
  }
  return undefined;
}

/** The SIZ segment of a JPEG 2000 codestream (after SOC), or of a JP2 file's embedded codestream. */
function jpeg2000Header(bytes: Uint8Array): StreamHeader | undefined {
  // Some writers wrap the codestream in a JP2 file (a non-conformant "jp2c" box); find SOC + SIZ.
  let at = 0;
  for (; at + 1 < Math.min(bytes.length, 4096); at++) if (bytes[at] === 0xff && bytes[at + 1] === 0x4f) break;
  // SIZ: Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz, then Ssiz of
  // the first component (ISO 15444-1 A.5.1).
  if (bytes[at + 2] !== 0xff || bytes[at + 3] !== 0x51 || at + 4 + 39 > bytes.length) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at + 4);
  const width = dv.getUint32(4) - dv.getUint32(12);
  const height = dv.getUint32(8) - dv.getUint32(16);
  const components = dv.getUint16(36);
  const precision = (dv.getUint8(38) & 0x7f) + 1;
  return { marker: 0x51, precision, rows: height, columns: width, components };
}

function checkHeader(header: StreamHeader | undefined, what: string, g: FrameGeometry): StreamHeader {
  if (!header) throw new CodecError(`the ${what} stream has no readable frame header`);
  if (header.rows !== g.rows || header.columns !== g.columns)
    throw new CodecError(
      `the ${what} stream holds a ${header.columns}x${header.rows} image but Columns/Rows say ` +
        `${g.columns}x${g.rows}`,
    );
  if (header.components !== g.samplesPerPixel)
    throw new CodecError(
      `the ${what} stream has ${header.components} components but Samples per Pixel is ${g.samplesPerPixel}`,
    );
  if (header.precision > g.bitsAllocated)
    throw new CodecError(
      `the ${what} stream has ${header.precision}-bit samples but Bits Allocated is ${g.bitsAllocated}`,
    );
  return header;
}

/** Log lines of the WebAssembly decoders, kept to explain a failure. */
const codecLog: string[] = [];
const moduleOptions = {
  print: (): void => {},
  printErr: (line: string): void => {
    codecLog.push(line);
    if (codecLog.length > 20) codecLog.shift();
  },
};

type ModuleOf<F> = F extends (...args: never[]) => Promise<infer M> ? M : never;
const loaded: {
  charls?: Promise<ModuleOf<typeof charlsFactory>>;
  openjpeg?: Promise<ModuleOf<typeof openJpegFactory>>;
  jpegTurbo?: Promise<ModuleOf<typeof jpegTurboFactory>>;
} = {};

/**
 * Runs one WebAssembly decoder on a frame and copies its output out of the module's memory. The
 * module is kept after a failure: an Emscripten module cannot be instantiated twice in a process
 * (its bindings register global names), and the decoders report a bad stream as an exception.
 */
async function runWasm(
  what: string,
  frame: Uint8Array,
  make: () => Promise<CornerstoneDecoder>,
  g: FrameGeometry,
): Promise<{ bytes: Uint8Array; info: CornerstoneFrameInfo }> {
  codecLog.length = 0;
  let decoder: CornerstoneDecoder | undefined;
  try {
    decoder = await make();
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.width !== g.columns || info.height !== g.rows || info.componentCount !== g.samplesPerPixel)
      throw new CodecError(
        `the ${what} decoder produced a ${info.width}x${info.height} image with ${info.componentCount} ` +
          `components, expected ${g.columns}x${g.rows} with ${g.samplesPerPixel}`,
      );
    return { bytes: decoder.getDecodedBuffer().slice(), info };
  } catch (e) {
    if (e instanceof CodecError) throw e;
    const detail = e instanceof Error ? e.message : typeof e === 'string' ? e : codecLog.join('; ');
    throw new CodecError(`the ${what} data could not be decoded${detail ? ` (${detail})` : ''}`);
  } finally {
    try {
      decoder?.delete();
    } catch {
      // A module that aborted cannot free; its next use fails with a message too.
    }
  }
}

/** Reads the decoder's output bytes as samples of its bit depth (little endian, like WebAssembly). */
function samplesOf(bytes: Uint8Array, info: CornerstoneFrameInfo): ArrayLike<number> {
  const n = info.width * info.height * info.componentCount;
  if (info.bitsPerSample <= 8) return bytes.subarray(0, n);
  if (bytes.length < 2 * n) throw new CodecError(`the decoder returned ${bytes.length} bytes for ${n} samples`);
  const aligned = new ArrayBuffer(2 * n);
  new Uint8Array(aligned).set(bytes.subarray(0, 2 * n));
  return info.isSigned ? new Int16Array(aligned) : new Uint16Array(aligned);
}

/**
 * How a colour JPEG stream says its components are coded: a JFIF marker means YCbCr, an Adobe
 * marker says by its transform flag, components named R, G, B mean RGB, and subsampled chroma
 * (a component sampled more often than another) means YCbCr, since only chroma is ever
 * subsampled; `undefined` when the stream says nothing (libjpeg-turbo then assumes YCbCr).
 */
function jpegColourMarker(bytes: Uint8Array): 'ycbcr' | 'rgb' | undefined {
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const text = (offset: number, n: number) =>
      String.fromCharCode(...bytes.subarray(at + 4 + offset, at + 4 + offset + n));
    if (marker === 0xe0 && text(0, 5) === 'JFIF\0') return 'ycbcr';
    if (marker === 0xee && text(0, 5) === 'Adobe') return bytes[at + 4 + 11] === 0 ? 'rgb' : 'ycbcr';
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const ids = [0, 1, 2].map((k) => bytes[at + 10 + 3 * k]);
      if (ids[0] === 0x52 && ids[1] === 0x47 && ids[2] === 0x42) return 'rgb';
      const sampling = [0, 1, 2].map((k) => bytes[at + 11 + 3 * k]);
      if (sampling.some((f) => f !== sampling[0])) return 'ycbcr';
    }
    if (marker === 0xda) return undefined;
    at += 2 + length;
  }
  return undefined;
}

/** An Adobe APP14 segment whose transform flag 0 says the components are RGB, not YCbCr. */
const ADOBE_NO_TRANSFORM = Uint8Array.of(
  0xff,
  0xee,
  0x00,
  0x0e,
  0x41,
  0x64,
  0x6f,
  0x62,
  0x65,
  0x00,
  0x64,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
);

async function decodeJpeg(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  const header = checkHeader(jpegFrameHeader(frame), 'JPEG', g);
  // SOF3 (and 7, 11, 15) are lossless processes, which libjpeg-turbo's 8-bit build does not read.
  if ((header.marker & 3) === 3 && header.marker !== 0xf7) return decodeJpegLossless(frame, g);
  if (header.precision === 12) return decodeJpeg12(frame, g);
  if (header.precision !== 8)
    throw new CodecError(`the JPEG stream has ${header.precision}-bit samples; lossy JPEG has 8 or 12`);
  // A colour stream that does not say how it is coded is read as the data set says (as pydicom
  // reads it): RGB stays RGB, where libjpeg-turbo would assume YCbCr and convert it. (GDCM wrote
  // pydicom's SC_rgb_jpeg_lossy_gdcm.dcm as subsampled YCbCr without a marker, labelled RGB.)
  let stream = frame;
  if (g.samplesPerPixel === 3 && g.photometric === 'RGB' && jpegColourMarker(frame) === undefined) {
    stream = new Uint8Array(frame.length + ADOBE_NO_TRANSFORM.length);
    stream.set(frame.subarray(0, 2));
    stream.set(ADOBE_NO_TRANSFORM, 2);
    stream.set(frame.subarray(2), 2 + ADOBE_NO_TRANSFORM.length);
  }
  const { bytes, info } = await runWasm(
    'JPEG',
    stream,
    async () => {
      loaded.jpegTurbo ??= import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs').then((m) =>
        m.default(moduleOptions),
      );
      return new (await loaded.jpegTurbo).JPEGDecoder();
    },
    g,
  );
  return { samples: samplesOf(bytes, info), words: false, planar: false };
}

let dcmjsCodecs: Promise<Pick<typeof import('dcmjs-codecs'), 'NativeCodecs' | 'Context'>> | undefined;

/**
 * 12-bit JPEG Extended (process 4) through dcmjs-codecs: DCMTK's IJG 6b library built for 12-bit
 * samples, the decoder DCMTK's own dcmdjpeg uses. Grey only: a 12-bit colour stream is refused
 * (none to check it against).
 */
async function decodeJpeg12(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  if (g.samplesPerPixel !== 1)
    throw new CodecError('12-bit colour JPEG is not supported; nvcc reads 12-bit grey JPEG and 8-bit colour JPEG');
  dcmjsCodecs ??= import('dcmjs-codecs').then(async (m) => {
    // A CommonJS (UMD) module: its exports are `default` under Node's interop.
    const lib = m.default ?? m;
    await lib.NativeCodecs.initializeAsync();
    return lib;
  });
  const { NativeCodecs, Context } = await dcmjsCodecs;
  let bytes: Uint8Array | undefined;
  try {
    const context = new Context({
      width: g.columns,
      height: g.rows,
      bitsAllocated: 16,
      bitsStored: 12,
      samplesPerPixel: 1,
      // Raw 12-bit samples: a signed image's values are sign-extended by the caller.
      pixelRepresentation: 0,
      planarConfiguration: 0,
      photometricInterpretation: 'MONOCHROME2',
      encodedBuffer: frame,
    });
    bytes = NativeCodecs.decodeJpeg(context, { convertColorspaceToRgb: false }).getDecodedBuffer();
  } catch (e) {
    throw new CodecError(`the 12-bit JPEG data could not be decoded (${e instanceof Error ? e.message : String(e)})`);
  }
  const n = g.rows * g.columns;
  if (!bytes || bytes.length < 2 * n)
    throw new CodecError(`the 12-bit JPEG data decoded to ${bytes?.length ?? 0} of ${2 * n} bytes`);
  const aligned = new ArrayBuffer(2 * n);
  new Uint8Array(aligned).set(bytes.subarray(0, 2 * n));
  return { samples: new Uint16Array(aligned), words: false, planar: false };
}

async function decodeJpegLossless(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  const header = checkHeader(jpegFrameHeader(frame), 'JPEG lossless', g);
  const { Decoder } = await import('@cornerstonejs/jpeg-lossless-decoder-js');
  let out: Uint8Array | Uint16Array;
  try {
    const decoder = new Decoder();
    out = decoder.decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.byteLength, header.precision > 8 ? 2 : 1);
  } catch (e) {
    throw new CodecError(`the JPEG lossless data could not be decoded (${e instanceof Error ? e.message : String(e)})`);
  }
  const n = g.rows * g.columns * g.samplesPerPixel;
  if (out.length < n) throw new CodecError(`the JPEG lossless data decoded to ${out.length} of ${n} samples`);
  // Colour comes out pixel by pixel (the decoder interleaves the components of each pixel).
  return { samples: out.subarray(0, n), words: false, planar: false };
}

/**
 * The interleave mode of a JPEG-LS stream's first scan (ISO 14495-1 C.2.3: 0 none, 1 line,
 * 2 sample); CharLS returns the components of a non-interleaved colour image one after another.
 */
function jpegLsInterleave(bytes: Uint8Array): number | undefined {
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (marker === 0xda) {
      const components = bytes[at + 4] ?? 0;
      return bytes[at + 5 + 2 * components + 1];
    }
    at += 2 + length;
  }
  return undefined;
}

async function decodeJpegLs(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  checkHeader(jpegFrameHeader(frame), 'JPEG-LS', g);
  const { bytes, info } = await runWasm(
    'JPEG-LS',
    frame,
    async () => {
      loaded.charls ??= import('@cornerstonejs/codec-charls/decodewasmjs').then((m) => m.default(moduleOptions));
      return new (await loaded.charls).JpegLSDecoder();
    },
    g,
  );
  return {
    samples: samplesOf(bytes, info),
    words: false,
    planar: g.samplesPerPixel > 1 && jpegLsInterleave(frame) === 0,
  };
}

async function decodeJpeg2000(frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  checkHeader(jpeg2000Header(frame), 'JPEG 2000', g);
  const { bytes, info } = await runWasm(
    'JPEG 2000',
    frame,
    async () => {
      loaded.openjpeg ??= import('@cornerstonejs/codec-openjpeg/decodewasmjs').then((m) => m.default(moduleOptions));
      return new (await loaded.openjpeg).J2KDecoder();
    },
    g,
  );
  return { samples: samplesOf(bytes, info), words: false, planar: false };
}

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header (segment count, then 15 segment offsets) and one
 * PackBits segment per byte of the pixel word, most significant byte first, for each sample in
 * turn (colour: all of R, then G, then B). Each segment must yield at least rows x columns bytes
 * (extra bytes, from padding, are ignored).
 */
export function decodeRle(frame: Uint8Array, g: FrameGeometry): DecodedFrame {
  const bytesPerWord = g.bitsAllocated / 8;
  if (frame.length < 64) throw new CodecError(`the RLE frame has ${frame.length} bytes, less than its 64-byte header`);
  const header = new DataView(frame.buffer, frame.byteOffset, 64);
  const segments = header.getUint32(0, true);
  if (segments !== bytesPerWord * g.samplesPerPixel)
    throw new CodecError(
      `the RLE frame has ${segments} segments; ${bytesPerWord * g.samplesPerPixel} expected for ` +
        `${g.samplesPerPixel} ${g.bitsAllocated}-bit sample${g.samplesPerPixel > 1 ? 's' : ''} per pixel`,
    );
  const n = g.rows * g.columns;
  const words = new Uint32Array(n * g.samplesPerPixel);
  for (let s = 0; s < segments; s++) {
    const start = header.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? header.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || end > frame.length || end < start)
      throw new CodecError(`RLE segment ${s + 1} lies outside the frame (offsets ${start}..${end} of ${frame.length})`);
    const weight = 2 ** (8 * (bytesPerWord - 1 - (s % bytesPerWord)));
    const first = Math.floor(s / bytesPerWord) * n;
    let at = start;
    let i = 0;
    while (i < n && at < end) {
      const control = frame[at++]!;
      if (control < 128) {
        const count = Math.min(control + 1, end - at);
        for (let k = 0; k < count && i < n; k++) words[first + i++]! += frame[at + k]! * weight;
        at += control + 1;
      } else if (control > 128) {
        const value = frame[at++]! * weight;
        for (let k = 0; k < 257 - control && i < n; k++) words[first + i++]! += value;
      }
    }
    if (i < n) throw new CodecError(`RLE segment ${s + 1} decodes to ${i} of ${n} bytes`);
  }
  return { samples: words, words: true, planar: true };
}

/** Decodes one encapsulated frame of a supported compressed syntax. */
export async function decodeFrame(codec: Codec, frame: Uint8Array, g: FrameGeometry): Promise<DecodedFrame> {
  switch (codec) {
    case 'rle':
      return decodeRle(frame, g);
    case 'jpeg':
      return decodeJpeg(frame, g);
    case 'jpeg-lossless':
      return decodeJpegLossless(frame, g);
    case 'jpeg-ls':
      return decodeJpegLs(frame, g);
    case 'jpeg2000':
      return decodeJpeg2000(frame, g);
    default:
      throw new CodecError(`${codec} pixel data are not encapsulated`);
  }
}
