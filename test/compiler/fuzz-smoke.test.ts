/**
 * The fuzz bench in small (bench/fuzz.ts runs 100,000 inputs): 300 seeded mutations of the
 * fixtures, examples and std through `nvcc check`'s compile-and-render path. None may crash
 * (an exception or internal-error diagnostic instead of diagnostics), and every strategy must
 * have run, so the smoke covers what the bench covers.
 */
import { describe, expect, it } from 'vitest';
import { checkInput, loadCorpus, makeInput, STRATEGIES } from '../../bench/fuzz-inputs.js';

describe('fuzz smoke: 300 mutated programs through the check path', () => {
  it('gives diagnostics, never a crash, for every input', () => {
    const corpus = loadCorpus();
    expect(corpus.length).toBeGreaterThan(50);
    const seen = new Set<string>();
    const crashes: string[] = [];
    for (let i = 0; i < 300; i++) {
      const input = makeInput(corpus, 7, i);
      for (const s of input.strategies) seen.add(s);
      const outcome = checkInput(input);
      if (outcome.crash !== undefined) crashes.push(`input ${i} (${input.source}): ${outcome.crash}`);
    }
    expect(crashes).toEqual([]);
    expect([...seen].sort()).toEqual([...STRATEGIES].sort());
  });

  it('is the same input for the same seed and number, in any order', () => {
    const corpus = loadCorpus();
    const later = makeInput(corpus, 7, 250);
    makeInput(corpus, 7, 3);
    expect(makeInput(corpus, 7, 250)).toEqual(later);
    expect(makeInput(corpus, 8, 250).text).not.toBe(later.text);
  });
});
