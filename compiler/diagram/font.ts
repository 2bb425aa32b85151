/**
 * Text measurement and embedding for diagrams, from the shipped font file.
 * In: compiler/diagram/fonts/DejaVuSans.ttf (unmodified DejaVu Sans, Bitstream Vera licence in
 * DejaVuSans-LICENSE.txt). Out: `textWidth(text, size)` from the font's own advance widths
 * (cmap format 4 + hmtx), line metrics, and the font as base64 for an SVG `@font-face`.
 * Holds afterwards: widths are exactly what a renderer without kerning or ligatures draws with
 * this font (the SVG sets `font-kerning: none` and disables ligatures so that holds).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FONT_FAMILY = 'NvccDiagramSans';
export const FONT_FILE = fileURLToPath(new URL('./fonts/DejaVuSans.ttf', import.meta.url));

export interface FontMetrics {
  readonly unitsPerEm: number;
  readonly ascender: number;
  readonly descender: number;
  readonly lineGap: number;
  /** Advance width in font units per code point (BMP). */
  readonly advance: (codePoint: number) => number;
}

function parseFont(buf: Buffer): FontMetrics {
  const numTables = buf.readUInt16BE(4);
  const tables = new Map<string, { offset: number; length: number }>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    tables.set(buf.toString('latin1', rec, rec + 4), { offset: buf.readUInt32BE(rec + 8), length: buf.readUInt32BE(rec + 12) });
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
  return { unitsPerEm, ascender, descender, lineGap, advance };
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
