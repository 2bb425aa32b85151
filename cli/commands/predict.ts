/**
 * `nvcc predict RUN_DIR --table patients.csv --images DIR --out predictions.csv [--stage S]
 * [--weights FILE|CHECKPOINT] [--backend B]`: scores new patients with a trained run.
 * In: a run folder and new patients (a lab table with the dataset's columns, the label column
 * not needed, and an image folder named as the dataset declares). Out: a CSV with one row per
 * patient: id, number of images, probability of the positive class (pooled over the patient's
 * images as in the run) and the class called at the run's validation threshold.
 * Holds afterwards: the new data are normalised with the run's training statistics; bad data
 * are refused (file, row, column) before anything is written; the CSV is written atomically.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keeping, UserError } from '../../runtime/errors.js';
import { predictFromFiles } from '../../runtime/train/index.js';
import { programOfRun, resolveRunTarget } from '../../workflow/run-folder.js';
import { parseBackend } from '../flags.js';

export async function predictCommand(
  target: string,
  opts: { table: string; images: string; out: string; stage?: string; weights?: string; backend?: string },
): Promise<void> {
  const backend = parseBackend(opts.backend);
  if (!fs.existsSync(opts.table)) throw new UserError(`--table ${opts.table}: no such file`);
  if (!fs.existsSync(opts.images) || !fs.statSync(opts.images).isDirectory())
    throw new UserError(`--images ${opts.images}: no such folder`);
  const outDir = path.dirname(path.resolve(opts.out));
  if (!fs.existsSync(outDir)) throw new UserError(`--out ${opts.out}: the folder ${outDir} does not exist`);
  const { runDir, weights } = resolveRunTarget(target);
  if (weights && opts.weights)
    throw new UserError('name the weights either in the run path or with --weights, not both');
  const built = await programOfRun(runDir);
  // The predictions are written last, atomically: a refusal before leaves nothing behind.
  const result = await keeping('nothing was written', () =>
    predictFromFiles({
      runDir,
      models: built.factories,
      table: opts.table,
      images: opts.images,
      out: opts.out,
      ...(opts.stage ? { stage: opts.stage } : {}),
      ...((opts.weights ?? weights) ? { weights: opts.weights ?? weights! } : {}),
      ...(backend ? { backend } : {}),
    }),
  );
  process.stdout.write(
    `nvcc predict: ${result.rows.length} patients scored with stage ${result.stage}; threshold ` +
      `${result.threshold.toFixed(4)} (${result.thresholdSource}); ` +
      `${result.rows.filter((r) => r.probability >= result.threshold).length} called positive\n` +
      `nvcc predict: wrote ${path.resolve(result.out)}\n`,
  );
}
