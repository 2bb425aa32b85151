/**
 * The support predicates of the primitive records' targets (`targets.<name>.supports`): check
 * runs the predicate of every target it checks for when it binds a primitive's arguments and
 * reports a refusal as NVC4020 at the argument, with the record's note and fix. No record refuses
 * anything on tfjs or torch today (grouped and strided convolutions run on both since issue 14),
 * so the test gives the torch rule of Conv2d a refusal for the time of one check.
 */
import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { intParam } from '../../compiler/primitives/index.js';
import { TORCH_RULES } from '../../compiler/primitives/torch.js';

const TEXT = `model M() {
  conv = Conv2d(8, 8, kernel = 3, padding = 1, groups = 2)
  forward(x: [B, 16, 16, 8]) -> [B, 16, 16, 8] { return conv(x) }
}
`;

describe('target support predicates', () => {
  it('a refusal of the checked target is NVC4020 at the argument; other targets are not asked', () => {
    const rule = TORCH_RULES.Conv2d! as { supports: (typeof TORCH_RULES)['Conv2d']['supports'] };
    const original = rule.supports;
    rule.supports = (p) =>
      intParam(p, 'groups') === 1
        ? undefined
        : { param: 'groups', message: 'a test refusal of channel groups', help: 'use groups = 1' };
    try {
      const torch = compileProgramSync('m.nvc', { text: TEXT, targets: ['torch'] }).diagnostics;
      expect(torch.map((d) => `${d.code} ${d.message}`)).toEqual([
        'NVC4020 `Conv2d` with `groups = 2` is not supported by the torch target',
      ]);
      expect(TEXT.slice(torch[0]!.span.start, torch[0]!.span.end)).toBe('2');
      const tfjs = compileProgramSync('m.nvc', { text: TEXT }).diagnostics;
      expect(tfjs.filter((d) => d.severity === 'error')).toEqual([]);
    } finally {
      rule.supports = original;
    }
    expect(compileProgramSync('m.nvc', { text: TEXT, targets: ['torch'] }).diagnostics).toEqual([]);
  });
});
