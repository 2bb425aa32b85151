/**
 * The resumable state of a training run, as written to `state.json` in every checkpoint.
 * In: the runner's live position (stage, epoch, step, sample order, RNG streams, best metric,
 * finished stages). Out: plain JSON. Holds afterwards: together with the checkpoint's model and
 * optimizer tensors this is everything a continuation needs to take the same next step as the
 * uninterrupted run; the resolved configuration is embedded so a run folder can be resumed
 * without the program that started it.
 */
import type { RngState } from '../module.js';
import type { DatasetSpec } from '../data/spec.js';
import type { JsonValue, TrainSpec } from './spec.js';

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
}

export function parseCheckpointState(text: string, source: string): CheckpointState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: checkpoint state is not valid JSON (${(e as Error).message})`);
  }
  const s = value as Partial<CheckpointState>;
  if (s.format !== CHECKPOINT_FORMAT) throw new Error(`${source}: not an nvcc checkpoint`);
  if (s.version !== CHECKPOINT_VERSION)
    throw new Error(
      `${source}: checkpoint version ${String(s.version)} is not supported (this nvcc reads ${CHECKPOINT_VERSION})`,
    );
  for (const key of ['seq', 'stageIndex', 'epoch', 'step', 'stageStep', 'logBytes'] as const) {
    if (!Number.isInteger(s[key]) || (s[key] as number) < 0)
      throw new Error(`${source}: checkpoint field '${key}' is missing or invalid`);
  }
  if (!s.rng || STREAMS.some((k) => !s.rng![k])) throw new Error(`${source}: checkpoint lacks RNG stream states`);
  if (!s.config?.spec || !s.config.dataset) throw new Error(`${source}: checkpoint lacks the resolved configuration`);
  return s as CheckpointState;
}
