/**
 * The resumable state of a training run, as written to `state.json` in every checkpoint.
 * In: the runner's live position (stage, epoch, step, sample order, RNG streams, best metric,
 * finished stages). Out: plain JSON. Holds afterwards: together with the checkpoint's model and
 * optimizer tensors this is everything a continuation needs to take the same next step as the
 * uninterrupted run; the resolved configuration is embedded so a run folder can be resumed
 * without the program that started it. `readCheckpointState` refuses a damaged checkpoint (bad
 * JSON, missing or mistyped fields, a tensor file whose sha256 differs) with a
 * DamagedCheckpointError (a data error naming the checkpoint folder).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RngState } from '../module.js';
import type { DatasetSpec } from '../data/spec.js';
import { newestIntactCheckpoint, setAsideDamaged } from './checkpoint.js';
import { NvccError } from '../errors.js';
import { TrainingError } from './common.js';
import type { JsonValue, TrainSpec } from './spec.js';

/** The state file's name inside a checkpoint folder (checkpoint.ts STATE_FILE). */
const STATE_NAME = 'state.json';

export const CHECKPOINT_FORMAT = 'nvcc-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** The RNG streams of one stage, each forked from the stage's root by its label. */
export const STREAMS = ['init', 'data', 'augment', 'mask', 'dropout', 'modality_dropout'] as const;
export type StreamName = (typeof STREAMS)[number];

export interface BestState {
  readonly metric: string;
  readonly mode: 'max' | 'min';
  readonly value: number;
  /** 1-based epoch that reached it. */
  readonly epoch: number;
}

/** What a finished stage left behind. */
export interface StageResult {
  readonly name: string;
  readonly kind: 'masked' | 'supervised';
  readonly epochs: number;
  /**
   * Weights the next stages hand over from (best weights when keep_best was declared), relative
   * to the run folder so a run folder can be moved.
   */
  readonly weights: string;
  readonly best?: BestState;
  /** Final evaluation (JSON of metrics' RunEvaluation, or losses for masked stages). */
  readonly evaluation?: JsonValue;
}

export interface RunConfig {
  readonly spec: TrainSpec;
  readonly dataset: DatasetSpec;
  readonly seed: number;
  /**
   * Per stage, a weights file (tfjs layout, the model's keys, any subset of them) the stage starts
   * from before its hand-over (`nvcc train --init`, an official checkpoint converted by nvcc).
   * Absent when no stage has one, so older run folders resume unchanged.
   */
  readonly init?: Readonly<Record<string, string>>;
}

export interface CheckpointState {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly version: typeof CHECKPOINT_VERSION;
  readonly seq: number;
  readonly stageIndex: number;
  readonly stage: string;
  /** 0-based epoch in progress (equal to the stage's epochs when the stage's loop is done). */
  readonly epoch: number;
  /** Steps already taken in that epoch. */
  readonly step: number;
  /** Optimizer steps taken in this stage (the schedule's step). */
  readonly stageStep: number;
  /** Sample order of the epoch in progress; null at an epoch boundary. */
  readonly order: readonly number[] | null;
  /**
   * Running sum and count of the epoch's step losses (for the epoch's mean train loss), and the
   * epoch's random-throw tally (`samples`, and per modality how many samples lost it).
   */
  readonly epochLoss: {
    readonly sum: number;
    readonly count: number;
    readonly thrown?: Readonly<Record<string, number>>;
  };
  readonly rng: Readonly<Record<StreamName, RngState>>;
  readonly best: BestState | null;
  /** Whether model.safetensors / optimizer.safetensors are present (false at a stage boundary). */
  readonly hasModel: boolean;
  /** Length of log.jsonl when the checkpoint was taken; a resume cuts the log back to it. */
  readonly logBytes: number;
  /** Seconds of training before this checkpoint (over all processes of the run). */
  readonly elapsed: number;
  readonly finished: readonly StageResult[];
  readonly config: RunConfig;
  /**
   * sha256 of every other file of the checkpoint, by name (absent in checkpoints written before
   * it was recorded): resume and eval check them before loading anything.
   */
  readonly files?: Readonly<Record<string, string>>;
}

/** A checkpoint's state.json that cannot be used: a message naming the file and what is wrong. */
/** A checkpoint folder whose state or files cannot be used: the user's data, not a bug. */
export class DamagedCheckpointError extends NvccError {
  constructor(checkpoint: string, what: string) {
    super('data', `${checkpoint}: damaged checkpoint: ${what}`, { path: checkpoint });
    this.name = 'DamagedCheckpointError';
  }
}

function damaged(source: string, what: string): DamagedCheckpointError {
  return new DamagedCheckpointError(source, what);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;

export function parseCheckpointState(text: string, source: string): CheckpointState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw damaged(source, `${STATE_NAME} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(value)) throw damaged(source, `${STATE_NAME} is not a JSON object`);
  const s = value as Partial<CheckpointState> & Record<string, unknown>;
  if (s.format !== CHECKPOINT_FORMAT) throw damaged(source, 'not an nvcc checkpoint');
  if (s.version !== CHECKPOINT_VERSION)
    throw new TrainingError(
      `${source}: checkpoint version ${String(s.version)} is not supported (this nvcc reads ${CHECKPOINT_VERSION})`,
    );
  for (const key of ['seq', 'stageIndex', 'epoch', 'step', 'stageStep', 'logBytes'] as const) {
    if (!isCount(s[key])) throw damaged(source, `field '${key}' is missing or invalid`);
  }
  if (typeof s.stage !== 'string') throw damaged(source, "field 'stage' is missing or invalid");
  if (s.order !== null && !(Array.isArray(s.order) && s.order.every(isCount)))
    throw damaged(source, "field 'order' is not null or a list of sample indices");
  const loss = s.epochLoss as unknown;
  if (!isObject(loss) || typeof loss.sum !== 'number' || !isCount(loss.count))
    throw damaged(source, "field 'epochLoss' is missing or invalid");
  if (!isObject(s.rng) || STREAMS.some((k) => !validRngState((s.rng as Record<string, unknown>)[k])))
    throw damaged(source, 'it lacks valid RNG stream states');
  const best = s.best as unknown;
  if (best !== null && !(isObject(best) && typeof best.value === 'number' && isCount(best.epoch)))
    throw damaged(source, "field 'best' is not null or a best-metric record");
  if (typeof s.hasModel !== 'boolean') throw damaged(source, "field 'hasModel' is missing or invalid");
  if (typeof s.elapsed !== 'number' || !Number.isFinite(s.elapsed))
    throw damaged(source, "field 'elapsed' is missing or invalid");
  if (!Array.isArray(s.finished) || !s.finished.every((f) => isObject(f) && typeof f.weights === 'string'))
    throw damaged(source, "field 'finished' is not a list of stage results");
  if (s.files !== undefined && !(isObject(s.files) && Object.values(s.files).every((h) => typeof h === 'string')))
    throw damaged(source, "field 'files' is not a map of file names to sha256 digests");
  const config = s.config as unknown;
  if (!isObject(config) || !isObject(config.spec) || !isObject(config.dataset) || !isCount(config.seed))
    throw damaged(source, 'it lacks the resolved configuration');
  return s as CheckpointState;
}

function validRngState(v: unknown): boolean {
  return (
    isObject(v) &&
    typeof v.algorithm === 'string' &&
    Array.isArray(v.words) &&
    v.words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)
  );
}

/** sha256 (hex) of a checkpoint file's bytes, as recorded in `files`. */
export function fileDigest(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads and checks a checkpoint folder: its state.json parses, and every file the state lists
 * has the recorded sha256 (a truncated or overwritten tensor file is found here, before any of it
 * is loaded). Throws DamagedCheckpointError naming the folder and the fault.
 */
export function readCheckpointState(checkpointPath: string): CheckpointState {
  const statePath = join(checkpointPath, STATE_NAME);
  if (!existsSync(statePath)) throw damaged(checkpointPath, `it has no ${STATE_NAME}`);
  const state = parseCheckpointState(readFileSync(statePath, 'utf8'), checkpointPath);
  for (const [file, digest] of Object.entries(state.files ?? {})) {
    const path = join(checkpointPath, file);
    if (basename(file) !== file) throw damaged(checkpointPath, `it lists a file outside itself ('${file}')`);
    if (!existsSync(path)) throw damaged(checkpointPath, `${file} is missing`);
    if (fileDigest(readFileSync(path)) !== digest)
      throw damaged(
        checkpointPath,
        `${file} does not match the sha256 recorded in ${STATE_NAME} (truncated or changed)`,
      );
  }
  if (state.hasModel && !state.files)
    for (const file of ['model.safetensors', 'optimizer.safetensors'])
      if (!existsSync(join(checkpointPath, file))) throw damaged(checkpointPath, `${file} is missing`);
  return state;
}

/**
 * The newest intact checkpoint of a run (readCheckpointState checks its state and file digests).
 * Damaged newer ones are named through `warn`; with `setAside` they are also moved out of the
 * writer's way (a resume), otherwise left as they are (reading a run changes nothing).
 */
export function intactCheckpoint(
  runDir: string,
  warn: (message: string) => void = () => undefined,
  setAside = false,
): { path: string; state: CheckpointState; setAside: string[] } {
  const { checkpoint, damaged } = newestIntactCheckpoint(runDir, readCheckpointState);
  if (!checkpoint) {
    const why = damaged.length ? `: every checkpoint is damaged (${damaged.map((d) => d.reason).join('; ')})` : '';
    throw new TrainingError(`${runDir} has no complete checkpoint${why}`);
  }
  const moved = setAside ? setAsideDamaged(runDir, damaged) : [];
  damaged.forEach((d, i) =>
    warn(
      `${d.reason}; using the previous intact checkpoint ${checkpoint.path}` +
        (moved[i] ? ` (the damaged one is kept as ${moved[i]})` : ''),
    ),
  );
  return { path: checkpoint.path, state: checkpoint.value, setAside: moved };
}
