/**
 * A finished (or interrupted) run as `nvcc eval` and `nvcc predict` reopen it.
 * In: a path the user named: a run folder, a checkpoint folder (`RUN/checkpoints/ckpt-N`) or a
 * weights file (`RUN/stages/S/*.safetensors`). Out: the run folder and the weights named, and
 * the run's model code rebuilt from the program it recorded (program.json).
 * Holds afterwards: nothing in the run folder changes; a run whose program changed since it
 * started is still rebuilt (its weights go into the current code) with a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadedProgram } from '../compiler/builder/build.js';
import { UserError } from '../runtime/errors.js';
import { recordedPath } from '../runtime/run/recorded.js';
import { CHECKPOINT_DIR, STATE_FILE } from '../runtime/train/checkpoint.js';
import { loadProgram } from './program.js';
import { PROGRAM_FILE, type ProgramRecord } from './train.js';

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

/** Rebuilds the model code of a run from its program.json; `warn` hears that the program changed since. */
export async function programOfRun(
  runDir: string,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<LoadedProgram> {
  const file = path.join(runDir, PROGRAM_FILE);
  if (!fs.existsSync(file))
    throw new UserError(
      `${runDir} has no ${PROGRAM_FILE}: it was not started by \`nvcc train\` (or is not a run folder), ` +
        'so its model code cannot be rebuilt',
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
  const program = await loadProgram({
    file: rel,
    ...(record.variant !== null ? { variant: record.variant } : {}),
    overrides: record.overrides,
  });
  const sourcesChanged =
    record.specHash !== undefined
      ? program.manifest.specHash !== record.specHash
      : program.manifest.cacheKey !== record.cacheKey;
  if (sourcesChanged)
    warn(
      `warning: ${rel}${record.variant ? ` (variant ${record.variant})` : ''} changed since this run started; ` +
        'its weights are loaded into the current model code',
    );
  return program;
}
