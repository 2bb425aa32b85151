/**
 * The front end's public entry: text to AST plus syntax diagnostics.
 * In: a SourceFile. Out: `{ module, diagnostics }`: an ast.ts Module (partial where the text is
 * broken) and NVC1xxx diagnostics sorted by position, cascades suppressed.
 * Holds afterwards: `parse` never throws, whatever the input; every diagnostic span lies inside
 * the file.
 */
import type { IToken } from 'chevrotain';
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

function emptyModule(file: SourceFile): Module {
  return { kind: 'Module', file: file.path, imports: [], decls: [], span: file.span(0, file.text.length) };
}

/** The first opening bracket that exceeds MAX_NESTING, if any. */
function tooDeep(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  let prefixRun = 0;
  for (const t of tokens) {
    if (t.tokenType === T.LParen || t.tokenType === T.LBracket || t.tokenType === T.LCurly) {
      depth++;
      if (depth > MAX_NESTING) return t;
    } else if (t.tokenType === T.RParen || t.tokenType === T.RBracket || t.tokenType === T.RCurly) {
      depth = Math.max(0, depth - 1);
    }
    // prefix operators and `repeat`/`if` nest as deeply as brackets do
    if (t.tokenType === T.Minus || t.tokenType === T.Not || t.tokenType === T.Repeat || t.tokenType === T.If) {
      prefixRun++;
      if (prefixRun + depth > MAX_NESTING) return t;
    } else if (t.tokenType !== T.LParen && t.tokenType !== T.LBracket) prefixRun = 0;
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
          report(syntaxCatalogue.NestingTooDeep, tokenSpan(file, deep, 0), { limit: MAX_NESTING }),
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
        ? report(syntaxCatalogue.NestingTooDeep, file.span(at, at), { limit: MAX_NESTING })
        : report(syntaxCatalogue.InternalParserError, file.span(at, at), {
            detail: err instanceof Error ? err.message : String(err),
          });
    return { module: emptyModule(file), diagnostics: [...(lexed?.diagnostics ?? []), diagnostic] };
  }
}
