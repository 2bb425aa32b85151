// `nvcc diff`: the structural and parameter diff of two programs (two files, or one file under
// two variants) in text, and the highlighted diff diagram.
import { describe, expect, it } from 'vitest';
import { diffDiagram, diffPrograms, formatProgramDiff } from '../../compiler/diagram/diff.js';
import { allNodes, type DiagramGraph } from '../../compiler/diagram/graph.js';
import { selectDiagram } from '../../compiler/diagram/select.js';
import { toMermaid } from '../../compiler/diagram/text-formats.js';
import { golden, program } from './support.js';

const BEFORE = 'test/diagram/fixtures/diff-before.nvc';
const AFTER = 'test/diagram/fixtures/diff-after.nvc';

/** Parameters of one ConvNeXt-V2 block of width d (dwconv, norm, pwconv1, grn, pwconv2). */
const blockParams = (d: number) => 7 * 7 * d + d + 2 * d + (d * 4 * d + 4 * d) + 2 * 4 * d + (4 * d * d + d);

function graph(path: string, variant?: string, training = false): DiagramGraph {
  const r = selectDiagram(program(path, variant), { depth: 0, ...(training ? { training } : {}) });
  if ('error' in r) throw new Error(r.error);
  return r.graph;
}

describe('text diff', () => {
  const d = diffPrograms(program(BEFORE), program(AFTER), { before: 'before.nvc', after: 'after.nvc' });

  it('matches the golden text', () => {
    const text = formatProgramDiff(d);
    expect(text).toBe(golden('diff-fixtures.txt', text));
  });

  it('reports removed blocks once at their root, with exact parameter deltas', () => {
    const net = d.models.find((m) => m.name === 'Net')!;
    const byPath = new Map(net.changes.map((c) => [c.path, c]));
    expect(byPath.get('enc.stages.2.4')).toMatchObject({
      change: 'removed',
      paramsBefore: blockParams(160),
      paramsAfter: 0,
    });
    expect(byPath.get('enc.stages.2.5')).toMatchObject({ change: 'removed', paramsBefore: blockParams(160) });
    expect([...byPath.keys()].some((p) => p.startsWith('enc.stages.2.4.'))).toBe(false);
    expect(byPath.get('enc.stages.2')).toMatchObject({
      change: 'changed',
      details: ['repeat 6 → 4'],
      paramsBefore: 6 * blockParams(160),
      paramsAfter: 4 * blockParams(160),
    });
    expect(byPath.get('dropout_head')).toMatchObject({ change: 'removed', paramsBefore: 320 * 320 + 320 });
    expect(byPath.get('norm')).toMatchObject({ change: 'added', paramsAfter: 2 * 320 });
    expect(byPath.get('head')!.details).toEqual([
      'out 2 → 3',
      'weight weight [320, 2] → [320, 3]',
      'weight bias [2] → [3]',
    ]);
    expect(net.paramsAfter - net.paramsBefore).toBe(-2 * blockParams(160) - (320 * 320 + 320) + 2 * 320 + (320 + 1));
  });

  it('diffs two variants of one file: a removed stage and a changed setting', () => {
    const p = program('examples/mednvc.nvc');
    const noPre = formatProgramDiff(
      diffPrograms(p, program('examples/mednvc.nvc', 'no_pretrain'), { before: 'mednvc', after: 'mednvc no_pretrain' }),
    );
    expect(noPre).toContain('- stage pretrain removed');
    expect(noPre).toContain('hand-over: pretrain.encoder → enc → none');
    const noThrow = diffPrograms(p, program('examples/mednvc.nvc', 'no_random_throw'), { before: 'a', after: 'b' });
    expect(noThrow.stages).toEqual([
      {
        stage: 'finetune',
        change: 'changed',
        details: ['modality_dropout: random_throw(p = 0.2, fill = -10) → random_throw(p = 0, fill = -10)'],
      },
    ]);
    expect(noThrow.models.every((m) => m.changes.length === 0)).toBe(true);
    expect(formatProgramDiff(diffPrograms(p, p, { before: 'a', after: 'a' }))).toContain(
      'no structural, parameter or stage differences',
    );
  });
});

describe('diff diagram', () => {
  const g = diffDiagram(graph(BEFORE), graph(AFTER), 'diff');
  const node = (path: string) => allNodes(g).find((n) => n.path === path)!;

  it('matches the golden Mermaid', () => {
    expect(toMermaid(g, 'TB')).toBe(golden('diff-fixtures.mmd', toMermaid(g, 'TB')));
  });

  it('marks added, removed and changed nodes and edges', () => {
    expect(node('norm').diff).toBe('added');
    expect(node('dropout_head').diff).toBe('removed');
    expect(node('head').diff).toBe('changed');
    expect(node('head').lines).toContain('was 642 params (+321)');
    expect(node('enc').diff).toBe('changed');
    expect(node('lab_proj').diff).toBeUndefined();
    const removed = g.edges
      .filter((e) => e.diff === 'removed')
      .map((e) => [allNodes(g).find((n) => n.id === e.source)!.name, allNodes(g).find((n) => n.id === e.target)!.name]);
    expect(removed).toEqual([
      ['+', 'dropout_head'],
      ['dropout_head', 'head'],
    ]);
    const added = g.edges
      .filter((e) => e.diff === 'added')
      .map((e) => [allNodes(g).find((n) => n.id === e.source)!.name, allNodes(g).find((n) => n.id === e.target)!.name]);
    expect(added).toEqual([
      ['+', 'norm'],
      ['norm', 'head'],
    ]);
    // Every edge end exists in the union graph.
    const ids = new Set(allNodes(g).map((n) => n.id));
    expect(g.edges.every((e) => ids.has(e.source) && ids.has(e.target))).toBe(true);
  });

  it('shows a removed stage as a removed cluster in the training diff', () => {
    const t = diffDiagram(
      graph('examples/mednvc.nvc', undefined, true),
      graph('examples/mednvc.nvc', 'no_pretrain', true),
      'diff',
    );
    expect(t.nodes.map((n) => [n.name, n.diff])).toEqual([
      ['stage finetune', undefined],
      ['stage pretrain', 'removed'],
    ]);
    expect(t.edges.filter((e) => e.kind === 'handover').map((e) => e.diff)).toEqual(['removed']);
  });
});
