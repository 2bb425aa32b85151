/**
 * Symbolic tensor dimensions: a small canonical algebra.
 * In: integers, dimension symbols (`B`, `H`) and + - * / over them. Out: `Dim` values in a
 * canonical sum-of-products form with exact rational coefficients. Holds afterwards: two
 * dimensions are equal exactly when their canonical forms are equal, so `H / 4 / 2` equals
 * `H / 8` and `2 * dim + dim` equals `3 * dim` (dims bound to integers are folded first).
 * Division by an integer is exact rational division; `isExactInteger` tells whether a
 * constant dimension is a whole number, which callers check before using it as a size.
 */

/** A rational number p/q with q > 0 and gcd(|p|, q) = 1. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function rat(num: bigint, den: bigint = 1n): Rational {
  if (den === 0n) throw new RangeError('division by zero in dimension arithmetic');
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const g = gcd(num, den) || 1n;
  return { num: num / g, den: den / g };
}

const ratAdd = (a: Rational, b: Rational) => rat(a.num * b.den + b.num * a.den, a.den * b.den);
const ratMul = (a: Rational, b: Rational) => rat(a.num * b.num, a.den * b.den);
const ratIsZero = (a: Rational) => a.num === 0n;

/**
 * One product term: coefficient times a product of symbols with positive integer powers.
 * `key` is the sorted symbol list joined by `*` ("" for the constant term).
 */
interface Term {
  readonly key: string;
  readonly symbols: readonly string[];
  readonly coef: Rational;
}

/** A canonical symbolic dimension. Build with `dimConst`, `dimSym` and the operations below. */
export class Dim {
  /** Terms sorted by key; no zero coefficients. */
  private constructor(readonly terms: readonly Term[]) {}

  static fromTerms(terms: Iterable<Term>): Dim {
    const byKey = new Map<string, Term>();
    for (const t of terms) {
      const prev = byKey.get(t.key);
      const coef = prev ? ratAdd(prev.coef, t.coef) : t.coef;
      byKey.set(t.key, { key: t.key, symbols: t.symbols, coef });
    }
    const out = [...byKey.values()].filter((t) => !ratIsZero(t.coef));
    out.sort((a, b) => termOrder(a, b));
    return new Dim(out);
  }

  /** The integer or rational value when the dim has no symbols. */
  constantValue(): Rational | undefined {
    if (this.terms.length === 0) return rat(0n);
    if (this.terms.length === 1 && this.terms[0]!.key === '') return this.terms[0]!.coef;
    return undefined;
  }

  /** The value as a JS number when it is a constant integer. */
  asInt(): number | undefined {
    const c = this.constantValue();
    if (c?.den !== 1n) return undefined;
    return Number(c.num);
  }

  isConstant(): boolean {
    return this.constantValue() !== undefined;
  }

  /** A bare symbol with coefficient 1 (`H`), or undefined. */
  asSymbol(): string | undefined {
    if (this.terms.length !== 1) return undefined;
    const t = this.terms[0]!;
    if (t.symbols.length === 1 && t.coef.num === 1n && t.coef.den === 1n) return t.symbols[0];
    return undefined;
  }

  symbols(): Set<string> {
    const s = new Set<string>();
    for (const t of this.terms) for (const x of t.symbols) s.add(x);
    return s;
  }

  equals(other: Dim): boolean {
    return this.toString() === other.toString();
  }

  /** Canonical text: `H / 8`, `3 * dim`, `H * W`, `H / 4 + 1`, `224`. */
  toString(): string {
    if (this.terms.length === 0) return '0';
    let out = '';
    this.terms.forEach((t, i) => {
      const neg = t.coef.num < 0n;
      const abs = rat(neg ? -t.coef.num : t.coef.num, t.coef.den);
      let body: string;
      if (t.symbols.length === 0) body = abs.den === 1n ? `${abs.num}` : `${abs.num} / ${abs.den}`;
      else {
        const prod = t.symbols.join(' * ');
        const numPart = abs.num === 1n ? prod : `${abs.num} * ${prod}`;
        body = abs.den === 1n ? numPart : `${numPart} / ${abs.den}`;
      }
      if (i === 0) out += neg ? `-${body}` : body;
      else out += neg ? ` - ${body}` : ` + ${body}`;
    });
    return out;
  }
}

function termOrder(a: Term, b: Term): number {
  // Higher-degree terms first, then alphabetical; the constant term last.
  if (a.symbols.length !== b.symbols.length) return b.symbols.length - a.symbols.length;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

export function dimConst(n: number | bigint | Rational): Dim {
  const r = typeof n === 'object' ? n : rat(BigInt(n));
  return Dim.fromTerms([{ key: '', symbols: [], coef: r }]);
}

export function dimSym(name: string): Dim {
  return Dim.fromTerms([{ key: name, symbols: [name], coef: rat(1n) }]);
}

export function dimAdd(a: Dim, b: Dim): Dim {
  return Dim.fromTerms([...a.terms, ...b.terms]);
}

export function dimNeg(a: Dim): Dim {
  return Dim.fromTerms(a.terms.map((t) => ({ ...t, coef: rat(-t.coef.num, t.coef.den) })));
}

export function dimSub(a: Dim, b: Dim): Dim {
  return dimAdd(a, dimNeg(b));
}

export function dimMul(a: Dim, b: Dim): Dim {
  const terms: Term[] = [];
  for (const x of a.terms)
    for (const y of b.terms) {
      const symbols = [...x.symbols, ...y.symbols].sort();
      terms.push({ key: symbols.join('*'), symbols, coef: ratMul(x.coef, y.coef) });
    }
  return Dim.fromTerms(terms);
}

/**
 * Exact division. Division by a constant scales every coefficient; division by a symbolic
 * dim succeeds only when it divides every term as a monomial with one common cofactor
 * (`H * W / W`), otherwise returns undefined.
 */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const c = b.constantValue();
  if (c) {
    if (c.num === 0n) return undefined;
    const inv = rat(c.den, c.num);
    return Dim.fromTerms(a.terms.map((t) => ({ ...t, coef: ratMul(t.coef, inv) })));
  }
  if (b.terms.length !== 1) return a.equals(b) ? dimConst(1) : undefined;
  const bt = b.terms[0]!;
  const inv = rat(bt.coef.den, bt.coef.num);
  const terms: Term[] = [];
  for (const t of a.terms) {
    const rest = [...t.symbols];
    for (const s of bt.symbols) {
      const i = rest.indexOf(s);
      if (i < 0) return undefined;
      rest.splice(i, 1);
    }
    terms.push({ key: rest.join('*'), symbols: rest, coef: ratMul(t.coef, inv) });
  }
  return Dim.fromTerms(terms);
}

/** Substitutes symbols by dims. */
export function dimSubst(a: Dim, env: ReadonlyMap<string, Dim>): Dim {
  let out = dimConst(0);
  for (const t of a.terms) {
    let term = dimConst(t.coef);
    for (const s of t.symbols) term = dimMul(term, env.get(s) ?? dimSym(s));
    out = dimAdd(out, term);
  }
  return out;
}

/** True when the dim is a constant whole number. */
export function isExactInteger(a: Dim): boolean {
  const c = a.constantValue();
  return c !== undefined && c.den === 1n;
}

/**
 * Solves `pattern == actual` for one unknown symbol of `pattern` when pattern is linear in it
 * (`c * S + k`). Returns the value of the symbol or undefined.
 */
export function solveLinear(pattern: Dim, symbol: string, actual: Dim): Dim | undefined {
  let coef: Rational | undefined;
  const rest: Term[] = [];
  for (const t of pattern.terms) {
    if (t.symbols.length === 1 && t.symbols[0] === symbol) coef = t.coef;
    else if (t.symbols.includes(symbol)) return undefined;
    else rest.push(t);
  }
  if (!coef) return undefined;
  const diff = dimSub(actual, Dim.fromTerms(rest));
  return dimDiv(diff, dimConst(coef));
}

export type Shape = readonly Dim[];

export function formatShape(shape: Shape): string {
  return `[${shape.map((d) => d.toString()).join(', ')}]`;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d.equals(b[i]!));
}

/** Product of all dims (element count). */
export function shapeSize(shape: Shape): Dim {
  return shape.reduce((acc, d) => dimMul(acc, d), dimConst(1));
}

/**
 * Unifies declared (pattern) shapes with actual shapes, binding the pattern's symbols in env.
 * Returns the index of the first mismatching input, or undefined when all match.
 */
export function unify(patterns: readonly Shape[], actual: readonly Shape[], env: Map<string, Dim>): number | undefined {
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i]!;
    const a = actual[i]!;
    if (p.length !== a.length) return i;
    // Bare symbols first, then composite dims (solving one unknown linearly when needed).
    for (let j = 0; j < p.length; j++) {
      const s = p[j]!.asSymbol();
      if (s === undefined) continue;
      const prev = env.get(s);
      if (prev === undefined) env.set(s, a[j]!);
      else if (!prev.equals(a[j]!)) return i;
    }
  }
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i]!;
    const a = actual[i]!;
    for (let j = 0; j < p.length; j++) {
      if (p[j]!.asSymbol() !== undefined) continue;
      const unknown = [...p[j]!.symbols()].filter((s) => !env.has(s));
      if (unknown.length === 1) {
        const v = solveLinear(dimSubst(p[j]!, env), unknown[0]!, a[j]!);
        if (!v) return i;
        env.set(unknown[0]!, v);
      }
      if (!dimSubst(p[j]!, env).equals(a[j]!)) return i;
    }
  }
  return undefined;
}
