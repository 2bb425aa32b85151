/**
 * The true AUC of trained runs, measured on a large fresh synthetic cohort instead of the
 * demo's 98 test patients (whose 95% CI is about +-8 points, and whose split was also used to
 * choose nothing but is still one small draw).
 *
 *   npx tsx bench/holdout-auc.ts RUN [RUN...] [--patients 1500] [--seed 99] [--size 64]
 *
 * In: run folders of programs that read the built-in synthetic cohort (`nvcc train ... --out
 * RUN`). Out: per run, the AUC on `--patients` new patients (generator seed `--seed`, never the
 * program's own seed), its stratified-bootstrap 95% CI, and the Bayes-optimal AUCs of that
 * draw; with two or more runs, each run's paired difference to the first. The cohort is
 * written once to a temporary folder with `nvcc synth` and scored with `nvcc predict`, so the
 * runs see new patients exactly as a user's new data would be seen (the run's own training
 * statistics normalise them).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { bootstrapAucCi, pairedBootstrapAucDifference } from '../runtime/metrics/index.js';
import { createRng } from '../runtime/rng.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const runs = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--')));
if (runs.length === 0) {
  process.stderr.write('usage: npx tsx bench/holdout-auc.ts RUN [RUN...] [--patients N] [--seed S] [--size PX]\n');
  process.exit(2);
}
const patients = flag('--patients', '1500');
const seed = flag('--seed', '99');
const size = flag('--size', '64');
const nvcc = resolve('bin/nvcc.js');
const dir = mkdtempSync(join(tmpdir(), 'nvcc-holdout-'));
try {
  const synth = execFileSync(
    process.execPath,
    [nvcc, 'synth', 'pji', '--patients', patients, '--seed', seed, '--size', size, '--out', join(dir, 'cohort')],
    { encoding: 'utf8' },
  );
  process.stdout.write(synth);
  const table = parse(readFileSync(join(dir, 'cohort', 'labs.csv'), 'utf8'), { columns: true }) as Record<
    string,
    string
  >[];
  const label = new Map(table.map((r) => [r.patient_id!, Number(r.infected)]));
  const scored: { run: string; ids: string[]; scores: Map<string, number> }[] = [];
  for (const run of runs) {
    const out = join(dir, `${scored.length}.csv`);
    execFileSync(
      process.execPath,
      [
        nvcc,
        'predict',
        run,
        '--table',
        join(dir, 'cohort', 'labs.csv'),
        '--images',
        join(dir, 'cohort', 'images'),
        '--out',
        out,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    const scores = new Map(rows.map((r) => [r.patient_id!, Number(r.p_positive)]));
    const ids = [...scores.keys()].sort();
    const ci = bootstrapAucCi(
      ids.map((id) => label.get(id)!),
      ids.map((id) => scores.get(id)!),
      { rng: createRng(1).fork('holdout'), resamples: 1000 },
    );
    process.stdout.write(
      `${run}: holdout AUC ${(ci.estimate * 100).toFixed(2)}% (95% CI ` +
        `${(ci.lower * 100).toFixed(2)}-${(ci.upper * 100).toFixed(2)}), ${ids.length} patients\n`,
    );
    scored.push({ run, ids, scores });
  }
  const [first, ...rest] = scored;
  for (const other of rest) {
    const ids = other.ids.filter((id) => first!.scores.has(id));
    const d = pairedBootstrapAucDifference(
      ids.map((id) => label.get(id)!),
      ids.map((id) => other.scores.get(id)!),
      ids.map((id) => first!.scores.get(id)!),
      { rng: createRng(2).fork('holdout-paired'), resamples: 1000 },
    );
    const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}`;
    process.stdout.write(
      `${other.run} - ${first!.run}: ${pp(d.difference.estimate)} points (95% CI ${pp(d.difference.lower)} to ` +
        `${pp(d.difference.upper)}, p ${d.pValue.toFixed(3)})\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
