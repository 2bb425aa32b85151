/**
 * One table cell read as a declared field's raw value, shared by the CSV reader (table.ts) and
 * the exported web page's lab form (workflow/web), so that a value typed into the page means what
 * the same text in a lab table means.
 * In: a cell's text and its FieldSpec. Out: a number (number, binary 0/1), a level name
 * (category) or an error message; `isMissingCell` says which texts stand for a missing value.
 * Holds: no imports beyond the spec's types, so a browser bundle can include it.
 */
import type { FieldSpec } from './spec.js';

/** A field's raw value: a number (number, binary 0/1), a level (category), or null (missing). */
export type RawValue = number | string | null;

const MISSING_TOKENS = new Set(['', 'na', 'n/a', 'nan', 'null', 'none', '?']);

export function isMissingCell(cell: string | undefined): boolean {
  return cell === undefined || MISSING_TOKENS.has(cell.trim().toLowerCase());
}

/**
 * A number as a spreadsheet writes it: decimal digits, an optional fraction and exponent. `Number`
 * alone also takes `0x10`, `0b1`, `0o7` and `Infinity`, which in a lab table are typing slips.
 */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The cell as a decimal number, or undefined when it is not written as one. */
export function decimalNumber(text: string): number | undefined {
  const t = text.trim();
  return DECIMAL.test(t) ? Number(t) : undefined;
}

const BINARY_WORDS: Record<string, number> = { '0': 0, '1': 1, false: 0, true: 1, no: 0, yes: 1, n: 0, y: 1 };

/** Parses one cell for a field; returns the value or an error message. */
export function parseFieldCell(field: FieldSpec, cell: string): { value: RawValue } | { error: string } {
  const text = cell.trim();
  switch (field.type.kind) {
    case 'number': {
      const v = decimalNumber(text);
      if (v === undefined || !Number.isFinite(v))
        return {
          error: /^[+-]?0[xbo]/i.test(text)
            ? `'${text}' is not a decimal number (hexadecimal, binary and octal are not read)`
            : `'${text}' is not a number`,
        };
      if (field.transforms.includes('log1p') && v <= -1) return { error: `${text} is not > -1, so log1p is undefined` };
      return { value: v };
    }
    case 'binary': {
      const levels = field.type.levels;
      if (levels) {
        const i = levels.findIndex((l) => l.toLowerCase() === text.toLowerCase());
        if (i < 0) return { error: `unknown category '${text}' (expected ${levels.join(' or ')})` };
        return { value: i };
      }
      const n = decimalNumber(text);
      const v = BINARY_WORDS[text.toLowerCase()] ?? (n === 0 ? 0 : n === 1 ? 1 : undefined);
      if (v === undefined) return { error: `'${text}' is not a binary value (expected 0/1, true/false or yes/no)` };
      return { value: v };
    }
    case 'category': {
      const level = field.type.levels.find((l) => l.toLowerCase() === text.toLowerCase());
      if (level === undefined)
        return { error: `unknown category '${text}' (expected one of ${field.type.levels.join(', ')})` };
      return { value: level };
    }
  }
}
