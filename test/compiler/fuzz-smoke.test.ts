/**
 * The fuzz bench in small (bench/fuzz.ts runs 100,000 inputs): 300 seeded mutations of the
 * fixtures, examples and std through `nvcc check`'s compile-and-render path, and those that
 * check through the code of `nvcc build`, `nvcc diagram` and `nvcc schedule`. None may crash
 * (an exception or internal-error diagnostic instead of diagnostics or a refusal), every
 * strategy must have run and every command must have been reached, so the smoke covers what
 * the bench covers.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS, driveInput, loadCorpus, makeInput, STRATEGIES } from '../../bench/fuzz-inputs.js';

describe('fuzz smoke: 300 mutated programs through check, build, diagram and schedule', () => {
  it('gives diagnostics or a refusal, never a crash, for every input', async () => {
    const corpus = loadCorpus();
    expect(corpus.length).toBeGreaterThan(50);
    const seen = new Set<string>();
    const reached = new Map<string, number>();
    const crashes: string[] = [];
    for (let i = 0; i < 300; i++) {
      const input = makeInput(corpus, 7, i);
      for (const s of input.strategies) seen.add(s);
      const outcome = await driveInput(input);
      for (const c of outcome.reached) reached.set(c, (reached.get(c) ?? 0) + 1);
      if (outcome.crash !== undefined) crashes.push(`input ${i} (${input.source}): ${outcome.crash}`);
    }
    expect(crashes).toEqual([]);
    expect([...seen].sort()).toEqual([...STRATEGIES].sort());
    // Every command ran on some inputs (seed 7: 300 checked, about 40 built and drawn, a few scheduled).
    for (const c of COMMANDS) expect(reached.get(c) ?? 0, c).toBeGreaterThan(0);
    expect(reached.get('build')).toBeGreaterThanOrEqual(20);
  }, 600_000);

  it('is the same input for the same seed and number, in any order', () => {
    const corpus = loadCorpus();
    const later = makeInput(corpus, 7, 250);
    makeInput(corpus, 7, 3);
    expect(makeInput(corpus, 7, 250)).toEqual(later);
    expect(makeInput(corpus, 8, 250).text).not.toBe(later.text);
  });
});
