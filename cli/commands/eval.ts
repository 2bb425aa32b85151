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
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordedPath } from '../../runtime/run/recorded.js';
import { CHECKPOINT_DIR, STATE_FILE } from '../../runtime/train/checkpoint.js';
import { evaluateRunFolder, type SplitName } from '../../runtime/train/index.js';
import { UserError } from '../main.js';
import { buildProgram, guarded, parseBackend, PROGRAM_FILE, type ProgramRecord } from './train.js';
import type { LoadedProgram } from '../../compiler/builder/build.js';

export interface RunTarget {
  readonly runDir: string;
  /** A checkpoint folder or a weights file inside the run, when one was named. */
  readonly weights?: string;
}

/** Finds the run folder of a run folder, checkpoint folder or weights file path. */
export function resolveRunTarget(target: string): RunTarget {
  if (!fs.existsSync(target)) throw new UserError(`${target}: no such run folder, checkpoint or weights file`);
  const abs = path.resolve(target);
  if (fs.statSync(abs).isFile()) {
    // RUN/stages/<stage>/<file>.safetensors
    const runDir = path.dirname(path.dirname(path.dirname(abs)));
    if (!abs.endsWith('.safetensors') || path.basename(path.dirname(path.dirname(abs))) !== 'stages')
      throw new UserError(`${target}: expected a run folder, a checkpoint folder or RUN/stages/<stage>/*.safetensors`);
    return { runDir, weights: abs };
  }
  if (fs.existsSync(path.join(abs, STATE_FILE)) && path.basename(path.dirname(abs)) === CHECKPOINT_DIR)
    return { runDir: path.dirname(path.dirname(abs)), weights: abs };
  return { runDir: abs };
}

/** Rebuilds the model code of a run from its program.json. */
export async function programOfRun(runDir: string): Promise<LoadedProgram> {
  const file = path.join(runDir, PROGRAM_FILE);
  if (!fs.existsSync(file))
    throw new UserError(
      `${runDir} has no ${PROGRAM_FILE}: it was not started by \`nvcc train\` (or is not a run folder), so its model code cannot be rebuilt`,
    );
  let record: ProgramRecord;
  try {
    record = JSON.parse(fs.readFileSync(file, 'utf8')) as ProgramRecord;
  } catch {
    throw new UserError(`${file} is not valid JSON`);
  }
  if (typeof record.file === 'string' && !fs.existsSync(path.resolve(runDir, record.file)))
    throw new UserError(`the program of this run, ${record.file}, no longer exists`);
  // Resolved against the run, inside the project or the run folder, a regular file: a copied run
  // folder must not make nvcc compile (and quote in diagnostics) /etc/shadow or read /dev/zero.
  const programFile = recordedPath(record.file, { runDir, recordedIn: file, what: 'the program file', kind: 'file' });
  const rel = path.relative(process.cwd(), programFile) || programFile;
  const program = await buildProgram({
    file: rel,
    ...(record.variant !== null ? { variant: record.variant } : {}),
    overrides: record.overrides,
  });
  const sourcesChanged =
    record.specHash !== undefined
      ? program.manifest.specHash !== record.specHash
      : program.manifest.cacheKey !== record.cacheKey;
  if (sourcesChanged)
    process.stderr.write(
      `warning: ${rel}${record.variant ? ` (variant ${record.variant})` : ''} changed since this run started; its weights are loaded into the current model code\n`,
    );
  return program;
}

function pct(x: number | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : 'n/a';
}

export async function evalCommand(
  target: string,
  opts: { split: string; stage?: string; backend?: string; format: string },
  setExit: (code: number) => void,
): Promise<void> {
  await guarded(setExit, async () => {
    if (opts.split !== 'test' && opts.split !== 'val')
      throw new UserError(`--split must be test or val, found \`${opts.split}\``);
    if (opts.format !== 'pretty' && opts.format !== 'json')
      throw new UserError(`--format must be pretty or json, found \`${opts.format}\``);
    const backend = parseBackend(opts.backend);
    const { runDir, weights } = resolveRunTarget(target);
    const built = await programOfRun(runDir);
    const result = await evaluateRunFolder({
      runDir,
      models: built.factories,
      split: opts.split as SplitName,
      ...(opts.stage ? { stage: opts.stage } : {}),
      ...(weights ? { weights } : {}),
      ...(backend ? { backend } : {}),
    });
    if (opts.format === 'json') {
      process.stdout.write(
        `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
      );
      return 0;
    }
    const ev = result.evaluation;
    const rel = path.relative(process.cwd(), result.weights);
    process.stdout.write(
      `stage ${result.stage}, weights ${rel && !rel.startsWith('..') ? rel : path.resolve(result.weights)}\n`,
    );
    if (ev.kind === 'none') {
      process.stdout.write(`no metrics: ${ev.warning}\n`);
      return 0;
    }
    if (ev.kind === 'masked') {
      for (const [split, loss] of Object.entries(ev.loss))
        process.stdout.write(`${split}: masked reconstruction loss ${loss.toPrecision(5)}\n`);
      return 0;
    }
    process.stdout.write(`threshold ${ev.threshold.toFixed(4)} (${ev.thresholdRule}, chosen on validation)\n`);
    for (const s of ev.splits) {
      const ci = Number.isFinite(s.aucCi.lower) ? ` (95% CI ${pct(s.aucCi.lower)}-${pct(s.aucCi.upper)})` : '';
      process.stdout.write(
        `${s.split} (${s.nPatients} patients, ${s.nPositive} positive): AUC ${pct(s.auc)}${ci}, ACC ${pct(s.accuracy)}, sensitivity ${pct(s.sensitivity)}, specificity ${pct(s.specificity)}\n`,
      );
      for (const w of s.warnings) process.stdout.write(`  warning: ${w}\n`);
    }
    return 0;
  });
}
