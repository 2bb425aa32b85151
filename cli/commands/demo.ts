/**
 * `nvcc demo` (the README's main job, `npm run demo`): builds the `demo` profile of
 * examples/mednvc.nvc and trains it on the built-in synthetic PJI cohort, end to end, then
 * prints the test AUC and where the report is.
 * In: nothing (flags: --backend, --out, --quiet, --threads). Out: a run folder under `runs/` (or --out)
 * with report.html. Holds afterwards: exactly what `nvcc train examples/mednvc.nvc --variant
 * demo` would do; the example is found relative to the package, so it works from any folder.
 */
import * as path from 'node:path';
import { packagePath } from '../../runtime/package-root.js';
import { describeOutcome, trainProgram } from '../../workflow/train.js';
import { parseBackend, parseThreads } from '../flags.js';
import { typedCommandLine } from '../command-line.js';
import type { SetExit } from './index.js';

export const DEMO_FILE = packagePath('examples', 'mednvc.nvc');
export const DEMO_VARIANT = 'demo';

export async function demoCommand(
  opts: { backend?: string; out?: string; quiet?: boolean; threads?: string },
  setExit: SetExit,
): Promise<void> {
  const file = path.relative(process.cwd(), DEMO_FILE) || DEMO_FILE;
  process.stdout.write(`nvcc demo: MED-NVC (${file}, variant ${DEMO_VARIANT}) on the built-in synthetic PJI cohort\n`);
  const backend = parseBackend(opts.backend);
  const threads = parseThreads(opts.threads);
  const outcome = await trainProgram({
    file,
    variant: DEMO_VARIANT,
    ...(backend ? { backend } : {}),
    ...(opts.out !== undefined ? { out: opts.out } : {}),
    ...(opts.quiet ? { quiet: true } : {}),
    ...(threads !== undefined ? { threads } : {}),
    command: typedCommandLine(),
  });
  for (const line of describeOutcome(outcome, file, DEMO_VARIANT)) process.stdout.write(`${line}\n`);
  setExit(outcome.result.status === 'interrupted' ? 130 : 0);
}
