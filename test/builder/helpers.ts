/**
 * Shared helpers of the build tests: fresh output folders, a cpu backend with a seeded init RNG,
 * and the expected output shapes of a forward pass derived from the IR alone (for the
 * differential tests against the generated code).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findFusions } from '../../compiler/emit/fusion.js';
import type { ForwardGraph, ModelIR, ModuleNode } from '../../compiler/ir/ir.js';
import { applyModule } from '../../compiler/ir/shapes.js';
import { dimConst, dimSubst, type Dim, type Shape, unify } from '../../compiler/symbolic.js';
import * as nv from '../../runtime/index.js';

/** A new empty folder under the OS temp folder. */
export function freshDir(label = 'nvcc-build-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), label));
}

/** A new empty folder under the repository's (git-ignored) build/ folder, as `nvcc build` uses. */
export function freshRepoDir(): string {
  fs.mkdirSync('build', { recursive: true });
  const dir = fs.mkdtempSync(path.join('build', '.test-'));
  repoDirs.push(dir);
  return dir;
}
const repoDirs: string[] = [];

/** Removes the folders freshRepoDir made (call from afterAll). */
export function removeRepoDirs(): void {
  for (const d of repoDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export async function cpuSeeded(seed = 1): Promise<void> {
  await nv.tf.setBackend('cpu');
  nv.seed(seed);
}

/** Every file of a folder, relative name -> bytes (for byte-identity checks). */
export function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = fs.readFileSync(path.join(dir, f), 'utf8');
  return out;
}

export interface ExpectedStatement {
  readonly origin: string;
  readonly shape: readonly number[];
}

function concrete(shape: Shape, env: ReadonlyMap<string, Dim>, what: string): number[] {
  return shape.map((d) => {
    const v = dimSubst(d, env).asInt();
    if (v === undefined) throw new Error(`${what}: dimension ${d} is not bound to an integer`);
    return v;
  });
}

const key = (n: ModuleNode) => n.path.slice(n.path.lastIndexOf('.') + 1);

/**
 * The (origin, concrete shape) of every statement a generated forward pass reports through the
 * runtime's forward observer, in the order it reports them (inner statements before the
 * statement that called them), computed from the IR: graphs are walked with the symbols bound
 * at each call site, and layers inside chains get their shapes from the primitive table.
 */
export function expectedStatements(
  model: ModelIR,
  inputs: Readonly<Record<string, readonly number[]>>,
  origin: (span: ForwardGraph['span']) => string,
): ExpectedStatement[] {
  const out: ExpectedStatement[] = [];
  const graphOf = (node: ModuleNode): ForwardGraph => {
    const g = node.forwardKey ? model.graphs.get(node.forwardKey) : undefined;
    if (!g) throw new Error(`no graph for ${node.typeName}`);
    return g;
  };
  const find = (node: ModuleNode, target: string): ModuleNode => {
    let n = node;
    for (const part of target.split('.').filter(Boolean)) {
      const idx = n.children.findIndex((c) => key(c) === part);
      if (idx < 0) throw new Error(`no child ${part} in ${n.typeName}`);
      n = n.children[idx]!;
    }
    return n;
  };
  /** Runs a block on concrete input shapes (by input name); returns its first output's shape. */
  const runBlock = (node: ModuleNode, actual: ReadonlyMap<string, readonly number[]>): number[] => {
    const g = graphOf(node);
    const env = new Map<string, Dim>();
    const bad = unify(
      g.inputs.map((x) => x.shape),
      g.inputs.map((x) => actual.get(x.name)!.map((n) => dimConst(n))),
      env,
    );
    if (bad !== undefined) throw new Error(`inputs of ${node.typeName} do not unify`);
    const shapes = new Map<number, number[]>();
    // The emitter writes no statement for the ops a fused call replaces (compiler/emit/fusion.ts).
    const fused = new Set(findFusions(g).flatMap((f) => [...f.dropped]));
    for (const op of g.ops) {
      if (fused.has(op.id)) continue;
      if (op.op === 'input' || op.op === 'param' || op.op === 'const') {
        shapes.set(op.id, concrete(op.shape, env, node.typeName));
        continue;
      }
      const ins = op.inputs.map((id) => shapes.get(id)!);
      if (op.op === 'call') {
        const target = find(node, op.target ?? '');
        if (target.kind === 'block') {
          const g2 = graphOf(target);
          const named = new Map<string, readonly number[]>();
          ins.forEach((s, k) => {
            const port = op.ports?.[k];
            named.set(
              port === undefined || port.startsWith('#')
                ? g2.inputs[port === undefined ? k : Number(port.slice(1))]!.name
                : port,
              s,
            );
          });
          runBlock(target, named);
        } else runChain(target, ins, op.ports);
        // A call of a block with named outputs yields a record: no statement of its own is
        // observed; its `output` ops are.
        if (Array.isArray(op.attrs.outputs)) continue;
      }
      const shape = concrete(op.shape, env, node.typeName);
      shapes.set(op.id, shape);
      out.push({ origin: origin(op.span), shape });
    }
    return concrete(g.outputs[0]!.shape, env, node.typeName);
  };
  const runChain = (
    node: ModuleNode,
    ins: readonly (readonly number[])[],
    ports: readonly string[] | undefined,
  ): number[] => {
    let cur = [...ins[0]!];
    for (const child of node.children) {
      if (child.kind === 'block') {
        const g2 = graphOf(child);
        const named = new Map<string, readonly number[]>([[g2.inputs[0]!.name, cur]]);
        ins.slice(1).forEach((s, j) => {
          const port = ports?.[j + 1];
          named.set(port === undefined || port.startsWith('#') ? g2.inputs[j + 1]!.name : port, s);
        });
        cur = runBlock(child, named);
      } else if (child.kind === 'list' || child.kind === 'sequential') {
        cur = runChain(child, [cur, ...ins.slice(1)], ports);
      } else {
        const r = applyModule(model, child, [cur.map((n) => dimConst(n))]);
        if ('error' in r) throw new Error(r.error);
        cur = concrete(r.shape, new Map(), child.typeName);
      }
    }
    return cur;
  };
  runBlock(model.root, new Map(Object.entries(inputs)));
  return out;
}

/** Records every generated statement's origin and output shape while `run` executes. */
export function observe<T>(run: () => T): { result: T; statements: ExpectedStatement[] } {
  const statements: ExpectedStatement[] = [];
  nv.observeForward((origin, value) => statements.push({ origin, shape: [...value.shape] }));
  try {
    return { result: run(), statements };
  } finally {
    nv.observeForward(undefined);
  }
}
