/**
 * The diagram graph: what a figure shows, independent of layout and output format.
 * In: the compiler's IR (a ModelIR, or a whole TrainIR for `--training`) and view options
 * (depth, symbol bindings). Out: a `DiagramGraph` of nodes (layers, blocks, ops, inputs,
 * outputs; compound nodes for expanded blocks and stages) and edges labelled with tensor
 * shapes. Pure: the same IR and options give the same graph, ids included (n1, n2, ... in
 * visiting order), so DOT/Mermaid output built from it is golden-testable.
 * Holds afterwards: every edge's source and target (and port) exist; `repeat N` lists are one
 * "Block ×N" node unless the depth expands them; nodes carry their parameter count, `sparse`
 * (masked while the stage has a mask policy) and `frozen` marks.
 */
import type { DatasetIR, ForwardGraph, ModelIR, ModuleNode, Op, StageIR, TrainIR } from '../ir/ir.js';
import { PRIMITIVES, primitiveByIrName } from '../primitives/index.js';
import { dimConst, dimSubst, formatShape, type Dim, type Shape } from '../symbolic.js';
import { poolingText, poolingUnderMask } from '../mask-tokens.js';
import { removedPatchesText } from '../../runtime/ops/kept-count.js';

export type NodeRole = 'input' | 'output' | 'layer' | 'block' | 'op' | 'group' | 'stage' | 'mask' | 'loss';
export type DiffMark = 'added' | 'removed' | 'changed';

export interface DiagramPort {
  readonly id: string;
  readonly label: string;
}

export interface DiagramNode {
  readonly id: string;
  /** First line: the layer's name in its block (`pwconv1`), or the op / input name. */
  readonly name: string;
  /** Second line: the type (`Linear`, `ConvNeXtV2Block ×3`, `input`). */
  readonly kind: string;
  readonly role: NodeRole;
  /** Further lines (layer settings, stage settings, mask policy). */
  readonly lines: string[];
  readonly params: number;
  /** Module path in the model (absent for ops without a layer). */
  readonly path?: string;
  /** The node is or contains a `sparse` layer. */
  readonly sparse: boolean;
  /** Sparse and the stage has a mask policy: runs masked. */
  masked: boolean;
  frozen: boolean;
  /** Receives weights from an earlier stage (`pretrain.encoder`). */
  handedFrom?: string;
  /** Hands its weights to a later stage (`finetune.enc`). */
  handsTo?: string;
  diff?: DiffMark;
  /** Labelled input ports (multi-input nodes whose inputs play different roles). */
  readonly ports: DiagramPort[];
  /** Compound content (expanded blocks, stages). */
  readonly children: DiagramNode[];
}

export type EdgeKind = 'data' | 'handover' | 'mask';

export interface DiagramEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly targetPort?: string;
  /** Label lines: concrete shape, then the symbolic shape when it differs. */
  readonly label: string[];
  readonly kind: EdgeKind;
  diff?: DiffMark;
}

export interface DiagramGraph {
  title: string;
  readonly nodes: DiagramNode[];
  readonly edges: DiagramEdge[];
}

export interface DiagramOptions {
  /** Levels of calls drawn expanded (0: every call is one node). */
  readonly depth: number;
  /** Values for the root graph's symbols (`H = 224`). */
  readonly bind?: ReadonlyMap<string, number>;
}

/** A value flowing between nodes: who produced it and its shape (symbolic and concrete). */
interface Source {
  readonly node: string;
  readonly symbolic: Shape;
  readonly concrete: Shape;
}

// ---------------------------------------------------------------------------------------------
// Helpers over the IR

export function countParams(m: ModuleNode): number {
  let n = 0;
  for (const w of m.weights) n += w.shape.reduce((a, b) => a * b, 1);
  for (const c of m.children) n += countParams(c);
  return n;
}

function containsSparse(m: ModuleNode): boolean {
  return m.sparse || m.children.some(containsSparse);
}

function allFrozen(m: ModuleNode): boolean {
  const own = m.weights.length > 0 && m.weights.every((w) => w.frozen);
  const kids = m.children.filter((c) => countParams(c) > 0);
  if (m.weights.length === 0 && kids.length === 0) return false;
  return (m.weights.length === 0 || own) && kids.every(allFrozen);
}

function childAt(m: ModuleNode, rel: string): ModuleNode | undefined {
  let cur: ModuleNode | undefined = m;
  for (const part of rel.split('.').filter(Boolean))
    cur = cur?.children.find((c) => c.path.slice(c.path.lastIndexOf('.') + 1) === part);
  return cur;
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

/** `ConvNeXtV2Block ×3`, `Conv2d >> LayerNorm`, `CrossAttention ×2`. */
export function moduleTitle(m: ModuleNode): string {
  if (m.kind === 'list') {
    const types = [...new Set(m.children.map((c) => moduleTitle(c)))];
    if (types.length === 1 && m.children.length > 1) return `${types[0]} ×${m.children.length}`;
    if (types.length === 1) return types[0]!;
    return `[${m.children.map((c) => moduleTitle(c)).join(', ')}]`;
  }
  if (m.kind === 'sequential') return m.children.map((c) => moduleTitle(c)).join(' >> ');
  return m.typeName;
}

/** One short line of the settings that matter for a figure: the primitive record's label. */
export function layerSettings(m: ModuleNode): string | undefined {
  const prim = m.primitive !== undefined ? PRIMITIVES.get(m.primitive) : undefined;
  return prim?.diagram.settings(m.params);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function shapeLabel(s: Source): string[] {
  const c = formatShape(s.concrete);
  const sym = formatShape(s.symbolic);
  return c === sym ? [c] : [c, sym];
}

function bindSymbols(pattern: Shape, actual: Shape, env: Map<string, Dim>): void {
  if (pattern.length !== actual.length) return;
  pattern.forEach((d, i) => {
    const s = d.asSymbol();
    if (s !== undefined && !env.has(s)) env.set(s, actual[i]!);
  });
}

/** Binary elementwise ops whose operands play the same role: no labelled ports. */
const SYMMETRIC_PORTS = new Set(['a,b']);

// ---------------------------------------------------------------------------------------------
// The builder

interface Located {
  readonly module: ModuleNode;
  readonly graph: ForwardGraph;
  readonly env: Map<string, Dim>;
}

class Builder {
  private counter = 0;
  private edgeCounter = 0;
  readonly edges: DiagramEdge[] = [];
  /** When set, the first call into a block of this name is recorded (for `--block`). */
  found?: Located;

  constructor(
    readonly model: ModelIR,
    readonly idPrefix: string,
    readonly seek?: string,
  ) {}

  newId(): string {
    return `${this.idPrefix}n${++this.counter}`;
  }

  connect(src: Source | undefined, target: string, kind: EdgeKind = 'data', port?: string): void {
    if (!src) return;
    this.edges.push({
      id: `${this.idPrefix}e${++this.edgeCounter}`,
      source: src.node,
      target,
      ...(port ? { targetPort: port } : {}),
      label: shapeLabel(src),
      kind,
    });
  }

  addEdge(source: string, target: string, label: string[], kind: EdgeKind): void {
    this.edges.push({ id: `${this.idPrefix}e${++this.edgeCounter}`, source, target, label, kind });
  }

  moduleNode(m: ModuleNode, role: NodeRole, name: string, ports: DiagramPort[] = []): DiagramNode {
    const lines: string[] = [];
    const settings = m.kind === 'primitive' || m.kind === 'function' ? layerSettings(m) : undefined;
    if (settings) lines.push(settings);
    return {
      id: this.newId(),
      name,
      kind: moduleTitle(m),
      role,
      lines,
      params: countParams(m),
      path: m.path,
      sparse: containsSparse(m),
      masked: false,
      frozen: allFrozen(m),
      ports,
      children: [],
    };
  }

  plainNode(name: string, kind: string, role: NodeRole, lines: string[] = []): DiagramNode {
    return {
      id: this.newId(),
      name,
      kind,
      role,
      lines,
      params: 0,
      sparse: false,
      masked: false,
      frozen: false,
      ports: [],
      children: [],
    };
  }

  /**
   * Draws one forward graph into `out`. `args` are the sources of its inputs (undefined at the
   * root: input nodes are drawn). Returns the sources of its outputs.
   */
  graph(
    g: ForwardGraph,
    block: ModuleNode,
    args: readonly (Source | undefined)[] | undefined,
    out: DiagramNode[],
    levels: number,
    env: Map<string, Dim>,
    inputNames?: readonly string[],
  ): (Source | undefined)[] {
    const values = new Map<number, Source | undefined>();
    /** Every output of an expanded block call, in the callee's output order. */
    const callOutputs = new Map<number, readonly (Source | undefined)[]>();
    const concrete = (s: Shape) => s.map((d) => dimSubst(d, env));
    let inputIndex = 0;
    for (const op of g.ops) {
      const here = (node: string): Source => ({ node, symbolic: op.shape, concrete: concrete(op.shape) });
      if (op.op === 'input') {
        const i = inputIndex++;
        if (args) {
          values.set(op.id, args[i]);
          continue;
        }
        const name = inputNames?.[i] ?? op.target ?? `input${i}`;
        const node = this.plainNode(
          name,
          inputNames?.[i] && inputNames[i] !== op.target ? `input ${op.target ?? ''}`.trim() : 'input',
          'input',
        );
        out.push(node);
        values.set(op.id, here(node.id));
        continue;
      }
      if (op.op === 'param' || op.op === 'const') {
        values.set(op.id, undefined);
        continue;
      }
      const ins = op.inputs.map((id) => values.get(id));
      if (op.op === 'output') {
        // Taking one named output of a block call draws no node: the edge leaves the call (or,
        // when the call is expanded, the node inside it that makes this output).
        const call = g.ops.find((o) => o.id === op.inputs[0]);
        const index = Array.isArray(call?.attrs.outputs)
          ? (call.attrs.outputs as unknown[]).indexOf(op.attrs.name)
          : -1;
        const from = callOutputs.get(op.inputs[0]!)?.[index] ?? ins[0];
        values.set(op.id, from ? here(from.node) : undefined);
        continue;
      }
      if (op.op === 'call') {
        const child = childAt(block, op.target ?? '');
        if (!child) {
          values.set(op.id, undefined);
          continue;
        }
        const results = this.call(child, op, ins, out, levels, env);
        if (results) callOutputs.set(op.id, results);
        const result = results?.[0];
        values.set(op.id, here(result ? result.node : out[out.length - 1]!.id));
        continue;
      }
      const layer = op.target !== undefined ? childAt(block, op.target) : undefined;
      const portNames = op.ports && !SYMMETRIC_PORTS.has(op.ports.join(',')) ? op.ports : undefined;
      let node: DiagramNode;
      if (layer) node = this.moduleNode(layer, 'layer', lastSegment(op.target!));
      else node = this.plainNode(opName(op), opKind(op), 'op', opLines(op));
      if (portNames) node.ports.push(...portNames.map((p, i) => ({ id: `${node.id}_p${i}`, label: p })));
      if (op.sparse && !node.sparse) (node as { sparse: boolean }).sparse = true;
      out.push(node);
      ins.forEach((s, i) => this.connect(s, node.id, 'data', portNames ? node.ports[i]!.id : undefined));
      values.set(op.id, here(node.id));
    }
    return g.outputs.map((o) => values.get(o.id));
  }

  /**
   * A call of a block, list or sequential: one node, or a compound node when expanded (then
   * the sources of its outputs are returned, several for a block with named outputs).
   */
  call(
    child: ModuleNode,
    op: Op,
    ins: readonly (Source | undefined)[],
    out: DiagramNode[],
    levels: number,
    env: Map<string, Dim>,
  ): readonly (Source | undefined)[] | undefined {
    const name = op.target ?? lastSegment(child.path);
    const firstBlock = firstBlockOf(child);
    const graph = firstBlock?.forwardKey ? this.model.graphs.get(firstBlock.forwardKey) : undefined;
    if (this.seek && !this.found) this.record(child, ins);
    if (levels > 0 && (child.kind === 'block' || child.children.length > 0)) {
      const group = this.moduleNode(child, 'group', name);
      out.push(group);
      return this.expandOutputs(child, ins, group.children, levels - 1);
    }
    const ports: DiagramPort[] = [];
    const node = this.moduleNode(
      child,
      child.kind === 'block' || child.kind === 'list' || child.kind === 'sequential' ? 'block' : 'layer',
      name,
      ports,
    );
    if (ins.length > 1 && graph) {
      const inputNames = graph.inputs.map((i) => i.name);
      ins.forEach((_, i) => ports.push({ id: `${node.id}_p${i}`, label: inputNames[i] ?? `in${i}` }));
    }
    out.push(node);
    ins.forEach((s, i) => this.connect(s, node.id, 'data', ports.length ? ports[i]!.id : undefined));
    void env;
    return undefined;
  }

  /** Draws a module's content with its inputs bound to `ins`; returns its output source. */
  expand(m: ModuleNode, ins: readonly (Source | undefined)[], out: DiagramNode[], levels: number): Source | undefined {
    return this.expandOutputs(m, ins, out, levels)[0];
  }

  /** `expand`, with every output of a block (a list or sequential has one). */
  expandOutputs(
    m: ModuleNode,
    ins: readonly (Source | undefined)[],
    out: DiagramNode[],
    levels: number,
  ): readonly (Source | undefined)[] {
    if (m.kind === 'block') {
      const g = m.forwardKey ? this.model.graphs.get(m.forwardKey) : undefined;
      if (!g) return [];
      const env = new Map<string, Dim>();
      g.inputs.forEach((inp, i) => {
        const s = ins[i];
        if (s) bindSymbols(inp.shape, s.concrete, env);
      });
      return this.graph(g, m, ins, out, levels, env);
    }
    return [this.expandChain(m, ins, out, levels)];
  }

  private expandChain(
    m: ModuleNode,
    ins: readonly (Source | undefined)[],
    out: DiagramNode[],
    levels: number,
  ): Source | undefined {
    if (m.kind === 'list' || m.kind === 'sequential') {
      // Applying a list applies its children in order: the first input threads through, the
      // others (cross-attention's kv) go to every child.
      let cur = ins[0];
      const rest = ins.slice(1);
      for (const c of m.children) {
        const args = [cur, ...rest];
        if (this.seek && !this.found && c.kind === 'block') this.record(c, args);
        if (c.kind === 'primitive' || c.kind === 'function') {
          const node = this.moduleNode(c, 'layer', lastSegment(c.path));
          out.push(node);
          this.connect(cur, node.id);
          cur = this.primitiveOutput(c, args, node.id);
        } else if (levels > 0) {
          const group = this.moduleNode(c, 'group', lastSegment(c.path));
          out.push(group);
          cur = this.expand(c, args, group.children, levels - 1);
        } else {
          this.call(c, { target: lastSegment(c.path) } as Op, args, out, 0, new Map());
          cur = this.blockOutput(c, args, out[out.length - 1]!.id);
        }
      }
      return cur;
    }
    return undefined;
  }

  /** Output source of a collapsed block/list drawn as `node`, from its forward graph. */
  private blockOutput(m: ModuleNode, args: readonly (Source | undefined)[], node: string): Source | undefined {
    if (m.kind === 'block') {
      const g = m.forwardKey ? this.model.graphs.get(m.forwardKey) : undefined;
      if (!g?.outputs[0]) return undefined;
      const env = new Map<string, Dim>();
      g.inputs.forEach((inp, i) => {
        const s = args[i];
        if (s) bindSymbols(inp.shape, s.concrete, env);
      });
      const sym = g.outputs[0].shape;
      return { node, symbolic: sym, concrete: sym.map((d) => dimSubst(d, env)) };
    }
    let cur = args[0];
    for (const c of m.children) {
      const next =
        c.kind === 'primitive' || c.kind === 'function'
          ? this.primitiveOutput(c, [cur, ...args.slice(1)], node)
          : this.blockOutput(c, [cur, ...args.slice(1)], node);
      cur = next;
    }
    return cur ? { ...cur, node } : undefined;
  }

  private primitiveOutput(m: ModuleNode, args: readonly (Source | undefined)[], node: string): Source | undefined {
    const prim = m.primitive !== undefined ? PRIMITIVES.get(m.primitive) : undefined;
    const first = args[0];
    if (!prim || !first) return undefined;
    const sym = prim.shape([first.symbolic], m.args);
    const con = prim.shape([first.concrete], m.args);
    if (!Array.isArray(sym) || !Array.isArray(con)) return undefined;
    return { node, symbolic: sym as Shape, concrete: con as Shape };
  }

  private record(m: ModuleNode, ins: readonly (Source | undefined)[]): void {
    const target = firstBlockOf(m);
    if (!target || target.typeName !== this.seek || !target.forwardKey) return;
    const g = this.model.graphs.get(target.forwardKey);
    if (!g) return;
    const env = new Map<string, Dim>();
    g.inputs.forEach((inp, i) => {
      const s = ins[i];
      if (s) bindSymbols(inp.shape, s.concrete, env);
    });
    this.found = { module: target, graph: g, env };
  }
}

function firstBlockOf(m: ModuleNode): ModuleNode | undefined {
  if (m.kind === 'block') return m;
  for (const c of m.children) {
    const b = firstBlockOf(c);
    if (b) return b;
    if (c.kind === 'primitive' || c.kind === 'function') return undefined;
  }
  return undefined;
}

function opDiagram(op: Op) {
  return primitiveByIrName(op.op)?.diagram;
}

function opName(op: Op): string {
  return opDiagram(op)?.symbol ?? op.op;
}

function opKind(op: Op): string {
  return opDiagram(op)?.symbol !== undefined ? op.op : '';
}

function opLines(op: Op): string[] {
  const line = opDiagram(op)?.opLine?.(op.attrs);
  return line !== undefined ? [line] : [];
}

function rootEnv(bind: ReadonlyMap<string, number> | undefined): Map<string, Dim> {
  const env = new Map<string, Dim>();
  for (const [k, v] of bind ?? []) env.set(k, dimConst(v));
  return env;
}

/** Adds the graph's outputs as output nodes. */
function addOutputs(b: Builder, g: ForwardGraph, outs: readonly (Source | undefined)[], nodes: DiagramNode[]): void {
  g.outputs.forEach((o, i) => {
    const node = b.plainNode(o.name === 'out' ? 'output' : o.name, 'output', 'output');
    nodes.push(node);
    b.connect(outs[i], node.id);
  });
}

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Edge labels in the model's own names only: the shape at the bound sizes, then the same shape
 * with nothing bound (`[B, 56, 56, 40]` over `[B, H / 4, W / 4, 40]`), never a block's local
 * `H` beside the model's. The graph is built twice; both builds visit the IR in the same order.
 */
function inModelTerms(
  build: (options: DiagramOptions) => DiagramGraph | undefined,
  options: DiagramOptions,
): DiagramGraph | undefined {
  const bound = build(options);
  const free = build({ depth: options.depth });
  if (!bound || !free) return bound;
  const freeLabels = new Map(free.edges.map((e) => [e.id, e]));
  for (const e of bound.edges) {
    const other = freeLabels.get(e.id);
    if (e.kind !== 'data' || !other || other.kind !== 'data' || !e.label.length || !other.label.length) continue;
    const [here, there] = [e.label[0]!, other.label[0]!];
    (e as { label: string[] }).label = here === there ? [here] : [here, there];
  }
  return bound;
}

/** The forward graph of a whole model. */
export function modelDiagram(model: ModelIR, options: DiagramOptions): DiagramGraph {
  return inModelTerms((o) => modelDiagramAt(model, o), options)!;
}

function modelDiagramAt(model: ModelIR, options: DiagramOptions): DiagramGraph {
  const b = new Builder(model, '');
  const g = model.root.forwardKey ? model.graphs.get(model.root.forwardKey) : undefined;
  const nodes: DiagramNode[] = [];
  if (g) {
    const outs = b.graph(g, model.root, undefined, nodes, options.depth, rootEnv(options.bind));
    addOutputs(b, g, outs, nodes);
  }
  return { title: `${model.name}: ${model.root.typeName}`, nodes, edges: b.edges };
}

/** Names of the block types reachable from a model (for `--block` errors). */
export function blockNames(model: ModelIR): string[] {
  const out = new Set<string>();
  const visit = (m: ModuleNode) => {
    if (m.kind === 'block' && m.path !== '') out.add(m.typeName);
    m.children.forEach(visit);
  };
  visit(model.root);
  return [...out].sort();
}

/**
 * One block as used in a model: its first instance, with shapes made concrete by the call site
 * (`[B, 56, 56, 40]` for ConvNeXt-V2-atto stage 0 at 224 px). Undefined when the model never
 * uses a block of that name.
 */
export function blockDiagram(model: ModelIR, block: string, options: DiagramOptions): DiagramGraph | undefined {
  return inModelTerms((o) => blockDiagramAt(model, block, o), options);
}

function blockDiagramAt(model: ModelIR, block: string, options: DiagramOptions): DiagramGraph | undefined {
  const seeker = new Builder(model, '', block);
  const g = model.root.forwardKey ? model.graphs.get(model.root.forwardKey) : undefined;
  if (!g) return undefined;
  seeker.graph(g, model.root, undefined, [], 1000, rootEnv(options.bind));
  // A block whose parts the model calls one by one (MED-NVC runs `enc` stage by stage) has no
  // call site of its own: draw its forward graph with its own symbolic shapes.
  const found = seeker.found ?? uncalled(model, block);
  if (!found) return undefined;
  const b = new Builder(model, '');
  const nodes: DiagramNode[] = [];
  const outs = b.graph(found.graph, found.module, undefined, nodes, options.depth, found.env);
  addOutputs(b, found.graph, outs, nodes);
  const params = countParams(found.module);
  return {
    title: `${found.module.typeName} (${model.name}.${found.module.path}, ${formatCount(params)} params)`,
    nodes,
    edges: b.edges,
  };
}

function uncalled(model: ModelIR, block: string): Located | undefined {
  const find = (m: ModuleNode): ModuleNode | undefined => {
    if (m.kind === 'block' && m.typeName === block && m.forwardKey) return m;
    for (const c of m.children) {
      const f = find(c);
      if (f) return f;
    }
    return undefined;
  };
  const m = find(model.root);
  const g = m?.forwardKey ? model.graphs.get(m.forwardKey) : undefined;
  return m && g ? { module: m, graph: g, env: new Map() } : undefined;
}

function walk(nodes: readonly DiagramNode[], f: (n: DiagramNode) => void): void {
  for (const n of nodes) {
    f(n);
    walk(n.children, f);
  }
}

/**
 * One number format for every figure: small and large values in the shortest exponent form
 * (`5e-5` beside `5e-7`, never `0.00005`), the rest as written.
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x) || x === 0 || (Number.isInteger(x) && Math.abs(x) < 1e6)) return String(x);
  const magnitude = Math.abs(x);
  return magnitude < 1e-3 || magnitude >= 1e6 ? x.toExponential() : String(x);
}

function fmtSetting(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map(fmtSetting).join(', ');
  const o = v as Record<string, unknown>;
  if (o.type === 'then' && Array.isArray(o.args)) return (o.args as unknown[]).map(fmtSetting).join(' then ');
  const args = Object.entries(o)
    .filter(([k]) => k !== 'type')
    .map(([k, x]) => (k === 'args' ? fmtSetting(x) : `${k} = ${fmtSetting(x)}`));
  return `${String(o.type ?? '')}(${args.join(', ')})`;
}

/** Input shapes a stage's dataset fixes: images [B, h, w, c], field groups [B, width]. */
function datasetInputShape(ds: DatasetIR | undefined, input: string): number[] | undefined {
  if (!ds) return undefined;
  const group = ds.fieldGroups[input];
  if (group) return [group.reduce((a, f) => a + f.width, 0)];
  const images = ds.settings.images as { size?: number[]; channels?: number } | undefined;
  if (images?.size && images.size.length === 2) return [images.size[0]!, images.size[1]!, images.channels ?? 3];
  return undefined;
}

/**
 * The whole program like the paper's Figure 1: one cluster per stage, side by side, with the
 * inputs, the model's top level, the mask policy feeding the masked (sparse) layers, the loss,
 * and hand-over edges from the stage that trained a module to the stage that receives it.
 */
export function trainingDiagram(train: TrainIR, datasets: readonly DatasetIR[], options: DiagramOptions): DiagramGraph {
  const ds = datasets.find((d) => d.name === train.dataset);
  const nodes: DiagramNode[] = [];
  const edges: DiagramEdge[] = [];
  const stageNodes = new Map<string, { group: DiagramNode; b: Builder }>();
  train.stages.forEach((stage, si) => {
    const model = stage.model;
    const b = new Builder(model, `s${si + 1}`);
    const inputs = (stage.settings.inputs as string[] | undefined) ?? [];
    const group = b.plainNode(`stage ${stage.name}`, model.root.typeName, 'stage', stageLines(stage));
    const g = model.root.forwardKey ? model.graphs.get(model.root.forwardKey) : undefined;
    if (g) {
      const env = rootEnv(options.bind);
      g.inputs.forEach((inp, i) => {
        const fixed = datasetInputShape(ds, inputs[i] ?? inp.name);
        if (fixed && fixed.length === inp.shape.length - 1)
          bindSymbols(
            inp.shape.slice(1),
            fixed.map((v) => dimConst(v)),
            env,
          );
      });
      const outs = b.graph(g, model.root, undefined, group.children, options.depth, env, inputs);
      const loss = b.plainNode('loss', lossKind(stage.settings.loss), 'loss', lossLines(stage.settings.loss));
      group.children.push(loss);
      outs.forEach((o) => b.connect(o, loss.id));
      if (stage.mask) {
        const image = datasetInputShape(ds, String(stage.mask.input ?? inputs[0] ?? g.inputs[0]?.name ?? ''));
        const mask = b.plainNode('mask', String(stage.mask.type ?? 'mask'), 'mask', [
          ...maskLines(stage.mask, image?.length === 3 ? image : undefined),
          poolingText(poolingUnderMask(model)),
        ]);
        group.children.push(mask);
        const targets: DiagramNode[] = [];
        for (const n of group.children) if (n.sparse && n.role !== 'mask') targets.push(n);
        walk(group.children, (n) => {
          if (n.sparse) n.masked = true;
        });
        for (const t of targets) b.addEdge(mask.id, t.id, ['mask'], 'mask');
      } else {
        // Nothing is masked here: `sparse` layers run dense and are drawn so.
        walk(group.children, (n) => {
          (n as { sparse: boolean }).sparse = false;
        });
      }
      addRandomThrow(b, group, stage);
    }
    walk(group.children, (n) => {
      if (n.path !== undefined && stage.frozen.some((p) => n.path === p || n.path!.startsWith(p + '.')))
        n.frozen = true;
    });
    nodes.push(group);
    stageNodes.set(stage.name, { group, b });
    edges.push(...b.edges);
  });
  let hid = 0;
  for (const stage of train.stages) {
    const to = stageNodes.get(stage.name)!;
    for (const h of stage.handOver) {
      const from = stageNodes.get(h.fromStage);
      if (!from) continue;
      const under = (n: DiagramNode, p: string) =>
        n.path !== undefined && (n.path === p || n.path.startsWith(p + '.') || p.startsWith(n.path + '.'));
      const sources: DiagramNode[] = [];
      walk(from.group.children, (n) => {
        if (under(n, h.fromPath) && n.role !== 'group') sources.push(n);
      });
      const targets: DiagramNode[] = [];
      walk(to.group.children, (n) => {
        if (n.path !== undefined && (n.path === h.to || n.path.startsWith(h.to + '.'))) {
          n.handedFrom = `${h.fromStage}.${h.fromPath}`;
          if (n.role !== 'group') targets.push(n);
        }
      });
      for (const n of sources) n.handsTo = `${stage.name}.${h.to}`;
      // Between the stage clusters: the receiving module is often several top-level nodes.
      edges.push({
        id: `h${++hid}`,
        source: from.group.id,
        target: to.group.id,
        label: [`weights ${h.fromStage}.${h.fromPath} → ${stage.name}.${h.to}`],
        kind: 'handover',
      });
    }
  }
  return { title: `train ${train.name} on ${train.dataset}`, nodes, edges };
}

/**
 * The paper's "random throw" (modality dropout) as a node feeding the inputs it may replace:
 * each training sample, with probability p, has one of them (chosen uniformly) replaced by the
 * fill value.
 */
function addRandomThrow(b: Builder, group: DiagramNode, stage: StageIR): void {
  const d = stage.settings.modality_dropout as Record<string, unknown> | undefined;
  if (!d || typeof d !== 'object' || d.type !== 'random_throw') return;
  const inputs = group.children.filter((c) => c.role === 'input');
  const named = Array.isArray(d.modalities) ? d.modalities.map(String) : inputs.map((c) => c.name);
  const thrown = inputs.filter((c) => named.includes(c.name));
  if (thrown.length === 0) return;
  const p = typeof d.p === 'number' ? d.p : undefined;
  const node = b.plainNode('random throw', 'modality dropout', 'mask', [
    `p = ${fmtSetting(d.p)} per sample: one of ${thrown.length} inputs`,
    `replaced by fill ${fmtSetting(d.fill)}`,
  ]);
  group.children.unshift(node);
  const each = p !== undefined ? `p = ${formatNumber(p / thrown.length)}` : 'thrown';
  for (const input of thrown) b.addEdge(node.id, input.id, [each], 'mask');
}

function stageLines(stage: StageIR): string[] {
  const s = stage.settings;
  const lines: string[] = [];
  const a: string[] = [];
  if (s.epochs !== undefined) a.push(`${fmtSetting(s.epochs)} epochs`);
  if (s.batch !== undefined) a.push(`batch ${fmtSetting(s.batch)}`);
  if (a.length) lines.push(a.join(', '));
  if (s.optimizer !== undefined) lines.push(`optimizer ${fmtSetting(s.optimizer)}`);
  if (s.schedule !== undefined) lines.push(`schedule ${fmtSetting(s.schedule)}`);
  const dropout = s.modality_dropout as { type?: unknown } | undefined;
  if (dropout !== undefined && dropout?.type !== 'random_throw')
    lines.push(`modality dropout ${fmtSetting(s.modality_dropout)}`);
  if (stage.frozen.length) lines.push(`frozen ${stage.frozen.join(', ')}`);
  return lines;
}

function lossKind(loss: unknown): string {
  if (typeof loss === 'string') return loss;
  if (loss && typeof loss === 'object' && 'type' in loss) return String((loss as { type: unknown }).type);
  return 'loss';
}

function lossLines(loss: unknown): string[] {
  if (!loss || typeof loss !== 'object') return [];
  return Object.entries(loss as Record<string, unknown>)
    .filter(([k]) => k !== 'type')
    .map(([k, v]) => `${k} = ${fmtSetting(v)}`);
}

/**
 * The ratio as declared and, when the dataset fixes the image size, what it removes: the kept
 * count is truncated (ratio 0.6 of a 2x2 grid keeps 1), so the removed share can exceed it.
 */
function maskLines(mask: Readonly<Record<string, unknown>>, image: readonly number[] | undefined): string[] {
  const out: string[] = [];
  const patch = mask.patch;
  if (typeof mask.ratio === 'number') out.push(`ratio ${mask.ratio}`);
  if (patch !== undefined) out.push(`patch ${fmtSetting(patch)}×${fmtSetting(patch)}`);
  if (typeof mask.ratio === 'number' && typeof patch === 'number' && image && patch > 0) {
    const grid = Math.floor(image[0]! / patch) * Math.floor(image[1]! / patch);
    if (grid > 0 && image[0]! % patch === 0 && image[1]! % patch === 0)
      out.push(removedPatchesText(grid, mask.ratio, mask.kept === 'decimal' ? 'decimal' : 'official'));
  }
  return out;
}

/** Every node, depth first. */
export function allNodes(g: DiagramGraph): DiagramNode[] {
  const out: DiagramNode[] = [];
  walk(g.nodes, (n) => out.push(n));
  return out;
}
