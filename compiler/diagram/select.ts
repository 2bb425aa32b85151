/**
 * Which diagram a `nvcc diagram` invocation asks for.
 * In: a checked ProgramIR and the view flags (--model, --block, --stage, --training, --depth,
 * --dims). Out: the DiagramGraph to draw, or a user-facing error message naming what exists.
 * Holds afterwards: the choice is deterministic: with no flag, the model of the last stage of
 * the first train (the model a program is about), else the first model declaration.
 */
import type { ModelIR, ProgramIR, StageIR } from '../ir/ir.js';
import { closest } from '../report.js';
import { stageInputDims } from '../summary.js';
import {
  allNodes,
  blockDiagram,
  blockNames,
  modelDiagram,
  trainingDiagram,
  type DiagramGraph,
  type DiagramOptions,
} from './graph.js';

export interface DiagramSelection {
  readonly model?: string;
  readonly block?: string;
  readonly stage?: string;
  readonly training?: boolean;
  readonly depth: number;
  readonly dims?: ReadonlyMap<string, number>;
}

export type Selected = { readonly graph: DiagramGraph } | { readonly error: string };

interface Candidate {
  readonly name: string;
  readonly model: ModelIR;
  readonly stage?: StageIR;
  /** Sizes the stage's data give the model's symbolic inputs (image size, channels). */
  readonly dataDims?: ReadonlyMap<string, number>;
}

function candidates(p: ProgramIR): Candidate[] {
  const out: Candidate[] = p.models.map((m) => ({ name: m.name, model: m }));
  for (const t of p.trains)
    for (const s of t.stages)
      out.push({ name: s.name, model: s.model, stage: s, dataDims: stageInputDims(p, t.name, s.name) });
  return out;
}

/** A stage's model is drawn at its data's sizes (concrete shapes on the edges); --dims wins. */
function optionsFor(c: Candidate, opts: DiagramOptions): DiagramOptions {
  if (!c.dataDims?.size) return opts;
  return { ...opts, bind: new Map([...c.dataDims, ...(opts.bind ?? [])]) };
}

function notFound(what: string, name: string, names: readonly string[], file: string): { error: string } {
  const near = closest(name, names);
  return {
    error:
      `no ${what} \`${name}\` in ${file}${near ? `; did you mean \`${near}\`?` : ''} (available: ` +
      `${names.join(', ') || 'none'})`,
  };
}

/**
 * Marks a stage's masked (sparse while the stage masks) and frozen layers on a model graph. In a
 * stage without a mask the `sparse` layers run dense, so they are drawn as the dense layers they are.
 */
export function markStage(g: DiagramGraph, stage: StageIR): void {
  for (const n of allNodes(g)) {
    if (stage.mask && n.sparse) n.masked = true;
    if (!stage.mask) (n as { sparse: boolean }).sparse = false;
    if (n.path !== undefined && stage.frozen.some((p) => n.path === p || n.path!.startsWith(p + '.'))) n.frozen = true;
  }
}

export function selectDiagram(p: ProgramIR, sel: DiagramSelection): Selected {
  const opts: DiagramOptions = { depth: sel.depth, ...(sel.dims ? { bind: sel.dims } : {}) };
  const picked = [sel.model !== undefined, sel.stage !== undefined, sel.training === true].filter(Boolean).length;
  if (picked > 1) return { error: 'choose one of --model, --stage and --training' };
  if (sel.training) {
    if (sel.block) return { error: '--block draws one block; it cannot be combined with --training' };
    const train = p.trains[0];
    if (!train)
      return { error: `${p.file} declares no \`train\`, so there is no training to draw (use --model or --block)` };
    return { graph: trainingDiagram(train, p.datasets, opts) };
  }
  const all = candidates(p);
  let pool: Candidate[];
  if (sel.model !== undefined) {
    const c = all.filter(
      (c) =>
        c.name === sel.model ||
        (!c.stage && c.model.root.typeName === sel.model) ||
        c.model.root.typeName === sel.model,
    );
    if (!c.length) return notFound('model', sel.model, [...new Set(all.map((c) => c.name))], p.file);
    pool = c.slice(0, 1);
  } else if (sel.stage !== undefined) {
    const c = all.filter((c) => c.stage && (c.name === sel.stage || `${c.stage.name}` === sel.stage));
    if (!c.length)
      return notFound(
        'stage',
        sel.stage,
        all.filter((c) => c.stage).map((c) => c.name),
        p.file,
      );
    pool = c.slice(0, 1);
  } else {
    const last = p.trains[0]?.stages[p.trains[0].stages.length - 1];
    const preferred = last ? all.find((c) => c.stage === last) : all[0];
    pool = preferred ? [preferred, ...all.filter((c) => c !== preferred)] : [];
  }
  if (!pool.length)
    return {
      error:
        `${p.file} has nothing to draw: no model with defaults for every parameter, no constant holding ` +
        `a model and no train stage`,
    };
  if (sel.block !== undefined) {
    const search = sel.model !== undefined || sel.stage !== undefined ? pool : pool;
    for (const c of search) {
      const g = blockDiagram(c.model, sel.block, optionsFor(c, opts));
      if (g) {
        if (c.stage) markStage(g, c.stage);
        return { graph: g };
      }
    }
    const names = [...new Set(search.flatMap((c) => blockNames(c.model)))].sort();
    return notFound('block used by the model', sel.block, names, p.file);
  }
  const c = pool[0]!;
  const g = modelDiagram(c.model, optionsFor(c, opts));
  if (c.stage) {
    markStage(g, c.stage);
    g.title = `${c.model.root.typeName} (stage ${c.stage.name})`;
  }
  return { graph: g };
}
