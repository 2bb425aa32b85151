/**
 * The canonical layout of .nvc text (`nvcc fmt`).
 * In: a SourceFile. Out: the same program laid out canonically, or the file's syntax
 * diagnostics when it does not parse (a broken file is never rewritten).
 * Holds afterwards: only whitespace changes, so the formatted text lexes to the same tokens and
 * comments and parses to the same AST (spans aside); formatting is idempotent; line breaks are
 * the author's (runs of blank lines collapse to one); indentation is two spaces per open `{`,
 * `(` or `[` whose line ends after it, or the column after the bracket when the bracket's line
 * goes on after it; a line that continues an expression (it starts with `|>`, `then`, ... or the
 * line above ends with an operator) is indented one step more; spacing inside a line follows
 * fixed rules; trailing comments of consecutive lines share one column.
 * There are no options: one layout, nothing to argue about.
 */
import { type IToken, type TokenType, tokenMatcher } from 'chevrotain';
import type { Diagnostic } from './diagnostics/diagnostic.js';
import { parse } from './index.js';
import { lexWithTrivia } from './lexer.js';
import { printAst } from './print-ast.js';
import { SourceFile } from './span.js';
import * as T from './tokens.js';

export type FormatResult =
  | { readonly ok: true; readonly text: string; readonly changed: boolean }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

const INDENT = 2;
/** Fewest spaces between code and a trailing comment. */
const COMMENT_GAP = 2;

const OPENERS = new Set<TokenType>([T.LParen, T.LBracket, T.LCurly]);
const CLOSERS = new Map<TokenType, TokenType>([
  [T.RParen, T.LParen],
  [T.RBracket, T.LBracket],
  [T.RCurly, T.LCurly],
]);
/** A line starting with one of these continues the line above (the lexer joins them). */
const CONTINUES_LINE_ABOVE = new Set<TokenType>([T.Dot, T.PipeOp, T.Compose, T.Then, T.Else, T.And, T.Or]);
/** A line ending with one of these goes on below (the lexer joins them). */
const GOES_ON_BELOW = new Set<TokenType>([
  ...T.binaryOperatorTokens,
  T.And,
  T.Or,
  T.Not,
  T.Then,
  T.Else,
  T.Equals,
  T.Arrow,
  T.Colon,
  T.Dot,
  T.In,
  T.If,
  T.Repeat,
]);

function isComment(t: IToken): boolean {
  const type = t.tokenType;
  return type === T.LineComment || type === T.DocComment || type === T.BlockComment;
}

function isKeyword(t: IToken): boolean {
  return tokenMatcher(t, T.Keyword);
}

/** A token after which `(` is a call and `[` an index rather than a new expression. */
function endsCallee(t: IToken, before: IToken | undefined): boolean {
  const type = t.tokenType;
  if (type === T.Identifier || type === T.RParen || type === T.RBracket || type === T.StringLiteral) return true;
  if (type === T.Forward) return true;
  // `enc.stage[0]`: a keyword read as a member name; `forward stage(x)`: a named forward
  return isKeyword(t) && (before?.tokenType === T.Dot || before?.tokenType === T.Forward);
}

/** A token after which `-` subtracts (otherwise it negates). */
function endsOperand(t: IToken, before: IToken | undefined): boolean {
  const type = t.tokenType;
  if (
    type === T.Identifier ||
    type === T.NumberLiteral ||
    type === T.StringLiteral ||
    type === T.RParen ||
    type === T.RBracket ||
    type === T.RCurly ||
    type === T.True ||
    type === T.False
  )
    return true;
  return isKeyword(t) && before?.tokenType === T.Dot;
}

/** The spaces between two tokens of one line (`before` precedes `a`). */
function gap(
  a: IToken,
  b: IToken,
  before: IToken | undefined,
  beforeThat: IToken | undefined,
  bracketIsEmpty: boolean,
): string {
  const ta = a.tokenType;
  const tb = b.tokenType;
  if (ta === T.BlockComment || tb === T.BlockComment) return ' ';
  if (ta === T.LParen || ta === T.LBracket) return '';
  if (tb === T.RParen || tb === T.RBracket) return '';
  if (tb === T.Comma || tb === T.Semicolon || tb === T.Colon) return '';
  if (ta === T.Comma || ta === T.Semicolon || ta === T.Colon) return ' ';
  if (ta === T.Dot || tb === T.Dot || ta === T.DotDot || tb === T.DotDot) return '';
  if (ta === T.LCurly && tb === T.RCurly) return '';
  // a prefix minus sticks to its operand
  if (ta === T.Minus && !(before !== undefined && endsOperand(before, beforeThat))) return '';
  // a dataset field type, `joint: binary [hip, knee]`, is not an index (but `depths: int[]` reads as one word)
  if (tb === T.LBracket && ta === T.Identifier && before?.tokenType === T.Colon && !bracketIsEmpty) return ' ';
  if (tb === T.LParen || tb === T.LBracket) return endsCallee(a, before) ? '' : ' ';
  return ' ';
}

interface Line {
  /** Code and comment tokens of the line, in order. */
  readonly tokens: IToken[];
  /** Blank lines above it in the source. */
  readonly blanksAbove: number;
}

/** Splits the token stream at newlines; a multi-line block comment stays inside its line. */
function splitLines(tokens: readonly IToken[]): Line[] {
  const lines: Line[] = [];
  let current: IToken[] = [];
  let newlines = 0;
  for (const t of tokens) {
    if (t.tokenType === T.Newline) {
      if (current.length > 0) {
        lines.push({ tokens: current, blanksAbove: Math.max(0, newlines - 1) });
        current = [];
        newlines = 0;
      }
      newlines++;
      continue;
    }
    current.push(t);
  }
  if (current.length > 0) lines.push({ tokens: current, blanksAbove: Math.max(0, newlines - 1) });
  return lines;
}

interface OpenBracket {
  readonly type: TokenType;
  /** Column of the lines inside the bracket. */
  readonly inner: number;
  /** Column of a line that starts with the closing bracket. */
  readonly closing: number;
  /** Index of the line holding the opening bracket. */
  readonly openedAtLine: number;
}

interface LaidOutLine {
  readonly code: string;
  readonly comment: string | undefined;
  readonly blankAbove: boolean;
  /** Whether the code holds a multi-line block comment (no comment alignment across it). */
  readonly multiline: boolean;
}

function commentText(t: IToken): string {
  return t.tokenType === T.BlockComment ? t.image : t.image.trimEnd();
}

function layOut(lines: readonly Line[]): LaidOutLine[] {
  const out: LaidOutLine[] = [];
  const open: OpenBracket[] = [];
  let lastCode: IToken | undefined;
  for (const [index, line] of lines.entries()) {
    const first = line.tokens[0]!;
    const top = open[open.length - 1];
    let indent: number;
    if (CLOSERS.has(first.tokenType)) indent = top?.closing ?? 0;
    else {
      indent = top?.inner ?? 0;
      const continues =
        CONTINUES_LINE_ABOVE.has(first.tokenType) || (lastCode !== undefined && GOES_ON_BELOW.has(lastCode.tokenType));
      if (continues && !isComment(first)) indent += INDENT;
    }
    const trailing = line.tokens.length > 1 && line.tokens[line.tokens.length - 1]!.tokenType !== T.BlockComment;
    const last = line.tokens[line.tokens.length - 1]!;
    const code = trailing && isComment(last) ? line.tokens.slice(0, -1) : line.tokens;
    const comment = code === line.tokens ? undefined : commentText(last);
    let text = ' '.repeat(indent);
    let statementIndent = indent;
    let previous: IToken | undefined;
    let beforePrevious: IToken | undefined;
    let thirdLast: IToken | undefined;
    let lastCodeOnLine = -1;
    for (let i = code.length - 1; i >= 0; i--)
      if (!isComment(code[i]!)) {
        lastCodeOnLine = i;
        break;
      }
    for (const [i, t] of code.entries()) {
      if (previous !== undefined)
        text += gap(previous, t, beforePrevious, thirdLast, code[i + 1]?.tokenType === T.RBracket);
      text += isComment(t) ? commentText(t) : t.image;
      if (OPENERS.has(t.tokenType)) {
        const endsLine = i >= lastCodeOnLine;
        const inner = endsLine ? statementIndent + INDENT : text.length - lineStart(text);
        open.push({ type: t.tokenType, inner, closing: statementIndent, openedAtLine: index });
      } else {
        const opener = CLOSERS.get(t.tokenType);
        if (opener !== undefined) {
          const at = open.map((o) => o.type).lastIndexOf(opener);
          if (at >= 0) {
            // `f(a,\n    b) {`: what opens after the bracket closes belongs to the line that opened it
            if (open[at]!.openedAtLine < index) statementIndent = open[at]!.closing;
            open.length = at;
          }
        }
      }
      if (!isComment(t)) {
        thirdLast = beforePrevious;
        beforePrevious = previous;
        previous = t;
        lastCode = t;
      } else if (t.tokenType === T.BlockComment) {
        thirdLast = beforePrevious;
        beforePrevious = previous;
        previous = t;
      }
    }
    out.push({
      code: text.trimEnd(),
      comment,
      blankAbove: index > 0 && line.blanksAbove > 0,
      multiline: code.some((t) => t.tokenType === T.BlockComment && /[\r\n]/.test(t.image)),
    });
  }
  return out;
}

/** Offset of the last line of `text` (a multi-line block comment can precede the bracket). */
function lineStart(text: string): number {
  const at = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return at + 1;
}

/** Joins laid-out lines, aligning the trailing comments of each run of consecutive lines. */
function render(lines: readonly LaidOutLine[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.comment === undefined || line.code.trim() === '' || line.multiline) {
      if (line.blankAbove) parts.push('');
      parts.push(line.comment === undefined ? line.code : `${line.code}${' '.repeat(COMMENT_GAP)}${line.comment}`);
      i++;
      continue;
    }
    let end = i + 1;
    while (end < lines.length) {
      const next = lines[end]!;
      if (next.blankAbove || next.comment === undefined || next.multiline || next.code.trim() === '') break;
      end++;
    }
    const column = Math.max(...lines.slice(i, end).map((l) => l.code.length)) + COMMENT_GAP;
    for (let k = i; k < end; k++) {
      const l = lines[k]!;
      if (l.blankAbove) parts.push('');
      parts.push(l.code + ' '.repeat(column - l.code.length) + l.comment);
    }
    i = end;
  }
  return parts.length === 0 ? '' : parts.join('\n') + '\n';
}

/** The AST without positions: what formatting must keep. */
function astWithoutSpans(file: SourceFile): string {
  return printAst(parse(file).module).replace(/ [A-Za-z]*@\d+-\d+/g, '');
}

/** Token images without layout (comments with trailing blanks trimmed). */
function tokenImages(text: string): string[] {
  return lexWithTrivia(text)
    .filter((t) => t.tokenType !== T.Newline)
    .map((t) => (isComment(t) ? commentText(t) : t.image));
}

export function formatSource(file: SourceFile): FormatResult {
  const parsed = parse(file);
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { ok: false, diagnostics: errors };
  const text = render(layOut(splitLines(lexWithTrivia(file.text))));
  return { ok: true, text, changed: text !== file.text };
}

/**
 * Whether `formatted` keeps the meaning of `original`: the same tokens and comments, and the
 * same AST apart from spans. `nvcc fmt` refuses to write a file when this fails.
 */
export function keepsMeaning(original: SourceFile, formatted: string): boolean {
  const again = new SourceFile(original.path, formatted);
  const a = tokenImages(original.text);
  const b = tokenImages(formatted);
  if (a.length !== b.length || a.some((image, i) => image !== b[i])) return false;
  return astWithoutSpans(original) === astWithoutSpans(again);
}
