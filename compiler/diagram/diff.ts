/**
 * Structural and parameter diff of two programs (two files, or two variants of one file).
 * In: two ProgramIRs. Out: (1) a `ProgramDiff`: per model (matched by stage name, or model
 * name) the modules added, removed and changed (type, constant settings, weight shapes,
 * repeat count) with parameter counts and deltas, plus stages added/removed and stage
 * settings changed; its text form; (2) `diffDiagram`: one diagram holding both versions, the
 * nodes and edges of each marked added / removed / changed.
 * Holds afterwards: a subtree that is added or removed is reported once, at its root; the
 * delta of every entry is exactly params(B) - params(A) of that module.
 */
import type { ModelIR, ModuleNode, ProgramIR, StageIR } from '../ir/ir.js';
import {
  countParams,
  formatCount,
  moduleTitle,
  type DiagramEdge,
  type DiagramGraph,
  type DiagramNode,
} from './graph.js';

export interface ModuleChange {
  readonly path: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly before?: string;
  readonly after?: string;
  readonly paramsBefore: number;
  readonly paramsAfter: number;
  /** What changed on a `changed` module (settings, weight shapes, repeat count). */
  readonly details: string[];
}

export interface ModelDiff {
  /** `finetune` (a stage) or a model name. */
  readonly name: string;
  readonly typeBefore?: string;
  readonly typeAfter?: string;
  readonly paramsBefore: number;
  readonly paramsAfter: number;
  readonly changes: ModuleChange[];
}

export interface StageChange {
  readonly stage: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly details: string[];
}

export interface ProgramDiff {
  readonly before: string;
  readonly after: string;
  readonly models: ModelDiff[];
  readonly stages: StageChange[];
}

function segment(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

function json(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(json).join(', ')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const args = Object.entries(o)
      .filter(([k]) => k !== 'type')
      .map(([k, x]) => (k === 'args' ? json(x) : `${k} = ${json(x)}`));
    return o.type !== undefined ? `${String(o.type)}(${args.join(', ')})` : `{${args.join(', ')}}`;
  }
  return String(v);
}

function ownDetails(a: ModuleNode, b: ModuleNode): string[] {
  const out: string[] = [];
  if (a.typeName !== b.typeName) out.push(`type ${a.typeName} → ${b.typeName}`);
  const keys = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])];
  for (const k of keys) {
    const x = a.params[k];
    const y = b.params[k];
    if (json(x) !== json(y))
      out.push(`${k} ${x === undefined ? '(unset)' : json(x)} → ${y === undefined ? '(unset)' : json(y)}`);
  }
  if ((a.repeat?.count ?? 0) !== (b.repeat?.count ?? 0))
    out.push(`repeat ${a.repeat?.count ?? 1} → ${b.repeat?.count ?? 1}`);
  if (a.sparse !== b.sparse) out.push(b.sparse ? 'now sparse' : 'no longer sparse');
  const wa = new Map(a.weights.map((w) => [w.name, w]));
  for (const w of b.weights) {
    const old = wa.get(w.name);
    if (!old) out.push(`weight ${w.name} [${w.shape.join(', ')}] added`);
    else {
      if (old.shape.join(',') !== w.shape.join(','))
        out.push(`weight ${w.name} [${old.shape.join(', ')}] → [${w.shape.join(', ')}]`);
      if (old.frozen !== w.frozen) out.push(`weight ${w.name} ${w.frozen ? 'now frozen' : 'no longer frozen'}`);
    }
  }
  for (const w of a.weights)
    if (!b.weights.some((x) => x.name === w.name)) out.push(`weight ${w.name} [${w.shape.join(', ')}] removed`);
  return out;
}

/** Modules added, removed or changed between two module trees matched by path. */
export function diffModules(a: ModuleNode, b: ModuleNode): ModuleChange[] {
  const out: ModuleChange[] = [];
  const visit = (x: ModuleNode, y: ModuleNode) => {
    const details = ownDetails(x, y);
    const px = countParams(x);
    const py = countParams(y);
    if (details.length)
      out.push({
        path: y.path || '<root>',
        change: 'changed',
        before: moduleTitle(x),
        after: moduleTitle(y),
        paramsBefore: px,
        paramsAfter: py,
        details,
      });
    const xs = new Map(x.children.map((c) => [segment(c.path), c]));
    const ys = new Map(y.children.map((c) => [segment(c.path), c]));
    for (const [k, c] of xs) {
      const d = ys.get(k);
      if (!d)
        out.push({
          path: c.path,
          change: 'removed',
          before: moduleTitle(c),
          paramsBefore: countParams(c),
          paramsAfter: 0,
          details: [],
        });
      else visit(c, d);
    }
    for (const [k, d] of ys)
      if (!xs.has(k))
        out.push({
          path: d.path,
          change: 'added',
          after: moduleTitle(d),
          paramsBefore: 0,
          paramsAfter: countParams(d),
          details: [],
        });
  };
  visit(a, b);
  return out;
}

function models(p: ProgramIR): Map<string, { model: ModelIR; stage?: StageIR }> {
  const out = new Map<string, { model: ModelIR; stage?: StageIR }>();
  for (const m of p.models) out.set(m.name, { model: m });
  for (const t of p.trains) for (const s of t.stages) out.set(s.name, { model: s.model, stage: s });
  return out;
}

function stageDetails(a: StageIR, b: StageIR): string[] {
  const out: string[] = [];
  const keys = [...new Set([...Object.keys(a.settings), ...Object.keys(b.settings)])];
  for (const k of keys) {
    const x = a.settings[k];
    const y = b.settings[k];
    if (json(x) !== json(y))
      out.push(`${k}: ${x === undefined ? '(unset)' : json(x)} → ${y === undefined ? '(unset)' : json(y)}`);
  }
  const h = (s: StageIR) => s.handOver.map((x) => `${x.fromStage}.${x.fromPath} → ${x.to}`).join(', ') || 'none';
  if (h(a) !== h(b)) out.push(`hand-over: ${h(a)} → ${h(b)}`);
  if (a.frozen.join(',') !== b.frozen.join(','))
    out.push(`frozen: ${a.frozen.join(', ') || 'none'} → ${b.frozen.join(', ') || 'none'}`);
  if (a.model.root.typeName !== b.model.root.typeName)
    out.push(`model ${a.model.root.typeName} → ${b.model.root.typeName}`);
  return out;
}

export function diffPrograms(
  a: ProgramIR,
  b: ProgramIR,
  labels: { before: string; after: string },
  only?: string,
): ProgramDiff {
  const ma = models(a);
  const mb = models(b);
  const out: ModelDiff[] = [];
  const names = [...new Set([...ma.keys(), ...mb.keys()])].filter((n) => only === undefined || n === only);
  for (const name of names) {
    const x = ma.get(name);
    const y = mb.get(name);
    out.push({
      name,
      ...(x ? { typeBefore: x.model.root.typeName } : {}),
      ...(y ? { typeAfter: y.model.root.typeName } : {}),
      paramsBefore: x ? countParams(x.model.root) : 0,
      paramsAfter: y ? countParams(y.model.root) : 0,
      changes: x && y ? diffModules(x.model.root, y.model.root) : [],
    });
  }
  const stages: StageChange[] = [];
  const sa = new Map(a.trains.flatMap((t) => t.stages.map((s) => [s.name, s] as const)));
  const sb = new Map(b.trains.flatMap((t) => t.stages.map((s) => [s.name, s] as const)));
  for (const [k, s] of sa) {
    const t = sb.get(k);
    if (!t) stages.push({ stage: k, change: 'removed', details: [] });
    else {
      const d = stageDetails(s, t);
      if (d.length) stages.push({ stage: k, change: 'changed', details: d });
    }
  }
  for (const k of sb.keys()) if (!sa.has(k)) stages.push({ stage: k, change: 'added', details: [] });
  return { before: labels.before, after: labels.after, models: out, stages };
}

function signed(n: number): string {
  return n > 0 ? `+${formatCount(n)}` : n < 0 ? `−${formatCount(-n)}` : '±0';
}

export function formatProgramDiff(d: ProgramDiff): string {
  const out: string[] = [`--- ${d.before}`, `+++ ${d.after}`];
  let any = false;
  for (const s of d.stages) {
    any = true;
    const mark = s.change === 'added' ? '+' : s.change === 'removed' ? '-' : '~';
    out.push(`${mark} stage ${s.stage} ${s.change}`);
    for (const x of s.details) out.push(`    ${x}`);
  }
  for (const m of d.models) {
    const delta = m.paramsAfter - m.paramsBefore;
    if (!m.typeBefore || !m.typeAfter) {
      any = true;
      out.push(
        `${m.typeAfter ? '+' : '-'} model ${m.name} (${m.typeAfter ?? m.typeBefore}) ` +
          `${m.typeAfter ? 'added' : 'removed'}: ${formatCount(m.typeAfter ? m.paramsAfter : m.paramsBefore)} params`,
      );
      continue;
    }
    if (!m.changes.length) continue;
    any = true;
    out.push(
      `model ${m.name} (${m.typeBefore === m.typeAfter ? m.typeAfter : `${m.typeBefore} → ${m.typeAfter}`}): ` +
        `${formatCount(m.paramsBefore)} → ${formatCount(m.paramsAfter)} params (${signed(delta)})`,
    );
    const w = Math.max(...m.changes.map((c) => c.path.length));
    for (const c of m.changes) {
      const mark = c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~';
      const what =
        c.change === 'changed'
          ? c.before === c.after
            ? c.after!
            : `${c.before} → ${c.after}`
          : (c.after ?? c.before)!;
      out.push(`  ${mark} ${c.path.padEnd(w)}  ${what}  ${signed(c.paramsAfter - c.paramsBefore)} params`);
      for (const x of c.details) out.push(`  ${' '.repeat(w + 4)}${x}`);
    }
  }
  if (!any) out.push('no structural, parameter or stage differences');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Diff diagram: both versions in one figure.

interface Keyed {
  node: DiagramNode;
  parentKey?: string;
}

/** Stable keys across versions: module path where there is one, else name and occurrence. */
function keyNodes(g: DiagramGraph): Map<string, Keyed> {
  const out = new Map<string, Keyed>();
  const visit = (ns: readonly DiagramNode[], scope: string, parentKey: string | undefined) => {
    const seen = new Map<string, number>();
    for (const n of ns) {
      const base = n.role === 'stage' ? n.name : n.path !== undefined ? `path:${n.path}` : `${n.role}:${n.name}`;
      const k = seen.get(base) ?? 0;
      seen.set(base, k + 1);
      const key = `${scope}/${base}${k ? `#${k}` : ''}`;
      out.set(key, { node: n, ...(parentKey ? { parentKey } : {}) });
      visit(n.children, n.role === 'stage' ? key : scope, key);
    }
  };
  visit(g.nodes, '', undefined);
  return out;
}

function sameNode(a: DiagramNode, b: DiagramNode): boolean {
  return (
    a.kind === b.kind &&
    a.params === b.params &&
    a.lines.join('\n') === b.lines.join('\n') &&
    a.sparse === b.sparse &&
    a.frozen === b.frozen &&
    a.ports.map((p) => p.label).join() === b.ports.map((p) => p.label).join()
  );
}

function cloneRemoved(n: DiagramNode, idMap: Map<string, string>): DiagramNode {
  const id = `old_${n.id}`;
  idMap.set(n.id, id);
  return {
    ...n,
    id,
    diff: 'removed',
    ports: n.ports.map((p) => ({ id: `old_${p.id}`, label: p.label })),
    children: n.children.map((c) => cloneRemoved(c, idMap)),
    lines: [...n.lines],
  };
}

/**
 * One figure of both versions: B's graph with A's missing nodes added back (marked removed),
 * B's new nodes marked added and nodes whose type, settings or parameter count differ marked
 * changed; edges that exist on one side only are marked the same way.
 */
export function diffDiagram(a: DiagramGraph, b: DiagramGraph, title: string): DiagramGraph {
  const ka = keyNodes(a);
  const kb = keyNodes(b);
  const keyOfA = new Map([...ka].map(([k, v]) => [v.node.id, k]));
  const keyOfB = new Map([...kb].map(([k, v]) => [v.node.id, k]));
  const nodes: DiagramNode[] = b.nodes;
  for (const [k, { node }] of kb) {
    const old = ka.get(k);
    if (!old) node.diff = 'added';
    else if (!sameNode(old.node, node)) {
      node.diff = 'changed';
      const delta = node.params - old.node.params;
      const was = old.node.kind !== node.kind ? `was ${old.node.kind}, ` : 'was ';
      if (delta !== 0 || old.node.kind !== node.kind)
        node.lines.push(
          `${was}${formatCount(old.node.params)} params (${delta >= 0 ? '+' : '−'}${formatCount(Math.abs(delta))})`,
        );
    }
  }
  // Removed nodes go back under their old parent when it still exists, else at the top.
  const idMap = new Map<string, string>();
  const unionOf = (aId: string): string | undefined => idMap.get(aId) ?? kb.get(keyOfA.get(aId) ?? '')?.node.id;
  for (const [k, { node, parentKey }] of ka) {
    if (kb.has(k)) continue;
    if (parentKey && !kb.has(parentKey)) continue; // inside a removed parent: cloned with it
    const clone = cloneRemoved(node, idMap);
    const parent = parentKey ? kb.get(parentKey)!.node : undefined;
    (parent ? parent.children : nodes).push(clone);
  }
  const pair = (src: string | undefined, tgt: string | undefined, port: string | undefined) =>
    `${src}→${tgt}:${port ?? ''}`;
  const portLabels = new Map<string, string>();
  for (const m of [ka, kb])
    for (const { node } of m.values()) for (const p of node.ports) portLabels.set(p.id, p.label);
  const portLabel = (_g: DiagramGraph, e: DiagramEdge) => (e.targetPort ? portLabels.get(e.targetPort) : undefined);
  const unionNodes = new Map<string, DiagramNode>();
  const indexUnion = (ns: readonly DiagramNode[]) =>
    ns.forEach((n) => (unionNodes.set(n.id, n), indexUnion(n.children)));
  const edgesA = new Set(a.edges.map((e) => pair(keyOfA.get(e.source), keyOfA.get(e.target), portLabel(a, e))));
  const edgesB = new Set(b.edges.map((e) => pair(keyOfB.get(e.source), keyOfB.get(e.target), portLabel(b, e))));
  const edges: DiagramEdge[] = b.edges.map((e) =>
    edgesA.has(pair(keyOfB.get(e.source), keyOfB.get(e.target), portLabel(b, e)))
      ? e
      : { ...e, diff: 'added' as const },
  );
  indexUnion(nodes);
  for (const e of a.edges) {
    if (edgesB.has(pair(keyOfA.get(e.source), keyOfA.get(e.target), portLabel(a, e)))) continue;
    const source = unionOf(e.source);
    const target = unionOf(e.target);
    if (!source || !target) continue;
    const label = portLabel(a, e);
    const targetPort =
      label !== undefined ? unionNodes.get(target)?.ports.find((p) => p.label === label)?.id : undefined;
    edges.push({
      id: `old_${e.id}`,
      source,
      target,
      ...(targetPort ? { targetPort } : {}),
      label: e.label,
      kind: e.kind,
      diff: 'removed',
    });
  }
  return { title, nodes, edges };
}
