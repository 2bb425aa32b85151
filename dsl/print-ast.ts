/**
 * A stable, indented text form of the AST, for golden tests and `nvcc build --emit ast`.
 * In: any AST node (usually a Module) and optionally its SourceFile. Out: text, one node per
 * line: `Kind scalar=value ... @line:col-line:col`, children indented under `field:` headings.
 * Holds afterwards: the output depends only on the AST (field order is the order the builder
 * creates; spans print as line:col when the SourceFile is given, else as offsets).
 */
import type { Node } from './ast.js';
import type { SourceFile, Span } from './span.js';

function isSpan(v: unknown): v is Span {
  return typeof v === 'object' && v !== null && 'start' in v && 'end' in v && 'file' in v && !('kind' in v);
}

function isNode(v: unknown): v is { kind: string } {
  return typeof v === 'object' && v !== null && typeof (v as { kind?: unknown }).kind === 'string';
}

export function printAst(node: Node, file?: SourceFile): string {
  const lines: string[] = [];
  const where = (s: Span) => {
    if (!file) return `@${s.start}-${s.end}`;
    const a = file.lineCol(s.start);
    const b = file.lineCol(s.end);
    return `@${a.line}:${a.column}-${b.line}:${b.column}`;
  };
  const scalar = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

  const visit = (n: { kind: string }, indent: string, prefix: string) => {
    const entries = Object.entries(n).filter(([k]) => k !== 'kind' && k !== 'span' && k !== 'file');
    const head: string[] = [`${indent}${prefix}${n.kind}`];
    if (n.kind === 'Module') head.push(JSON.stringify((n as unknown as { file: string }).file));
    for (const [k, v] of entries) {
      if (v === undefined || isNode(v) || Array.isArray(v) || isSpan(v)) continue;
      head.push(`${k}=${scalar(v)}`);
    }
    const span = (n as { span?: Span }).span;
    if (span) head.push(where(span));
    for (const [k, v] of entries) if (isSpan(v)) head.push(`${k}${where(v)}`);
    lines.push(head.join(' '));
    const inner = indent + '  ';
    for (const [k, v] of entries) {
      if (isNode(v)) visit(v, inner, `${k}: `);
      else if (Array.isArray(v)) {
        if (v.length === 0) {
          lines.push(`${inner}${k}: []`);
          continue;
        }
        lines.push(`${inner}${k}:`);
        for (const item of v) {
          if (isNode(item)) visit(item, inner + '  ', '- ');
          else lines.push(`${inner}  - ${scalar(item)}`);
        }
      }
    }
  };
  visit(node, '', '');
  return lines.join('\n') + '\n';
}
