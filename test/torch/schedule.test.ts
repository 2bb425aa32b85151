/**
 * The torch engine's learning rate per step equals the tfjs runner's (buildStageSchedule) for
 * warmup + cosine (the paper's), warmup from a floor, linear, constant holds and the empty
 * (constant) schedule, at every step of each stage: relative difference below 1e-12.
 */
import { describe, expect, it } from 'vitest';
import { buildStageSchedule } from '../../runtime/train/runner.js';
import type { StageSpec } from '../../runtime/train/spec.js';
import { finetuneStage } from '../support/train-specs.js';
import { pythonJson } from '../support/python.js';

const stages: Array<{ stage: StageSpec; steps: number }> = [
  {
    stage: finetuneStage({
      epochs: 16,
      schedule: [
        { kind: 'warmup', epochs: 3 },
        { kind: 'cosine', to: 5e-8 },
      ],
    }),
    steps: 7,
  },
  {
    stage: finetuneStage({
      epochs: 10,
      schedule: [
        { kind: 'warmup', epochs: 2, from: 1e-4 },
        { kind: 'constant', epochs: 3 },
        { kind: 'linear', to: 1e-5, epochs: 2 },
        { kind: 'cosine', to: 0 },
      ],
    }),
    steps: 5,
  },
  { stage: finetuneStage({ epochs: 3, schedule: [] }), steps: 4 },
  { stage: finetuneStage({ epochs: 4, schedule: [{ kind: 'cosine', to: 1e-6, epochs: 2 }] }), steps: 3 },
];

describe('torch engine learning-rate schedule', () => {
  it('gives the tfjs runner lr at every step', () => {
    const script = `
import json, sys, nvcc_optim
cases = json.loads(sys.argv[1])
def curve(c):
    schedule = nvcc_optim.stage_schedule(c["stage"], c["steps"])
    return [schedule.at(s) for s in range(c["stage"]["epochs"] * c["steps"] + 2)]
print(json.dumps([curve(c) for c in cases]))
`;
    const got = pythonJson<number[][]>(['-c', script, JSON.stringify(stages)]);
    stages.forEach(({ stage, steps }, i) => {
      const schedule = buildStageSchedule(stage, steps);
      const expected = Array.from({ length: stage.epochs * steps + 2 }, (_, s) => schedule.at(s));
      expect(got[i]!.length).toBe(expected.length);
      expected.forEach((lr, s) =>
        expect(Math.abs(got[i]![s]! - lr), `case ${i} step ${s}`).toBeLessThanOrEqual(1e-12 * Math.max(lr, 1e-12)),
      );
    });
    // Not a constant: the warmup really rises and the cosine really falls.
    expect(got[0]![1]!).toBeLessThan(got[0]![21]!);
    expect(got[0]![100]!).toBeLessThan(got[0]![30]!);
  });
});
