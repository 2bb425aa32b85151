/**
 * `nvcc eval RUN_DIR|CHECKPOINT|WEIGHTS [--split test|val] [--stage S] [--backend B]`: scores a
 * run's saved weights on a split of the run's own dataset.
 * In: a run folder (its final weights of the last supervised stage), a checkpoint folder
 * (`RUN/checkpoints/ckpt-N`) or a weights file (`RUN/stages/S/*.safetensors`). Out: validation
 * and the requested split's metrics on stdout (AUC with its bootstrap 95% CI, accuracy,
 * sensitivity, specificity at the threshold chosen on validation). Holds afterwards: the model
 * code is rebuilt from the program the run recorded (program.json), the data are normalised
 * with the run's training statistics, and nothing in the run folder changes.
 */
import * as path from 'node:path';
import { keeping, UserError } from '../../runtime/errors.js';
import { evaluateRunFolder, type SplitName } from '../../runtime/train/index.js';
import { programOfRun, resolveRunTarget } from '../../workflow/run-folder.js';
import { parseBackend } from '../flags.js';

function pct(x: number | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : 'n/a';
}

export async function evalCommand(
  target: string,
  opts: { split: string; stage?: string; backend?: string; format: string },
): Promise<void> {
  if (opts.split !== 'test' && opts.split !== 'val')
    throw new UserError(`--split must be test or val, found \`${opts.split}\``);
  if (opts.format !== 'pretty' && opts.format !== 'json')
    throw new UserError(`--format must be pretty or json, found \`${opts.format}\``);
  const backend = parseBackend(opts.backend);
  const { runDir, weights } = resolveRunTarget(target);
  const built = await programOfRun(runDir);
  // Scoring writes nothing: a refused dataset or weights file leaves the run as it was.
  const result = await keeping('nothing was written', () =>
    evaluateRunFolder({
      runDir,
      models: built.factories,
      split: opts.split as SplitName,
      ...(opts.stage ? { stage: opts.stage } : {}),
      ...(weights ? { weights } : {}),
      ...(backend ? { backend } : {}),
    }),
  );
  if (opts.format === 'json') {
    process.stdout.write(
      `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
    );
    return;
  }
  const ev = result.evaluation;
  const rel = path.relative(process.cwd(), result.weights);
  process.stdout.write(
    `stage ${result.stage}, weights ${rel && !rel.startsWith('..') ? rel : path.resolve(result.weights)}\n`,
  );
  if (ev.kind === 'none') {
    process.stdout.write(`no metrics: ${ev.warning}\n`);
    return;
  }
  if (ev.kind === 'masked') {
    for (const [split, loss] of Object.entries(ev.loss))
      process.stdout.write(`${split}: masked reconstruction loss ${loss.toPrecision(5)}\n`);
    return;
  }
  process.stdout.write(`threshold ${ev.threshold.toFixed(4)} (${ev.thresholdRule}, chosen on validation)\n`);
  for (const s of ev.splits) {
    const ci = Number.isFinite(s.aucCi.lower) ? ` (95% CI ${pct(s.aucCi.lower)}-${pct(s.aucCi.upper)})` : '';
    process.stdout.write(
      `${s.split} (${s.nPatients} patients, ${s.nPositive} positive): AUC ${pct(s.auc)}${ci}, ACC ` +
        `${pct(s.accuracy)}, sensitivity ${pct(s.sensitivity)}, specificity ${pct(s.specificity)}\n`,
    );
    for (const w of s.warnings) process.stdout.write(`  warning: ${w}\n`);
  }
}
