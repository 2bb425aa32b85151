import { describe, expect, it } from 'vitest';
import { decodeStringBody, lex } from '../../dsl/lexer.js';
import { chevrotainSpan } from '../../dsl/positions.js';
import { SourceFile } from '../../dsl/span.js';

const file = (text: string) => new SourceFile('t.nvc', text);
const kinds = (text: string) =>
  lex(file(text)).tokens.map((t) => `${t.tokenType.name}:${t.image.replace(/\r?\n|\r/, '⏎')}`);
const codes = (text: string) => lex(file(text)).diagnostics.map((d) => `${d.code}@${d.span.start}-${d.span.end}`);

describe('lexer tokens', () => {
  it('reads numbers, ranges and exponents', () => {
    expect(kinds('1e-6 0.5 7 0..4 2E+3')).toEqual([
      'NumberLiteral:1e-6',
      'NumberLiteral:0.5',
      'NumberLiteral:7',
      'NumberLiteral:0',
      'DotDot:..',
      'NumberLiteral:4',
      'NumberLiteral:2E+3',
    ]);
  });

  it('keeps keywords apart from identifiers that start with them', () => {
    expect(kinds('for format in inputs div divide')).toEqual([
      'Kw_for:for',
      'Identifier:format',
      'Kw_in:in',
      'Identifier:inputs',
      'SlashSlash:div',
      'Identifier:divide',
    ]);
  });

  it('prefers the longest operator', () => {
    expect(kinds('a->b |> c >> d ** e == f <= g')).toEqual([
      'Identifier:a',
      'Arrow:->',
      'Identifier:b',
      'PipeOp:|>',
      'Identifier:c',
      'Compose:>>',
      'Identifier:d',
      'StarStar:**',
      'Identifier:e',
      'EqEq:==',
      'Identifier:f',
      'LtEq:<=',
      'Identifier:g',
    ]);
  });

  it('drops comments and returns doc comments separately', () => {
    const r = lex(file('/// doc\n// plain\na /* b */ c'));
    expect(r.tokens.map((t) => t.image)).toEqual(['a', 'c']);
    expect(r.docComments.map((t) => t.image)).toEqual(['/// doc']);
    expect(r.diagnostics).toEqual([]);
  });
});

describe('significant newlines', () => {
  it('separates statements inside braces and drops leading, repeated and trailing newlines', () => {
    expect(kinds('\n\n{\na\n\n\nb\n}\n\n')).toEqual([
      'LCurly:{',
      'Identifier:a',
      'Newline:⏎',
      'Identifier:b',
      'RCurly:}',
    ]);
  });

  it('continues lines inside parentheses and brackets', () => {
    expect(kinds('f(a,\n  b\n)').filter((k) => k.startsWith('Newline'))).toEqual([]);
    expect(kinds('[1\n2]').filter((k) => k.startsWith('Newline'))).toEqual([]);
  });

  it('continues lines after a trailing operator and before a leading pipe', () => {
    expect(kinds('x = a +\n b').filter((k) => k.startsWith('Newline'))).toEqual([]);
    expect(kinds('x = a\n  |> f\n  >> g').filter((k) => k.startsWith('Newline'))).toEqual([]);
    expect(kinds('x = a\ny = b').filter((k) => k.startsWith('Newline'))).toEqual(['Newline:⏎']);
  });

  it('treats CRLF and lone CR as one newline', () => {
    expect(kinds('a\r\nb\rc')).toEqual(['Identifier:a', 'Newline:⏎', 'Identifier:b', 'Newline:⏎', 'Identifier:c']);
  });
});

describe('lexical diagnostics', () => {
  it('reports an unterminated string over the rest of the line', () => {
    expect(codes('x = "abc\ny')).toEqual(['NVC1002@4-8']);
  });

  it('reports each bad escape at the backslash', () => {
    expect(codes('"a\\qb\\u{110000}"')).toEqual(['NVC1003@2-4', 'NVC1003@5-7']);
  });

  it('reports an unterminated block comment at its opening', () => {
    expect(codes('a /* never closed\n b')).toEqual(['NVC1004@2-4']);
  });

  it('reports malformed numbers as one token', () => {
    expect(codes('1e 12ab 1.2.3 3')).toEqual(['NVC1005@0-2', 'NVC1005@3-7', 'NVC1005@8-13']);
  });

  it('reports characters outside the language, once per run', () => {
    expect(codes('a € b ££ c')).toEqual(['NVC1001@2-3', 'NVC1001@6-8']);
  });
});

describe('string decoding', () => {
  it('decodes the supported escapes', () => {
    const r = decodeStringBody('a\\"b\\\\c\\n\\t\\u{41}');
    expect(r.value).toBe('a"b\\c\n\tA');
    expect(r.badEscapes).toEqual([]);
  });
});

describe('Chevrotain positions to spans', () => {
  const f = file('abcdef');
  it('turns the inclusive end into an exclusive one', () => {
    expect(chevrotainSpan(f, 1, 3, 0)).toEqual({ file: 't.nvc', start: 1, end: 4 });
  });
  it('maps inserted tokens (NaN or -1) to an empty span at the fallback, clamped into the file', () => {
    expect(chevrotainSpan(f, NaN, NaN, 2)).toEqual({ file: 't.nvc', start: 2, end: 2 });
    expect(chevrotainSpan(f, -1, -1, 99)).toEqual({ file: 't.nvc', start: 6, end: 6 });
  });
});
