/**
 * The single boundary between Chevrotain positions and nvc Spans.
 * In: Chevrotain offsets (0-based start, INCLUSIVE end; NaN or -1 for tokens inserted during
 * error recovery and for EOF). Out: half-open Spans [start, end) clamped inside the file.
 * Holds afterwards: no other module does `endOffset` arithmetic itself; the inclusive-to-
 * exclusive rule lives in `exclusiveEnd` alone.
 */
import type { IToken } from 'chevrotain';
import type { SourceFile, Span } from './span.js';

function isRealOffset(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}

/**
 * Converts a Chevrotain range to a Span. When the range is not real (an inserted token, EOF, a
 * recovered node without location), returns an empty span at `fallback`, clamped into the file.
 */
export function chevrotainSpan(
  file: SourceFile,
  startOffset: number | undefined,
  endOffsetInclusive: number | undefined,
  fallback: number,
): Span {
  const len = file.text.length;
  const clamp = (n: number) => Math.max(0, Math.min(n, len));
  if (!isRealOffset(startOffset)) return file.span(clamp(fallback), clamp(fallback));
  const start = clamp(startOffset);
  const endExclusive = exclusiveEnd(endOffsetInclusive);
  const end = Number.isNaN(endExclusive) ? start : clamp(endExclusive);
  return file.span(start, Math.max(start, end));
}

/**
 * Exclusive end offset of a Chevrotain range end (inclusive), or NaN when it is not real. Used
 * where only the end is needed; it applies the same rule as `chevrotainSpan`.
 */
export function exclusiveEnd(endOffsetInclusive: number | undefined): number {
  return isRealOffset(endOffsetInclusive) ? endOffsetInclusive + 1 : NaN;
}

/** The span of one token; inserted/EOF tokens get an empty span at `fallback`. */
export function tokenSpan(file: SourceFile, token: IToken, fallback: number): Span {
  return chevrotainSpan(file, token.startOffset, token.endOffset, fallback);
}

/** True when a token really occurs in the text (not inserted by recovery, not EOF). */
export function isRealToken(token: IToken | undefined): token is IToken {
  return (
    token !== undefined &&
    token.isInsertedInRecovery !== true &&
    isRealOffset(token.startOffset) &&
    token.tokenType.name !== 'EOF'
  );
}
