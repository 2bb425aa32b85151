import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  dimAdd,
  dimConst,
  dimDiv,
  dimMul,
  dimSub,
  dimSubst,
  dimSym,
  solveLinear,
  unify,
} from '../../compiler/symbolic.js';

const H = dimSym('H');
const dim = dimSym('dim');

describe('symbolic dimension algebra', () => {
  it('canonicalises division chains and sums', () => {
    expect(dimDiv(dimDiv(H, dimConst(4))!, dimConst(2))!.equals(dimDiv(H, dimConst(8))!)).toBe(true);
    expect(dimAdd(dimMul(dimConst(2), dim), dim).equals(dimMul(dimConst(3), dim))).toBe(true);
    expect(dimSub(dimAdd(H, dimConst(3)), dimConst(3)).equals(H)).toBe(true);
    expect(dimDiv(H, dimConst(8))!.toString()).toBe('H / 8');
    expect(dimMul(H, dimSym('W')).toString()).toBe('H * W');
    expect(dimAdd(dimDiv(dimSub(H, dimConst(4)), dimConst(4))!, dimConst(1)).toString()).toBe('H / 4');
  });

  it('divides by a symbol only when it is a factor', () => {
    expect(dimDiv(dimMul(H, dimSym('W')), dimSym('W'))!.equals(H)).toBe(true);
    expect(dimDiv(dimAdd(H, dimConst(1)), dimSym('W'))).toBeUndefined();
  });

  it('substitutes and solves linear patterns', () => {
    const p = dimAdd(dimMul(dimConst(2), H), dimConst(1));
    expect(solveLinear(p, 'H', dimConst(57))!.asInt()).toBe(28);
    expect(dimSubst(dimDiv(H, dimConst(32))!, new Map([['H', dimConst(224)]])).asInt()).toBe(7);
  });

  it('unifies declared signatures with actual shapes', () => {
    const env = new Map();
    const B = dimSym('B');
    expect(unify([[B, H, H, dimConst(40)]], [[B, dimConst(56), dimConst(56), dimConst(40)]], env)).toBeUndefined();
    expect(env.get('H').asInt()).toBe(56);
    expect(unify([[B, H, H]], [[B, dimConst(56), dimConst(28)]], new Map())).toBe(0);
    const env2 = new Map();
    expect(unify([[dimDiv(H, dimConst(4))!]], [[dimConst(14)]], env2)).toBeUndefined();
    expect(env2.get('H').asInt()).toBe(56);
  });

  it('is a commutative ring on random polynomials (property)', () => {
    const syms = ['B', 'H', 'W'];
    const arb: fc.Arbitrary<ReturnType<typeof dimConst>> = fc.letrec<{ d: ReturnType<typeof dimConst> }>((tie) => ({
      d: fc.oneof(
        { depthSize: 'small' },
        fc.integer({ min: -9, max: 9 }).map((n) => dimConst(n)),
        fc.constantFrom(...syms).map((s) => dimSym(s)),
        fc.tuple(tie('d'), tie('d')).map(([a, b]) => dimAdd(a, b)),
        fc.tuple(tie('d'), tie('d')).map(([a, b]) => dimMul(a, b)),
        fc.tuple(tie('d'), fc.integer({ min: 1, max: 7 })).map(([a, k]) => dimDiv(a, dimConst(k))!),
      ),
    })).d;
    fc.assert(
      fc.property(arb, arb, arb, (a, b, c) => {
        expect(dimAdd(a, b).equals(dimAdd(b, a))).toBe(true);
        expect(dimMul(a, dimAdd(b, c)).equals(dimAdd(dimMul(a, b), dimMul(a, c)))).toBe(true);
        expect(dimSub(dimAdd(a, b), b).equals(a)).toBe(true);
        const env = new Map([
          ['B', dimConst(2)],
          ['H', dimConst(3)],
          ['W', dimConst(5)],
        ]);
        const val = (x: typeof a) => {
          const r = dimSubst(x, env).constantValue()!;
          return Number(r.num) / Number(r.den);
        };
        expect(val(dimMul(a, b))).toBeCloseTo(val(a) * val(b), 6);
      }),
      { numRuns: 300 },
    );
  });
});
