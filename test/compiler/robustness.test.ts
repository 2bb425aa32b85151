import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';

// Mutated versions of real programs go through the whole checker: it must never throw, and
// every diagnostic must have a span inside a file the run read.
const sources = [
  'test/fixtures/diagnostics/decl-handover-mismatch.nvc',
  'test/compiler/fixtures/block.nvc',
  'test/fixtures/diagnostics/shapes-tokens-help.nvc',
].map((p) => ({ p, text: readFileSync(p, 'utf8') }));

const words = [
  'dim',
  'B',
  'H',
  '0',
  '-1',
  '3.5',
  '1e9',
  'Linear',
  'Conv2d',
  'pretrain',
  'enc',
  'x',
  '[',
  ']',
  '(',
  ')',
  ',',
  '=',
  '>>',
  '|>',
  'repeat',
  'sparse',
  '""',
  'int',
  'float[]',
  'tokens',
  'attention',
  'for',
  'in',
  '0..4',
  '/',
  '*',
];

function mutate(text: string, ops: { kind: number; at: number; len: number; word: number }[]): string {
  let t = text;
  for (const op of ops) {
    const at = op.at % (t.length + 1);
    const w = words[op.word % words.length]!;
    if (op.kind === 0) t = t.slice(0, at) + t.slice(at + op.len);
    else if (op.kind === 1) t = t.slice(0, at) + ' ' + w + ' ' + t.slice(at);
    else t = t.slice(0, at) + w + t.slice(at + op.len);
  }
  return t;
}

describe('the checker on mutated programs', () => {
  it('never throws and keeps spans inside files', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: sources.length - 1 }),
        fc.array(
          fc.record({
            kind: fc.integer({ min: 0, max: 2 }),
            at: fc.nat(),
            len: fc.integer({ min: 1, max: 12 }),
            word: fc.nat(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (i, ops) => {
          const src = sources[i]!;
          const r = compileProgramSync(src.p, { text: mutate(src.text, ops) });
          for (const d of r.diagnostics) {
            const f = r.files.get(d.span.file);
            expect(f, `${d.code} ${d.message}: span file ${d.span.file}`).toBeDefined();
            expect(d.span.start).toBeGreaterThanOrEqual(0);
            expect(d.span.end).toBeLessThanOrEqual(f!.text.length);
            expect(d.span.start).toBeLessThanOrEqual(d.span.end);
          }
        },
      ),
      { numRuns: 250, seed: 42 },
    );
  });
});
