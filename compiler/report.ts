/**
 * Collecting semantic diagnostics.
 * In: an entry of dsl/diagnostics/catalogue-semantic.ts with the arguments its templates name
 * (checked by tsc), a primary span and optional labels/help/notes. Out: Diagnostic values
 * (built by the catalogue's `reportMessage`) collected in a `Reporter`. Holds afterwards: identical
 * diagnostics (same code, span and message, e.g. from two instances of one block) are kept once.
 */
import { typoDistance } from '../dsl/diagnostics/suggest.js';
import type { Diagnostic, Label } from '../dsl/diagnostics/diagnostic.js';
import { type CatalogueMessage, type MessageArgs, reportMessage } from '../dsl/diagnostics/catalogue.js';
import { semanticCatalogue, type SemanticCode } from '../dsl/diagnostics/catalogue-semantic.js';
import type { ArgsParam } from '../dsl/diagnostics/catalogue-types.js';
import type { Span } from '../dsl/span.js';

export interface ReportExtras {
  readonly label?: string;
  readonly labels?: readonly Label[];
  readonly help?: readonly (string | undefined)[];
  readonly notes?: readonly string[];
}

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  /** Reports the entry `kind` with exactly the arguments its templates name. */
  error<K extends SemanticCode>(
    kind: K,
    span: Span,
    ...[args, extras]: ArgsParam<(typeof semanticCatalogue)[K], [extras?: ReportExtras]>
  ): void {
    this.raise({ entry: semanticCatalogue[kind], args: (args ?? {}) as MessageArgs }, span, extras);
  }

  /** Reports a message built earlier with `semantic` (e.g. a shape rule's verdict). */
  raise(msg: CatalogueMessage, span: Span, extras: ReportExtras = {}): void {
    const d = reportMessage(msg, span, {
      ...(extras.label !== undefined ? { primaryLabel: extras.label } : {}),
      labels: extras.labels ?? [],
      help: (extras.help ?? []).filter((h): h is string => typeof h === 'string' && h.length > 0),
      notes: extras.notes ?? [],
    });
    const key = `${d.code}|${span.file}|${span.start}|${span.end}|${d.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.diagnostics.push(d);
  }

  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }
}

/** A semantic catalogue message with its typed arguments, to be reported later with `raise`. */
export function semantic<K extends SemanticCode>(
  kind: K,
  ...[args]: ArgsParam<(typeof semanticCatalogue)[K]>
): CatalogueMessage {
  return { entry: semanticCatalogue[kind], args: (args ?? {}) as MessageArgs };
}

/**
 * The closest candidate to `name` by edit distance, when close enough to be a plausible typo
 * (distance at most a third of the longer length, at least 1; case-only differences qualify).
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    if (c === name || c.length === 0) continue;
    const score = c.toLowerCase() === lower ? 0.5 : typoDistance(name, c);
    if (score < bestScore || (score === bestScore && best !== undefined && c < best)) {
      best = c;
      bestScore = score;
    }
  }
  if (best === undefined) return undefined;
  // One- and two-letter names only match by case: any other suggestion would be noise.
  const limit = name.length <= 2 ? 0.5 : Math.max(1, Math.floor(Math.max(name.length, best.length) / 3));
  return bestScore <= limit ? best : undefined;
}

/** "did you mean `X`?" or undefined. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const c = closest(name, candidates);
  return c === undefined ? undefined : `did you mean \`${c}\`?`;
}
