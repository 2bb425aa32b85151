/**
 * `nvcc check FILE [--variant V] [--format json] [--target torch]`: parse and check a program
 * (with `--target torch`, also what the torch target refuses: compiler/emit/torch/check.ts).
 * In: a .nvc path. Out: diagnostics on stderr (pretty) or stdout (JSON); exit 1 when there is
 * an error. Holds afterwards: nothing is built or written.
 */
import { renderDiagnostics, renderJson, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { UserError } from '../main.js';

export async function checkCommand(
  file: string,
  opts: { variant?: string; format: string; target?: string },
  setExit: (code: number) => void,
): Promise<void> {
  if (opts.target !== undefined && opts.target !== 'tfjs' && opts.target !== 'torch')
    throw new UserError(`--target must be tfjs or torch, got '${opts.target}'`);
  const r = compileProgramSync(file, { ...(opts.variant ? { variant: opts.variant } : {}) });
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
  setExit(errors ? 1 : 0);
}
