/**
 * "Did you mean" suggestions for misspelt names.
 * In: the name the user wrote and the names in scope. Out: help lines, best first.
 * Holds afterwards: a suggestion is offered only when it is plausibly a typo (edit distance
 * small relative to the length), and a case-only difference is said so explicitly, since
 * names are case-sensitive (`layernorm` vs `LayerNorm`).
 */
import { distance } from 'fastest-levenshtein';

/**
 * Edit distance that counts swapping two neighbouring letters as one edit (optimal string
 * alignment), the commonest typo (`dmeo` for `demo`); plain Levenshtein counts it as two.
 */
export function typoDistance(a: string, b: string): number {
  if (a === b) return 0;
  // Levenshtein is an upper bound and far faster: only short names need the transposition pass.
  const plain = distance(a, b);
  if (plain <= 1 || a.length > 64 || b.length > 64) return plain;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

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
    const d = caseOnly ? 0 : typoDistance(lower, c.toLowerCase());
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
