/**
 * `nvcc summary`: a torchinfo-like table of a model.
 * In: a ModelIR (nothing else: shapes through lists come from compiler/ir/shapes.ts) and
 * concrete values for the symbolic dims (`B` = 1 and `H`, `W` = 224 unless given). Out: rows
 * (layer path, kind, output shape, parameters, MACs) to a chosen depth, totals, and per-stage
 * trainable vs frozen counts, and which models to show in which order. Holds afterwards: the
 * parameter total equals the sum of every weight's element count; the rows just under a row add
 * up to its parameters less its own weights (a child called only in parts gets a row of its own);
 * MACs follow compiler/primitives/ (conv, linear, matmul and attention multiply-accumulates only).
 */
import type { ModelIR, ModuleNode, ProgramIR } from './ir/ir.js';
import { applyModule, graphMacs, graphOf } from './ir/shapes.js';
import { dimConst, dimSubst, dimSym, formatShape, type Dim, type Shape, unify } from './symbolic.js';
import { poolingText, poolingUnderMask } from './mask-tokens.js';

export interface SummaryRow {
  readonly path: string;
  readonly depth: number;
  readonly kind: string;
  readonly outputShape: string;
  readonly params: number;
  readonly macs: number;
  readonly sparse: boolean;
}

export interface ModelSummary {
  readonly model: string;
  /** What the model is in the program: the stage that trains it, or that none does. */
  readonly role?: string;
  readonly inputs: Readonly<Record<string, string>>;
  readonly rows: readonly SummaryRow[];
  readonly totalParams: number;
  readonly trainableParams: number;
  readonly frozenParams: number;
  /** Buffers (BatchNorm's running statistics): saved with the weights, not parameters. */
  readonly buffers: { readonly tensors: number; readonly values: number };
  /** Multiply-accumulates of one forward pass for the given dims (B = 1 by default). */
  readonly macs: number;
  /** Elements of the model's inputs for the given dims. */
  readonly inputElements: number;
  /**
   * Elements of every intermediate result of one forward pass (each op's output once; a block
   * call and the taking of a named output are views, not new tensors). A tfjs backward pass
   * holds about BACKWARD_FACTOR times as much at its peak.
   */
  readonly activationElements: number;
}

export interface StageSummary {
  readonly train: string;
  readonly stage: string;
  readonly model: string;
  readonly totalParams: number;
  readonly trainableParams: number;
  readonly frozenParams: number;
  readonly handOver: readonly string[];
  /**
   * For a stage with a mask policy: the policy's settings and how the GRN norms that run under
   * the mask pool their statistics (`masked_statistics` ops outside `unmasked` blocks, counted
   * per layer instance, by pooling).
   */
  readonly masking?: {
    readonly policy: Readonly<Record<string, unknown>>;
    readonly grn: Readonly<Record<string, number>>;
  };
  /** Estimated memory of one training step, when the stage's batch and its model's per-sample
   * activations are known. */
  readonly training?: TrainingMemory;
}

export interface TrainingMemory {
  readonly batch: number;
  /** `micro_batch`: the samples whose activations are alive at once, when below the batch. */
  readonly microBatch?: number;
  readonly optimizer: string;
  /** Optimizer state tensors per trainable weight (Lion 1, AdamW 2). */
  readonly statesPerWeight: number;
  /**
   * weights + gradients + optimizer state + batch x inputs + (micro-)batch x BACKWARD_FACTOR x
   * activations, float32 bytes.
   */
  readonly bytes: number;
}

/** Lion keeps one moment per weight, AdamW two. */
const OPTIMIZER_STATES: Readonly<Record<string, number>> = { lion: 1, adamw: 2 };

/**
 * Peak memory of a tfjs backward pass per byte of forward activations. tfjs's tape keeps every
 * kernel's inputs and outputs until the gradients are done, and the gradient kernels make their
 * own temporaries, so a step peaks well above the forward results: `bench/summary-memory.ts`
 * measures 4.8-5.4 on the demo's three stages (ConvNeXt-V2 blocks, FCMAE, cross-attention;
 * tfjs 4.22, cpu and wasm alike). The upper end, rounded up, keeps the estimate on the safe side.
 */
export const BACKWARD_FACTOR = 5.5;

/** Buffer tensors and their values below a node (never counted as parameters). */
export function countBuffers(node: ModuleNode): { tensors: number; values: number } {
  let tensors = 0;
  let values = 0;
  const visit = (n: ModuleNode): void => {
    for (const b of n.buffers ?? []) {
      tensors++;
      values += b.shape.reduce((a, c) => a * c, 1);
    }
    n.children.forEach(visit);
  };
  visit(node);
  return { tensors, values };
}

export function countParams(node: ModuleNode): number {
  let n = 0;
  for (const w of node.weights) n += w.shape.reduce((a, b) => a * b, 1);
  for (const c of node.children) n += countParams(c);
  return n;
}

/** The last segment of a node's path: its key in its parent. */
const keyOf = (node: ModuleNode) => node.path.slice(node.path.lastIndexOf('.') + 1);

function frozenCount(node: ModuleNode, frozenPaths: readonly string[], prefix = '', inherited = false): number {
  let n = 0;
  const here = inherited || frozenPaths.includes(prefix.replace(/\.$/, ''));
  for (const w of node.weights)
    if (here || w.frozen || frozenPaths.includes(prefix + w.name)) n += w.shape.reduce((a, b) => a * b, 1);
  for (const c of node.children) n += frozenCount(c, frozenPaths, `${prefix}${keyOf(c)}.`, here);
  return n;
}

function findChild(node: ModuleNode, path: string): ModuleNode | undefined {
  let cur: ModuleNode | undefined = node;
  for (const part of path.split('.').filter(Boolean)) cur = cur?.children.find((c) => keyOf(c) === part);
  return cur;
}

/** Ops whose value is not a new tensor: graph inputs, weights, constants, block calls (their
 * result is the callee's last op, counted there) and named-output reads. */
const VIEW_OPS = new Set(['input', 'param', 'const', 'call', 'output']);

function toNumber(d: Dim): number {
  const c = d.constantValue();
  return c ? Number(c.num) / Number(c.den) : NaN;
}

/** Element count of a concrete shape (NaN when a dim is still symbolic). */
function elements(shape: Shape): number {
  return shape.reduce((n, d) => n * toNumber(d), 1);
}

/**
 * Rows under their parent, siblings in order of first call: a forward that calls a child in
 * parts between other layers (`enc.stages[1]`, then `fusion`, then `enc.stages[2]`) still shows
 * the child's parts together.
 */
function treeOrder(rows: readonly SummaryRow[]): SummaryRow[] {
  const paths = new Set(rows.map((r) => r.path));
  const children = new Map<string, SummaryRow[]>();
  const parentOf = (path: string): string => {
    for (let i = path.lastIndexOf('.'); i > 0; i = path.lastIndexOf('.', i - 1))
      if (paths.has(path.slice(0, i))) return path.slice(0, i);
    return '';
  };
  const [root, ...rest] = rows;
  if (!root) return [];
  for (const r of rest) {
    const parent = parentOf(r.path);
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const out: SummaryRow[] = [root];
  const visit = (path: string) => {
    for (const c of children.get(path) ?? []) {
      out.push(c);
      visit(c.path);
    }
  };
  visit('');
  return out;
}

export function summarizeModel(
  model: ModelIR,
  dims: ReadonlyMap<string, number> = new Map(),
  maxDepth = 2,
  frozenPaths: readonly string[] = [],
): ModelSummary {
  const rows: SummaryRow[] = [];
  const seen = new Set<string>();
  const concrete = (d: Dim, env: ReadonlyMap<string, Dim>): Dim => {
    const s = dimSubst(d, env);
    const fill = new Map<string, Dim>();
    for (const sym of s.symbols()) fill.set(sym, dimConst(dims.get(sym) ?? (sym === 'B' ? 1 : 224)));
    return dimSubst(s, fill);
  };
  const concreteShape = (s: Shape, env: ReadonlyMap<string, Dim>): Shape => s.map((d) => concrete(d, env));
  let activations = 0;
  const count = (shape: Shape) => (activations += elements(shape));
  /**
   * Children a forward calls only in parts (`enc.stages[0]`, never `enc` itself): a row each,
   * placed before its first part, with the parts' MACs, so the rows at every depth still add up
   * to the total.
   */
  const inParts = new Map<string, { row: SummaryRow; macs: number }>();
  const called = new Set<string>();
  const push = (path: string, layer: ModuleNode, shape: Shape, macs: Dim) => {
    if (seen.has(path)) return;
    seen.add(path);
    called.add(path);
    const segments = path === '' ? [] : path.split('.');
    const depth = segments.length;
    const prefixes = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('.'));
    // Up to the nearest ancestor that ran whole: its MACs already hold this call's.
    for (const prefix of [...prefixes].reverse()) {
      if (called.has(prefix)) break;
      const part = inParts.get(prefix);
      if (part) part.macs += toNumber(macs);
    }
    for (const prefix of prefixes) {
      if (seen.has(prefix)) continue;
      const node = findChild(model.root, prefix);
      if (!node) continue;
      seen.add(prefix);
      const row: SummaryRow = {
        path: prefix,
        depth: prefix.split('.').length,
        kind: node.typeName,
        outputShape: '(called in parts)',
        params: countParams(node),
        macs: toNumber(macs),
        sparse: node.sparse,
      };
      inParts.set(prefix, { row, macs: toNumber(macs) });
      if (row.depth <= maxDepth) rows.push(row);
    }
    if (depth > maxDepth) return;
    rows.push({
      path: path || model.name,
      depth,
      kind: layer.typeName,
      outputShape: formatShape(shape),
      params: countParams(layer),
      macs: toNumber(macs),
      sparse: layer.sparse,
    });
  };
  const walk = (layer: ModuleNode, path: string, inputs: Shape[], named: Map<string, Shape>) => {
    const g = layer.kind === 'block' ? graphOf(model, layer) : undefined;
    if (g) {
      const env = new Map<string, Dim>();
      const actual = g.inputs.map((x, i) => inputs[i] ?? named.get(x.name) ?? x.shape);
      unify(
        g.inputs.map((x) => x.shape),
        actual,
        env,
      );
      const shapes = new Map<number, Shape>();
      for (const op of g.ops) {
        shapes.set(op.id, concreteShape(op.shape, env));
        if (!VIEW_OPS.has(op.op)) count(shapes.get(op.id)!);
        if (op.target === undefined || op.op === 'input' || op.op === 'param') continue;
        const child = findChild(layer, op.target);
        if (!child) continue;
        const childPath = path ? `${path}.${op.target}` : op.target;
        const opInputs = op.inputs.map((id) => shapes.get(id)!);
        const positional: Shape[] = [];
        const namedIn = new Map<string, Shape>();
        if (!op.ports) positional.push(...opInputs);
        else
          op.ports.forEach((p, i) => {
            const byPosition =
              p.startsWith('#') || (i === positional.length && graphOf(model, child)?.inputs[i]?.name === p);
            if (byPosition) positional.push(opInputs[i]!);
            else namedIn.set(p, opInputs[i]!);
          });
        push(childPath, child, concreteShape(op.shape, env), concrete(op.macs, env));
        walk(child, childPath, positional, namedIn);
      }
      return;
    }
    if (layer.kind === 'list' || layer.kind === 'sequential') {
      let cur = inputs[0];
      for (const c of layer.children) {
        if (!cur) return;
        const k = keyOf(c);
        const r = applyModule(
          model,
          c,
          [cur, ...inputs.slice(1)],
          c.kind === 'block' || c.kind === 'list' || c.kind === 'sequential' ? named : new Map(),
        );
        if ('error' in r) return;
        const childPath = path ? `${path}.${k}` : k;
        push(childPath, c, concreteShape(r.shape, new Map()), concrete(r.macs, new Map()));
        if (c.kind === 'primitive' || c.kind === 'function') count(concreteShape(r.shape, new Map()));
        walk(c, childPath, [cur, ...inputs.slice(1)], named);
        cur = concreteShape(r.shape, new Map());
      }
    }
  };
  const inst = model.root;
  const g = graphOf(model, inst);
  const inputs: Record<string, string> = {};
  let macs = 0;
  let inputElements = 0;
  if (g) {
    const inShapes = g.inputs.map((x) => concreteShape(x.shape, new Map()));
    for (const shape of inShapes) inputElements += elements(shape);
    g.inputs.forEach((x, i) => (inputs[x.name] = formatShape(inShapes[i]!)));
    const out = g.outputs[0]!;
    macs = toNumber(concrete(graphMacs(g), new Map()));
    push('', inst, concreteShape(out.shape, new Map()), concrete(graphMacs(g), new Map()));
    walk(inst, '', inShapes, new Map());
  }
  const total = countParams(inst);
  const frozen = frozenCount(inst, frozenPaths);
  return {
    model: model.name,
    inputs,
    rows: treeOrder(
      rows.map((r) => {
        const part = inParts.get(r.path);
        return part ? { ...r, macs: part.macs } : r;
      }),
    ),
    totalParams: total,
    trainableParams: total - frozen,
    frozenParams: frozen,
    buffers: countBuffers(inst),
    macs,
    inputElements,
    activationElements: activations,
  };
}

/** A model `nvcc summary` can show: a stage's model (at its data's sizes) or a declared one. */
export interface SummaryTarget {
  /** The name `--model` takes: the stage's or the declaration's. */
  readonly name: string;
  readonly model: ModelIR;
  readonly frozen: readonly string[];
  /** The sizes the stage's data give the model's symbolic dims. */
  readonly dataDims?: ReadonlyMap<string, number>;
  readonly role?: string;
}

/**
 * The models of a program in the order a reader wants them: each train's last stage (the model
 * the run produces) first, then its other stages in training order, then declared models no
 * stage trains. A declared model that a stage trains as declared is shown once, as the stage.
 */
export function summaryTargets(program: ProgramIR): SummaryTarget[] {
  const out: SummaryTarget[] = [];
  for (const t of program.trains) {
    const last = t.stages.at(-1);
    for (const s of last ? [last, ...t.stages.slice(0, -1)] : []) {
      const what = s === last && t.stages.length > 1 ? ', the last stage' : '';
      out.push({
        name: s.name,
        model: s.model,
        frozen: s.frozen,
        dataDims: stageInputDims(program, t.name, s.name),
        role: `${s.model.root.typeName}, trained by stage ${t.name}.${s.name}${what}`,
      });
    }
  }
  const trained = out.map((c) => c.model);
  for (const m of program.models) {
    if (out.some((c) => c.name === m.name)) continue;
    const same = trained.some(
      (x) => x.root.typeName === m.root.typeName && countParams(x.root) === countParams(m.root),
    );
    if (same) continue;
    out.push({ name: m.name, model: m, frozen: [], ...(trained.length ? { role: 'not trained by any stage' } : {}) });
  }
  return out;
}

/**
 * Per stage: trainable and frozen counts, hand-overs, and (given each stage model's summary at
 * B = 1 and the data's sizes) an estimate of one training step's memory at the stage's batch.
 */
export function summarizeStages(
  program: ProgramIR,
  perSample?: (train: string, stage: string) => ModelSummary | undefined,
): StageSummary[] {
  const out: StageSummary[] = [];
  for (const t of program.trains)
    for (const s of t.stages) {
      const total = countParams(s.model.root);
      const frozen = frozenCount(s.model.root, s.frozen);
      const one = perSample?.(t.name, s.name);
      const batch = typeof s.settings.batch === 'number' ? s.settings.batch : undefined;
      // With micro-batches only one chunk's activations are alive at a time.
      const chunk =
        typeof s.settings.micro_batch === 'number' && batch !== undefined
          ? Math.min(s.settings.micro_batch, batch)
          : batch;
      const optimizer = (s.settings.optimizer as { type?: unknown } | undefined)?.type;
      const states = typeof optimizer === 'string' ? OPTIMIZER_STATES[optimizer] : undefined;
      const training: TrainingMemory | undefined =
        one && batch !== undefined && states !== undefined && Number.isFinite(one.activationElements)
          ? {
              batch,
              ...(chunk !== batch ? { microBatch: chunk! } : {}),
              optimizer: String(optimizer),
              statesPerWeight: states,
              bytes:
                4 *
                (total +
                  (total - frozen) * (1 + states) +
                  batch * one.inputElements +
                  chunk! * BACKWARD_FACTOR * one.activationElements),
            }
          : undefined;
      out.push({
        ...(training ? { training } : {}),
        train: t.name,
        stage: s.name,
        model: s.model.root.typeName,
        totalParams: total,
        trainableParams: total - frozen,
        frozenParams: frozen,
        handOver: s.handOver.map((h) => `${h.fromStage}.${h.fromPath} -> ${h.to}`),
        ...(s.mask ? { masking: { policy: s.mask, grn: poolingUnderMask(s.model) } } : {}),
      });
    }
  return out;
}

/** `mask random_patches(ratio = 0.6, patch = 32); GRN norms under the mask: per sample (12)`. */
function maskingLine(m: NonNullable<StageSummary['masking']>): string {
  const { type, ...args } = m.policy as { type?: unknown };
  const policy = `${String(type ?? 'mask')}(${Object.entries(args)
    .map(([k, v]) => `${k} = ${String(v)}`)
    .join(', ')})`;
  return `    mask ${policy}; ${poolingText(m.grn)}`;
}

/**
 * The sizes a stage's data give its model's symbolic input dims: an image input gets the
 * dataset's image size and channels, a field-group input its encoded width. `B` stays free.
 * A stage summary drawn at these sizes shows what training will run (a demo at 64 px, not 224).
 */
export function stageInputDims(program: ProgramIR, train: string, stage: string): Map<string, number> {
  const out = new Map<string, number>();
  const t = program.trains.find((x) => x.name === train);
  const s = t?.stages.find((x) => x.name === stage);
  const dataset = program.datasets.find((d) => d.name === t?.dataset);
  const g = s?.model.root.forwardKey ? s.model.graphs.get(s.model.root.forwardKey) : undefined;
  if (!s || !dataset || !g) return out;
  const names = Array.isArray(s.settings.inputs)
    ? (s.settings.inputs as unknown[]).map(String)
    : g.inputs.map((i) => i.name);
  const images = dataset.settings.images as { size?: unknown; channels?: unknown } | undefined;
  const size = Array.isArray(images?.size) && images.size.length === 2 ? (images.size as number[]) : undefined;
  const channels = typeof images?.channels === 'number' ? images.channels : undefined;
  const patterns: Shape[] = [];
  const actual: Shape[] = [];
  g.inputs.forEach((input, i) => {
    const group = dataset.fieldGroups[names[i] ?? ''];
    if (group && input.shape.length === 2) {
      patterns.push(input.shape);
      actual.push([dimSym('B'), dimConst(group.reduce((n, f) => n + f.width, 0))]);
    } else if (!group && input.shape.length === 4 && size) {
      patterns.push(input.shape);
      actual.push([
        dimSym('B'),
        dimConst(size[0]!),
        dimConst(size[1]!),
        channels !== undefined ? dimConst(channels) : input.shape[3]!,
      ]);
    }
  });
  const env = new Map<string, Dim>();
  if (unify(patterns, actual, env) !== undefined) return out;
  for (const [name, d] of env) {
    const n = d.asInt();
    if (name !== 'B' && n !== undefined) out.set(name, n);
  }
  return out;
}

/** A byte count in B, kB, MB or GB (powers of 10, as torchinfo prints), 3 significant digits. */
function bytesText(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let k = 0;
  while (bytes >= 1000 && k < units.length - 1) {
    bytes /= 1000;
    k++;
  }
  return `${k === 0 ? bytes : bytes.toPrecision(3)} ${units[k]}`;
}

/** float32 elements as a byte count. */
const float32Bytes = (elements: number) => bytesText(elements * 4);

const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US') : '?');

export function formatSummaryTable(s: ModelSummary): string {
  const header = ['Layer (path)', 'Kind', 'Output shape', 'Params', 'MACs'];
  const body = s.rows.map((r) => [
    `${'  '.repeat(r.depth)}` +
      `${r.path === s.model ? s.model : r.path.slice(r.path.lastIndexOf('.') + 1) === r.path ? r.path : r.path}` +
      `${r.sparse ? ' (sparse)' : ''}`,
    r.kind,
    r.outputShape,
    fmt(r.params),
    fmt(r.macs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
  const out = [
    `model ${s.model}${s.role ? ` (${s.role})` : ''}  inputs: ${Object.entries(s.inputs)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    rule,
    line(header),
    rule,
    ...body.map(line),
    rule,
    `Total params: ${fmt(s.totalParams)}`,
    `Trainable params: ${fmt(s.trainableParams)}`,
    `Frozen params: ${fmt(s.frozenParams)}`,
    ...(s.buffers.tensors
      ? [
          `Buffers (saved with the weights, not trained): ${fmt(s.buffers.values)} values in ` +
            `${fmt(s.buffers.tensors)} tensor${s.buffers.tensors === 1 ? '' : 's'}`,
        ]
      : []),
    `MACs (multiply-accumulates, conv/linear/matmul/attention): ${fmt(s.macs)} (${(s.macs / 1e9).toFixed(3)} G)`,
    `Input size (float32): ${float32Bytes(s.inputElements)}`,
    `Forward activations (float32, every intermediate result): ${float32Bytes(s.activationElements)}`,
    `Parameters (float32): ${float32Bytes(s.totalParams)}`,
  ];
  return out.join('\n') + '\n';
}

export function formatStageTable(stages: readonly StageSummary[]): string {
  if (stages.length === 0) return '';
  const out = ['', 'Stages (trainable vs frozen):'];
  for (const s of stages) {
    out.push(
      `  ${s.train}.${s.stage}: ${s.model}  total ${fmt(s.totalParams)}, trainable ${fmt(s.trainableParams)}, ` +
        `frozen ${fmt(s.frozenParams)}${s.handOver.length ? `  (weights from ${s.handOver.join(', ')})` : ''}`,
    );
    if (s.masking) out.push(maskingLine(s.masking));
    if (s.training)
      out.push(
        `    training step at batch ${s.training.batch}` +
          `${s.training.microBatch ? ` in micro-batches of ${s.training.microBatch}` : ''}: about ` +
          `${bytesText(s.training.bytes)} (weights, gradients, ${s.training.optimizer} state ` +
          `x${s.training.statesPerWeight}, inputs, ${BACKWARD_FACTOR} x activations for tfjs's backward pass; float32)`,
      );
  }
  return out.join('\n') + '\n';
}
