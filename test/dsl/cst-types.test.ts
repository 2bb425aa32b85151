/**
 * The CST types are generated from the grammar and kept fresh, and the AST builder reads the
 * CST only through them: renaming a rule or a token in the grammar without updating
 * dsl/cst-to-ast.ts fails `tsc`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CST_TYPES_PATH, cstTypesSource } from '../../scripts/generate-cst-types.js';
import { typeCheck } from '../harness/tsc.js';

const BUILDER = 'dsl/cst-to-ast.ts';
const checked = readFileSync(CST_TYPES_PATH, 'utf8');

/** The checked-in types with one rule or token key renamed, as regenerating after a grammar edit would. */
function renamed(from: string, to: string): string {
  const keys = new RegExp(`(\\b${from}\\??: )|("${from}")`, 'g');
  const text = checked.replace(keys, (m) => m.replace(from, to));
  expect(text).not.toBe(checked);
  return text;
}

function builderErrors(cstTypes: string) {
  return typeCheck([BUILDER], new Map([[CST_TYPES_PATH, cstTypes]])).filter((e) => e.file === resolve(BUILDER));
}

const lineOf = (needle: string): number[] =>
  readFileSync(BUILDER, 'utf8')
    .split('\n')
    .flatMap((text, i) => (text.includes(needle) ? [i + 1] : []));

describe('generated CST types', () => {
  it(`${CST_TYPES_PATH} is what scripts/generate-cst-types.ts writes for the grammar (run npm run gen:cst)`, () => {
    expect(checked).toBe(cstTypesSource());
  });

  it('type-check the AST builder as it is', () => {
    expect(builderErrors(checked)).toEqual([]);
  });

  it('make the AST builder fail tsc when a rule is renamed', () => {
    const errors = builderErrors(renamed('blockHeader', 'blockHead'));
    // The lookup fails, and so do the uses of what it would have returned.
    expect(errors.map((e) => e.line)).toEqual(expect.arrayContaining(lineOf("'blockHeader'")));
    expect(errors.find((e) => e.line === lineOf("'blockHeader'")[0])!.message).toContain('"blockHeader"');
  });

  it('make the AST builder fail tsc when a token is renamed', () => {
    const errors = builderErrors(renamed('Kw_unmasked', 'Kw_unmask'));
    expect(errors.map((e) => e.line)).toEqual(lineOf("'Kw_unmasked'"));
  });

  it('make the AST builder fail tsc when a rule a switch tells apart is renamed', () => {
    const errors = builderErrors(renamed('weightDecl', 'weightDeclaration'));
    expect(errors.map((e) => e.line)).toEqual(lineOf("'weightDecl'"));
  });
});
