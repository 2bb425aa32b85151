/**
 * Provenance expressions of the IR (`ParamExpr`, ir.ts): their text, their value and the
 * parameters they read.
 * In: an expression and, to evaluate it, the concrete parameters of the block it is over (the
 * node's `args`). Out: `.nvc`-like text (`4 * dim`, `dims[i - 1]`) for the IR printer and
 * emitters' comments, the value, the parameter names. Holds afterwards: evaluation follows the
 * elaborator's arithmetic (`//` floors, an exact `/` of ints is an int), so for any node
 * `evalParamExpr(expr, parent.args)` equals the concrete value the expression stands beside.
 */
import type { IRValue, ParamExpr } from './ir.js';

const PRECEDENCE: Readonly<Record<string, number>> = { '+': 1, '-': 1, '*': 2, '/': 2, '//': 2, '%': 2, '**': 4 };

function literalText(v: number | string | boolean, int: boolean | undefined): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' && int === false && Number.isInteger(v)) return v.toFixed(1);
  return String(v);
}

/** The expression as `.nvc` text, parenthesised only where precedence needs it. */
export function formatParamExpr(e: ParamExpr): string {
  const text = (x: ParamExpr, outer: number, right: boolean): string => {
    switch (x.kind) {
      case 'param':
        return x.name;
      case 'literal':
        return literalText(x.value, x.int);
      case 'index':
        return `${text(x.list, 5, false)}[${text(x.index, 0, false)}]`;
      case 'neg': {
        const s = `-${text(x.operand, 3, false)}`;
        return outer > 3 ? `(${s})` : s;
      }
      case 'binary': {
        const p = PRECEDENCE[x.op]!;
        // Left to right; a power inside a power is parenthesised on either side.
        const s =
          x.op === '**'
            ? `${text(x.left, p + 1, false)} ** ${text(x.right, p + 1, true)}`
            : `${text(x.left, p, false)} ${x.op} ${text(x.right, p + 1, true)}`;
        return outer > p || (outer === p && right) ? `(${s})` : s;
      }
    }
  };
  return text(e, 0, false);
}

/** The parameter names an expression reads, in first-use order. */
export function paramsOfExpr(e: ParamExpr, out: string[] = []): string[] {
  switch (e.kind) {
    case 'param':
      if (!out.includes(e.name)) out.push(e.name);
      break;
    case 'literal':
      break;
    case 'neg':
      paramsOfExpr(e.operand, out);
      break;
    case 'binary':
      paramsOfExpr(e.left, out);
      paramsOfExpr(e.right, out);
      break;
    case 'index':
      paramsOfExpr(e.list, out);
      paramsOfExpr(e.index, out);
      break;
  }
  return out;
}

export type Plain = number | string | boolean | readonly Plain[] | undefined;

/** The plain (JSON) value of an IR value; undefined for layers, records and other kinds. */
export function plainValue(v: IRValue | undefined): Plain {
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
 * The value of an expression for the given parameters, or undefined when it cannot be
 * computed from them (a missing parameter, an index out of range, a division by zero).
 */
export function evalParamExpr(e: ParamExpr, args: ReadonlyMap<string, IRValue>): Plain {
  switch (e.kind) {
    case 'param':
      return plainValue(args.get(e.name));
    case 'literal':
      return e.value;
    case 'neg': {
      const v = evalParamExpr(e.operand, args);
      return typeof v === 'number' ? -v : undefined;
    }
    case 'index': {
      const list = evalParamExpr(e.list, args);
      const i = evalParamExpr(e.index, args);
      return Array.isArray(list) && typeof i === 'number' ? (list as readonly Plain[])[i] : undefined;
    }
    case 'binary': {
      const a = evalParamExpr(e.left, args);
      const b = evalParamExpr(e.right, args);
      if (typeof a !== 'number' || typeof b !== 'number') return undefined;
      switch (e.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          return b === 0 ? undefined : a / b;
        case '//':
          return b === 0 ? undefined : Math.floor(a / b);
        case '%':
          return b === 0 ? undefined : a % b;
        case '**':
          return a ** b;
      }
    }
  }
}
