/**
 * The Python port of the runtime's RNG (compiler/emit/torch/python/nvcc_rng.py) draws exactly
 * what runtime/rng.ts draws: uniforms, normals (with the cached spare), bounded integers,
 * permutations, forks of forks, stage roots and saved/restored states, compared value for value.
 */
import { describe, expect, it } from 'vitest';
import { createRng, permutation, randInt, restoreRng } from '../../runtime/rng.js';
import { freshStreams } from '../../runtime/train/runner.js';
import { stageRoot } from '../../runtime/train/common.js';
import { pretrainStage } from '../support/train-specs.js';
import { pythonJson } from '../support/python.js';

const script = `
import json, nvcc_rng as R
out = []
for seed in [0, 7, -3, 2**40 + 5, "pji"]:
    r = R.create_rng(seed).fork("stage:x").fork("data")
    out.append([r.uniform(), r.normal(), r.normal(), r.normal(), r.int(0, 7), r.int(5, 2**33),
                R.permutation(r, 12), r.state()])
s = R.fresh_streams(R.stage_root(9, {"name": "pretrain"}))
m = R.restore_rng(s["mask"].state())
out.append([s["augment"].uniform(), m.normal(), R.restore_rng(m.state()).normal(), m.normal()])
print(json.dumps(out))
`;

/**
 * Integers and generator words must match exactly. Normals go through libm's log, sin and cos,
 * which V8 and CPython may round differently in the last bit, so fractions are compared to 13
 * significant digits and the cached spare's bit pattern (state words 5 and 6) is left out.
 */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (typeof value === 'number') return Number.isInteger(value) ? value : Number(value.toPrecision(13));
  if (value && typeof value === 'object' && 'words' in value) {
    const { algorithm, words } = value as { algorithm: string; words: number[] };
    return { algorithm, words: words.slice(0, 5) };
  }
  return value;
}

describe('nvcc_rng.py', () => {
  it('draws the same numbers as runtime/rng.ts', () => {
    const expected: unknown[] = [];
    for (const seed of [0, 7, -3, 2 ** 40 + 5, 'pji']) {
      const r = createRng(seed).fork('stage:x').fork('data');
      expected.push([
        r.uniform(),
        r.normal(),
        r.normal(),
        r.normal(),
        randInt(r, 0, 7),
        randInt(r, 5, 2 ** 33),
        permutation(r, 12),
        r.state(),
      ]);
    }
    const s = freshStreams(stageRoot(9, pretrainStage()));
    const m = restoreRng(s.mask.state());
    expected.push([s.augment.uniform(), m.normal(), restoreRng(m.state()).normal(), m.normal()]);
    expect(comparable(pythonJson(['-c', script]))).toEqual(comparable(expected));
  });
});
