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
import type { ModuleNode, ParamExpr } from '../ir/ir.js';

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
  /** The lowering's code with these sentinels, if putting the values back gives `concrete`. */
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
    return back === concrete ? code : undefined;
  };
  let use = probes;
  let code = attempt(use);
  if (code === undefined) {
    // One parameter at a time: keep those the lowering writes as they are, then all of them.
    use = probes.filter((p) => attempt([p]) !== undefined);
    code = attempt(use);
  }
  if (code === undefined) return concrete;
  for (const p of use) code = replaceSentinel(code, p.text, exprCode(exprs.get(p.key)!));
  return code;
}

export { plainValue } from '../ir/param-expr.js';

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

/**
 * Per instantiation, a name suffix from the block parameters whose values differ between the
 * instantiations (`dim64`, `dim16_drop_path_rate0_1`), or undefined when such parameters do not
 * tell every instantiation apart in plain identifier characters (structure differs, or a value
 * is a list or a layer).
 */
export function distinguishingSuffixes(params: readonly Readonly<Record<string, unknown>>[]): string[] | undefined {
  const keys = [...new Set(params.flatMap((p) => Object.keys(p)))].filter(
    (k) => new Set(params.map((p) => JSON.stringify(p[k] ?? null))).size > 1,
  );
  if (keys.length === 0 || keys.some((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))) return undefined;
  const part = (v: unknown): string | undefined => {
    if (typeof v === 'number' && Number.isFinite(v)) return String(v).replace(/-/g, 'm').replace(/[.+]/g, '_');
    if (typeof v === 'boolean') return String(v);
    if (typeof v === 'string' && /^[A-Za-z0-9_]{1,24}$/.test(v)) return v;
    return undefined;
  };
  const suffixes: string[] = [];
  for (const p of params) {
    const parts = keys.map((k) => part(p[k]));
    if (parts.some((x) => x === undefined)) return undefined;
    suffixes.push(keys.map((k, i) => `${k}${parts[i]}`).join('_'));
  }
  return new Set(suffixes).size === suffixes.length ? suffixes : undefined;
}

/** The declaration a block node instantiates (`file:offset` of its name). */
export function declKey(node: ModuleNode): string {
  return node.decl ? `${node.decl.nameSpan.file}:${node.decl.nameSpan.start}` : node.typeName;
}

/** What `splittingParams` reads of a class. */
export interface ClassShape {
  readonly root: boolean;
  readonly node: ModuleNode;
  readonly members: readonly ModuleNode[];
  /** The block parameters its constructor takes. */
  readonly params: readonly string[];
}

/**
 * Per declaration, the parameters that tell its classes apart: taken by a constructor, yet
 * one value per class (`Flatten(dim)` with the width baked into a reshape). A constructor
 * taking them would serve one value only, so the emitter bakes them in a second pass and they
 * name the classes (`Flatten_dim8`).
 */
export function splittingParams(
  classes: readonly ClassShape[],
  declOf: (node: ModuleNode) => string = declKey,
): Map<string, Set<string>> {
  const byDecl = new Map<string, ClassShape[]>();
  for (const c of classes) if (!c.root) byDecl.set(declOf(c.node), [...(byDecl.get(declOf(c.node)) ?? []), c]);
  const out = new Map<string, Set<string>>();
  for (const [decl, group] of byDecl) {
    if (group.length < 2) continue;
    const split = new Set<string>();
    for (const k of new Set(group.flatMap((c) => c.params))) {
      const per = group.map((c) => new Set(c.members.map((m) => JSON.stringify(m.params[k]))));
      if (per.every((v) => v.size === 1) && new Set(per.map((v) => [...v][0])).size > 1) split.add(k);
    }
    if (split.size) out.set(decl, split);
  }
  return out;
}

/**
 * A key equal for two nodes exactly when everything the emitters write for them is: the whole
 * subtree (values, provenance, weights, spans, forward graph key). Emitters generate a class's
 * code once per key instead of once per node (ConvNeXt-V2 huge repeats one block 27 times).
 */
export function structuralKey(node: ModuleNode, memo: WeakMap<ModuleNode, string>): string {
  let key = memo.get(node);
  if (key === undefined) {
    const { path: _path, children, args, argExprs, ...rest } = node;
    key = JSON.stringify(
      [
        rest,
        [...args].map(([k, v]) => [k, JSON.stringify(v, replacer)]),
        argExprs ? [...argExprs] : null,
        children.map((c) => [c.path.slice(c.path.lastIndexOf('.') + 1), structuralKey(c, memo)]),
      ],
      replacer,
    );
    memo.set(node, key);
  }
  return key;
}

/** JSON for IR values: Maps as entry lists, symbolic dimensions as text. */
function replacer(_key: string, v: unknown): unknown {
  if (v instanceof Map) return [...v];
  if (v && typeof v === 'object' && 'terms' in v && typeof (v as { toString: unknown }).toString === 'function')
    return String(v);
  return v;
}
