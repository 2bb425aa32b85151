/**
 * Every diagnostic is a catalogue template with typed arguments; none is free text.
 * Three guards: the catalogue's own templates (no catch-all `{detail}`), a static scan of the
 * sources (no hand-built codes, no catch-all or sentence-long argument), and a type-level check
 * (a fixture whose wrong calls must fail `tsc`, line by line).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogueEntries } from '../../dsl/diagnostics/catalogue.js';
import { CATCH_ALL_NAMES, isPhrase, scanForFreeText } from '../harness/free-text.js';
import { typeCheckFixture } from '../harness/tsc.js';

const SOURCE_DIRS = ['compiler', 'dsl', 'runtime', 'cli'];

function sourceFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

describe('catalogue templates', () => {
  const entries = catalogueEntries();

  it('have literal words besides their placeholders', () => {
    for (const e of entries)
      for (const template of [e.message, e.help, e.note]) {
        if (template === undefined) continue;
        const rest = template.replace(PLACEHOLDER, ' ').replace(/`[^`]*`/g, ' ');
        expect(rest, `${e.code}: "${template}"`).toMatch(/[A-Za-z]{2}/);
      }
  });

  it('name no catch-all argument', () => {
    for (const e of entries)
      for (const template of [e.message, e.help, e.note]) {
        for (const [, name] of (template ?? '').matchAll(PLACEHOLDER))
          expect(CATCH_ALL_NAMES.has(name!), `${e.code}: "${template}"`).toBe(false);
      }
  });

  it('share severity and summary where they share a code', () => {
    const byCode = new Map<string, { severity: string; summary: string }>();
    for (const e of entries) {
      const first = byCode.get(e.code);
      if (first === undefined) byCode.set(e.code, { severity: e.severity, summary: e.summary });
      else expect({ severity: e.severity, summary: e.summary }, e.code).toEqual(first);
    }
  });

  it('are each distinct (no two entries with the same code and texts)', () => {
    const keys = entries.map((e) => JSON.stringify([e.code, e.message, e.help, e.note]));
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('static scan for free-text diagnostics', () => {
  const files = SOURCE_DIRS.flatMap((d) => sourceFiles(d));

  it('scans the sources', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('finds no diagnostic raised with free text in compiler/, dsl/, runtime/, cli/', () => {
    const findings = files.flatMap((f) => scanForFreeText(f, readFileSync(f, 'utf8')));
    expect(findings.map((f) => `${f.file}:${f.line}: ${f.problem}`)).toEqual([]);
  });

  it('flags a catch-all argument, a sentence-long argument and a hand-built code', () => {
    const src = [
      "this.reporter.error('InvalidConstant', span, { detail: `cannot negate ${x}` });",
      'report(syntaxCatalogue.X, span, { detail });',
      "semantic('ShapeInput', { message: problem });",
      "reporter.error('NoSuchVariant', span, { variant: 'layers are built as members, not in a forward body' });",
      "const d = { code: 'NVC2003', severity: 'error', message: 'cannot find module', span };",
    ].join('\n');
    const findings = scanForFreeText('compiler/example.ts', src);
    expect(findings.map((f) => f.line)).toEqual([1, 2, 3, 4, 5, 5]);
  });

  it('accepts typed arguments and short phrases, and ignores unrelated calls', () => {
    const src = [
      "this.reporter.error('UnknownName', span, { name: head }, { help: [didYouMean(head, names)] });",
      "reporter.error('WrongArgumentType', span, { name, callee, expected: 'a list of tensors', found });",
      "console.error('a long sentence, which is not a diagnostic');",
      "const entry = { code: 'NVC9999' };",
    ].join('\n');
    expect(scanForFreeText('compiler/example.ts', src.split('\n').slice(0, 3).join('\n'))).toEqual([]);
    expect(scanForFreeText('dsl/diagnostics/catalogue-semantic.ts', src)).toEqual([]);
  });

  it('tells a phrase from a sentence', () => {
    expect(isPhrase('a tensor type such as `[B, H, W, C]`')).toBe(true);
    expect(isPhrase('consistent with the other arguments')).toBe(true);
    expect(isPhrase('layers are constructed as block members, not inside a forward body')).toBe(false);
    expect(isPhrase('the forward of `X` has no `return` and the block cannot run')).toBe(false);
  });
});

describe('type-level guarantee', () => {
  it('rejects missing, misspelled and catch-all arguments at compile time, and only those', () => {
    const outcome = typeCheckFixture('test/fixtures/tsc/diagnostic-args.ts');
    expect(outcome.expected.length).toBeGreaterThan(5);
    expect(
      [...outcome.errors.keys()].sort((a, b) => a - b),
      [...outcome.errors.values()].join('\n'),
    ).toEqual(outcome.expected);
  });
});
