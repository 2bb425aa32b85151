/**
 * `nvcc synth pji --patients 489 --out DIR [--seed S] [--size 224]`: writes the built-in
 * synthetic PJI cohort to disk: labs.csv, images/<patient>_<k>.png and cohort.json (the
 * generating parameters). In: flags. Out: files under DIR, and a summary on stdout.
 * Holds afterwards: the same flags always write the same bytes; bad flags are user errors
 * (exit 1), reported without a stack trace, and nothing is written for them.
 */
import { readdir } from 'node:fs/promises';
import { UserError } from '../../runtime/errors.js';
import { bayesScores, generatePjiCohort, rocAuc, writePjiCohort } from '../../runtime/data/synthetic-pji.js';

function positiveInt(name: string, text: string, max: number): number {
  const v = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(v) || v < 1 || v > max)
    throw new UserError(`--${name} must be an integer in 1..${max}, got '${text}'`);
  return v;
}

export async function synthCommand(
  name: string,
  opts: { out: string; patients: string; seed: string; size: string },
): Promise<void> {
  if (name !== 'pji') throw new UserError(`unknown synthetic dataset '${name}' (known: pji)`);
  const patients = positiveInt('patients', opts.patients, 100000);
  const seed = Number(opts.seed);
  if (!Number.isSafeInteger(seed)) throw new UserError(`--seed must be an integer, got '${opts.seed}'`);
  const size = positiveInt('size', opts.size, 1024);
  if (size < 16) throw new UserError(`--size must be at least 16, got ${size}`);
  const existing = await readdir(opts.out).catch(() => []);
  if (existing.length > 0) throw new UserError(`--out ${opts.out} exists and is not empty; choose a new folder`);
  const started = Date.now();
  const cohort = generatePjiCohort({ patients, seed, imageSize: size });
  await writePjiCohort(cohort, opts.out);
  const positives = cohort.patients.filter((p) => p.infected === 1).length;
  const y = cohort.patients.map((p) => p.infected);
  const s = cohort.patients.map(bayesScores);
  const auc = (k: 'labs' | 'images' | 'combined'): string =>
    rocAuc(
      s.map((x) => x[k]),
      y,
    ).toFixed(3);
  process.stdout.write(
    `wrote ${opts.out}: ${patients} patients (${positives} positive), ${cohort.images.length} images of ` +
      `${size}x${size}, ` +
      `seed ${seed} in ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
      `Bayes-optimal AUC on this draw: labs ${auc('labs')}, images ${auc('images')}, both ${auc('combined')}\n`,
  );
}
