/**
 * Property test of the front end: whatever the input, `parse` returns (never throws, never
 * overflows the stack), and every span it reports (diagnostics, labels, AST nodes) lies inside
 * the file. Rendering its diagnostics never throws either. Inputs: truncations and token-level
 * mutations of real specs, random unicode and random token soup, and very deep nesting. 2,050
 * runs in total, from a fixed seed (FUZZ_SEED=n explores others), so a run is reproducible and
 * does not depend on machine load; parse speed is measured by bench/check-time.ts, not here.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from '../../dsl/index.js';
import { renderDiagnostics, renderJson } from '../../dsl/diagnostics/render.js';
import { SourceFile, type Span } from '../../dsl/span.js';

const FILE = 'fuzz.nvc';
const seed = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : 20_261_128;

function corpus(): string[] {
  const texts: string[] = [];
  for (const dir of ['test/fixtures/clean', 'test/fixtures/diagnostics', 'examples', 'std']) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.nvc')) continue;
      const text = readFileSync(join(dir, name), 'utf8');
      if (text.length < 20_000) texts.push(text);
    }
  }
  return texts;
}

const programs = corpus();

/** Splits text into tokens and the whitespace between them, so mutations keep text plausible. */
function pieces(text: string): string[] {
  return text.match(/\s+|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:e-?\d+)?|"[^"\n]*"|\/\/[^\n]*|->|\|>|>>|\.\.|\*\*|[^\s]/g) ?? [];
}

const grammarPieces = [
  'block',
  'model',
  'forward',
  'weight',
  'frozen',
  'sparse',
  'let',
  'return',
  'for',
  'in',
  'if',
  'then',
  'else',
  'repeat',
  'as',
  'dataset',
  'train',
  'on',
  'stage',
  'variant',
  'extends',
  'remove',
  'import',
  'from',
  'const',
  'and',
  'or',
  'not',
  'true',
  'false',
  'div',
  'x',
  'B',
  'Linear',
  'dim',
  '7',
  '0.5',
  '1e-6',
  '1e',
  '"s"',
  '"\\q"',
  '"open',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  ';',
  '=',
  '==',
  '->',
  '|>',
  '>>',
  '..',
  '+',
  '-',
  '*',
  '/',
  '**',
  '%',
  '<',
  '.',
  '\n',
  ' ',
  '\t',
  '\r\n',
  '//c\n',
  '/*',
  '*/',
  '///d\n',
  '€',
  '\u0000',
  '\ud800',
];

function assertWithin(span: Span, length: number, what: string): void {
  if (
    !(
      span.file === FILE &&
      Number.isInteger(span.start) &&
      Number.isInteger(span.end) &&
      0 <= span.start &&
      span.start <= span.end &&
      span.end <= length
    )
  ) {
    throw new Error(`${what} span out of file (length ${length}): ${JSON.stringify(span)}`);
  }
}

/** Checks every `span`-like field of the AST, iteratively (the AST may be deep). */
function assertAstSpans(root: unknown, length: number): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      stack.push(...v);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    for (const [k, child] of Object.entries(v)) {
      if ((k === 'span' || k === 'opSpan') && typeof child === 'object' && child !== null)
        assertWithin(child as Span, length, `AST ${k}`);
      else stack.push(child);
    }
  }
}

function check(text: string): void {
  const file = new SourceFile(FILE, text);
  const result = parse(file);
  for (const d of result.diagnostics) {
    assertWithin(d.span, text.length, d.code);
    for (const l of d.labels) assertWithin(l.span, text.length, `${d.code} label`);
    if (!/^NVC1\d{3}$/.test(d.code)) throw new Error(`unexpected code ${d.code}`);
  }
  assertAstSpans(result.module, text.length);
  renderDiagnostics(result.diagnostics, (p) => (p === FILE ? file : undefined), { color: false });
  renderJson(result.diagnostics, (p) => (p === FILE ? file : undefined));
}

const program = fc.constantFrom(...programs);

const mutation = fc.oneof(
  fc.record({ op: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ op: fc.constant('delete' as const), i: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), i: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), i: fc.nat(), piece: fc.constantFrom(...grammarPieces) }),
);

interface Mutation {
  readonly op: string;
  readonly i: number;
  readonly j?: number;
  readonly piece?: string;
}

function mutate(text: string, ops: readonly Mutation[]): string {
  const toks = pieces(text);
  for (const m of ops) {
    if (toks.length === 0) break;
    const i = m.i % toks.length;
    if (m.op === 'swap') {
      const j = (m.j ?? 0) % toks.length;
      [toks[i], toks[j]] = [toks[j]!, toks[i]!];
    } else if (m.op === 'delete') toks.splice(i, 1);
    else if (m.op === 'duplicate') toks.splice(i, 0, toks[i]!);
    else toks.splice(i, 0, m.piece ?? '');
  }
  return toks.join('');
}

const opts = (numRuns: number) => ({ numRuns, seed });

describe('parse never throws and keeps spans inside the file', () => {
  it('uses a corpus of real specs', () => {
    expect(programs.length).toBeGreaterThan(5);
  });

  it('on truncations of valid programs (500 runs)', () => {
    fc.assert(
      fc.property(program, fc.nat(), (text, cut) => check(text.slice(0, cut % (text.length + 1)))),
      opts(500),
    );
  });

  it('on programs with swapped, deleted, duplicated and inserted tokens (700 runs)', () => {
    fc.assert(
      fc.property(program, fc.array(mutation, { minLength: 1, maxLength: 6 }), (text, ops) => check(mutate(text, ops))),
      opts(700),
    );
  });

  it('on random unicode (300 runs)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), check), opts(300));
  });

  it('on random token soup (400 runs)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...grammarPieces), { maxLength: 200 }), (parts) => check(parts.join(' '))),
      opts(400),
    );
  });

  it('on deep nesting of brackets, blocks and prefix constructs (150 runs)', () => {
    const kinds = [
      '(',
      '[',
      '{',
      '([{',
      '- ',
      'not ',
      'repeat 2 ',
      'if a then ',
      'x ** ',
      'block A { forward() -> [B] { for i in r { ',
      'f(',
      'a + ',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 1, max: 3000 }), fc.boolean(), (kind, depth, close) => {
        const closing = close
          ? kind
              .replace(/[^([{]/g, '')
              .split('')
              .reverse()
              .map((c) => ({ '(': ')', '[': ']', '{': '}' })[c])
              .join('')
          : '';
        check('const x = ' + kind.repeat(depth) + '1' + closing.repeat(depth));
      }),
      opts(150),
    );
  });

  it('reports deep nesting as a diagnostic, not a crash', () => {
    const text = 'const x = ' + '('.repeat(5000) + '1' + ')'.repeat(5000);
    const r = parse(new SourceFile(FILE, text));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['NVC1020']);
  });
});
