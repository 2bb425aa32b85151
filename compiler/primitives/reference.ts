/**
 * docs/primitives.md, generated from the primitive records.
 * In: the registry (`PRIMITIVES`). Out: `renderPrimitivesReference()`, the Markdown text of the
 * reference (per primitive its signature, parameters, shape rule, MACs, semantics and PyTorch
 * equivalent), and `primitiveSignature`. Holds afterwards: the text depends on the records alone,
 * so `npm run gen:primitives-doc` rewrites the file and test/compiler/primitives-doc.test.ts fails
 * while the checked-in file differs (a record added or changed without regenerating).
 */
import { PRIMITIVES } from './index.js';
import type { ParamSchema, ParamValue, PrimitiveRecord } from './types.js';

export const PRIMITIVES_DOC_PATH = 'docs/primitives.md';

function formatValue(v: ParamValue, type: ParamSchema['type']): string {
  switch (v.kind) {
    case 'int':
      return String(v.value);
    case 'float':
      if (v.value !== 0 && Math.abs(v.value) < 1e-3) return v.value.toExponential();
      return Number.isInteger(v.value) && type === 'float' ? v.value.toFixed(1) : String(v.value);
    case 'bool':
      return String(v.value);
    case 'word':
      return v.name;
    case 'list':
      return `[${v.items.map((x) => formatValue(x, type)).join(', ')}]`;
  }
}

function formatType(p: ParamSchema): string {
  if (p.type === 'size')
    return [...(p.enumValues ?? []), 'int', ...(p.lengths ?? [2]).map((n) => `int[${n}]`)].join(' | ');
  return p.type === 'enum' && p.enumValues ? p.enumValues.join(' | ') : p.type;
}

function formatRange(p: ParamSchema): string {
  const parts: string[] = [];
  if (p.min !== undefined) parts.push(`>= ${p.min}`);
  if (p.above !== undefined) parts.push(`> ${p.above}`);
  if (p.max !== undefined) parts.push(`<= ${p.max}`);
  if (p.below !== undefined) parts.push(`< ${p.below}`);
  return parts.join(', ');
}

/** `Conv2d(in: int, ..., stride: int = 1)` for a layer; `softmax(x, axis: int = -1)` for a function. */
export function primitiveSignature(r: PrimitiveRecord): string {
  const params = r.params.map(
    (p) => `${p.name}: ${formatType(p)}${p.default ? ` = ${formatValue(p.default, p.type)}` : ''}`,
  );
  const tensors = [...r.inputs, ...(r.optionalInputs ?? []).map((n) => `${n}?`)];
  if (r.kind === 'layer') return `${r.name}(${params.join(', ')}) applied to ${tensors.join(', ')}`;
  return `${r.name}(${[...tensors, ...params].join(', ')})`;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

function section(r: PrimitiveRecord): string[] {
  const out = [`### \`${r.name}\``, '', `${r.doc}.`.replace(/\.\.$/, '.'), '', '```', primitiveSignature(r), '```', ''];
  if (r.params.length) {
    out.push('| parameter | type | default | range | meaning |', '|---|---|---|---|---|');
    for (const p of r.params) {
      const byDefault = p.default ? `\`${formatValue(p.default, p.type)}\`` : 'required';
      out.push(`| \`${p.name}\` | ${cell(formatType(p))} | ${byDefault} | ${cell(formatRange(p))} | ${cell(p.doc)} |`);
    }
    out.push('');
  }
  out.push(`- **shape:** ${r.reference.shape}`);
  out.push(`- **MACs:** ${r.reference.macs}`);
  out.push(`- **PyTorch:** ${r.reference.pytorch}`);
  if (r.torchAliases.length)
    out.push(`- **PyTorch names that suggest it:** ${r.torchAliases.map((a) => `\`${a}\``).join(', ')}`);
  out.push('');
  return out;
}

export function renderPrimitivesReference(): string {
  const records = [...PRIMITIVES.values()];
  const layers = records.filter((r) => r.kind === 'layer');
  const functions = records.filter((r) => r.kind === 'function');
  const index = (rs: readonly PrimitiveRecord[]) =>
    rs.map((r) => `| [\`${r.name}\`](#${r.name.toLowerCase()}) | ${cell(r.reference.pytorch)} |`);
  return [
    '# Primitives',
    '',
    '<!-- Generated from compiler/primitives/ by `npm run gen:primitives-doc`; do not edit by hand. -->',
    '',
    'Every built-in layer and tensor function of the `.nvc` language, generated from its record in',
    '`compiler/primitives/` (test/compiler/primitives-doc.test.ts fails while this file is out of date).',
    'Activations are NHWC (`[B, H, W, C]`); tokens are `[B, N, C]`. A **layer** is constructed with its',
    'parameters in a block body (`conv = Conv2d(3, 96, kernel = 4, stride = 4)`) and then applied to',
    'tensors; a **function** is applied directly, its parameters given as named arguments',
    '(`mean(x, axes = [1, 2])`). MACs count multiply-accumulates of convolutions, linear layers, matmul and',
    'attention only (the fvcore convention); norms, activations and element-wise ops count 0. A PyTorch',
    'name written by mistake (`nn.GELU`, `Dropout`) gets "did you mean" the primitive that lists it.',
    '',
    '## Index',
    '',
    '| layer | PyTorch |',
    '|---|---|',
    ...index(layers),
    '',
    '| function | PyTorch |',
    '|---|---|',
    ...index(functions),
    '',
    '## Layers',
    '',
    ...layers.flatMap(section),
    '## Functions',
    '',
    ...functions.flatMap(section),
  ]
    .join('\n')
    .replace(/\n+$/, '\n');
}
