/**
 * The VS Code extension's TextMate grammar (editors/vscode/syntaxes/nvc.tmLanguage.json) run by
 * the engines VS Code itself uses (vscode-textmate with vscode-oniguruma's WebAssembly regexes)
 * over every example, std module and clean fixture, and checked against nvcc's own lexer: every
 * keyword, number, string and comment the lexer finds, and every primitive name, gets the
 * matching scope. Also: the grammar file is what scripts/generate-tmgrammar.ts writes now.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { tokenMatcher } from 'chevrotain';
import * as oniguruma from 'vscode-oniguruma';
import * as vsctm from 'vscode-textmate';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRIMITIVES } from '../../compiler/primitives/index.js';
import { parse } from '../../dsl/index.js';
import { lexWithTrivia } from '../../dsl/lexer.js';
import { SourceFile } from '../../dsl/span.js';
import * as T from '../../dsl/tokens.js';
import { GRAMMAR_PATH, renderGrammar } from '../../scripts/generate-tmgrammar.js';
import { collectNvcFiles } from '../../workflow/format.js';

const require = createRequire(import.meta.url);
let grammar: vsctm.IGrammar;

beforeAll(async () => {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) =>
      scope === 'source.nvc' ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH) : null,
  });
  const loaded = await registry.loadGrammar('source.nvc');
  if (!loaded) throw new Error('the grammar did not load');
  grammar = loaded;
});

/** Scopes of every character: `scopes[line][column]`. */
function scopesOf(text: string): string[][][] {
  let state = vsctm.INITIAL;
  return text.split('\n').map((line) => {
    const r = grammar.tokenizeLine(line, state);
    state = r.ruleStack;
    const perChar: string[][] = [];
    for (const t of r.tokens) for (let c = t.startIndex; c < t.endIndex; c++) perChar[c] = t.scopes;
    return perChar;
  });
}

function expectedScope(
  t: import('chevrotain').IToken,
  previous: import('chevrotain').IToken | undefined,
): string | undefined {
  const type = t.tokenType;
  if (type === T.DocComment || type === T.LineComment || type === T.BlockComment) return 'comment';
  if (type === T.StringLiteral) return 'string';
  if (type === T.NumberLiteral) return 'constant.numeric';
  if (previous?.tokenType === T.Dot) return undefined;
  if (type === T.True || type === T.False) return 'constant.language';
  if (tokenMatcher(t, T.Keyword)) return 'keyword';
  if (type === T.Identifier && PRIMITIVES.has(t.image)) return 'support';
  return undefined;
}

/** Every example, std module and fixture that parses (broken fixtures lex differently on purpose). */
const files = collectNvcFiles(['examples', 'std', 'test/fixtures', 'test/diagram']).filter(
  (f) => !parse(new SourceFile(f, fs.readFileSync(f, 'utf8'))).diagnostics.some((d) => d.severity === 'error'),
);

describe('TextMate grammar', () => {
  it('is what scripts/generate-tmgrammar.ts writes from the keyword table and the primitive records', () => {
    expect(fs.readFileSync(GRAMMAR_PATH, 'utf8')).toBe(renderGrammar());
  });

  it(`scopes every keyword, number, string, comment and primitive as the lexer does (${files.length} files)`, () => {
    expect(files.length).toBeGreaterThan(60);
    const mismatches: string[] = [];
    let checked = 0;
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8').replace(/\r\n?/g, '\n');
      const source = new SourceFile(file, text);
      const scopes = scopesOf(text);
      let previous: import('chevrotain').IToken | undefined;
      for (const t of lexWithTrivia(text)) {
        if (t.tokenType === T.Newline) continue;
        const want = expectedScope(t, previous);
        if (t.tokenType !== T.LineComment && t.tokenType !== T.BlockComment && t.tokenType !== T.DocComment)
          previous = t;
        if (!want) continue;
        checked++;
        const at = source.lineCol(t.startOffset);
        const got = scopes[at.line - 1]?.[at.column - 1] ?? [];
        if (!got.some((s) => s.startsWith(want)))
          mismatches.push(
            `${file}:${at.line}:${at.column} ${t.image.slice(0, 20)}: want ${want}, got ${got.join(' ')}`,
          );
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(2000);
  });

  it('names declarations and keeps members that are keywords plain', () => {
    const line = 'block GRN(dim: int) { let y = enc.stage[0] }';
    const scopes = scopesOf(line)[0]!;
    expect(scopes[line.indexOf('GRN')]).toContain('entity.name.type.nvc');
    expect(scopes[line.indexOf('int')]).toContain('support.type.nvc');
    expect(scopes[line.indexOf('stage')]!.some((s) => s.startsWith('keyword'))).toBe(false);
  });
});
