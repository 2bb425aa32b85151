/**
 * `nvcc report RUN`: writes RUN/report.html again from a finished run folder of either engine.
 * In: a run folder (or a checkpoint folder or weights file inside it). Out: the report's path on
 * stdout. Holds afterwards: workflow/report.ts makes the report with the code the end of
 * training uses; a torch run's evaluation is finished first (bootstrap CIs, metrics.json).
 */
import * as path from 'node:path';
import { reportRun } from '../../workflow/report.js';
import type { SetExit } from './index.js';

export async function reportCommand(target: string, _opts: unknown, setExit: SetExit): Promise<void> {
  const { report, engine } = await reportRun(target);
  const rel = path.relative(process.cwd(), report);
  process.stdout.write(`wrote ${rel && !rel.startsWith('..') ? rel : path.resolve(report)} (${engine} engine run)\n`);
  setExit(0);
}
