/**
 * Diagnostics as data.
 * In: a catalogue entry (code + message template), a primary span and arguments, from any
 * stage. Out: a Diagnostic value; rendering lives in render.ts. Holds afterwards: stages report
 * user errors by returning Diagnostics, never by throwing, and every Diagnostic has a span
 * inside its file.
 */
import type { Span } from '../span.js';

export type Severity = 'error' | 'warning' | 'note';

export interface Label {
  readonly span: Span;
  /** e.g. "first defined here", "this produces [B, 26, 26, 8]" */
  readonly message: string;
}

export interface Diagnostic {
  /** Stable code, `NVC` + 4 digits: 1xxx syntax, 2xxx names, 3xxx shapes, 4xxx arguments/types,
   *  5xxx cross-declaration checks (stages, dataset, masks), 9xxx internal. */
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  /** The primary location; the caret points here. */
  readonly span: Span;
  /** Text shown under the primary caret. */
  readonly primaryLabel?: string;
  readonly labels: readonly Label[];
  /** `help:` lines: how to fix it, including "did you mean `X`?". */
  readonly help: readonly string[];
  /** `note:` lines: context. */
  readonly notes: readonly string[];
}
