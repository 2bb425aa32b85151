/**
 * `nvcc check FILE [--variant V] [--data | --no-data] [--format json] [--target torch]`: check a
 * program and each of its variants, or the one `--variant` names (with `--target torch`, also
 * what the torch target refuses: compiler/emit/torch/check.ts) and, where it is cheap or asked
 * for, its data.
 * In: a .nvc path. Out: diagnostics on stderr (pretty) or stdout (JSON), then the data check's
 * errors (file, row, column) on stderr; exit 1 when there is an error of either kind.
 * Holds afterwards: nothing is built or written. The data check is the one `nvcc train` runs
 * before it writes anything (runtime/data validateDataset: table, images, split, plausible values),
 * done by default when the data are local files and small (workflow/data-check.ts), with `--data`
 * always (a synthetic cohort is generated in memory), never with `--no-data`; JSON output checks
 * data only with `--data`.
 */
import { compileEveryVariant, compileProgramSync } from '../../compiler/pipeline.js';
import { renderDiagnostics, renderJson, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { UserError } from '../../runtime/errors.js';
import type { SetExit } from './index.js';

export async function checkCommand(
  file: string,
  opts: { variant?: string; format: string; target?: string; data?: boolean },
  setExit: SetExit,
): Promise<void> {
  if (opts.target !== undefined && opts.target !== 'tfjs' && opts.target !== 'torch')
    throw new UserError(`--target must be tfjs or torch, got '${opts.target}'`);
  // The records' support predicates of the chosen target (tfjs unless named) run during checking.
  // Without --variant, the program and every one of its variants (each diagnostic names them).
  // With --target torch, also the torch emitter's own refusals, for the program and each variant.
  const targets = [opts.target ?? 'tfjs'];
  const torchChecks =
    opts.target === 'torch' ? (await import('../../compiler/emit/torch/check.js')).torchSupportProblems : undefined;
  const r = opts.variant
    ? compileProgramSync(file, { variant: opts.variant, targets })
    : compileEveryVariant(file, { targets }, torchChecks);
  if (opts.variant && torchChecks && r.program) r.diagnostics.push(...torchChecks(r.program));
  const lookup = (p: string) => r.files.get(p);
  const errors = r.diagnostics.some((d) => d.severity === 'error');
  if (opts.format === 'json') process.stdout.write(renderJson(r.diagnostics, lookup) + '\n');
  else if (r.diagnostics.length > 0)
    process.stderr.write(renderDiagnostics(r.diagnostics, lookup, { color: shouldUseColor() }) + '\n');
  else
    process.stdout.write(`${file}: ok${opts.variant ? ` (variant ${opts.variant})` : variantsChecked(r.variants)}\n`);
  if (errors || !r.program || opts.data === false || (opts.format === 'json' && opts.data !== true)) {
    setExit(errors ? 1 : 0);
    return;
  }
  const { checkProgramData } = await import('../../workflow/data-check.js');
  let refused = false;
  for (const d of await checkProgramData(r.program, file, { always: opts.data === true })) {
    if (d.skipped !== undefined) {
      if (opts.format !== 'json')
        process.stdout.write(`data of ${d.dataset} not checked: ${d.skipped}; \`nvcc check --data\` checks them\n`);
    } else if (d.refused) {
      refused = true;
      process.stderr.write(`error: ${d.refused.message}\n`);
    } else {
      for (const w of d.warnings ?? []) process.stderr.write(`warning: dataset ${d.dataset}: ${w}\n`);
      if (opts.format !== 'json') process.stdout.write(`data of ${d.dataset}: ok\n`);
    }
  }
  setExit(refused ? 1 : 0);
}

/** ` (and its 3 variants)` after `ok` when the program declares variants. */
function variantsChecked(variants: readonly string[] | undefined): string {
  const n = variants?.length ?? 0;
  return n === 0 ? '' : ` (and its ${n} variant${n === 1 ? '' : 's'})`;
}
