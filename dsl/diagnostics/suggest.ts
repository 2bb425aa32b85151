/**
 * "Did you mean" suggestions for misspelt names.
 * In: the name the user wrote and the names in scope. Out: help lines, best first.
 * Holds afterwards: a suggestion is offered only when it is plausibly a typo (edit distance
 * small relative to the length), and a case-only difference is said so explicitly, since
 * names are case-sensitive (`layernorm` vs `LayerNorm`).
 */
import { distance } from 'fastest-levenshtein';

export interface Suggestion {
  readonly name: string;
  readonly distance: number;
  /** True when the candidate differs from the input only in letter case. */
  readonly caseOnly: boolean;
}

/** Largest edit distance accepted for a name of this length. */
function threshold(length: number): number {
  if (length <= 2) return 1;
  if (length <= 5) return 2;
  return Math.max(2, Math.floor(length / 3));
}

/** Candidates close to `name`, best first (case-only matches first, then by distance, then name). */
export function closestNames(name: string, candidates: Iterable<string>, max = 3): Suggestion[] {
  const seen = new Set<string>();
  const found: Suggestion[] = [];
  const lower = name.toLowerCase();
  for (const c of candidates) {
    if (c === name || seen.has(c)) continue;
    seen.add(c);
    const caseOnly = c.toLowerCase() === lower;
    const d = caseOnly ? 0 : distance(lower, c.toLowerCase());
    const limit = threshold(Math.max(name.length, c.length));
    if (caseOnly || d <= limit) found.push({ name: c, distance: d, caseOnly });
  }
  found.sort(
    (a, b) =>
      Number(b.caseOnly) - Number(a.caseOnly) ||
      a.distance - b.distance ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return found.slice(0, max);
}

/** Help lines for a misspelt name: "did you mean `X`?" (+ case note), or nothing. */
export function didYouMean(name: string, candidates: Iterable<string>): string[] {
  const best = closestNames(name, candidates);
  const first = best[0];
  if (!first) return [];
  if (first.caseOnly) return [`did you mean \`${first.name}\`? names are case-sensitive`];
  if (best.length === 1) return [`did you mean \`${first.name}\`?`];
  const others = best
    .slice(1)
    .map((s) => `\`${s.name}\``)
    .join(', ');
  return [`did you mean \`${first.name}\`? (or ${others})`];
}
