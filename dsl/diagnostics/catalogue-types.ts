/**
 * The shape of one diagnostic catalogue entry, and the argument types derived from it.
 * In: nothing. Out: the `CatalogueEntry` type shared by catalogue.ts (syntax, NVC1xxx),
 * catalogue-semantic.ts (NVC2xxx-NVC9xxx) and catalogue-shapes.ts (NVC3002 shape-rule problems);
 * `ArgsOf<E>`, the exact arguments an entry's templates name. Holds afterwards: nothing at run
 * time; at compile time a call that omits, misspells or invents an argument fails `tsc`.
 */
import type { Severity } from './diagnostic.js';

/**
 * One diagnostic message.
 *
 * - `code`: `NVC` + 4 digits, stable forever once released (never renumber; retire instead).
 *   1xxx syntax, 2xxx names/imports, 3xxx shapes, 4xxx arguments/types, 5xxx
 *   cross-declaration checks, 9xxx internal. A code names a kind of problem; several entries
 *   (each one specific message) may share a code, and then share `severity` and `summary` too
 *   (build them from one `kind(...)`).
 * - `message`: one line, lowercase start, no trailing period, specific enough to make sense on
 *   its own, with literal words besides its placeholders (never a bare `{x}`). Placeholders are
 *   `{name}`; `report` substitutes arguments by name. Code-like text goes in backticks:
 *   "expected `)` but found `=`".
 * - `help`: optional template for a default `= help:` line (same placeholder rules).
 * - `note`: optional template for a default `= note:` line.
 * - `summary`: a few words naming the kind, for docs (no placeholders).
 */
export interface CatalogueEntry {
  readonly code: string;
  readonly severity: Severity;
  readonly summary: string;
  readonly message: string;
  readonly help?: string;
  readonly note?: string;
}

/** The code, severity and summary that the entries of one kind share. */
export interface DiagnosticKind {
  readonly code: string;
  readonly severity: Severity;
  readonly summary: string;
}

type IdentStart =
  | 'a'
  | 'b'
  | 'c'
  | 'd'
  | 'e'
  | 'f'
  | 'g'
  | 'h'
  | 'i'
  | 'j'
  | 'k'
  | 'l'
  | 'm'
  | 'n'
  | 'o'
  | 'p'
  | 'q'
  | 'r'
  | 's'
  | 't'
  | 'u'
  | 'v'
  | 'w'
  | 'x'
  | 'y'
  | 'z'
  | 'A'
  | 'B'
  | 'C'
  | 'D'
  | 'E'
  | 'F'
  | 'G'
  | 'H'
  | 'I'
  | 'J'
  | 'K'
  | 'L'
  | 'M'
  | 'N'
  | 'O'
  | 'P'
  | 'Q'
  | 'R'
  | 'S'
  | 'T'
  | 'U'
  | 'V'
  | 'W'
  | 'X'
  | 'Y'
  | 'Z'
  | '_';

/**
 * The placeholder names in a template: `{name}` where name starts like an identifier (so the
 * `\u{...}` in a help text is not one), matching the run-time pattern of `fillTemplate`.
 */
export type Placeholders<S extends string> = S extends `${string}{${infer Name}}${infer Rest}`
  ? (Name extends `${IdentStart}${string}` ? Name : never) | Placeholders<Rest>
  : never;

type TemplateOf<E, K extends 'message' | 'help' | 'note'> = E extends { readonly [P in K]: infer T extends string }
  ? T
  : never;

/** A value that fills a placeholder: text, a number, or another catalogue message (nested). */
export type MessageArg = string | number | CatalogueMessage;

/** A catalogue entry with its arguments, not yet placed at a span (e.g. a shape rule's verdict). */
export interface CatalogueMessage {
  readonly entry: CatalogueEntry;
  readonly args: Readonly<Record<string, MessageArg>>;
}

/** Exactly the arguments an entry's message, help and note templates name. */
export type ArgsOf<E extends CatalogueEntry> = {
  readonly [K in
    | Placeholders<TemplateOf<E, 'message'>>
    | Placeholders<TemplateOf<E, 'help'>>
    | Placeholders<TemplateOf<E, 'note'>>]: MessageArg;
};

/** No arguments at all: rejects any property, so free text cannot be slipped in. */
export type NoArgs = { readonly [key: string]: never };

/**
 * The arguments parameter(s) of a raising function, followed by `Rest`: optional when the entry
 * has no placeholders, required otherwise.
 */
export type ArgsParam<E extends CatalogueEntry, Rest extends unknown[] = []> = [
  Placeholders<TemplateOf<E, 'message'>> | Placeholders<TemplateOf<E, 'help'>> | Placeholders<TemplateOf<E, 'note'>>,
] extends [never]
  ? [args?: NoArgs, ...rest: Rest]
  : [args: ArgsOf<E>, ...rest: Rest];
