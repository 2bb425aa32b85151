import { describe, expect, it } from 'vitest';
import { report, syntaxCatalogue } from '../../dsl/diagnostics/catalogue.js';
import type { Diagnostic } from '../../dsl/diagnostics/diagnostic.js';
import { renderDiagnostic, renderDiagnostics, renderJson, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { SourceFile } from '../../dsl/span.js';

function setup(text: string) {
  const file = new SourceFile('m.nvc', text);
  const lookup = (p: string) => (p === 'm.nvc' ? file : undefined);
  return { file, lookup };
}

const plain = (d: Diagnostic, lookup: (p: string) => SourceFile | undefined) =>
  renderDiagnostic(d, lookup, { color: false });

describe('rustc-style rendering', () => {
  it('underlines the primary span with carets, its label, and help', () => {
    const { file, lookup } = setup('const a = 1\nconst b = 4 × 2\n');
    const d = report(syntaxCatalogue.UnexpectedCharacter, file.span(24, 25), { text: '×' }, { primaryLabel: 'here' });
    expect(plain(d, lookup)).toBe(
      [
        'error[NVC1001]: unexpected character `×`',
        ' --> m.nvc:2:13',
        '  |',
        '2 | const b = 4 × 2',
        '  |             ^ here',
        '  |',
        '  = help: names use ASCII letters, digits and `_`; remove the character or put it inside a string',
        '',
      ].join('\n'),
    );
  });

  it('shows secondary labels on other lines with dashes, in source order, eliding distant lines', () => {
    const text = 'block A {\n  forward() -> [B] { return x }\n  a = 1\n  b = 2\n  forward() -> [B] { return x }\n}\n';
    const { file, lookup } = setup(text);
    const second = text.lastIndexOf('forward');
    const first = text.indexOf('forward');
    const d = report(
      syntaxCatalogue.DuplicateForward,
      file.span(second, second + 7),
      { name: 'A' },
      {
        labels: [{ span: file.span(first, first + 7), message: 'first `forward` here' }],
      },
    );
    expect(plain(d, lookup)).toBe(
      [
        'error[NVC1017]: `A` has more than one `forward`',
        ' --> m.nvc:5:3',
        '  |',
        '2 |   forward() -> [B] { return x }',
        '  |   ------- first `forward` here',
        '...',
        '5 |   forward() -> [B] { return x }',
        '  |   ^^^^^^^',
        '  |',
        '  = help: a block has exactly one forward; remove or merge the extra one',
        '',
      ].join('\n'),
    );
  });

  it('underlines every line of a multi-line span and puts the label on the last', () => {
    const text = 'x = f(a,\n      b,\n      c)\n';
    const { file, lookup } = setup(text);
    const d = report(
      syntaxCatalogue.ExpectedExpression,
      file.span(4, text.indexOf(')') + 1),
      { found: '`)`' },
      { primaryLabel: 'this call' },
    );
    expect(plain(d, lookup)).toBe(
      [
        'error[NVC1012]: expected an expression but found `)`',
        ' --> m.nvc:1:5',
        '  |',
        '1 | x = f(a,',
        '  |     ^^^^',
        '2 |       b,',
        '  |       ^^',
        '3 |       c)',
        '  |       ^^ this call',
        '  |',
        '',
      ].join('\n'),
    );
  });

  it('expands tabs so the caret stays under the text', () => {
    const { file, lookup } = setup('\tlet x = 1 +\n');
    const d = report(syntaxCatalogue.ExpectedExpression, file.span(11, 12), { found: 'end of line' });
    const lines = plain(d, lookup).split('\n');
    expect(lines[3]).toBe('1 |     let x = 1 +');
    expect(lines[4]).toBe('  |               ^');
    expect(lines[1]).toBe(' --> m.nvc:1:12');
  });

  it('handles CRLF line ends without printing carriage returns', () => {
    const { file, lookup } = setup('a = 1\r\nb = "x\r\nc = 2\r\n');
    const d = report(syntaxCatalogue.UnterminatedString, file.span(11, 13));
    const out = plain(d, lookup);
    expect(out).not.toContain('\r');
    expect(out).toContain('2 | b = "x\n  |     ^^\n');
    expect(out).toContain(' --> m.nvc:2:5');
  });

  it('shows an empty span at the end of the file as one caret after the last character', () => {
    const { file, lookup } = setup('const x = (1 +');
    const d = report(
      syntaxCatalogue.UnclosedDelimiter,
      file.span(14, 14),
      { open: '(', close: ')', found: 'end of file' },
      {
        labels: [{ span: file.span(10, 11), message: 'unclosed `(` opened here' }],
      },
    );
    expect(plain(d, lookup)).toBe(
      [
        'error[NVC1011]: expected `)` to close `(` but found end of file',
        ' --> m.nvc:1:15',
        '  |',
        '1 | const x = (1 +',
        '  |           - unclosed `(` opened here',
        '  |               ^',
        '  |',
        '',
      ].join('\n'),
    );
  });

  it('shows a span after a final newline on the empty last line', () => {
    const { file, lookup } = setup('block A {\n');
    const d = report(syntaxCatalogue.UnclosedDelimiter, file.span(10, 10), {
      open: '{',
      close: '}',
      found: 'end of file',
    });
    expect(plain(d, lookup)).toContain(' --> m.nvc:2:1\n  |\n2 |\n  | ^\n');
  });

  it('renders diagnostics of unknown files without source', () => {
    const d = report(syntaxCatalogue.UnterminatedComment, { file: 'gone.nvc', start: 0, end: 2 });
    expect(plain(d, () => undefined)).toBe(
      'error[NVC1004]: unterminated block comment\n --> gone.nvc\n  = help: close the comment with `*/`\n',
    );
  });

  it('colours only on request', () => {
    const { file, lookup } = setup('x\n');
    const d = report(syntaxCatalogue.UnterminatedComment, file.span(0, 1));
    expect(renderDiagnostic(d, lookup, { color: true })).toContain('\u001b[');
    expect(renderDiagnostic(d, lookup, { color: false })).not.toContain('\u001b[');
  });

  it('turns colour off for non-TTYs and when NO_COLOR is set', () => {
    const saved = process.env['NO_COLOR'];
    try {
      delete process.env['NO_COLOR'];
      expect(shouldUseColor({ isTTY: true })).toBe(true);
      expect(shouldUseColor({ isTTY: false })).toBe(false);
      process.env['NO_COLOR'] = '1';
      expect(shouldUseColor({ isTTY: true })).toBe(false);
    } finally {
      if (saved === undefined) delete process.env['NO_COLOR'];
      else process.env['NO_COLOR'] = saved;
    }
  });

  it('ends a list with a count', () => {
    const { file, lookup } = setup('x\n');
    const d = report(syntaxCatalogue.UnterminatedComment, file.span(0, 1));
    expect(renderDiagnostics([d, d], lookup, { color: false })).toMatch(/\n2 errors reported\n$/);
    expect(renderDiagnostics([], lookup)).toBe('');
  });
});

describe('JSON rendering', () => {
  it('gives 1-based positions, labels, help and notes', () => {
    const { file, lookup } = setup('ab\ncd(e\n');
    const d = report(
      syntaxCatalogue.UnclosedDelimiter,
      file.span(7, 7),
      { open: '(', close: ')', found: 'end of file' },
      {
        labels: [{ span: file.span(5, 6), message: 'opened here' }],
        notes: ['a note'],
      },
    );
    expect(JSON.parse(renderJson([d], lookup))).toEqual({
      diagnostics: [
        {
          code: 'NVC1011',
          severity: 'error',
          message: 'expected `)` to close `(` but found end of file',
          file: 'm.nvc',
          line: 2,
          column: 5,
          endLine: 2,
          endColumn: 5,
          labels: [{ file: 'm.nvc', line: 2, column: 3, endLine: 2, endColumn: 4, message: 'opened here' }],
          help: [],
          notes: ['a note'],
        },
      ],
    });
  });
});
