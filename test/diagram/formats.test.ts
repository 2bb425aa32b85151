// Diagram graphs from the IR and their DOT / Mermaid text: golden files for the ConvNeXt-V2
// block (Figure 2 of the MED-NVC paper) and MED-NVC (model and training), plus the facts the
// figures must show (shapes, parameter counts, collapsed repeats, ports, masks, hand-over).
import { describe, expect, it } from 'vitest';
import { allNodes, type DiagramGraph, type DiagramNode } from '../../compiler/diagram/graph.js';
import { selectDiagram, type DiagramSelection } from '../../compiler/diagram/select.js';
import { toDot, toMermaid } from '../../compiler/diagram/text-formats.js';
import { golden, program } from './support.js';

function draw(path: string, sel: Partial<DiagramSelection>, variant?: string): DiagramGraph {
  const r = selectDiagram(program(path, variant), { depth: 0, ...sel });
  if ('error' in r) throw new Error(r.error);
  return r.graph;
}

const byName = (g: DiagramGraph, name: string): DiagramNode => {
  const n = allNodes(g).find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
};
const edgesInto = (g: DiagramGraph, id: string) => g.edges.filter((e) => e.target === id);

describe('ConvNeXt-V2 block (convnextv2_atto, first block, 224 px)', () => {
  const g = draw('std/convnextv2.nvc', {
    model: 'convnextv2_atto',
    block: 'ConvNeXtV2Block',
    dims: new Map([
      ['H', 224],
      ['W', 224],
    ]),
  });

  it('matches the golden DOT and Mermaid', () => {
    expect(toDot(g, 'TB')).toBe(golden('convnextv2-block.dot', toDot(g, 'TB')));
    expect(toMermaid(g, 'TB')).toBe(golden('convnextv2-block.mmd', toMermaid(g, 'TB')));
  });

  it('draws the layers in order with parameter counts computed from the weights', () => {
    const names = g.nodes.map((n) => n.name);
    expect(names).toEqual([
      'x',
      'dwconv',
      'norm',
      'pwconv1',
      'gelu',
      'grn',
      'pwconv2',
      'drop_path',
      '+',
      'visible',
      'output',
    ]);
    const dim = 40;
    expect(byName(g, 'dwconv').params).toBe(7 * 7 * dim + dim);
    expect(byName(g, 'norm').params).toBe(2 * dim);
    expect(byName(g, 'pwconv1').params).toBe(dim * 4 * dim + 4 * dim);
    expect(byName(g, 'grn').params).toBe(2 * 4 * dim);
    expect(byName(g, 'pwconv2').params).toBe(4 * dim * dim + dim);
    expect(byName(g, 'dwconv').sparse).toBe(true);
    expect(byName(g, 'norm').sparse).toBe(false);
  });

  it("labels edges with concrete shapes from the call site and the symbolic form in the model's names", () => {
    const into = edgesInto(g, byName(g, 'dwconv').id);
    // `H` is the model's input height on both lines (the block's own H would be H / 4).
    expect(into.map((e) => e.label)).toEqual([['[B, 56, 56, 40]', '[B, H / 4, W / 4, 40]']]);
    expect(edgesInto(g, byName(g, 'gelu').id)[0]!.label).toEqual(['[B, 56, 56, 160]', '[B, H / 4, W / 4, 160]']);
    const half = draw('std/convnextv2.nvc', {
      model: 'convnextv2_atto',
      block: 'ConvNeXtV2Block',
      dims: new Map([['H', 224]]),
    });
    expect(edgesInto(half, byName(half, 'dwconv').id)[0]!.label).toEqual([
      '[B, 56, W / 4, 40]',
      '[B, H / 4, W / 4, 40]',
    ]);
    // The residual: the input feeds the add as well.
    expect(
      edgesInto(g, byName(g, '+').id)
        .map((e) => e.source)
        .sort(),
    ).toEqual([byName(g, 'x').id, byName(g, 'drop_path').id].sort());
  });

  it('expands GRN into a compound node at --depth 1', () => {
    const deep = draw('std/convnextv2.nvc', { model: 'convnextv2_atto', block: 'ConvNeXtV2Block', depth: 1 });
    const grn = byName(deep, 'grn');
    expect(grn.role).toBe('group');
    expect(grn.children.map((c) => c.name)).toEqual([
      'visible',
      '×',
      'sum',
      'masked_statistics',
      'sqrt',
      'mean',
      '+',
      '÷',
      '×',
      '×',
      '+',
      '+',
    ]);
    // Without --dims the call-site shape is in the model's own input symbols, once.
    expect(edgesInto(deep, byName(deep, 'dwconv').id)[0]!.label).toEqual(['[B, H / 4, W / 4, 40]']);
  });
});

describe('MED-NVC (the fine-tuning model)', () => {
  const g = draw('examples/mednvc.nvc', {});

  it('matches the golden DOT and Mermaid', () => {
    expect(toDot(g, 'TB')).toBe(golden('mednvc.dot', toDot(g, 'TB')));
    expect(toMermaid(g, 'LR')).toBe(golden('mednvc.mmd', toMermaid(g, 'LR')));
  });

  it('collapses repeats into "Block ×N" with the summed parameter count', () => {
    const s2 = allNodes(g).find((n) => n.path === 'enc.stages.2')!;
    expect(s2.kind).toBe('ConvNeXtV2Block ×27');
    const dim = 512;
    const perBlock = 7 * 7 * dim + dim + 2 * dim + (dim * 4 * dim + 4 * dim) + 2 * 4 * dim + (4 * dim * dim + dim);
    expect(s2.params).toBe(27 * perBlock);
    // The fine-tuning stage masks nothing: its sparse-declared blocks run dense and are drawn so.
    expect(s2.sparse).toBe(false);
    expect(s2.masked).toBe(false);
    expect(byName(g, 'fusion').kind).toBe('CrossAttention ×2');
  });

  it('draws cross-attention with labelled ports: queries from the image, keys/values from the labs', () => {
    const fusion = byName(g, 'fusion');
    expect(fusion.ports.map((p) => p.label)).toEqual(['x', 'kv']);
    const into = edgesInto(g, fusion.id);
    const q = into.find((e) => e.targetPort === fusion.ports[0]!.id)!;
    const kv = into.find((e) => e.targetPort === fusion.ports[1]!.id)!;
    expect(q.source).toBe(byName(g, 'tokens').id);
    expect(q.label).toEqual(['[B, 784, 256]']);
    expect(kv.source).toBe(byName(g, 'reshape').id);
    expect(kv.label).toEqual(['[B, 14, 256]']); // one token per lab value (lab_tokens = 14)
  });

  it('has both inputs with their concrete shapes', () => {
    expect(g.edges.find((e) => e.source === byName(g, 'xray').id)!.label).toEqual(['[B, 224, 224, 3]']);
    expect(g.edges.find((e) => e.source === byName(g, 'labs').id)!.label).toEqual(['[B, 14]']);
  });

  it('expands the 27-block stage at --depth 1 and each block at --depth 2', () => {
    const d1 = draw('examples/mednvc.nvc', { depth: 1 });
    const s2 = allNodes(d1).find((n) => n.path === 'enc.stages.2')!;
    expect(s2.role).toBe('group');
    expect(s2.children).toHaveLength(27);
    expect(s2.children.every((c) => c.role === 'block' && c.kind === 'ConvNeXtV2Block')).toBe(true);
    const d2 = draw('examples/mednvc.nvc', { depth: 2 });
    const b = allNodes(d2).find((n) => n.path === 'enc.stages.2.26')!;
    expect(b.role).toBe('group');
    expect(b.children.map((c) => c.name)).toEqual([
      'dwconv',
      'norm',
      'pwconv1',
      'gelu',
      'grn',
      'pwconv2',
      'drop_path',
      '+',
      'visible',
    ]);
    // Edges cross the compound boundary: the last block's output (the re-masked residual sum)
    // feeds downsample_layers.3.
    const ds3 = allNodes(d2).find((n) => n.path === 'enc.downsample_layers.3')!;
    const ds3First = ds3.children[0]!;
    const src = d2.edges.find((e) => e.target === ds3First.id)!;
    expect(allNodes(d2).find((n) => n.id === src.source)!.name).toBe('visible');
    expect(src.label).toEqual(['[B, 14, 14, 512]']);
  });
});

describe('a block the model only calls piece by piece', () => {
  it('draws its own forward graph with symbolic shapes (MED-NVC runs `enc` stage by stage)', () => {
    const g = draw('examples/mednvc.nvc', { block: 'ConvNeXtV2Encoder' });
    expect(g.nodes.map((n) => n.name)).toEqual([
      'x',
      'downsample_layers.0',
      'stages.0',
      'downsample_layers.1',
      'stages.1',
      'downsample_layers.2',
      'stages.2',
      'downsample_layers.3',
      'stages.3',
      'output',
    ]);
    expect(edgesInto(g, byName(g, 'stages.0').id)[0]!.label).toEqual(['[B, H / 4, W / 4, 128]']);
    expect(byName(g, 'stages.2').kind).toBe('ConvNeXtV2Block ×27');
  });
});

describe('MED-NVC training (Figure 1)', () => {
  const g = draw('examples/mednvc.nvc', { training: true });

  it('matches the golden Mermaid and DOT', () => {
    expect(toMermaid(g, 'TB')).toBe(golden('mednvc-training.mmd', toMermaid(g, 'TB')));
    expect(toDot(g, 'TB')).toBe(golden('mednvc-training.dot', toDot(g, 'TB')));
  });

  it('has one cluster per stage with inputs, mask policy, loss and the hand-over between them', () => {
    expect(g.nodes.map((n) => [n.role, n.name])).toEqual([
      ['stage', 'stage pretrain'],
      ['stage', 'stage finetune'],
    ]);
    const [pre, fine] = g.nodes as [DiagramNode, DiagramNode];
    expect(pre.children.filter((c) => c.role === 'input').map((c) => c.name)).toEqual(['xray']);
    expect(fine.children.filter((c) => c.role === 'input').map((c) => c.name)).toEqual(['xray', 'labs']);
    const mask = pre.children.find((c) => c.role === 'mask')!;
    expect(mask.kind).toBe('random_patches');
    // 224 px in 32 px patches: 49 patches, int(49 x 0.4) = 19 kept, so 30 removed, not 60%.
    expect(mask.lines).toEqual([
      'ratio 0.6',
      'patch 32×32',
      '30 of 49 patches removed per image (61.2%)',
      'GRN norms under the mask: per sample (36)',
    ]);
    const encoder = pre.children.find((c) => c.path === 'encoder')!;
    expect(encoder.masked).toBe(true);
    expect(pre.children.find((c) => c.path === 'decoder')!.masked).toBe(false);
    expect(g.edges.filter((e) => e.kind === 'mask' && e.source === mask.id).map((e) => e.target)).toEqual([encoder.id]);
    expect(pre.children.find((c) => c.role === 'loss')!.kind).toBe('masked_mse');
    expect(fine.children.find((c) => c.role === 'loss')!.kind).toBe('cross_entropy');
    const hand = g.edges.filter((e) => e.kind === 'handover');
    expect(hand).toEqual([
      {
        id: 'h1',
        source: pre.id,
        target: fine.id,
        label: ['weights pretrain.encoder → finetune.enc'],
        kind: 'handover',
      },
    ]);
    expect(encoder.handsTo).toBe('finetune.enc');
    const received = fine.children.filter((c) => c.handedFrom === 'pretrain.encoder').map((c) => c.path);
    expect(received).toEqual([
      'enc.downsample_layers.0',
      'enc.stages.0',
      'enc.downsample_layers.1',
      'enc.stages.1',
      'enc.downsample_layers.2',
      'enc.stages.2',
      'enc.downsample_layers.3',
      'enc.stages.3',
    ]);
    // Fine-tuning has no mask policy: its sparse layers run dense, drawn without the sparse border.
    expect(fine.children.some((c) => c.masked || c.sparse)).toBe(false);
    // Random throw is drawn (as in the paper's Figure 1): a node feeding both inputs it may replace.
    const thrown = fine.children.find((c) => c.name === 'random throw')!;
    expect(thrown.lines).toEqual(['p = 0.2 per sample: one of 2 inputs', 'replaced by fill -10']);
    expect(
      g.edges
        .filter((e) => e.source === thrown.id)
        .map((e) => [fine.children.find((c) => c.id === e.target)!.name, e.label]),
    ).toEqual([
      ['xray', ['p = 0.1']],
      ['labs', ['p = 0.1']],
    ]);
    expect(fine.lines.some((l) => l.includes('modality dropout'))).toBe(false);
    // One number format: the learning rates read 5e-5 and 5e-7, never 0.00005.
    expect(pre.lines).toContain('optimizer lion(lr = 5e-5)');
    expect(pre.lines).toContain('schedule warmup(epochs = 10) then cosine(to = 5e-7)');
    // The dataset fixes the pretraining input, so the FCMAE encoder's output is concrete.
    expect(g.edges.find((e) => e.source === encoder.id)!.label).toEqual([
      '[B, 7, 7, 1024]',
      '[B, H / 32, W / 32, 1024]',
    ]);
  });

  it('leaves out the pretraining stage in the no_pretrain variant', () => {
    const v = draw('examples/mednvc.nvc', { training: true }, 'no_pretrain');
    expect(v.nodes.map((n) => n.name)).toEqual(['stage finetune']);
    expect(v.edges.some((e) => e.kind === 'handover')).toBe(false);
  });
});

describe('frozen layers', () => {
  it('marks the frozen encoder of a probe stage, and only it', () => {
    const g = draw('test/diagram/fixtures/frozen-stages.nvc', { stage: 'probe' });
    expect(
      allNodes(g)
        .filter((n) => n.frozen)
        .map((n) => n.path),
    ).toEqual(['enc']);
    expect(toMermaid(g, 'TB')).toMatch(/class n\d+ frozen/);
    expect(toDot(g, 'TB')).toMatch(/fillcolor="#d5dde6"/);
  });

  it('reports unknown names with what exists', () => {
    const r = selectDiagram(program('examples/mednvc.nvc'), { depth: 0, block: 'ConvNextV2Block' });
    expect(r).toEqual({ error: expect.stringContaining('did you mean `ConvNeXtV2Block`?') });
    const s = selectDiagram(program('examples/mednvc.nvc'), { depth: 0, stage: 'fine' });
    expect('error' in s && s.error).toContain('available: pretrain, finetune');
  });
});
