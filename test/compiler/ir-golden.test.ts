import { describe, expect, it } from 'vitest';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { printGraph, printModelIR } from '../../compiler/ir/print.js';
import { compareBaseline } from '../harness/diagnostics.js';

describe('golden IR', () => {
  it('ConvNeXt-V2 block (dim 40)', () => {
    const r = compileProgramSync('test/compiler/fixtures/block.nvc');
    expect(r.diagnostics).toEqual([]);
    const m = r.program!.models.find((x) => x.name === 'blk')!;
    const text = printModelIR(m, r.files);
    const outcome = compareBaseline('ir', 'convnextv2-block', text);
    expect(outcome.status).not.toBe('missing');
    expect(outcome.actual).toBe(outcome.expected);
    // Structural facts the golden file encodes, asserted directly as well.
    expect(text).toContain('%1 = depthwise_conv2d[dwconv](%0)');
    expect(text).toMatch(/dwconv DepthwiseConv2d\(.*\) sparse/);
    expect([...m.graphs.values()].map((g) => g.block)).toEqual(['ConvNeXtV2Block', 'GRN']);
  });

  it('MED-NVC fusion model (finetune stage), root graph', () => {
    const r = compileProgramSync('examples/mednvc.nvc');
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const stage = r.program!.trains[0]!.stages.find((s) => s.name === 'finetune')!;
    const root = stage.model.graphs.get(stage.model.root.forwardKey!)!;
    const text = printGraph(root, 0, r.files) + '\n';
    const outcome = compareBaseline('ir', 'mednvc-finetune', text);
    expect(outcome.status).not.toBe('missing');
    expect(outcome.actual).toBe(outcome.expected);
    const call = root.ops.find((o) => o.target === 'fusion')!;
    expect(call.ports).toEqual(['#0', 'kv']);
  });
});
