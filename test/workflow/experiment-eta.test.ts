/**
 * The experiment-wide ETA: remaining runs weighed by their MACs per training sample, at the pace
 * of the runs already finished; the demo's variants give a lab-only MLP a tiny share.
 */
import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { ExperimentEta, runWork } from '../../workflow/experiment-eta.js';

const work = (variant: string) => {
  const r = compileProgramSync('examples/mednvc.nvc', { variant });
  if (!r.program) throw new Error(`${variant} does not compile`);
  return runWork(r.program);
};

describe('experiment ETA', () => {
  it('has no estimate before a run finished, then scales the remaining work by the pace so far', () => {
    const eta = new ExperimentEta([100, 300, 50]);
    expect(eta.line(0)).toBe('run 1 of 3; experiment ETA after the first run');
    eta.finished(0, 20); // 0.2 s per unit
    expect(eta.remaining(1)).toBeCloseTo(70, 9);
    expect(eta.line(1)).toMatch(/^run 2 of 3; experiment ETA 1m10s \(/);
    // Two different works: 20 s for 100, 50 s for 300 -> 5 s per run + 0.15 s per unit.
    eta.finished(1, 50);
    expect(eta.remaining(2)).toBeCloseTo(5 + 0.15 * 50, 9);
    expect(eta.remaining(3)).toBe(0);
  });

  it("weighs the demo's runs by their stages' MACs per sample and epochs", () => {
    const demo = work('demo');
    const labs = work('demo_mlp_labs');
    const noPretrain = work('demo_no_pretrain');
    expect(labs).toBeLessThan(demo / 1000);
    expect(noPretrain).toBeLessThan(demo);
    expect(noPretrain).toBeGreaterThan(labs);
  });
});
