/**
 * The mask-token check: a learned token written into the removed cells must not then go
 * through layers that run masked.
 * In: the models of a checked ProgramIR. Out: NVC4030 warnings through the Reporter. Holds
 * afterwards: nothing is changed; each finding names the layer call, where the tokens are
 * written and where the layer reads the mask.
 *
 * Why: an FCMAE-style decoder writes `mask_token * patch_mask(y)` into the removed cells and
 * runs dense blocks over them. A block that reads the mask (`visible`, `patch_mask`, a `sparse`
 * layer) would zero the tokens again or leave them out of its statistics, silently computing
 * something else (the std decoder's GRN did, issue 20). Blocks declared `unmasked` end the mask
 * context, so nothing below them reads it.
 *
 * Data flow, per block graph: values derived from `patch_mask` are mask values; a `mul` of a
 * mask value and a weight (`param`) writes tokens; everything computed from written tokens
 * carries them. A layer call (or `visible`) whose input carries tokens and whose subtree reads
 * the mask is reported. Zeroing the removed cells (`x * (1 - m)`, no weight) is not a token.
 */
import type { Span } from '../dsl/span.js';
import type { ForwardGraph, ModelIR, ModuleNode, Op, ProgramIR } from './ir/ir.js';
import type { Reporter } from './report.js';

/** Primitive layers that change behaviour when `sparse` under a mask (Linear acts per position). */
const MASKED_PRIMITIVES = new Set(['Conv2d', 'DepthwiseConv2d', 'LayerNorm']);
const MASK_OPS = new Set(['visible', 'patch_mask']);

interface MaskRead {
  readonly span: Span;
  readonly what: string;
}

function childAt(node: ModuleNode, target: string): ModuleNode | undefined {
  let cur: ModuleNode | undefined = node;
  for (const seg of target.split('.')) {
    cur = cur?.children.find((c) => c.path.slice(c.path.lastIndexOf('.') + 1) === seg);
    if (!cur) return undefined;
  }
  return cur;
}

class MaskTokenCheck {
  private readonly reads = new Map<ModuleNode, MaskRead | null>();

  constructor(
    private readonly model: ModelIR,
    private readonly reporter: Reporter,
  ) {}

  run(): void {
    this.visit(this.model.root);
  }

  private graphOf(node: ModuleNode): ForwardGraph | undefined {
    return node.forwardKey ? this.model.graphs.get(node.forwardKey) : undefined;
  }

  /** Where `node`'s subtree first reads the mask, or null (never below an `unmasked` block). */
  private maskRead(node: ModuleNode): MaskRead | null {
    const known = this.reads.get(node);
    if (known !== undefined) return known;
    this.reads.set(node, null); // guards against cycles; the IR has none
    let found: MaskRead | null = null;
    if (!node.unmasked) {
      if (node.sparse && MASKED_PRIMITIVES.has(node.typeName))
        found = { span: node.span, what: `the \`sparse\` ${node.typeName} runs masked` };
      const graph = this.graphOf(node);
      for (const op of graph?.ops ?? []) {
        if (found) break;
        if (MASK_OPS.has(op.op)) found = { span: op.span, what: `\`${op.op}\` reads the mask here` };
      }
      for (const child of node.children) {
        if (found) break;
        found = this.maskRead(child);
      }
    }
    this.reads.set(node, found);
    return found;
  }

  private visit(node: ModuleNode): void {
    if (node.unmasked) return;
    const graph = this.graphOf(node);
    if (graph) this.checkGraph(node, graph);
    for (const child of node.children) this.visit(child);
  }

  private checkGraph(node: ModuleNode, graph: ForwardGraph): void {
    const mask = new Set<number>();
    const weight = new Set<number>();
    const tokens = new Map<number, Op>(); // value id -> the op that wrote the tokens it carries
    for (const op of graph.ops) {
      if (op.op === 'param') {
        weight.add(op.id);
        continue;
      }
      if (op.op === 'patch_mask') {
        mask.add(op.id);
        continue;
      }
      const carried = op.inputs.map((i) => tokens.get(i)).find((w) => w !== undefined);
      if (carried) {
        const layer = op.target !== undefined ? childAt(node, op.target) : undefined;
        const read =
          op.op === 'visible'
            ? { span: op.span, what: '`visible` reads the mask here' }
            : layer && this.maskRead(layer);
        if (read) this.report(op, carried, read);
        tokens.set(op.id, carried);
        continue;
      }
      if (op.op === 'mul' && op.inputs.some((i) => mask.has(i)) && op.inputs.some((i) => weight.has(i))) {
        tokens.set(op.id, op);
        continue;
      }
      if (op.inputs.some((i) => mask.has(i))) mask.add(op.id);
    }
  }

  private report(at: Op, writer: Op, read: MaskRead): void {
    const layer = at.op === 'visible' ? '`visible`' : `\`${at.target ?? at.op}\``;
    this.reporter.error(
      'MaskTokensMasked',
      at.span,
      { layer },
      {
        label: 'called on cells that hold mask tokens',
        labels: [
          { span: writer.span, message: 'mask tokens are written here' },
          { span: read.span, message: read.what },
        ],
      },
    );
  }
}

/** Runs the mask-token check over every model of the program (top-level and per stage). */
export function checkMaskTokens(program: ProgramIR, reporter: Reporter): void {
  for (const model of program.models) new MaskTokenCheck(model, reporter).run();
  for (const train of program.trains) for (const stage of train.stages) new MaskTokenCheck(stage.model, reporter).run();
}

/** Per pooling (`sample`, `batch`), the `masked_statistics` ops outside `unmasked` blocks. */
export function poolingUnderMask(model: ModelIR): Record<string, number> {
  const counts: Record<string, number> = {};
  const visit = (node: ModuleNode): void => {
    if (node.unmasked) return;
    const graph = node.forwardKey ? model.graphs.get(node.forwardKey) : undefined;
    for (const op of graph?.ops ?? [])
      if (op.op === 'masked_statistics') {
        const pooling = String(op.attrs.pooling ?? 'sample');
        counts[pooling] = (counts[pooling] ?? 0) + 1;
      }
    for (const child of node.children) visit(child);
  };
  visit(model.root);
  return counts;
}

const POOLING_TEXT: Readonly<Record<string, string>> = {
  sample: 'per sample',
  batch: 'pooled over the batch (MinkowskiGRN)',
};

/** `GRN norms under the mask: per sample (36)`, from poolingUnderMask's counts. */
export function poolingText(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts).map(([k, n]) => `${POOLING_TEXT[k] ?? k} (${n})`);
  return `GRN norms under the mask: ${parts.length ? parts.join(', ') : 'none'}`;
}
