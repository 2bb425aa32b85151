/**
 * The one diagnostic catalogue: every user-facing diagnostic message lives in this table or
 * in catalogue-semantic.ts, nowhere else.
 * In: the syntax entries below and `semanticCatalogue`. Out: `syntaxCatalogue`, `catalogue`
 * (both merged), `catalogueEntries()`, `entryForCode()`, and `report()`, the builder that turns
 * an entry, a span and arguments into a Diagnostic. Holds afterwards: every Diagnostic built by
 * `report` has a code from this catalogue and a message with all placeholders filled.
 */
import type { Span } from '../span.js';
import type { Diagnostic, Label, Severity } from './diagnostic.js';
import type { ArgsParam, CatalogueEntry, CatalogueMessage, DiagnosticKind, MessageArg } from './catalogue-types.js';
import { semanticCatalogue } from './catalogue-semantic.js';

export { semanticCatalogue } from './catalogue-semantic.js';

export type { CatalogueEntry } from './catalogue-types.js';

/** NVC1016: a construct outside the place it belongs; one entry per place. */
const misplacedMember = {
  code: 'NVC1016',
  severity: 'error',
  summary: 'construct outside the place it belongs',
} as const satisfies DiagnosticKind;

/** NVC1xxx: lexical and syntax errors, reported by dsl/. */
export const syntaxCatalogue = {
  UnexpectedCharacter: {
    code: 'NVC1001',
    severity: 'error',
    summary: 'unexpected character',
    message: 'unexpected character `{text}`',
    help: 'names use ASCII letters, digits and `_`; remove the character or put it inside a string',
  },
  UnterminatedString: {
    code: 'NVC1002',
    severity: 'error',
    summary: 'unterminated string',
    message: 'unterminated string',
    help: 'add a closing `"` before the end of the line; strings cannot span lines',
  },
  InvalidEscape: {
    code: 'NVC1003',
    severity: 'error',
    summary: 'invalid escape in string',
    message: 'invalid escape `{text}` in string',
    help: 'valid escapes are `\\\\`, `\\"`, `\\n`, `\\t`, `\\r` and `\\u{...}`',
  },
  UnterminatedComment: {
    code: 'NVC1004',
    severity: 'error',
    summary: 'unterminated block comment',
    message: 'unterminated block comment',
    help: 'close the comment with `*/`',
  },
  InvalidNumber: {
    code: 'NVC1005',
    severity: 'error',
    summary: 'invalid number',
    message: 'invalid number `{text}`',
    help: 'numbers look like `7`, `0.5` or `1e-6`',
  },
  UnexpectedToken: {
    code: 'NVC1010',
    severity: 'error',
    summary: 'unexpected token',
    message: 'expected {expected} but found {found}',
  },
  UnclosedDelimiter: {
    code: 'NVC1011',
    severity: 'error',
    summary: 'unclosed delimiter',
    message: 'expected `{close}` to close `{open}` but found {found}',
  },
  ExpectedExpression: {
    code: 'NVC1012',
    severity: 'error',
    summary: 'expected an expression',
    message: 'expected an expression but found {found}',
  },
  MissingSettingEquals: {
    code: 'NVC1013',
    severity: 'error',
    summary: 'setting without `=`',
    message: 'expected `=` after `{key}` but found {found}',
    help: 'settings are written `key = value`, e.g. `{key} = ...`',
  },
  KeywordAsName: {
    code: 'NVC1014',
    severity: 'error',
    summary: 'keyword used as a name',
    message: '`{word}` is a keyword and cannot be used as a name',
    help: 'choose another name, e.g. `{word}_`',
  },
  ExpectedDeclaration: {
    code: 'NVC1015',
    severity: 'error',
    summary: 'stray token at top level',
    message: 'expected a declaration but found {found}',
    help: 'a file contains `import`, `const`, `block`, `model`, `dataset`, `train` and `variant` declarations',
  },
  MisplacedOutsideBlock: {
    ...misplacedMember,
    message: '`{word}` is not allowed outside a `block` or `model`',
    help: 'move it into the body of a `block` or `model`',
  },
  MisplacedStatementAtTop: {
    ...misplacedMember,
    message: '`{word}` is not allowed outside a `forward` body',
    help: 'statements go inside `forward(...) -> [...] { ... }` in a block',
  },
  MisplacedStageAtTop: {
    ...misplacedMember,
    message: '`{word}` is not allowed outside a `train` declaration',
    help: 'put stages inside `train Name on Dataset { ... }`',
  },
  MisplacedRemove: {
    ...misplacedMember,
    message: '`{word}` is not allowed outside a `variant`',
    help: 'write `variant name { remove ... }`',
  },
  MisplacedStatementInBlock: {
    ...misplacedMember,
    message: '`{word}` is not allowed directly in a block body',
    help: 'statements go inside `forward(...) -> [...] { ... }`',
  },
  MisplacedInForward: {
    ...misplacedMember,
    message: '`{word}` is not allowed inside a `forward` body',
    help: 'declare weights and `forward` directly in the block body',
  },
  MisplacedStage: {
    ...misplacedMember,
    message: '`{word}` is not allowed here',
    help: 'stages belong directly inside a `train` declaration',
  },
  DuplicateForward: {
    code: 'NVC1017',
    severity: 'error',
    summary: 'more than one `forward`',
    message: '`{name}` has more than one `forward`',
    help: 'a block has exactly one forward; remove or merge the extra one',
  },
  MissingReturnType: {
    code: 'NVC1018',
    severity: 'error',
    summary: '`forward` without `->` return type',
    message: 'expected `->` and a return type after the parameters of `forward` but found {found}',
    help: 'write the output shape, e.g. `forward(x: [B, C]) -> [B, C] { ... }`',
  },
  MissingSeparator: {
    code: 'NVC1019',
    severity: 'error',
    summary: 'two statements on one line',
    message: 'expected a newline or `;` before {found}',
    help: 'put each statement, setting or member on its own line, or separate them with `;`',
  },
  NestingTooDeep: {
    code: 'NVC1020',
    severity: 'error',
    summary: 'nesting too deep',
    message: 'nesting too deep: more than {limit} {what}',
    help: 'split the expression with `let` or `const`',
  },
  UnexpectedMember: {
    code: 'NVC1021',
    severity: 'error',
    summary: 'unexpected token in a block body',
    message: 'expected a layer, `weight` or `forward` in the body of `{name}` but found {found}',
    help: 'a block body holds layers (`name = Layer(...)`), `weight` declarations and one `forward`',
  },
  MissingForward: {
    code: 'NVC1022',
    severity: 'error',
    summary: 'block without `forward`',
    message: '`{name}` has no `forward`',
    help: 'add `forward(x: [...]) -> [...] { ... }` to say how inputs become outputs',
  },
  MisplacedImport: {
    code: 'NVC1023',
    severity: 'error',
    summary: 'import after declarations',
    message: '`import` must come before all other declarations',
    help: 'move this import to the top of the file',
  },
  InternalParserError: {
    code: 'NVC1099',
    severity: 'error',
    summary: 'internal error in the parser',
    message: 'internal error in the parser: {exceptionMessage}',
    help: 'this is a bug in nvcc, not in your file; please report it with the file attached',
  },
} as const satisfies Record<string, CatalogueEntry>;

/** Both tables merged: the whole catalogue. */
export const catalogue = { ...syntaxCatalogue, ...semanticCatalogue } as const;

export function catalogueEntries(): readonly CatalogueEntry[] {
  return [
    ...Object.values(syntaxCatalogue as Record<string, CatalogueEntry>),
    ...Object.values(semanticCatalogue as Record<string, CatalogueEntry>),
  ];
}

export function entryForCode(code: string): CatalogueEntry | undefined {
  return catalogueEntries().find((e) => e.code === code);
}

export type { ArgsOf, CatalogueMessage, DiagnosticKind, MessageArg } from './catalogue-types.js';

export type MessageArgs = Readonly<Record<string, MessageArg>>;

/** Substitutes `{name}` placeholders; an unknown placeholder is left visible so tests catch it. */
export function fillTemplate(template: string, args: MessageArgs): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) =>
    Object.hasOwn(args, name) ? formatArg(args[name]!) : whole,
  );
}

function formatArg(arg: MessageArg): string {
  return typeof arg === 'object' ? messageText(arg) : String(arg);
}

/** The one-line message text of a message built by `message` or `semantic`. */
export function messageText(msg: CatalogueMessage): string {
  return fillTemplate(msg.entry.message, msg.args);
}

/** An entry with its typed arguments, to be placed at a span later (`reportMessage`). */
export function message<E extends CatalogueEntry>(entry: E, ...[args]: ArgsParam<E>): CatalogueMessage {
  return { entry, args: (args ?? {}) as MessageArgs };
}

export interface ReportOptions {
  readonly primaryLabel?: string;
  readonly labels?: readonly Label[];
  /** Extra help lines after the entry's own help (e.g. "did you mean `X`?"). */
  readonly help?: readonly string[];
  readonly notes?: readonly string[];
  /** Replace the entry's default help instead of adding to it. */
  readonly replaceHelp?: boolean;
  readonly severity?: Severity;
}

/**
 * Builds a Diagnostic from a catalogue entry: the one way stages create diagnostics. The
 * arguments' type comes from the entry's templates, so free text has nowhere to go.
 */
export function report<E extends CatalogueEntry>(
  entry: E,
  span: Span,
  ...[args, options]: ArgsParam<E, [options?: ReportOptions]>
): Diagnostic {
  return reportMessage({ entry, args: (args ?? {}) as MessageArgs }, span, options);
}

/** Places a message built by `message` at a span. */
export function reportMessage(msg: CatalogueMessage, span: Span, options: ReportOptions = {}): Diagnostic {
  const { entry, args } = msg;
  const help: string[] = [];
  if (entry.help !== undefined && !options.replaceHelp) help.push(fillTemplate(entry.help, args));
  if (options.help) help.push(...options.help);
  const notes: string[] = [];
  if (entry.note !== undefined) notes.push(fillTemplate(entry.note, args));
  if (options.notes) notes.push(...options.notes);
  return {
    code: entry.code,
    severity: options.severity ?? entry.severity,
    message: fillTemplate(entry.message, args),
    span,
    ...(options.primaryLabel !== undefined ? { primaryLabel: options.primaryLabel } : {}),
    labels: options.labels ?? [],
    help,
    notes,
  };
}
