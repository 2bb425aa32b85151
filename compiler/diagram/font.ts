/**
 * Text measurement and embedding for diagrams, from the shipped font file.
 * In: compiler/diagram/fonts/DejaVuSans.ttf (unmodified DejaVu Sans, Bitstream Vera licence in
 * DejaVuSans-LICENSE.txt). Out: `textWidth(text, size)` from the font's own advance widths
 * (cmap format 4 + hmtx), line metrics, and the font as base64 for an SVG `@font-face`.
 * Holds afterwards: widths are exactly what a renderer without kerning or ligatures draws with
 * this font (the SVG sets `font-kerning: none` and disables ligatures so that holds).
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../../runtime/package-root.js';

export const FONT_FAMILY = 'NvccDiagramSans';
export const FONT_FILE = packagePath('compiler', 'diagram', 'fonts', 'DejaVuSans.ttf');

export interface FontMetrics {
  readonly unitsPerEm: number;
  readonly ascender: number;
  readonly descender: number;
  readonly lineGap: number;
  /** Advance width in font units per code point (BMP). */
  readonly advance: (codePoint: number) => number;
  /** Glyph id of a code point (0 when the font has none). */
  readonly glyphOf: (codePoint: number) => number;
}

function parseFont(buf: Buffer): FontMetrics {
  const numTables = buf.readUInt16BE(4);
  const tables = new Map<string, { offset: number; length: number }>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    tables.set(buf.toString('latin1', rec, rec + 4), {
      offset: buf.readUInt32BE(rec + 8),
      length: buf.readUInt32BE(rec + 12),
    });
  }
  const need = (tag: string) => {
    const t = tables.get(tag);
    if (!t) throw new Error(`font has no ${tag} table`);
    return t.offset;
  };
  const head = need('head');
  const unitsPerEm = buf.readUInt16BE(head + 18);
  const hhea = need('hhea');
  const ascender = buf.readInt16BE(hhea + 4);
  const descender = buf.readInt16BE(hhea + 6);
  const lineGap = buf.readInt16BE(hhea + 8);
  const numberOfHMetrics = buf.readUInt16BE(hhea + 34);
  const hmtx = need('hmtx');
  const advanceOfGlyph = (g: number) => buf.readUInt16BE(hmtx + 4 * Math.min(g, numberOfHMetrics - 1));

  // cmap: the Windows Unicode BMP subtable (platform 3, encoding 1), format 4.
  const cmap = need('cmap');
  const n = buf.readUInt16BE(cmap + 2);
  let sub = -1;
  for (let i = 0; i < n; i++) {
    const rec = cmap + 4 + i * 8;
    const platform = buf.readUInt16BE(rec);
    const encoding = buf.readUInt16BE(rec + 2);
    const off = cmap + buf.readUInt32BE(rec + 4);
    if (platform === 3 && encoding === 1 && buf.readUInt16BE(off) === 4) sub = off;
  }
  if (sub < 0) throw new Error('font has no format-4 Unicode cmap');
  const segX2 = buf.readUInt16BE(sub + 6);
  const segs = segX2 / 2;
  const endCodes = sub + 14;
  const startCodes = endCodes + segX2 + 2;
  const idDeltas = startCodes + segX2;
  const idRangeOffsets = idDeltas + segX2;
  const glyphOf = (cp: number): number => {
    if (cp > 0xffff) return 0;
    for (let i = 0; i < segs; i++) {
      const end = buf.readUInt16BE(endCodes + 2 * i);
      if (cp > end) continue;
      const start = buf.readUInt16BE(startCodes + 2 * i);
      if (cp < start) return 0;
      const delta = buf.readInt16BE(idDeltas + 2 * i);
      const rangeOffsetAt = idRangeOffsets + 2 * i;
      const rangeOffset = buf.readUInt16BE(rangeOffsetAt);
      if (rangeOffset === 0) return (cp + delta) & 0xffff;
      const g = buf.readUInt16BE(rangeOffsetAt + rangeOffset + 2 * (cp - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  const cache = new Map<number, number>();
  const advance = (cp: number) => {
    let w = cache.get(cp);
    if (w === undefined) {
      w = advanceOfGlyph(glyphOf(cp));
      cache.set(cp, w);
    }
    return w;
  };
  return { unitsPerEm, ascender, descender, lineGap, advance, glyphOf };
}

let loaded: { bytes: Buffer; metrics: FontMetrics } | undefined;

function font(): { bytes: Buffer; metrics: FontMetrics } {
  if (!loaded) {
    const bytes = readFileSync(FONT_FILE);
    loaded = { bytes, metrics: parseFont(bytes) };
  }
  return loaded;
}

export function fontMetrics(): FontMetrics {
  return font().metrics;
}

/** Width in px of `text` set at `size` px with the diagram font. */
export function textWidth(text: string, size: number): number {
  const m = font().metrics;
  let units = 0;
  for (const ch of text) units += m.advance(ch.codePointAt(0)!);
  return (units * size) / m.unitsPerEm;
}

/** Ascent and descent in px at `size` (baseline placement of one line). */
export function lineMetrics(size: number): { ascent: number; descent: number; height: number } {
  const m = font().metrics;
  const ascent = (m.ascender * size) / m.unitsPerEm;
  const descent = (-m.descender * size) / m.unitsPerEm;
  return { ascent, descent, height: ascent + descent };
}

/** The font file as base64, for `@font-face { src: url(data:font/ttf;base64,...) }`. */
export function fontBase64(): string {
  return font().bytes.toString('base64');
}

/** Tables a renderer needs for plain (unkerned, unshaped) text; the rest are dropped. */
const KEEP_TABLES = new Set([
  'cmap',
  'cvt ',
  'fpgm',
  'gasp',
  'glyf',
  'head',
  'hhea',
  'hmtx',
  'loca',
  'maxp',
  'name',
  'OS/2',
  'post',
  'prep',
]);

function checksum(b: Buffer): number {
  let sum = 0;
  const padded = b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b;
  for (let i = 0; i < padded.length; i += 4) sum = (sum + padded.readUInt32BE(i)) >>> 0;
  return sum;
}

/**
 * The font reduced to the glyphs of `text` (and the glyphs their composites use): every other
 * glyph outline is emptied, kerning/shaping tables and glyph names are dropped. Glyph ids,
 * advance widths and the cmap are unchanged, so text set with the subset measures exactly as
 * with the full font. The result is still DejaVu Sans (its licence allows modified versions
 * under names without "Bitstream" or "Vera"; the copyright notices in `name` are kept).
 */
export function subsetFont(text: string): Buffer {
  const { bytes: buf, metrics } = font();
  const numTables = buf.readUInt16BE(4);
  const tables = new Map<string, Buffer>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    const tag = buf.toString('latin1', rec, rec + 4);
    const off = buf.readUInt32BE(rec + 8);
    tables.set(tag, Buffer.from(buf.subarray(off, off + buf.readUInt32BE(rec + 12))));
  }
  const head = tables.get('head')!;
  const maxp = tables.get('maxp')!;
  const loca = tables.get('loca')!;
  const glyf = tables.get('glyf')!;
  const numGlyphs = maxp.readUInt16BE(4);
  const longLoca = head.readInt16BE(50) === 1;
  const offset = (g: number) => (longLoca ? loca.readUInt32BE(4 * g) : 2 * loca.readUInt16BE(2 * g));
  const keep = new Set<number>([0]);
  const queue: number[] = [];
  for (const ch of text) {
    const g = metrics.glyphOf(ch.codePointAt(0)!);
    if (!keep.has(g)) keep.add(g), queue.push(g);
  }
  while (queue.length) {
    const g = queue.pop()!;
    const start = offset(g);
    if (offset(g + 1) - start < 10 || glyf.readInt16BE(start) >= 0) continue;
    // A composite glyph: keep its components.
    let p = start + 10;
    for (;;) {
      const flags = glyf.readUInt16BE(p);
      const component = glyf.readUInt16BE(p + 2);
      if (!keep.has(component)) keep.add(component), queue.push(component);
      p += 4 + (flags & 1 ? 4 : 2) + (flags & 8 ? 2 : flags & 0x40 ? 4 : flags & 0x80 ? 8 : 0);
      if (!(flags & 0x20)) break;
    }
  }
  const parts: Buffer[] = [];
  const newLoca = Buffer.alloc(4 * (numGlyphs + 1));
  let at = 0;
  for (let g = 0; g < numGlyphs; g++) {
    newLoca.writeUInt32BE(at, 4 * g);
    if (!keep.has(g)) continue;
    const data = glyf.subarray(offset(g), offset(g + 1));
    const pad = (4 - (data.length % 4)) % 4;
    parts.push(data, Buffer.alloc(pad));
    at += data.length + pad;
  }
  newLoca.writeUInt32BE(at, 4 * numGlyphs);
  tables.set('glyf', Buffer.concat(parts));
  tables.set('loca', newLoca);
  head.writeInt16BE(1, 50);
  head.writeUInt32BE(0, 8);
  // post format 3: no glyph names.
  const post = Buffer.from(tables.get('post')!.subarray(0, 32));
  post.writeUInt32BE(0x00030000, 0);
  tables.set('post', post);
  const tags = [...tables.keys()].filter((t) => KEEP_TABLES.has(t)).sort();
  const dirSize = 12 + 16 * tags.length;
  const header = Buffer.alloc(dirSize);
  header.writeUInt32BE(0x00010000, 0);
  header.writeUInt16BE(tags.length, 4);
  let pow = 1;
  let log = 0;
  while (pow * 2 <= tags.length) (pow *= 2), log++;
  header.writeUInt16BE(pow * 16, 6);
  header.writeUInt16BE(log, 8);
  header.writeUInt16BE(tags.length * 16 - pow * 16, 10);
  const bodies: Buffer[] = [];
  let pos = dirSize;
  tags.forEach((tag, i) => {
    const data = tables.get(tag)!;
    const rec = 12 + 16 * i;
    header.write(tag, rec, 'latin1');
    header.writeUInt32BE(checksum(data), rec + 4);
    header.writeUInt32BE(pos, rec + 8);
    header.writeUInt32BE(data.length, rec + 12);
    const pad = (4 - (data.length % 4)) % 4;
    bodies.push(data, Buffer.alloc(pad));
    pos += data.length + pad;
  });
  const out = Buffer.concat([header, ...bodies]);
  const headAt = out.readUInt32BE(12 + 16 * tags.indexOf('head') + 8);
  out.writeUInt32BE((0xb1b0afba - checksum(out)) >>> 0, headAt + 8);
  return out;
}
