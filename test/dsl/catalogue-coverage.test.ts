/**
 * Every catalogue entry (each specific message, not only each code) is shown by a golden
 * fixture, or is listed below with the reason it has none. The list must match exactly: a new
 * entry without a fixture fails, and so does a listed entry that a fixture now shows.
 */
import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { type CatalogueEntry, catalogueEntries } from '../../dsl/diagnostics/catalogue.js';
import type { Diagnostic } from '../../dsl/diagnostics/diagnostic.js';
import { listFixtures, runFrontEnd } from '../harness/diagnostics.js';

/** Entries no fixture shows, with the reason. Keep it short; remove an entry when a fixture shows it. */
const NOT_SHOWN = new Map<string, string>([
  ['NVC1099 internal error in the parser: {exceptionMessage}', 'a bug in nvcc; test/dsl/parse.test.ts forces it'],
  ['NVC3002 `{callee}` takes no named tensor inputs', 'named arguments of a primitive bind its parameters first'],
  ['NVC3002 `{callee}` has no forward', 'a block without `forward` is refused by the parser (NVC1022)'],
  ['NVC3002 a layer list needs an input', 'a chain is always applied to at least one tensor'],
  ['NVC4007 `{name}` is applied to tensors only inside a forward body', 'tensors exist only inside forward'],
  [
    'NVC4008 cannot evaluate at compile time: {left} / {right} is not an exact division of dimensions',
    'symbolic dimensions divide into fractions that are checked later (NVC3006)',
  ],
  ['NVC4008 cannot evaluate at compile time: unknown helper `{name}`', 'the helper names are a closed set'],
  ['NVC4011 nesting too deep: more than {limit} levels of layers inside layers', 'no fixture yet (limits)'],
  [
    'NVC4020 `{callee}` with `{name} = {value}` is not supported by the {target} target',
    'no record refuses an argument on tfjs or torch since grouped and strided convolutions run on both (issue 14)',
  ],
  ["NVC5101 the weight `{name}` of `{owner}` would shadow torch.nn.Module's own `{name}`", 'no fixture yet (torch)'],
  ['NVC5101 the torch target has no initializer `{init}` (weight `{name}`)', 'no fixture yet (torch target)'],
  ['NVC5101 the torch target has no lowering of the primitive `{primitive}`', 'no fixture yet (torch target)'],
]);

const key = (e: CatalogueEntry) => `${e.code} ${e.message}`;

function templatePattern(template: string): RegExp {
  const parts = template.split(/\{[A-Za-z_][A-Za-z0-9_]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('(.+?)')}$`, 's');
}

/** The entries a message text comes from, including entries nested in its arguments. */
function entriesOfMessage(
  text: string,
  code: string | undefined,
  entries: readonly CatalogueEntry[],
): CatalogueEntry[] {
  const found: CatalogueEntry[] = [];
  for (const e of entries) {
    if (code !== undefined && e.code !== code) continue;
    const m = templatePattern(e.message).exec(text);
    if (!m) continue;
    found.push(e);
    for (const group of m.slice(1)) found.push(...entriesOfMessage(group!, undefined, entries));
  }
  return found;
}

/** The entries a diagnostic was built from: its message, and its own help and note lines. */
function entriesOf(d: Diagnostic, entries: readonly CatalogueEntry[]): CatalogueEntry[] {
  return entriesOfMessage(d.message, d.code, entries).filter(
    (e) =>
      e.code !== d.code ||
      ((e.help === undefined || d.help.some((h) => templatePattern(e.help!).test(h))) &&
        (e.note === undefined || d.notes.some((n) => templatePattern(e.note!).test(n)))),
  );
}

describe('catalogue entries shown by fixtures', () => {
  it('every entry has a fixture or a stated reason, and the list of reasons is exact', async () => {
    const entries = catalogueEntries();
    const diagnostics: Diagnostic[] = [];
    for (const path of listFixtures('test/fixtures/diagnostics'))
      diagnostics.push(...(await runFrontEnd(path)).diagnostics);
    // Two entries only the command line reaches: a missing entry file and an unknown --variant.
    diagnostics.push(...compileProgramSync('test/fixtures/diagnostics/no-such-file.nvc').diagnostics);
    diagnostics.push(
      ...compileProgramSync('test/fixtures/diagnostics/decl-variant-kinds.nvc', { variant: 'nope' }).diagnostics,
    );
    const shown = new Set(diagnostics.flatMap((d) => entriesOf(d, entries).map(key)));
    const notShown = entries.map(key).filter((k) => !shown.has(k));
    expect(notShown).toEqual([...NOT_SHOWN.keys()]);
  });
});
