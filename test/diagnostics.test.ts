import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogueEntries, semanticCatalogue, syntaxCatalogue } from '../dsl/diagnostics/catalogue.js';
import type { CatalogueEntry } from '../dsl/diagnostics/catalogue.js';
import { compareBaseline, fixtureCode, listFixtures, renderForBaseline, runFrontEnd } from './harness/diagnostics.js';

const fixtures = listFixtures('test/fixtures/diagnostics');
const cleanFixtures = listFixtures('test/fixtures/clean');

/**
 * Codes that no .nvc file can trigger, with the reason. Keep this list tiny: only internal
 * failures of nvcc itself belong here.
 */
const noFixturePossible = new Map<string, string>([
  ['NVC1099', 'internal parser failure (a bug in nvcc); exercised by test/dsl/parse.test.ts instead'],
  [
    'NVC4020',
    'no record refuses an argument on tfjs or torch since issue 14; test/compiler/target-support.test.ts gives one ' +
      'a refusal',
  ],
]);

describe('diagnostic fixtures match their baselines', () => {
  it('has fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });
  for (const path of fixtures) {
    it(basename(path), async () => {
      const code = fixtureCode(path);
      expect(code, `${path}: first line must be "// NVCxxxx: what it checks"`).toBeDefined();
      const result = await runFrontEnd(path);
      const outcome = compareBaseline('diagnostics', basename(path, '.nvc'), renderForBaseline(result));
      expect(
        outcome.status,
        `baseline ${outcome.status}; actual output written to test/baselines/local/diagnostics/`,
      ).not.toBe('missing');
      expect(outcome.actual).toBe(outcome.expected);
      expect(result.diagnostics.map((d) => d.code)).toContain(code);
    });
  }
});

describe('clean fixtures produce no diagnostics', () => {
  it('has clean fixtures', () => {
    expect(cleanFixtures.length).toBeGreaterThan(0);
  });
  for (const path of cleanFixtures) {
    it(basename(path), async () => {
      const result = await runFrontEnd(path);
      expect(renderForBaseline(result)).toBe('no diagnostics\n');
    });
  }
});

describe('the diagnostic catalogue', () => {
  const entries = catalogueEntries();

  it('has well-formed codes in the right ranges, one kind per code', () => {
    const codes = entries.map((e) => e.code);
    for (const c of codes) expect(c).toMatch(/^NVC[1-59]\d{3}$/);
    // Several entries (specific messages) may share a code; they are then one kind.
    const summaries = new Map<string, string>();
    for (const e of entries)
      expect(summaries.set(e.code, summaries.get(e.code) ?? e.summary).get(e.code)).toBe(e.summary);
    for (const e of Object.values(syntaxCatalogue) as CatalogueEntry[]) expect(e.code).toMatch(/^NVC1\d{3}$/);
    for (const e of Object.values(semanticCatalogue) as CatalogueEntry[]) expect(e.code).toMatch(/^NVC[2-59]\d{3}$/);
  });

  it('writes messages in one style: lowercase start, no trailing period, one line', () => {
    for (const e of entries) {
      for (const text of [e.message, e.help, e.note]) {
        if (text === undefined) continue;
        expect(text, e.code).not.toMatch(/\.$/);
        expect(text, e.code).not.toMatch(/\n/);
      }
      expect(e.message[0], e.code).toMatch(/[a-z`{]/);
      expect(e.summary.length, e.code).toBeGreaterThan(0);
    }
  });

  const uncoveredCodes = (table: Record<string, CatalogueEntry>) => {
    const covered = new Set(fixtures.map(fixtureCode));
    return Object.values(table)
      .map((e) => e.code)
      .filter((c) => !covered.has(c) && !noFixturePossible.has(c));
  };

  it('has a fixture for every syntax code (NVC1xxx)', () => {
    expect(uncoveredCodes(syntaxCatalogue), 'codes without a fixture in test/fixtures/diagnostics/').toEqual([]);
  });

  it('has a fixture for every semantic code (NVC2xxx-NVC9xxx)', () => {
    expect(uncoveredCodes(semanticCatalogue), 'codes without a fixture in test/fixtures/diagnostics/').toEqual([]);
  });

  it('exempts only codes that exist', () => {
    const codes = new Set(entries.map((e) => e.code));
    for (const c of noFixturePossible.keys()) expect(codes.has(c)).toBe(true);
  });
});
