/**
 * Parser recognition errors to catalogue diagnostics, and cascade suppression.
 * In: Chevrotain exceptions (whose messages parser.ts encodes as JSON), the token vector, the
 * SourceFile. Out: NVC1xxx Diagnostics with readable messages ("expected `)` but found `=`").
 * Holds afterwards: no Chevrotain token-type name reaches the user.
 */
import { tokenMatcher, type IRecognitionException, type IToken, type TokenType } from 'chevrotain';
import type { Diagnostic } from './diagnostics/diagnostic.js';
import { report, syntaxCatalogue } from './diagnostics/catalogue.js';
import { describeFound } from './cst-to-ast.js';
import type { EncodedParseError } from './parser.js';
import { isRealToken, tokenSpan } from './positions.js';
import type { SourceFile, Span } from './span.js';
import * as T from './tokens.js';

const tokenTypeByName = new Map<string, TokenType>(T.allTokens.map((t) => [t.name, t]));

const expressionRules = new Set(['expression', 'condExpr', 'prefixExpr', 'postfixExpr', 'primary']);

/** Keywords that may begin an expression. */
const expressionKeywords = new Set<TokenType>([T.Not, T.If, T.Repeat, T.True, T.False]);

/** Tokens after which an operand (a name, a number, ...) must follow. */
const expectsOperand = new Set<TokenType>([
  T.Comma,
  T.LParen,
  T.LBracket,
  T.Equals,
  ...T.binaryOperatorTokens,
  T.Colon,
]);

const openers = new Set<TokenType>([T.LParen, T.LBracket, T.LCurly]);

const openerOf = new Map<TokenType, TokenType>([
  [T.RParen, T.LParen],
  [T.RBracket, T.LBracket],
  [T.RCurly, T.LCurly],
]);

function decode(message: string): EncodedParseError | undefined {
  try {
    const v = JSON.parse(message) as EncodedParseError;
    return typeof v === 'object' && v !== null && typeof v.kind === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function label(name: string): string {
  const t = tokenTypeByName.get(name);
  return t ? T.describeTokenType(t) : name;
}

function joinAlternatives(names: readonly string[]): string {
  const labels = [...new Set(names.map(label))];
  if (labels.length === 0) return 'something else';
  if (labels.length === 1) return labels[0]!;
  if (labels.length > 6) return labels.slice(0, 5).join(', ') + ' or another token';
  return labels.slice(0, -1).join(', ') + ' or ' + labels[labels.length - 1];
}

export class SyntaxErrorReporter {
  constructor(
    private readonly file: SourceFile,
    private readonly tokens: readonly IToken[],
  ) {}

  /** The last real token that ends at or before `offset` (or the last token of the file). */
  private previousToken(offset: number): IToken | undefined {
    let lo = 0;
    let hi = this.tokens.length - 1;
    let best: IToken | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const t = this.tokens[mid]!;
      if (t.startOffset < offset) {
        best = t;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /**
   * Where an error at `found` points: the found token itself, or (for end of line / end of file
   * / inserted tokens) the empty position just after the previous token.
   */
  private errorSpan(found: IToken): Span {
    if (isRealToken(found) && found.tokenType !== T.Newline) return tokenSpan(this.file, found, 0);
    const at = isRealToken(found) ? found.startOffset : this.file.text.length;
    const prev = this.previousToken(at);
    const end = prev ? tokenSpan(this.file, prev, 0).end : 0;
    return this.file.span(end, end);
  }

  /** The unclosed opener of `closer`'s kind before `offset`, if any. */
  private unclosedOpener(closer: TokenType, offset: number): IToken | undefined {
    const opener = openerOf.get(closer)!;
    let depth = 0;
    for (let i = this.tokens.length - 1; i >= 0; i--) {
      const t = this.tokens[i]!;
      if (t.startOffset >= offset) continue;
      if (t.tokenType === closer) depth++;
      else if (t.tokenType === opener) {
        if (depth === 0) return t;
        depth--;
      }
    }
    return undefined;
  }

  toDiagnostic(err: IRecognitionException): Diagnostic {
    const info = decode(err.message) ?? { kind: 'noViableAlt', expected: [], ruleName: '' };
    const found = err.token;
    const span = this.errorSpan(found);
    const foundText = describeFound(found);
    const expectedName = info.expected[0] ?? '';
    const prev = this.previousToken(isRealToken(found) ? found.startOffset : this.file.text.length);
    if (
      isRealToken(found) &&
      tokenMatcher(found, T.Keyword) &&
      !expressionKeywords.has(found.tokenType) &&
      prev !== undefined &&
      expectsOperand.has(prev.tokenType) &&
      this.file.lineCol(prev.startOffset).line === this.file.lineCol(found.startOffset).line
    ) {
      // `[B, in]`, `f(x, in)`: most likely a name the user chose that happens to be a keyword.
      return report(syntaxCatalogue.KeywordAsName, span, { word: found.image });
    }
    if (info.kind === 'mismatch') {
      const expectedType = tokenTypeByName.get(expectedName);
      if (expectedType && openerOf.has(expectedType)) {
        const opener = this.unclosedOpener(
          expectedType,
          isRealToken(found) ? found.startOffset : this.file.text.length,
        );
        const foundLine = isRealToken(found) ? this.file.lineCol(found.startOffset).line : Infinity;
        const sameLine = opener !== undefined && this.file.lineCol(opener.startOffset).line === foundLine;
        const foundIsCloser = isRealToken(found) && openerOf.has(found.tokenType);
        if (
          opener &&
          sameLine &&
          !foundIsCloser &&
          prev !== undefined &&
          !openers.has(prev.tokenType) &&
          expectedType !== T.RCurly
        ) {
          // `f(a b)`, `(dim: int: out: int)`: the list goes on wrongly rather than being unclosed.
          return report(syntaxCatalogue.UnexpectedToken, span, {
            expected: `\`,\` or ${label(expectedName)}`,
            found: foundText,
          });
        }
        if (opener) {
          return report(
            syntaxCatalogue.UnclosedDelimiter,
            span,
            { open: opener.image, close: label(expectedName).replace(/`/g, ''), found: foundText },
            {
              labels: [{ span: tokenSpan(this.file, opener, 0), message: `unclosed \`${opener.image}\` opened here` }],
            },
          );
        }
      }
      if (expectedType === T.Arrow && info.ruleName === 'forwardSignature') {
        return report(syntaxCatalogue.MissingReturnType, span, { found: foundText });
      }
      if (expectedType === T.Equals && (info.ruleName === 'setting' || info.ruleName === 'layerDecl')) {
        return report(syntaxCatalogue.MissingSettingEquals, span, { key: prev?.image ?? '', found: foundText });
      }
      if (
        (expectedType === T.Word || expectedType === T.Identifier) &&
        isRealToken(found) &&
        tokenMatcher(found, T.Keyword)
      ) {
        return report(syntaxCatalogue.KeywordAsName, span, { word: found.image });
      }
      return report(syntaxCatalogue.UnexpectedToken, span, { expected: label(expectedName), found: foundText });
    }
    if (info.kind === 'noViableAlt' && expressionRules.has(info.ruleName)) {
      return report(syntaxCatalogue.ExpectedExpression, span, { found: foundText });
    }
    if (info.kind === 'notAllInput') {
      return report(syntaxCatalogue.ExpectedDeclaration, span, { found: foundText });
    }
    if (info.ruleName === 'typeExpr' || info.ruleName === 'namedOutputs' || info.ruleName === 'forwardSignature') {
      return report(syntaxCatalogue.UnexpectedToken, span, {
        expected: 'a type such as `int` or `[B, C]`',
        found: foundText,
      });
    }
    return report(syntaxCatalogue.UnexpectedToken, span, {
      expected: joinAlternatives(info.expected),
      found: foundText,
    });
  }
}

/**
 * Keeps the first syntax diagnostic of each statement: a later diagnostic is dropped when no
 * statement separator (significant newline or `;`) or brace lies between it and the
 * previous kept one, since recovery inside one statement mostly produces follow-on noise.
 * Lexical diagnostics (NVC100x) are independent of recovery and always kept.
 */
export function suppressCascades(diagnostics: readonly Diagnostic[], tokens: readonly IToken[]): Diagnostic[] {
  const boundaries = tokens
    .filter((t) => tokenMatcher(t, T.Separator) || t.tokenType === T.RCurly || t.tokenType === T.LCurly)
    .map((t) => t.startOffset)
    .sort((a, b) => a - b);
  const boundaryBetween = (a: number, b: number) => {
    let lo = 0;
    let hi = boundaries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (boundaries[mid]! < a) lo = mid + 1;
      else hi = mid;
    }
    return lo < boundaries.length && boundaries[lo]! < b;
  };
  const sorted = [...diagnostics].sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  const kept: Diagnostic[] = [];
  let lastStart = -1;
  const seen = new Set<string>();
  for (const d of sorted) {
    const key = `${d.code}:${d.span.start}:${d.span.end}:${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const lexical = /^NVC100\d$/.test(d.code);
    if (!lexical && lastStart >= 0 && !boundaryBetween(lastStart, d.span.start)) continue;
    kept.push(d);
    lastStart = d.span.start;
  }
  return kept;
}
