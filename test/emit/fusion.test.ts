/**
 * compiler/emit/fusion.ts: which forward graphs the TypeScript emitter lowers to `nv.grnBlock`.
 * The pattern is recognised by its ops, so a user block that writes GRN as std/convnextv2.nvc
 * does is fused too; anything that reads an intermediate of the pattern, or computes another
 * function, is emitted statement by statement. (That the fused call computes the same values and
 * gradients: test/runtime/grn-block.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { findFusions } from '../../compiler/emit/fusion.js';
import type { ForwardGraph } from '../../compiler/ir/ir.js';
import { compileProgramSync } from '../../compiler/pipeline.js';

/** A GRN block in user code; `body` replaces the statements after `xv`. */
function userGrn(body: string, pooling = 'sample'): string {
  return [
    'block MyGRN(dim: int, eps: float = 1e-6) {',
    '  weight gamma: [dim] = zeros',
    '  weight beta: [dim] = zeros',
    '  forward(x: [B, H, W, dim]) -> [B, H, W, dim] {',
    '    let xv = visible(x)',
    `    let sq = masked_statistics(sum(xv * xv, axes = [1, 2], keep = true), pooling = "${pooling}")`,
    '    let gx = sqrt(sq)',
    body,
    '  }',
    '}',
    'const m = MyGRN(8)',
  ].join('\n');
}

function graphs(path: string, text?: string): ForwardGraph[] {
  const r = compileProgramSync(path, text === undefined ? {} : { text });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.program!.models.flatMap((m) => [...m.graphs.values()]);
}

const GRN_BODY = [
  '    let nx = gx / (mean(gx, axes = [-1], keep = true) + eps)',
  '    return gamma * (x * nx) + beta + x',
].join('\n');

describe('GRN fusion', () => {
  it("fuses std/convnextv2.nvc's GRN and nothing else of the block", () => {
    const [block, grn] = graphs('test/compiler/fixtures/block.nvc');
    expect(block!.block).toBe('ConvNeXtV2Block');
    expect(findFusions(block!)).toEqual([]);
    const fusions = findFusions(grn!);
    expect(fusions).toHaveLength(1);
    const f = fusions[0]!;
    const ops = new Map(grn!.ops.map((o) => [o.id, o] as const));
    expect([f.kind, f.pooling, f.eps]).toEqual(['grn', 'sample', 1e-6]);
    expect(ops.get(f.x)!.op).toBe('input');
    expect([ops.get(f.gamma)!.target, ops.get(f.beta)!.target]).toEqual(['gamma', 'beta']);
    expect(grn!.outputs.map((o) => o.id)).toEqual([f.output]);
    // Every statement but the parameter reads, the eps constant and the input goes.
    const kept = grn!.ops.filter((o) => !f.dropped.has(o.id)).map((o) => o.op);
    expect(kept).toEqual(['input', 'const', 'param', 'param', 'add']);
  });

  it('fuses a user block written the same way, with its pooling and eps', () => {
    const text = userGrn(GRN_BODY, 'batch').replace('eps: float = 1e-6', 'eps: float = 1e-5');
    const [g] = graphs('/virtual/user-grn.nvc', text);
    expect(findFusions(g!).map((f) => [f.pooling, f.eps])).toEqual([['batch', 1e-5]]);
  });

  it('leaves the statements alone when an intermediate is read elsewhere or the function differs', () => {
    const variants = {
      'nx also returned': [
        '    let nx = gx / (mean(gx, axes = [-1], keep = true) + eps)',
        '    return gamma * (x * nx) + beta + x + nx',
      ],
      'no residual': [
        '    let nx = gx / (mean(gx, axes = [-1], keep = true) + eps)',
        '    return gamma * (x * nx) + beta',
      ],
      'mean over H instead of channels': [
        '    let nx = gx / (mean(gx, axes = [1], keep = true) + eps)',
        '    return gamma * (x * nx) + beta + x',
      ],
      'scaling another tensor than x': [
        '    let nx = gx / (mean(gx, axes = [-1], keep = true) + eps)',
        '    return gamma * (xv * nx) + beta + x',
      ],
    };
    for (const [label, body] of Object.entries(variants)) {
      const [g] = graphs('/virtual/user-grn.nvc', userGrn(body.join('\n')));
      expect(findFusions(g!), label).toEqual([]);
    }
  });
});
