/**
 * Finding and decoding images.
 * In: an image folder and the spec's file pattern, or in-memory pictures; ImageSpec settings.
 * Out: `ImageRef`s linked to patients by the pattern's `{id}`, and decoded pixels per file (one
 * array per frame): Uint8, HWC, exactly size[0] x size[1] x channels.
 * Holds afterwards: PNG and JPEG go through sharp, DICOM through dicom.ts then sharp (a
 * multi-frame DICOM file gives one picture per frame, never frame 0 alone); every
 * failure is an `ImageDecodeError` with a plain message (the caller names file and patient);
 * with a cache folder, decoded pixels are stored under the SHA-256 of the file bytes and the
 * decode settings, so a second load of the same data decodes nothing.
 */
import { NvccError } from '../errors.js';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeDicomFrames, DicomError, isDicom } from './dicom.js';
import type { ImageSpec } from './spec.js';

/** An image file that cannot be decoded (the data check names the file). */
export class ImageDecodeError extends NvccError {
  constructor(message: string) {
    super('data', message);
    this.name = 'ImageDecodeError';
  }
}

export type ImageRef =
  | { readonly kind: 'file'; readonly path: string; readonly display: string; readonly key: string }
  | {
      readonly kind: 'raw';
      readonly display: string;
      readonly key: string;
      readonly width: number;
      readonly height: number;
      readonly pixels: Uint8Array;
    };

const IMAGE_EXTENSIONS = /\.(png|jpe?g|dcm|dicom)$/i;

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** `{id}_*` -> a regex whose group 1 is the id. `*` never crosses a folder boundary. */
export function patternRegex(pattern: string): RegExp {
  const parts = pattern.split('{id}');
  if (parts.length !== 2) throw new RangeError(`image pattern '${pattern}' must contain {id} exactly once`);
  const piece = (p: string): string => escapeRegex(p).replace(/\*/g, '[^/]*');
  return new RegExp(`^${piece(parts[0]!)}([^/]+?)${piece(parts[1]!)}$`);
}

/** A file under the image folder that cannot be used, with the reason (a data error). */
export interface RefusedFile {
  readonly file: string;
  readonly message: string;
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

interface WalkedFile {
  readonly path: string;
  /** Relative to the image folder, with `/`. */
  readonly rel: string;
  /** Reached through a symbolic link to a file. */
  readonly link: boolean;
}

/**
 * Every file under `root`. Symbolic links are followed when they lead to a file or folder inside
 * the image folder (each folder is walked once, so link loops end); a link leading outside it, or
 * to nothing, is refused rather than skipped, since the image it stands for would be lost.
 */
async function walk(
  root: string,
  display: string,
): Promise<{ files: WalkedFile[]; refused: RefusedFile[]; linked: Set<string> }> {
  const realRoot = await realpath(root);
  const files: WalkedFile[] = [];
  const refused: RefusedFile[] = [];
  const linked = new Set<string>();
  const seen = new Set<string>([realRoot]);
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const full = join(dir, e.name);
      const rel = relative(root, full).split(sep).join('/');
      let kind: 'file' | 'dir' | undefined = e.isDirectory() ? 'dir' : e.isFile() ? 'file' : undefined;
      let target = full;
      if (e.isSymbolicLink()) {
        const real = await realpath(full).catch(() => undefined);
        if (real === undefined) {
          refused.push({ file: join(display, rel), message: 'a symbolic link to a file that does not exist' });
          continue;
        }
        if (!inside(real, realRoot)) {
          refused.push({
            file: join(display, rel),
            message:
              `a symbolic link to ${real}, outside the image folder: nvcc follows links only inside it ` +
              '(copy the file in, or point images at a folder that holds it)',
          });
          continue;
        }
        const st = await stat(real);
        kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
        target = real;
        if (kind === 'file') linked.add(real);
      }
      if (kind === 'dir') {
        const real = await realpath(target);
        if (seen.has(real)) continue;
        seen.add(real);
        await visit(full);
      } else if (kind === 'file') files.push({ path: full, rel, link: e.isSymbolicLink() });
    }
  };
  await visit(root);
  return { files, refused, linked };
}

/** Image formats nvcc does not read, by their signatures, named in the refusal. */
const OTHER_IMAGE_SIGNATURES: ReadonlyArray<readonly [string, (h: Uint8Array) => boolean]> = [
  [
    'TIFF',
    (h) =>
      (h[0] === 0x49 && h[1] === 0x49 && h[2] === 0x2a && h[3] === 0) ||
      (h[0] === 0x4d && h[1] === 0x4d && h[2] === 0 && h[3] === 0x2a),
  ],
  ['GIF', (h) => h[0] === 0x47 && h[1] === 0x49 && h[2] === 0x46 && h[3] === 0x38],
  ['BMP', (h) => h[0] === 0x42 && h[1] === 0x4d && h.length >= 26 && h[14]! >= 12 && h[15] === 0],
  [
    'WebP',
    (h) => String.fromCharCode(...h.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...h.subarray(8, 12)) === 'WEBP',
  ],
  ['JPEG 2000', (h) => h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0x0c && h[4] === 0x6a && h[5] === 0x50],
  [
    'HEIF',
    (h) =>
      String.fromCharCode(...h.subarray(4, 8)) === 'ftyp' &&
      /^(heic|heix|mif1|avif)$/.test(String.fromCharCode(...h.subarray(8, 12))),
  ],
];

/**
 * What the first bytes of a file are: an image format nvcc reads, another image format (by
 * name), or neither.
 */
export function sniffImage(head: Uint8Array): 'png' | 'jpeg' | 'dicom' | { readonly other: string } | undefined {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.every((b, i) => head[i] === b)) return 'png';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (isDicom(head)) return 'dicom';
  const other = OTHER_IMAGE_SIGNATURES.find(([, test]) => test(head));
  return other ? { other: other[0] } : undefined;
}

async function readHead(path: string, n: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const collator = new Intl.Collator('en', { numeric: true });

/**
 * Image files under `dir` matching the pattern, in natural order: files named .png, .jpg, .jpeg,
 * .dcm or .dicom, and any other file whose first bytes are PNG, JPEG or DICOM (DICOM exports often
 * have no extension, or are named by a UID whose last part looks like one: `1.2.840.1136.320`).
 * The decoder goes by content too, so a `.png` holding DICOM is read as DICOM. A file in an image
 * format nvcc does not read (TIFF, GIF, BMP, WebP, JPEG 2000 files, HEIF) is refused naming the
 * format rather than left out, since the image would be lost. Files that match no pattern are
 * returned in `unmatched` (reported by the validator as unlinked); links that cannot be followed,
 * and images of other formats, in `refused`.
 */
export async function listImages(
  dir: string,
  display: string,
  pattern: string,
): Promise<{ refs: ImageRef[]; unmatched: string[]; refused: RefusedFile[] }> {
  const re = patternRegex(pattern);
  const { files, refused, linked } = await walk(dir, display);
  const images: string[] = [];
  for (const f of files) {
    if (IMAGE_EXTENSIONS.test(f.rel)) {
      images.push(f.rel);
      continue;
    }
    let head: Uint8Array;
    try {
      head = await readHead(f.path, 133);
    } catch (e) {
      refused.push({ file: join(display, f.rel), message: `cannot read file (${(e as NodeJS.ErrnoException).code})` });
      continue;
    }
    const kind = sniffImage(head);
    // A file a link inside the folder leads to is that link's image (a content store), not another.
    if (kind && !f.link && linked.size > 0 && linked.has(await realpath(f.path))) continue;
    if (typeof kind === 'string') images.push(f.rel);
    else if (kind)
      refused.push({
        file: join(display, f.rel),
        message:
          `a ${kind.other} image, a format nvcc does not read: convert it to PNG (or JPEG, DICOM), or move it ` +
          'out of the image folder',
      });
  }
  const rel = images.sort(collator.compare);
  const refs: ImageRef[] = [];
  const unmatched: string[] = [];
  for (const r of rel) {
    const m = re.exec(r);
    const shown = join(display, r);
    if (m) refs.push({ kind: 'file', path: join(dir, r), display: shown, key: m[1]! });
    else unmatched.push(shown);
  }
  return { refs, unmatched, refused };
}

/** Everything about decoding that changes the output pixels (part of the cache key). */
function decodeSettings(spec: ImageSpec): string {
  // v2: every frame of a multi-frame DICOM file (v1 entries held frame 0 only).
  return JSON.stringify({ v: 2, size: spec.size, channels: spec.channels, fit: spec.fit, dicom: spec.dicom });
}

async function toSize(input: Sharp, spec: ImageSpec): Promise<Uint8Array> {
  const [h, w] = spec.size;
  let pipeline = input.removeAlpha().resize(w, h, { fit: spec.fit === 'cover' ? 'cover' : 'fill', position: 'centre' });
  pipeline = spec.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== w || info.height !== h)
    throw new ImageDecodeError(`resized to ${info.width}x${info.height}, expected ${w}x${h}`);
  if (info.channels === spec.channels) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // Colour conversions may leave one channel where three are wanted, or three where one is.
  const out = new Uint8Array(w * h * spec.channels);
  for (let i = 0; i < w * h; i++) {
    if (spec.channels === 3) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i * info.channels]!;
    else
      out[i] = Math.round((data[i * info.channels]! + data[i * info.channels + 1]! + data[i * info.channels + 2]!) / 3);
  }
  return out;
}

/** The pictures in a file's bytes: one, or one per frame of a multi-frame DICOM file. */
async function decodeBytes(bytes: Uint8Array, spec: ImageSpec): Promise<Uint8Array[]> {
  if (isDicom(bytes)) {
    let pictures: Awaited<ReturnType<typeof decodeDicomFrames>>;
    try {
      pictures = await decodeDicomFrames(bytes, spec.dicom);
    } catch (e) {
      throw new ImageDecodeError(e instanceof DicomError ? e.message : String(e));
    }
    const frames: Uint8Array[] = [];
    for (const pic of pictures)
      frames.push(
        await toSize(
          sharp(Buffer.from(pic.pixels.buffer, pic.pixels.byteOffset, pic.pixels.byteLength), {
            raw: { width: pic.width, height: pic.height, channels: 1 },
          }),
          spec,
        ),
      );
    return frames;
  }
  try {
    return [await toSize(sharp(bytes, { failOn: 'truncated' }), spec)];
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new ImageDecodeError(
      /unsupported image format/i.test(msg) ? 'not a PNG, JPEG or DICOM image' : msg.split('\n')[0]!,
    );
  }
}

export interface Decoded {
  /** One picture, or one per frame of a multi-frame DICOM file (in frame order). */
  readonly frames: readonly Uint8Array[];
  /** Stores the pixels in the on-disk cache; absent when they came from it (or no cache). */
  readonly persist?: () => Promise<void>;
}

/**
 * Decodes one image file to the spec's size and channels (every frame of a multi-frame DICOM
 * file), reading the on-disk cache when given. A cache entry holds the frames one after another.
 * New cache entries are written only by calling `persist`, so a refused dataset writes nothing.
 */
export async function decodeImage(ref: ImageRef, spec: ImageSpec, cacheDir?: string): Promise<Decoded> {
  if (ref.kind === 'raw') {
    const [h, w] = spec.size;
    if (ref.width === w && ref.height === h && spec.channels === 1) return { frames: [ref.pixels] };
    const raw = Buffer.from(ref.pixels.buffer, ref.pixels.byteOffset, ref.pixels.byteLength);
    return {
      frames: [await toSize(sharp(raw, { raw: { width: ref.width, height: ref.height, channels: 1 } }), spec)],
    };
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(ref.path);
  } catch (e) {
    throw new ImageDecodeError(`cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (bytes.length === 0) throw new ImageDecodeError('empty file');
  const expected = spec.size[0] * spec.size[1] * spec.channels;
  let cachePath: string | undefined;
  if (cacheDir) {
    const key = createHash('sha256').update(bytes).update(decodeSettings(spec)).digest('hex');
    cachePath = join(cacheDir, key.slice(0, 2), `${key}.u8`);
    try {
      const cached = await readFile(cachePath);
      if (cached.length > 0 && cached.length % expected === 0) {
        const frames: Uint8Array[] = [];
        for (let at = 0; at < cached.length; at += expected)
          frames.push(new Uint8Array(cached.buffer, cached.byteOffset + at, expected));
        return { frames };
      }
    } catch {
      // Not cached yet.
    }
  }
  const frames = await decodeBytes(bytes, spec);
  if (!cachePath) return { frames };
  const path = cachePath;
  return {
    frames,
    persist: async () => {
      await mkdir(join(path, '..'), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, Buffer.concat(frames));
      await rename(tmp, path);
    },
  };
}
