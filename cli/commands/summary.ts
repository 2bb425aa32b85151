/**
 * `nvcc summary FILE [--variant V] [--set p=v ...] [--config F] [--model NAME] [--depth N] [--dims B=1,H=224]
 * [--format json]`.
 * In: a .nvc path. Out: a table per model (path, kind, output shape, params, MACs) with totals,
 * and per-stage trainable vs frozen counts; or the same as JSON. Exit 1 when the program has
 * errors (they are printed as by `nvcc check`).
 */
import { renderDiagnostics, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { UserError } from '../../runtime/errors.js';
import { gatherOverrides } from '../../workflow/overrides.js';
import { parseDepth, parseDims } from '../flags.js';
import type { SetExit } from './index.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import {
  formatStageTable,
  formatSummaryTable,
  stageInputDims,
  summarizeModel,
  summarizeStages,
  summaryTargets,
} from '../../compiler/summary.js';
import { closest } from '../../compiler/report.js';

export async function summaryCommand(
  file: string,
  opts: {
    variant?: string;
    set?: string[];
    config?: string;
    model?: string;
    depth: string;
    dims?: string;
    format: string;
  },
  setExit: SetExit,
): Promise<void> {
  // Overrides are checked against the program's override schema as `nvcc build` checks them.
  const overrides = await gatherOverrides(file, opts);
  if (Object.keys(overrides).length) {
    const [{ overrideSchemaOf }, { validateOverrides }] = await Promise.all([
      import('../../compiler/builder/build.js'),
      import('../../compiler/schema/overrides.js'),
    ]);
    const { schema } = await overrideSchemaOf(file, opts.variant);
    const problems = schema ? validateOverrides(schema, overrides) : [];
    if (problems.length) throw new UserError(problems.map((p) => p.message).join('\nerror: '));
  }
  const r = compileProgramSync(file, {
    ...(opts.variant ? { variant: opts.variant } : {}),
    ...(Object.keys(overrides).length ? { overrides } : {}),
  });
  if (!r.program) {
    process.stderr.write(renderDiagnostics(r.diagnostics, (p) => r.files.get(p), { color: shouldUseColor() }) + '\n');
    setExit(1);
    return;
  }
  const dims = parseDims(opts.dims, 'B=1,H=224');
  const depth = parseDepth(opts.depth);
  const candidates = new Map(summaryTargets(r.program).map((c) => [c.name, c] as const));
  let chosen = [...candidates.values()];
  if (opts.model) {
    const c = candidates.get(opts.model);
    if (!c) {
      const near = closest(opts.model, candidates.keys());
      throw new UserError(
        `no model or stage \`${opts.model}\` in ${file}${near ? `; did you mean \`${near}\`?` : ''} ` +
          `(available: ${[...candidates.keys()].join(', ') || 'none'})`,
      );
    }
    chosen = [c];
  }
  // A stage's model is summarised at its dataset's sizes; --dims still wins.
  const summaries = chosen.map((c) => ({
    ...summarizeModel(c.model, new Map([...(c.dataDims ?? []), ...dims]), depth, c.frozen),
    ...(c.role ? { role: c.role } : {}),
  }));
  // Training-step estimates use one sample at the stage's data sizes (and any --dims but B).
  const perSample = (train: string, stage: string) => {
    const s = r.program!.trains.find((t) => t.name === train)?.stages.find((x) => x.name === stage);
    if (!s) return undefined;
    const asked = [...dims].filter(([k]) => k !== 'B');
    const data = stageInputDims(r.program!, train, stage);
    return summarizeModel(s.model, new Map([...data, ...asked, ['B', 1]]), 0, s.frozen);
  };
  const stages = summarizeStages(r.program, perSample);
  if (opts.format === 'json')
    process.stdout.write(
      JSON.stringify({ file, variant: opts.variant ?? null, models: summaries, stages }, null, 2) + '\n',
    );
  else {
    if (summaries.length === 0)
      process.stdout.write(
        `${file}: no models to summarise (models with required parameters appear through their stage)\n`,
      );
    process.stdout.write(summaries.map(formatSummaryTable).join('\n') + formatStageTable(stages));
  }
  setExit(0);
}
