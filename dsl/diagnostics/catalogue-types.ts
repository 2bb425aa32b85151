/**
 * The shape of one diagnostic catalogue entry.
 * In: nothing. Out: the `CatalogueEntry` type shared by catalogue.ts (syntax, NVC1xxx) and
 * catalogue-semantic.ts (NVC2xxx-NVC9xxx). Holds afterwards: nothing at run time.
 */
import type { Severity } from './diagnostic.js';

/**
 * One diagnostic kind.
 *
 * - `code`: `NVC` + 4 digits, unique across both tables, stable forever once released (never
 *   renumber; retire instead). 1xxx syntax, 2xxx names/imports, 3xxx shapes, 4xxx
 *   arguments/types, 5xxx cross-declaration checks, 9xxx internal.
 * - `message`: one line, lowercase start, no trailing period, specific enough to make sense on
 *   its own. Placeholders are `{name}`; the builder substitutes arguments by name and leaves
 *   no `{...}` behind (a missing argument is a programming error caught by tests).
 *   Code-like text goes in backticks: "expected `)` but found `=`".
 * - `help`: optional template for a default `= help:` line (same placeholder rules).
 * - `note`: optional template for a default `= note:` line.
 * - `summary`: a few words naming the kind, for docs and `nvcc explain` (no placeholders).
 */
export interface CatalogueEntry {
  readonly code: string;
  readonly severity: Severity;
  readonly summary: string;
  readonly message: string;
  readonly help?: string;
  readonly note?: string;
}
