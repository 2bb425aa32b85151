/**
 * The parser's one use of Chevrotain internals (leaving AnyToken out of error re-sync sets)
 * sits behind a version-checked adapter: it applies to the installed Chevrotain, refuses
 * clearly on another major version or without the private method, and what it buys (errors
 * stay local to the declaration) is visible by parsing with and without it.
 */
import { type TokenType, VERSION } from 'chevrotain';
import { describe, expect, it } from 'vitest';
import { CHECKED_CHEVROTAIN_MAJOR, excludeFromResyncSets } from '../../dsl/chevrotain-adapter.js';
import { AstBuilder } from '../../dsl/cst-to-ast.js';
import { lex } from '../../dsl/lexer.js';
import { NvcParser, parser } from '../../dsl/parser.js';
import { SourceFile } from '../../dsl/span.js';
import * as T from '../../dsl/tokens.js';

const A = { name: 'A' } as TokenType;
const B = { name: 'B' } as TokenType;

/** A stand-in with Chevrotain 11's private follow-set lookup. */
function fakeParser(sets: Record<string, TokenType[] | undefined>) {
  return {
    asked: [] as unknown[],
    getFollowSetFromFollowKey(key: unknown): TokenType[] | undefined {
      this.asked.push(key);
      return sets[String(key)];
    },
  };
}

describe('the re-sync adapter', () => {
  it(`applies to the installed chevrotain ${VERSION} (checked against ${CHECKED_CHEVROTAIN_MAJOR}.x)`, () => {
    expect(parser.localRecovery).toEqual({ applied: true, chevrotainVersion: VERSION });
  });

  it('filters the excluded token out of every follow set and keeps the rest', () => {
    const fake = fakeParser({ k1: [A, T.AnyToken, B], k2: undefined });
    expect(excludeFromResyncSets(fake, T.AnyToken, '11.2.0')).toEqual({ applied: true, chevrotainVersion: '11.2.0' });
    expect(fake.getFollowSetFromFollowKey('k1')).toEqual([A, B]);
    expect(fake.getFollowSetFromFollowKey('k2')).toEqual([]);
    expect(fake.asked).toEqual(['k1', 'k2']);
  });

  it('leaves a parser of another major version untouched and says why', () => {
    const fake = fakeParser({ k: [A, T.AnyToken] });
    const status = excludeFromResyncSets(fake, T.AnyToken, '12.0.0');
    expect(status.applied).toBe(false);
    expect(status.reason).toBe(
      'chevrotain 12.0.0 is not 11.x, the version whose private getFollowSetFromFollowKey ' +
        'dsl/chevrotain-adapter.ts was checked against',
    );
    expect(fake.getFollowSetFromFollowKey('k')).toEqual([A, T.AnyToken]);
  });

  it('leaves a parser without the private method untouched and says why', () => {
    const status = excludeFromResyncSets({}, T.AnyToken, '11.9.0');
    expect(status).toEqual({
      applied: false,
      chevrotainVersion: '11.9.0',
      reason: 'chevrotain 11.9.0 has no one-argument method getFollowSetFromFollowKey on its parsers',
    });
  });
});

describe('what the adapter buys', () => {
  // A colon where the parameter list needs a comma (fixture syntax-unexpected-token.nvc).
  const text = [
    'block Proj(dim: int: out: int) {',
    '  fc = Linear(dim, out)',
    '  forward(x: [B, dim]) -> [B, out] { return fc(x) }',
    '}',
    '',
  ].join('\n');

  function parseWith(p: NvcParser) {
    const file = new SourceFile('m.nvc', text);
    const lexed = lex(file);
    p.input = lexed.tokens;
    const cst = p.file() as Parameters<AstBuilder['buildModule']>[0];
    const builder = new AstBuilder(file, lexed.docComments);
    const module = builder.buildModule(cst);
    const block = module.decls[0];
    return {
      parserErrors: p.errors.length,
      members: block?.kind === 'Block' ? block.members.map((m) => m.kind) : [],
      strayDiagnostics: builder.diagnostics.map((d) => d.code),
    };
  }

  it('with it, the error stays inside the header and the block keeps its members', () => {
    expect(parseWith(parser)).toEqual({ parserErrors: 1, members: ['Layer', 'Forward'], strayDiagnostics: [] });
  });

  it('without it, parsing still works but the error unwinds to the top level and drops the body', () => {
    const plain = new NvcParser({ localRecovery: false });
    expect(plain.localRecovery.applied).toBe(false);
    const r = parseWith(plain);
    expect(r.parserErrors).toBe(1);
    expect(r.members).toEqual([]);
    expect(r.strayDiagnostics).toEqual(['NVC1015', 'NVC1015', 'NVC1016', 'NVC1015']);
    // A second parser instance leaves the shared one as it was.
    expect(parseWith(parser).members).toEqual(['Layer', 'Forward']);
  });
});
