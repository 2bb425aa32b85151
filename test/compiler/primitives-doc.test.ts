import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRIMITIVES } from '../../compiler/primitives/index.js';
import {
  PRIMITIVES_DOC_PATH,
  primitiveSignature,
  renderPrimitivesReference,
} from '../../compiler/primitives/reference.js';
import { repoRoot } from '../harness/diagnostics.js';

describe('docs/primitives.md', () => {
  it('is what the primitive records generate (run `npm run gen:primitives-doc` after changing a record)', () => {
    const onDisk = readFileSync(resolve(repoRoot, PRIMITIVES_DOC_PATH), 'utf8');
    expect(onDisk).toBe(renderPrimitivesReference());
  });

  it('has a section with signature, shape, MACs and PyTorch equivalent for every record', () => {
    const text = renderPrimitivesReference();
    for (const r of PRIMITIVES.values()) {
      const start = text.indexOf(`### \`${r.name}\`\n`);
      expect(start, r.name).toBeGreaterThan(0);
      const next = text.indexOf('\n### ', start + 1);
      const body = text.slice(start, next < 0 ? undefined : next);
      expect(body, r.name).toContain(primitiveSignature(r));
      for (const field of ['- **shape:** ', '- **MACs:** ', '- **PyTorch:** ']) expect(body, r.name).toContain(field);
      for (const text of Object.values(r.reference)) expect(text.trim().length, r.name).toBeGreaterThan(0);
      for (const p of r.params) expect(body, `${r.name}.${p.name}`).toContain(`| \`${p.name}\` |`);
    }
  });

  it('writes signatures with types and defaults', () => {
    expect(primitiveSignature(PRIMITIVES.get('Conv2d')!)).toBe(
      'Conv2d(in: int, out: int, kernel: int, stride: int = 1, padding: same | valid | int | int[2] | int[4] = ' +
        'valid, dilation: int = 1, groups: int = 1, bias: bool = true) applied to x',
    );
    expect(primitiveSignature(PRIMITIVES.get('softmax')!)).toBe('softmax(x, axis: int = -1)');
    expect(primitiveSignature(PRIMITIVES.get('LayerNorm')!)).toBe(
      'LayerNorm(dim: int, eps: float = 1e-6) applied to x',
    );
  });

  it('a stale file fails the comparison', () => {
    const stale = renderPrimitivesReference().replace('2-D convolution', '2-D konvolution');
    expect(stale).not.toBe(renderPrimitivesReference());
  });
});
