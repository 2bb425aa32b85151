/**
 * Writes the VS Code extension's TextMate grammar (editors/vscode/syntaxes/nvc.tmLanguage.json)
 * from the lexer's keyword table and the primitive records, so highlighting without the server
 * knows every keyword and primitive. `npm run gen:tmgrammar`; test/editors/tmgrammar.test.ts
 * fails while the file is out of date and checks the grammar against the lexer on every example.
 */
import * as fs from 'node:fs';
import { PRIMITIVES } from '../compiler/primitives/index.js';
import { keywords } from '../dsl/tokens.js';

export const GRAMMAR_PATH = 'editors/vscode/syntaxes/nvc.tmLanguage.json';

const words = (list: readonly string[]) => `\\b(?:${[...list].sort().join('|')})\\b`;

export function renderGrammar(): string {
  const declaring = ['block', 'model', 'dataset', 'train', 'stage', 'variant'];
  const constants = ['true', 'false'];
  const operatorWords = ['and', 'or', 'not', 'div'];
  const plainKeywords = keywords.filter((k) => !constants.includes(k) && !operatorWords.includes(k));
  const layers = [...PRIMITIVES.values()].filter((p) => p.kind === 'layer').map((p) => p.name);
  const functions = [...PRIMITIVES.values()].filter((p) => p.kind === 'function').map((p) => p.name);
  const grammar = {
    $schema: 'https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json',
    name: 'NVC',
    scopeName: 'source.nvc',
    fileTypes: ['nvc'],
    patterns: [
      { include: '#comments' },
      { include: '#strings' },
      { include: '#declarations' },
      { include: '#numbers' },
      { include: '#keywords' },
      { include: '#primitives' },
      { include: '#types' },
      { include: '#operators' },
    ],
    repository: {
      comments: {
        patterns: [
          { name: 'comment.line.documentation.nvc', match: '///.*$' },
          { name: 'comment.line.double-slash.nvc', match: '//.*$' },
          { name: 'comment.block.nvc', begin: '/\\*', end: '\\*/' },
        ],
      },
      strings: {
        name: 'string.quoted.double.nvc',
        begin: '"',
        end: '"|$',
        patterns: [{ name: 'constant.character.escape.nvc', match: '\\\\(?:[\\\\"ntr]|u\\{[0-9a-fA-F]{1,6}\\})' }],
      },
      declarations: {
        match: `\\b(${declaring.join('|')})\\s+([A-Za-z_][A-Za-z0-9_]*)`,
        captures: { 1: { name: 'keyword.declaration.nvc' }, 2: { name: 'entity.name.type.nvc' } },
      },
      numbers: {
        name: 'constant.numeric.nvc',
        match: '\\b\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?\\b',
      },
      keywords: {
        patterns: [
          { name: 'constant.language.nvc', match: words(constants) },
          { name: 'keyword.operator.word.nvc', match: words(operatorWords) },
          { name: 'keyword.other.nvc', match: `(?<!\\.)${words(plainKeywords)}` },
        ],
      },
      primitives: {
        patterns: [
          { name: 'support.class.nvc', match: `(?<!\\.)${words(layers)}` },
          { name: 'support.function.nvc', match: `(?<!\\.)${words(functions)}` },
        ],
      },
      types: { name: 'support.type.nvc', match: '(?<=:\\s*)\\b(?:int|float|bool|string)\\b' },
      operators: {
        patterns: [
          { name: 'keyword.operator.pipe.nvc', match: '\\|>|>>|->' },
          { name: 'keyword.operator.nvc', match: '\\*\\*|==|!=|<=|>=|\\.\\.|[-+*/%<>=]' },
        ],
      },
    },
  };
  return `${JSON.stringify(grammar, null, 2)}\n`;
}

if (process.argv[1]?.endsWith('generate-tmgrammar.ts')) {
  fs.writeFileSync(GRAMMAR_PATH, renderGrammar());
  process.stdout.write(`wrote ${GRAMMAR_PATH}\n`);
}
