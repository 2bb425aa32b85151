/**
 * `nvcc experiment FILE --variants a,b,c [--folds k] [--out DIR] [--backend B] [--seed N]
 * [--reference V] [--quiet]`: trains several variants of one program on the same patient splits
 * and writes a table like Table II of the MED-NVC paper (workflow/experiment.ts).
 * Out: the runs and `DIR/results.md` / `DIR/results.html`; the table on stdout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../runtime/errors.js';
import { runExperiment } from '../../workflow/experiment.js';
import { typedCommandLine } from '../command-line.js';
import { parseBackend, parseSeed } from '../flags.js';

export async function experimentCommand(
  file: string,
  opts: {
    variants: string;
    folds?: string;
    out?: string;
    backend?: string;
    seed?: string;
    quiet?: boolean;
    reference?: string;
  },
): Promise<void> {
  if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
  const variants = opts.variants
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  let folds: number | undefined;
  if (opts.folds !== undefined) {
    if (!/^\d+$/.test(opts.folds) || Number(opts.folds) < 2 || Number(opts.folds) > 20)
      throw new UserError(`--folds must be an integer from 2 to 20, found \`${opts.folds}\``);
    folds = Number(opts.folds);
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const out = opts.out ?? path.join('experiments', `${path.basename(file).replace(/\.nvc$/, '')}-${stamp}`);
  const backend = parseBackend(opts.backend);
  const seed = parseSeed(opts.seed);
  const command = [
    'nvcc experiment',
    file,
    `--variants ${variants.join(',')}`,
    ...(folds ? [`--folds ${folds}`] : []),
    ...(opts.out ? [`--out ${opts.out}`] : []),
    ...(seed !== undefined ? [`--seed ${seed}`] : []),
    ...(opts.reference ? [`--reference ${opts.reference}`] : []),
  ].join(' ');
  const result = await runExperiment({
    file,
    variants,
    ...(folds ? { folds } : {}),
    out,
    ...(backend ? { backend } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(opts.quiet ? { quiet: true } : {}),
    ...(opts.reference ? { reference: opts.reference } : {}),
    command,
    typed: typedCommandLine(),
  });
  process.stdout.write(
    `\n${result.markdown}\nnvcc experiment: tables in ${path.resolve(out, 'results.md')} and ` +
      `${path.resolve(out, 'results.html')}\n`,
  );
}
