/**
 * What code emitters share to write one class per block declaration rather than one per
 * instantiation: writing a value from its provenance, and naming and describing the classes.
 * In: IR module nodes with their provenance (`argExprs`, `shapeExprs`, op `exprs`: ir.ts) and
 * a target's printer for literals and for provenance expressions. Out: code in which a value
 * that came from the block's parameters is written as the expression over them, and for each
 * class the parameters its instantiations were built with that it does not take (what it is
 * specialised for) and a name suffix telling specialised classes of one declaration apart.
 * Holds afterwards: code is written from the expression only where that is exact for the node
 * at hand: `probeLowering` accepts a lowering's symbolic code only if putting the concrete
 * values back gives, character for character, the code the lowering writes for the concrete
 * values. So the code written for each node is correct for that node, and an emitter that
 * shares a class only between nodes whose code is identical writes classes correct for all of
 * their instantiations.
 */
import type { IRValue, ModuleNode, ParamExpr } from '../ir/ir.js';

/** An expression's code and whether it needs parentheses inside a larger expression. */
export interface ExprCode {
  readonly code: string;
  readonly atomic: boolean;
}

/**
 * Values no .nvc program writes, one per probed parameter: the lowering is run with them in
 * place of the concrete values and the printed sentinels are found in its code. Ints stay
 * ints and fractions stay fractions, so a lowering that tells them apart takes the same branch.
 */
function sentinel(k: number, concrete: unknown): number | string | undefined {
  if (typeof concrete === 'number' && Number.isFinite(concrete))
    return Number.isInteger(concrete) ? 9_007_199_254_000 + k * 10 : 9_007_199_254_000.5 + k * 10;
  if (typeof concrete === 'string') return `nvcc_probe_${k}_value`;
  return undefined;
}

const OPENERS = new Set(['(', '[', ',', '{', ':']);
const CLOSERS = new Set([')', ']', ',', '}', ';']);

/** Replaces each `find` in `code` by the expression, parenthesised unless it stands alone. */
function replaceSentinel(code: string, find: string, e: ExprCode): string {
  let out = '';
  let from = 0;
  for (let at = code.indexOf(find); at >= 0; at = code.indexOf(find, from)) {
    const before = code.slice(0, at).trimEnd();
    const after = code.slice(at + find.length).trimStart();
    const alone =
      (before === '' || OPENERS.has(before[before.length - 1]!)) && (after === '' || CLOSERS.has(after[0]!));
    out += code.slice(from, at) + (e.atomic || alone ? e.code : `(${e.code})`);
    from = at + find.length;
  }
  return out + code.slice(from);
}

/**
 * The code of a lowering with the values that came from the block's parameters written as
 * expressions, or `concrete` (its code for the concrete values) where that cannot be done
 * exactly. `lower` is the lowering run on other values (it may throw: that parameter is then
 * baked); `print` writes a literal as the lowering does; `exprCode` an expression.
 */
export function probeLowering(
  concrete: string,
  values: Readonly<Record<string, unknown>>,
  exprs: ReadonlyMap<string, ParamExpr>,
  lower: (values: Readonly<Record<string, unknown>>) => string,
  print: (v: unknown) => string,
  exprCode: (e: ParamExpr) => ExprCode,
): string {
  const probes: { key: string; value: number | string; text: string }[] = [];
  for (const key of exprs.keys()) {
    const value = sentinel(probes.length, values[key]);
    if (value === undefined) continue;
    const text = print(value);
    // A sentinel the concrete code already contains could not be told from it.
    if (concrete.includes(text)) continue;
    probes.push({ key, value, text });
  }
  const attempt = (use: typeof probes): string | undefined => {
    if (use.length === 0) return undefined;
    let code: string;
    try {
      code = lower({ ...values, ...Object.fromEntries(use.map((p) => [p.key, p.value])) });
    } catch {
      return undefined;
    }
    let back = code;
    for (const p of use) back = back.split(p.text).join(print(values[p.key]));
    if (back !== concrete) return undefined;
    for (const p of use) code = replaceSentinel(code, p.text, exprCode(exprs.get(p.key)!));
    return code;
  };
  const all = attempt(probes);
  if (all !== undefined) return all;
  // One parameter at a time: keep those the lowering writes as they are, then all of them.
  const fine = probes.filter((p) => attempt([p]) !== undefined);
  return attempt(fine) ?? concrete;
}

/** The plain (JSON) value of an IR value. */
export function plainValue(v: IRValue | undefined): unknown {
  if (v === undefined) return undefined;
  switch (v.kind) {
    case 'int':
    case 'float':
    case 'bool':
    case 'string':
      return v.value;
    case 'word':
      return v.name;
    case 'list':
      return v.items.map(plainValue);
    default:
      return undefined;
  }
}

/**
 * The block parameters a class is built with and does not take: those whose value is the
 * same in every instantiation it serves (`drop_path_rate = 0`), in declaration order; a class
 * taking all of them has none. Layer arguments are left out (they are children).
 */
export function bakedParams(
  members: readonly ModuleNode[],
  taken: readonly string[],
): Record<string, unknown> | undefined {
  const first = members[0]!;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(first.params)) {
    if (taken.includes(k) || first.args.get(k)?.kind === 'layer') continue;
    const text = JSON.stringify(v);
    if (members.every((m) => JSON.stringify(m.params[k]) === text)) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}
