/**
 * `nvcc diff A.nvc [B.nvc] [--variant V] [--against W] [--model M | --stage S | --training]
 *  [--depth N] [--format text|svg|png|pdf|dot|mermaid] [--out PATH]`.
 * In: two programs: two files, or one file under two variants (`--variant` applies to the
 * first, `--against` to the second; B defaults to A). Out: a text diff of stages, modules and
 * parameter counts, or (with a diagram format) one figure with added, removed and changed
 * blocks highlighted. Exit 1 on a bad spec or bad flags, never a stack trace.
 */
import { renderDiagnostics, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { UserError } from '../../runtime/errors.js';
import { parseDepth, parseDims } from '../flags.js';
import { writeOutput } from '../output.js';
import type { SetExit } from './index.js';
import { diffDiagram, diffPrograms, formatProgramDiff } from '../../compiler/diagram/diff.js';
import { allNodes, type DiagramGraph } from '../../compiler/diagram/graph.js';
import { drawnNodesRefusal, renderDiagram } from '../../compiler/diagram/render.js';
import { selectDiagram, type DiagramSelection } from '../../compiler/diagram/select.js';
import type { ProgramIR } from '../../compiler/ir/ir.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { parseView } from './diagram.js';

export async function diffCommand(
  a: string,
  b: string | undefined,
  opts: {
    variant?: string;
    against?: string;
    model?: string;
    stage?: string;
    training?: boolean;
    depth: string;
    direction: string;
    theme: string;
    dims?: string;
    format?: string;
    out?: string;
  },
  setExit: SetExit,
): Promise<void> {
  const textOut = opts.format === undefined ? !opts.out || /\.(txt|diff)$/i.test(opts.out) : opts.format === 'text';
  const view = textOut ? undefined : parseView(opts);
  const depth = parseDepth(opts.depth);
  const second = b ?? a;
  if (second === a && opts.variant === opts.against)
    throw new UserError(
      'nothing to compare: give a second file, or --against VARIANT (and optionally --variant VARIANT for the first)',
    );
  const compile = (file: string, variant: string | undefined): ProgramIR | undefined => {
    const r = compileProgramSync(file, variant ? { variant } : {});
    if (!r.program)
      process.stderr.write(renderDiagnostics(r.diagnostics, (p) => r.files.get(p), { color: shouldUseColor() }) + '\n');
    return r.program;
  };
  const before = compile(a, opts.variant);
  const after = compile(second, opts.against);
  if (!before || !after) {
    setExit(1);
    return;
  }
  const label = (file: string, v: string | undefined) => `${file}${v ? ` (variant ${v})` : ''}`;
  const labels = { before: label(a, opts.variant), after: label(second, opts.against) };
  if (textOut) {
    writeOutput(formatProgramDiff(diffPrograms(before, after, labels, opts.model ?? opts.stage)), opts.out);
    return;
  }
  const sel: DiagramSelection = {
    depth,
    dims: parseDims(opts.dims),
    ...(opts.model !== undefined ? { model: opts.model } : {}),
    ...(opts.stage !== undefined ? { stage: opts.stage } : {}),
    ...(opts.training ? { training: true } : {}),
  };
  const ga = selectDiagram(before, sel);
  const gb = selectDiagram(after, sel);
  if ('error' in ga) throw new UserError(`${labels.before}: ${ga.error}`);
  if ('error' in gb) throw new UserError(`${labels.after}: ${gb.error}`);
  const title = `diff: ${labels.before} → ${labels.after}`;
  let g = diffDiagram(ga.graph, gb.graph, title);
  // The default view is one model; when it is the same in both and the training differs (a
  // variant without pretraining), a figure with nothing highlighted says nothing: draw the
  // training, where the removed stage shows.
  const chose = opts.model !== undefined || opts.stage !== undefined || opts.training;
  if (!chose && !hasChanges(g) && before.trains.length > 0 && after.trains.length > 0) {
    const ta = selectDiagram(before, { ...sel, training: true });
    const tb = selectDiagram(after, { ...sel, training: true });
    if (!('error' in ta) && !('error' in tb)) {
      const training = diffDiagram(ta.graph, tb.graph, `${title} (the models are equal; the training differs)`);
      if (hasChanges(training)) g = training;
    }
  }
  const tooLarge = drawnNodesRefusal(g, view!.format);
  if (tooLarge) throw new UserError(tooLarge);
  writeOutput(await renderDiagram(g, view!), opts.out);
}

function hasChanges(g: DiagramGraph): boolean {
  return allNodes(g).some((n) => n.diff !== undefined) || g.edges.some((e) => e.diff !== undefined);
}
