/**
 * Lexing: source text to the token stream the parser reads.
 * In: a SourceFile. Out: tokens (comments removed, insignificant newlines removed), the `///`
 * doc comments, and NVC100x diagnostics (bad characters, strings, numbers, comments).
 * Holds afterwards: every character of the file is covered by a token, trivia, or a diagnostic;
 * `tokens` never contains two Newlines in a row, nor a Newline first.
 *
 * Newlines separate statements, like `;`. A newline is dropped (a line continues) when it is
 * inside `(...)` or `[...]`, after a token that cannot end an expression (an operator, `,`,
 * `=`, `:`, `->`, an opening bracket), or before a token that cannot start one (`)`, `]`, `}`,
 * `{`, `.`, `|>`, `>>`, `then`, `else`, `and`, `or`). Inside `{...}` newlines are significant.
 */
import { Lexer, type IToken, type TokenType } from 'chevrotain';
import type { Diagnostic } from './diagnostics/diagnostic.js';
import { report, syntaxCatalogue } from './diagnostics/catalogue.js';
import { tokenSpan } from './positions.js';
import type { SourceFile } from './span.js';
import * as T from './tokens.js';

export interface LexResult {
  readonly tokens: IToken[];
  readonly docComments: IToken[];
  readonly diagnostics: Diagnostic[];
}

const chevLexer = new Lexer(T.allTokens as TokenType[], {
  positionTracking: 'full',
  ensureOptimizations: false,
  skipValidations: false,
});

const continueAfter = new Set<TokenType>([
  ...T.binaryOperatorTokens,
  T.And,
  T.Or,
  T.Not,
  T.Then,
  T.Else,
  T.Equals,
  T.Arrow,
  T.Comma,
  T.Colon,
  T.Dot,
  T.LParen,
  T.LBracket,
  T.LCurly,
  T.In,
  T.If,
  T.Repeat,
]);
const continueBefore = new Set<TokenType>([
  T.RParen,
  T.RBracket,
  T.RCurly,
  T.LCurly,
  T.Dot,
  T.PipeOp,
  T.Compose,
  T.Then,
  T.Else,
  T.And,
  T.Or,
]);
const closerFor = new Map<TokenType, TokenType>([
  [T.RParen, T.LParen],
  [T.RBracket, T.LBracket],
  [T.RCurly, T.LCurly],
]);

/** Drops insignificant newlines (see the file comment). */
function filterNewlines(raw: readonly IToken[]): IToken[] {
  const out: IToken[] = [];
  const open: TokenType[] = [];
  for (const tok of raw) {
    const type = tok.tokenType;
    if (type === T.Newline) {
      const top = open[open.length - 1];
      if (top === T.LParen || top === T.LBracket) continue;
      const prev = out[out.length - 1];
      if (prev === undefined || prev.tokenType === T.Newline || continueAfter.has(prev.tokenType)) continue;
      out.push(tok);
      continue;
    }
    if (continueBefore.has(type) && out[out.length - 1]?.tokenType === T.Newline) out.pop();
    if (type === T.LParen || type === T.LBracket || type === T.LCurly) open.push(type);
    const opener = closerFor.get(type);
    if (opener !== undefined) {
      const at = open.lastIndexOf(opener);
      if (at >= 0) open.length = at;
    }
    out.push(tok);
  }
  if (out[out.length - 1]?.tokenType === T.Newline) out.pop();
  return out;
}

const validNumber = /^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Reports escape problems in a string token's image. */
function checkString(file: SourceFile, tok: IToken, diagnostics: Diagnostic[]): void {
  const image = tok.image;
  const closed = image.length >= 2 && image.endsWith('"') && !isEscapedAt(image, image.length - 1);
  if (!closed) {
    diagnostics.push(
      report(
        syntaxCatalogue.UnterminatedString,
        tokenSpan(file, tok, 0),
        {},
        {
          primaryLabel: 'the string starts here and is not closed on this line',
        },
      ),
    );
  }
  const body = closed ? image.slice(1, -1) : image.slice(1);
  for (const bad of decodeStringBody(body).badEscapes) {
    const start = tok.startOffset + 1 + bad.offset;
    diagnostics.push(
      report(syntaxCatalogue.InvalidEscape, file.span(start, start + bad.length), {
        text: body.slice(bad.offset, bad.offset + bad.length),
      }),
    );
  }
}

function isEscapedAt(image: string, index: number): boolean {
  let backslashes = 0;
  for (let i = index - 1; i >= 0 && image[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

export interface DecodedString {
  readonly value: string;
  /** Offsets are relative to the body (the text after the opening quote). */
  readonly badEscapes: readonly { offset: number; length: number }[];
}

/** Decodes the text between the quotes: `\\ \" \n \t \r \u{hex}`. */
export function decodeStringBody(body: string): DecodedString {
  let value = '';
  const badEscapes: { offset: number; length: number }[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      value += ch;
      continue;
    }
    const next = body[i + 1];
    switch (next) {
      case '\\':
        value += '\\';
        i++;
        break;
      case '"':
        value += '"';
        i++;
        break;
      case 'n':
        value += '\n';
        i++;
        break;
      case 't':
        value += '\t';
        i++;
        break;
      case 'r':
        value += '\r';
        i++;
        break;
      case 'u': {
        const m = /^u\{([0-9a-fA-F]{1,6})\}/.exec(body.slice(i + 1));
        const cp = m ? parseInt(m[1]!, 16) : NaN;
        if (m && cp <= 0x10ffff) {
          value += String.fromCodePoint(cp);
          i += m[0].length;
        } else {
          badEscapes.push({ offset: i, length: 2 });
          i++;
        }
        break;
      }
      case undefined:
        badEscapes.push({ offset: i, length: 1 });
        break;
      default:
        badEscapes.push({ offset: i, length: 2 });
        value += next;
        i++;
    }
  }
  return { value, badEscapes };
}

/** Decodes a whole string token image (with its quotes; the closing one may be missing). */
export function decodeStringToken(image: string): string {
  const closed = image.length >= 2 && image.endsWith('"') && !isEscapedAt(image, image.length - 1);
  return decodeStringBody(closed ? image.slice(1, -1) : image.slice(1)).value;
}

export function lex(file: SourceFile): LexResult {
  const result = chevLexer.tokenize(file.text);
  const diagnostics: Diagnostic[] = [];
  for (const err of result.errors) {
    const text = file.text.slice(err.offset, err.offset + err.length);
    diagnostics.push(
      report(syntaxCatalogue.UnexpectedCharacter, file.span(err.offset, err.offset + err.length), {
        text: text.replace(/`/g, "'"),
      }),
    );
  }
  for (const tok of result.tokens) {
    if (tok.tokenType === T.StringLiteral) checkString(file, tok, diagnostics);
    else if (tok.tokenType === T.NumberLiteral && !validNumber.test(tok.image)) {
      diagnostics.push(
        report(syntaxCatalogue.InvalidNumber, tokenSpan(file, tok, 0), {
          text: tok.image,
        }),
      );
    }
  }
  for (const c of (result.groups['comments'] ?? []) as IToken[]) {
    if (c.tokenType === T.BlockComment && !(c.image.length >= 4 && c.image.endsWith('*/'))) {
      diagnostics.push(
        report(
          syntaxCatalogue.UnterminatedComment,
          file.span(c.startOffset, c.startOffset + 2),
          {},
          {
            primaryLabel: 'the comment starts here and runs to the end of the file',
          },
        ),
      );
    }
  }
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  return {
    tokens: filterNewlines(result.tokens),
    docComments: (result.groups['doc'] ?? []) as IToken[],
    diagnostics,
  };
}

/**
 * Every token of the text in source order with comments, doc comments and every newline kept
 * (only whitespace is dropped): what the formatter lays out again.
 */
export function lexWithTrivia(text: string): IToken[] {
  const result = chevLexer.tokenize(text);
  const comments = (result.groups['comments'] ?? []) as IToken[];
  const docs = (result.groups['doc'] ?? []) as IToken[];
  return [...result.tokens, ...comments, ...docs].sort((a, b) => a.startOffset - b.startOffset);
}
