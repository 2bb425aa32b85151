/**
 * `nvcc check FILE [--variant V] [--data | --no-data] [--format json] [--target torch]`: check a
 * program (with `--target torch`, also what the torch target refuses: compiler/emit/torch/check.ts)
 * and, where it is cheap or asked for, its data.
 * In: a .nvc path. Out: diagnostics on stderr (pretty) or stdout (JSON), then the data check's
 * errors (file, row, column) on stderr; exit 1 when there is an error of either kind.
 * Holds afterwards: nothing is built or written. The data check is the one `nvcc train` runs
 * before it writes anything (runtime/data validateDataset: table, images, split, plausible values),
 * done by default when the data are local files and small (DATA_CHECK_LIMITS), with `--data`
 * always (a synthetic cohort is generated in memory), never with `--no-data`; JSON output checks
 * data only with `--data`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { renderDiagnostics, renderJson, shouldUseColor } from '../../dsl/diagnostics/render.js';
import type { DatasetSpec } from '../../runtime/data/spec.js';
import { UserError } from '../../runtime/errors.js';
import type { SetExit } from './index.js';

/** What `check` reads without being asked: a table and image folder at most this large. */
export const DATA_CHECK_LIMITS = { files: 2000, bytes: 200 * 1024 * 1024 } as const;

export async function checkCommand(
  file: string,
  opts: { variant?: string; format: string; target?: string; data?: boolean },
  setExit: SetExit,
): Promise<void> {
  if (opts.target !== undefined && opts.target !== 'tfjs' && opts.target !== 'torch')
    throw new UserError(`--target must be tfjs or torch, got '${opts.target}'`);
  // The records' support predicates of the chosen target (tfjs unless named) run during checking.
  const r = compileProgramSync(file, {
    ...(opts.variant ? { variant: opts.variant } : {}),
    targets: [opts.target ?? 'tfjs'],
  });
  if (opts.target === 'torch' && r.program) {
    const { torchSupportProblems } = await import('../../compiler/emit/torch/check.js');
    r.diagnostics.push(...torchSupportProblems(r.program));
  }
  const lookup = (p: string) => r.files.get(p);
  const errors = r.diagnostics.some((d) => d.severity === 'error');
  if (opts.format === 'json') process.stdout.write(renderJson(r.diagnostics, lookup) + '\n');
  else if (r.diagnostics.length > 0)
    process.stderr.write(renderDiagnostics(r.diagnostics, lookup, { color: shouldUseColor() }) + '\n');
  else process.stdout.write(`${file}: ok${opts.variant ? ` (variant ${opts.variant})` : ''}\n`);
  if (errors || !r.program || opts.data === false || (opts.format === 'json' && opts.data !== true)) {
    setExit(errors ? 1 : 0);
    return;
  }
  const { lowerDataset } = await import('../../compiler/builder/lower.js');
  const used = new Set(r.program.trains.map((t) => t.dataset));
  const datasets = r.program.datasets.filter((d) => used.size === 0 || used.has(d.name)).map(lowerDataset);
  const baseDir = path.resolve(path.dirname(file));
  let refused = false;
  for (const spec of datasets) {
    const skip = opts.data === true ? undefined : whyNotByDefault(spec, baseDir);
    if (skip) {
      if (opts.format !== 'json')
        process.stdout.write(`data of ${spec.name} not checked: ${skip}; \`nvcc check --data\` checks them\n`);
      continue;
    }
    const { validateDataset } = await import('../../runtime/data/dataset.js');
    const { DataRefusedError } = await import('../../runtime/data/errors.js');
    const found = await validateDataset(spec, { baseDir });
    if (found.length > 0) {
      refused = true;
      process.stderr.write(`error: ${new DataRefusedError(spec.name, found).message}\n`);
    } else if (opts.format !== 'json') process.stdout.write(`data of ${spec.name}: ok\n`);
  }
  setExit(refused ? 1 : 0);
}

/** Why the data are not checked unasked (a generated cohort, or more than the limits), if so. */
function whyNotByDefault(spec: DatasetSpec, baseDir: string): string | undefined {
  if (spec.source.kind !== 'files') return 'a generated cohort';
  const at = (p: string) => path.resolve(baseDir, p);
  let files = 0;
  let bytes = 0;
  const over = () => files > DATA_CHECK_LIMITS.files || bytes > DATA_CHECK_LIMITS.bytes;
  const add = (p: string) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st?.isFile()) files++, (bytes += st.size);
  };
  add(at(spec.source.table));
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a missing folder is cheap to check, and worth reporting
    }
    for (const e of entries) {
      if (over()) return;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else add(full);
    }
  };
  walk(at(spec.source.images));
  return over()
    ? `more than ${DATA_CHECK_LIMITS.files} files or ${DATA_CHECK_LIMITS.bytes / 1024 / 1024} MB of table and images`
    : undefined;
}
