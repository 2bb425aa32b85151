/**
 * `nvcc compare RUN RUN... [--out compare.html] [--title T]`: a page with the runs side by side.
 * In: finished run folders. Out: the page (workflow/compare.ts) and its path on stdout. Holds
 * afterwards: a folder that is not a finished run is an error naming it; nothing is written then.
 */
import * as path from 'node:path';
import { compareRuns } from '../../workflow/compare.js';
import type { SetExit } from './index.js';

export async function compareCommand(
  runs: string[],
  opts: { out: string; title?: string },
  setExit: SetExit,
): Promise<void> {
  const out = await compareRuns(runs, opts.out, opts.title);
  const rel = path.relative(process.cwd(), out);
  process.stdout.write(`wrote ${rel && !rel.startsWith('..') ? rel : path.resolve(out)} (${runs.length} runs)\n`);
  setExit(0);
}
