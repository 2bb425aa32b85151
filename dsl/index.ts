/**
 * The front end's public entry: text to AST plus syntax diagnostics.
 * In: a SourceFile. Out: `{ module, diagnostics }`: an ast.ts Module (partial where the text is
 * broken) and NVC1xxx diagnostics sorted by position, cascades suppressed.
 * Holds afterwards: `parse` never throws, whatever the input; every diagnostic span lies inside
 * the file.
 */
import { tokenMatcher, type IToken } from 'chevrotain';
import type { Module } from './ast.js';
import type { Diagnostic } from './diagnostics/diagnostic.js';
import { report, syntaxCatalogue } from './diagnostics/catalogue.js';
import { AstBuilder } from './cst-to-ast.js';
import { lex } from './lexer.js';
import { parseTokens } from './parser.js';
import { tokenSpan } from './positions.js';
import type { SourceFile } from './span.js';
import { SyntaxErrorReporter, suppressCascades } from './syntax-errors.js';
import * as T from './tokens.js';

export { SourceFile, joinSpans, type Span } from './span.js';
export type { Diagnostic } from './diagnostics/diagnostic.js';
export { printAst } from './print-ast.js';

export interface ParseResult {
  readonly module: Module;
  readonly diagnostics: Diagnostic[];
}

/**
 * Deepest bracket nesting accepted. Real specs nest a handful of levels; the limit keeps the
 * recursive-descent parser far from the JavaScript stack limit.
 */
export const MAX_NESTING = 100;

/**
 * Most binary operators accepted in one expression (list item or statement). A chain of
 * `a + b + ...` builds an AST as deep as it is long, and every later stage walks it
 * recursively.
 */
export const MAX_OPERATORS = 1000;

function emptyModule(file: SourceFile): Module {
  return { kind: 'Module', file: file.path, imports: [], decls: [], span: file.span(0, file.text.length) };
}

/** Tokens after which `-` is binary subtraction rather than a prefix. */
const endsOperand = new Set([
  T.Identifier,
  T.NumberLiteral,
  T.StringLiteral,
  T.RParen,
  T.RBracket,
  T.RCurly,
  T.True,
  T.False,
]);

/**
 * The first token that nests deeper than MAX_NESTING, if any. Brackets nest; so do `repeat`,
 * `if`, prefix `-`/`not` and right-associative `**`, whose operands recurse, so those count
 * per list item or statement.
 */
function tooDeep(tokens: readonly IToken[]): { token: IToken; what: 'nesting' | 'operators' | 'suffixes' } | undefined {
  let depth = 0;
  let chain = 0;
  let operators = 0;
  // Suffixes (`.b`, `[0]`, `(x)`) of the operand being read, per bracket depth: a chain like
  // `a.b.b.b` or `a[0][0]` nests its AST as deep as it is long without nesting any bracket.
  const suffixes: number[] = [0];
  let previous: IToken | undefined;
  for (const t of tokens) {
    const type = t.tokenType;
    const prefixPosition = previous === undefined || !endsOperand.has(previous.tokenType);
    const afterDot = previous?.tokenType === T.Dot;
    previous = t;
    if (type === T.Dot || (!prefixPosition && (type === T.LParen || type === T.LBracket))) {
      suffixes[depth] = (suffixes[depth] ?? 0) + 1;
      if (suffixes[depth]! > MAX_NESTING) return { token: t, what: 'suffixes' };
    } else if (
      !(type === T.Identifier && afterDot) &&
      type !== T.RParen &&
      type !== T.RBracket &&
      type !== T.RCurly &&
      type !== T.Newline
    )
      suffixes[depth] = 0;
    if (type === T.LParen || type === T.LBracket || type === T.LCurly) suffixes[depth + 1] = 0;
    if ((type === T.Minus && prefixPosition) || type === T.Not) chain++;
    if (type === T.LParen || type === T.LBracket || type === T.LCurly) depth++;
    else if (type === T.RParen || type === T.RBracket || type === T.RCurly) depth = Math.max(0, depth - 1);
    else if (type === T.Repeat || type === T.If || type === T.StarStar) chain++;
    else if (type === T.Newline || type === T.Semicolon || type === T.Comma) {
      chain = 0;
      operators = 0;
    }
    if (tokenMatcher(t, T.BinaryOperator) || type === T.Then) operators++;
    if (depth + chain > MAX_NESTING) return { token: t, what: 'nesting' };
    if (operators > MAX_OPERATORS) return { token: t, what: 'operators' };
  }
  return undefined;
}

export function parse(file: SourceFile): ParseResult {
  let lexed: ReturnType<typeof lex> | undefined;
  try {
    lexed = lex(file);
    const deep = tooDeep(lexed.tokens);
    if (deep) {
      return {
        module: emptyModule(file),
        diagnostics: [
          ...lexed.diagnostics,
          report(syntaxCatalogue.NestingTooDeep, tokenSpan(file, deep.token, 0), {
            limit: deep.what === 'operators' ? MAX_OPERATORS : MAX_NESTING,
            what:
              deep.what === 'nesting'
                ? 'levels of brackets or nested expressions'
                : deep.what === 'operators'
                  ? 'operators in one expression'
                  : 'member, index or call suffixes in one chain',
          }),
        ],
      };
    }
    const { cst, errors } = parseTokens(lexed.tokens);
    const reporter = new SyntaxErrorReporter(file, lexed.tokens);
    const builder = new AstBuilder(file, lexed.docComments);
    const module = builder.buildModule(cst);
    const all = [...lexed.diagnostics, ...errors.map((e) => reporter.toDiagnostic(e)), ...builder.diagnostics];
    for (const { diagnostic, block } of builder.missingForward) {
      if (!all.some((d) => d.span.start >= block.start && d.span.start <= block.end)) all.push(diagnostic);
    }
    return { module, diagnostics: suppressCascades(all, lexed.tokens) };
  } catch (err) {
    const at = Math.min(file.text.length, 0);
    const diagnostic =
      err instanceof RangeError
        ? report(syntaxCatalogue.NestingTooDeep, file.span(at, at), {
            limit: MAX_NESTING,
            what: 'levels of brackets or nested expressions',
          })
        : report(syntaxCatalogue.InternalParserError, file.span(at, at), {
            exceptionMessage: err instanceof Error ? err.message : String(err),
          });
    return { module: emptyModule(file), diagnostics: [...(lexed?.diagnostics ?? []), diagnostic] };
  }
}
