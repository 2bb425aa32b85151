/**
 * Token types of the .nvc language.
 * In: nothing (static tables). Out: Chevrotain token types, grouped by role, and `allTokens`,
 * the ordered list the lexer tries. Holds afterwards: every token type has a LABEL written the
 * way a user reads it (`)` , `name`, `number`), so parser messages never show internal names.
 *
 * Order of `allTokens` matters: Chevrotain tries patterns in order and takes the first match,
 * so longer operators come before their prefixes (`//` before `/`, `->` before `-`, `..` before
 * `.`), comments before `/`, and keywords before Identifier (keywords use `longer_alt` so that
 * `format` lexes as one identifier, not `for` + `mat`).
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

// ---------------------------------------------------------------------------------------------
// Categories

/** Every real token: lets the parser skip one stray token of any kind during recovery. */
export const AnyToken = createToken({ name: 'AnyToken', pattern: Lexer.NA, label: 'token' });

/** Any word: an identifier or a keyword. Used where a key may be any word (`model = ...`). */
export const Word = createToken({ name: 'Word', pattern: Lexer.NA, label: 'name' });
/** All reserved words. */
export const Keyword = createToken({ name: 'Keyword', pattern: Lexer.NA, label: 'keyword' });
/** Binary operators other than `then` (which `if` parts exclude). */
export const BinaryOperator = createToken({ name: 'BinaryOperator', pattern: Lexer.NA, label: 'operator' });
/** Statement separator: a significant newline or `;`. */
export const Separator = createToken({
  name: 'Separator',
  pattern: Lexer.NA,
  label: 'newline or `;`',
});

// ---------------------------------------------------------------------------------------------
// Trivia

export const Whitespace = createToken({
  name: 'Whitespace',
  pattern: /[ \t\f\v\u00a0\ufeff]+/,
  group: Lexer.SKIPPED,
});
export const Newline = createToken({
  name: 'Newline',
  pattern: /\r\n|\r|\n/,
  line_breaks: true,
  categories: [Separator, AnyToken],
  label: 'newline',
});
/** `/// text` directly above a declaration documents it. */
export const DocComment = createToken({
  name: 'DocComment',
  pattern: /\/\/\/[^\r\n]*/,
  group: 'doc',
});
export const LineComment = createToken({
  name: 'LineComment',
  pattern: /\/\/[^\r\n]*/,
  group: 'comments',
});
/** Matches to end of file when unterminated; the lexer reports that case. */
export const BlockComment = createToken({
  name: 'BlockComment',
  pattern: {
    exec: (text: string, offset: number) => {
      if (!text.startsWith('/*', offset)) return null;
      const close = text.indexOf('*/', offset + 2);
      const end = close < 0 ? text.length : close + 2;
      return [text.slice(offset, end)] as unknown as RegExpExecArray;
    },
  },
  start_chars_hint: ['/'],
  line_breaks: true,
  group: 'comments',
});

// ---------------------------------------------------------------------------------------------
// Literals and names

export const Identifier = createToken({
  name: 'Identifier',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  categories: [Word, AnyToken],
  label: 'name',
});

/**
 * A number, scanned generously (`12abc`, `1e`, `1.2.3` are one token) so that a malformed
 * number is reported once, as a bad number, instead of as a number followed by a stray name.
 * A `.` belongs to the number only when a digit follows it, so `0..4` is `0` `..` `4`.
 */
function matchNumber(text: string, offset: number): RegExpExecArray | null {
  let i = offset;
  const isDigit = (c: number) => c >= 48 && c <= 57;
  const isWordChar = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  if (!isDigit(text.charCodeAt(i))) return null;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isWordChar(c)) {
      // exponent sign: `1e-6`, `2E+3`
      if ((c === 101 || c === 69) && (text[i + 1] === '-' || text[i + 1] === '+') && isDigit(text.charCodeAt(i + 2))) {
        i += 2;
        continue;
      }
      i++;
    } else if (c === 46 /* . */ && isDigit(text.charCodeAt(i + 1))) {
      i++;
    } else break;
  }
  const result = [text.slice(offset, i)] as unknown as RegExpExecArray;
  return result;
}

export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: { exec: matchNumber },
  line_breaks: false,
  start_chars_hint: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  categories: [AnyToken],
  label: 'number',
});

/** A string on one line; the closing quote is optional so that the lexer can report it. */
export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"?/,
  categories: [AnyToken],
  label: 'string',
});

// ---------------------------------------------------------------------------------------------
// Keywords

function keyword(word: string, binary = false): TokenType {
  return createToken({
    name: `Kw_${word}`,
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories: binary ? [Keyword, Word, AnyToken, BinaryOperator] : [Keyword, Word, AnyToken],
    label: `\`${word}\``,
  });
}

export const Import = keyword('import');
export const From = keyword('from');
export const As = keyword('as');
export const Block = keyword('block');
export const Model = keyword('model');
export const Const = keyword('const');
export const Weight = keyword('weight');
export const BufferKw = keyword('buffer');
export const Frozen = keyword('frozen');
export const Sparse = keyword('sparse');
export const Unmasked = keyword('unmasked');
export const Interface = keyword('interface');
export const Forward = keyword('forward');
export const Let = keyword('let');
export const Return = keyword('return');
export const For = keyword('for');
export const In = keyword('in');
export const If = keyword('if');
export const Then = keyword('then');
export const Else = keyword('else');
export const Repeat = keyword('repeat');
export const Dataset = keyword('dataset');
export const Train = keyword('train');
export const On = keyword('on');
export const Stage = keyword('stage');
export const Variant = keyword('variant');
export const Extends = keyword('extends');
export const Remove = keyword('remove');
export const And = keyword('and', true);
export const Or = keyword('or', true);
export const Not = keyword('not');
export const True = keyword('true');
export const False = keyword('false');

export const keywordTokens: readonly TokenType[] = [
  Import,
  From,
  As,
  Block,
  Model,
  Const,
  Weight,
  BufferKw,
  Frozen,
  Sparse,
  Unmasked,
  Interface,
  Forward,
  Let,
  Return,
  For,
  In,
  If,
  Then,
  Else,
  Repeat,
  Dataset,
  Train,
  On,
  Stage,
  Variant,
  Extends,
  Remove,
  And,
  Or,
  Not,
  True,
  False,
];

/** The reserved words, for messages and for the docs. */
export const keywords: readonly string[] = [...keywordTokens.map((t) => t.name.slice(3)), 'div'];

// ---------------------------------------------------------------------------------------------
// Punctuation and operators

function punct(name: string, text: string, binary = false): TokenType {
  const escaped = text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return createToken({
    name,
    pattern: new RegExp(escaped),
    categories: binary ? [AnyToken, BinaryOperator] : [AnyToken],
    label: `\`${text}\``,
  });
}

export const Arrow = punct('Arrow', '->');
export const PipeOp = punct('PipeOp', '|>', true);
export const Compose = punct('Compose', '>>', true);
export const DotDot = punct('DotDot', '..', true);
export const StarStar = punct('StarStar', '**', true);
/**
 * Floor division is spelled `div` (`H div 2`): `//` starts a comment, as in the sketch. The AST
 * records the operation as `//`.
 */
export const SlashSlash = createToken({
  name: 'SlashSlash',
  pattern: /div/,
  longer_alt: Identifier,
  categories: [Keyword, Word, AnyToken, BinaryOperator],
  label: '`div`',
});
export const EqEq = punct('EqEq', '==', true);
export const NotEq = punct('NotEq', '!=', true);
export const LtEq = punct('LtEq', '<=', true);
export const GtEq = punct('GtEq', '>=', true);
export const Lt = punct('Lt', '<', true);
export const Gt = punct('Gt', '>', true);
export const Equals = punct('Equals', '=');
export const Plus = punct('Plus', '+', true);
export const Minus = punct('Minus', '-', true);
export const Star = punct('Star', '*', true);
export const Slash = punct('Slash', '/', true);
export const Percent = punct('Percent', '%', true);
export const Dot = punct('Dot', '.');
export const Comma = punct('Comma', ',');
export const Colon = punct('Colon', ':');
export const Semicolon = createToken({
  name: 'Semicolon',
  pattern: /;/,
  categories: [Separator, AnyToken],
  label: '`;`',
});
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');
export const LCurly = punct('LCurly', '{');
export const RCurly = punct('RCurly', '}');

export const allTokens: readonly TokenType[] = [
  Whitespace,
  Newline,
  DocComment,
  LineComment,
  BlockComment,
  Arrow,
  PipeOp,
  Compose,
  DotDot,
  StarStar,
  SlashSlash,
  EqEq,
  NotEq,
  LtEq,
  GtEq,
  Lt,
  Gt,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  Dot,
  Comma,
  Colon,
  Semicolon,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LCurly,
  RCurly,
  NumberLiteral,
  StringLiteral,
  ...keywordTokens,
  Identifier,
  Word,
  Keyword,
  Separator,
  BinaryOperator,
  AnyToken,
];

/** How a token type is named in messages: its LABEL, else its name. */
export function describeTokenType(t: TokenType): string {
  return t.LABEL ?? t.name;
}

/** The binary operators, which need an operand on each side (lexer line joins, syntax-error hints). */
export const binaryOperatorTokens: readonly TokenType[] = [
  Plus,
  Minus,
  Star,
  Slash,
  SlashSlash,
  Percent,
  StarStar,
  EqEq,
  NotEq,
  Lt,
  LtEq,
  Gt,
  GtEq,
  DotDot,
  PipeOp,
  Compose,
];
