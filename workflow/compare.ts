/**
 * `nvcc compare RUN... [--out compare.html]`: finished runs side by side in one page.
 * In: run folders (as `nvcc report` takes them: config.json, metrics.json, log.jsonl) and where
 * to write the page. Out: the page (runtime/report/compare.ts) with the runs' curves overlaid,
 * their test ROC curves and a table linking each run's report.html. Holds afterwards: a folder
 * that is not a finished run is refused by name before anything is written; labels are the
 * folders' names, made unique with their parent folder when two are named alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../runtime/errors.js';
import type { ReportEvaluation } from '../runtime/report/index.js';
import { writeFileAtomicSync } from '../runtime/run/index.js';
import { readJsonl } from '../runtime/run/jsonl.js';
import { RUN_FILES } from '../runtime/run/rundir.js';
import { readRunSummary } from '../runtime/train/run-report.js';
import type { ComparedRun } from '../runtime/report/compare.js';
import { resolveRunTarget } from './run-folder.js';

function labelsOf(dirs: readonly string[]): string[] {
  const base = dirs.map((d) => path.basename(path.resolve(d)));
  return base.map((b, i) =>
    base.filter((x) => x === b).length > 1 ? `${path.basename(path.dirname(path.resolve(dirs[i]!)))}/${b}` : b,
  );
}

/** Reads what the comparison shows of one finished run. */
export function readComparedRun(runDir: string, label: string): ComparedRun {
  const { config, summary } = readRunSummary(runDir);
  const log = path.join(runDir, RUN_FILES.log);
  const records = fs.existsSync(log) ? readJsonl(log).records : [];
  const kindOf = (name: string) => config.spec.stages.find((s) => s.name === name)?.kind;
  const evaluated = [...summary.stages]
    .reverse()
    .find(
      (r) =>
        (r.kind ?? kindOf(r.name)) === 'supervised' &&
        r.evaluation !== undefined &&
        typeof r.evaluation === 'object' &&
        'splits' in (r.evaluation as object),
    );
  const variant = summary.report?.variant;
  return {
    label,
    runDir,
    records,
    ...(evaluated
      ? { evaluation: evaluated.evaluation as unknown as ReportEvaluation, evaluatedStage: evaluated.name }
      : {}),
    ...(variant !== undefined ? { variant } : {}),
    ...(typeof summary.elapsed === 'number' ? { wallTimeSeconds: summary.elapsed } : {}),
  };
}

export async function compareRuns(targets: readonly string[], out: string, title?: string): Promise<string> {
  if (targets.length < 2) throw new UserError('nvcc compare needs at least two run folders');
  const dirs = targets.map((t) => resolveRunTarget(t).runDir);
  const labels = labelsOf(dirs);
  const runs = dirs.map((d, i) => readComparedRun(d, labels[i]!));
  const { renderComparisonHtml } = await import('../runtime/report/compare.js');
  const html = await renderComparisonHtml(runs, { pagePath: out, ...(title !== undefined ? { title } : {}) });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileAtomicSync(out, html);
  return out;
}
