/**
 * Per-step learning-rate schedules built from a JSON description.
 * In: phases such as `[{ kind: 'warmup', epochs: 40 }, { kind: 'cosine', to: 1e-6 }]`, the base
 * learning rate, steps per epoch and total epochs. Out: a pure function step -> lr (no state, so
 * exact resume needs only the step number). Holds afterwards: phases are laid end to end in
 * (fractional) epochs; each phase starts from the level where the previous one ended (the base
 * lr at the start), a warmup always ends at the base lr; past the end the last level is held.
 *
 * With warmup W epochs from 0 and a cosine to `min_lr` over the remaining E - W epochs this is
 * the official ConvNeXt-V2 / MAE `adjust_learning_rate`, evaluated at the fractional epoch
 * e = step / stepsPerEpoch (step counted from 0 over the whole run):
 *   lr(e) = base * e / W                                                  if e < W
 *   lr(e) = min_lr + (base - min_lr) * 0.5 * (1 + cos(pi * (e - W) / (E - W)))   otherwise
 * A warmup `from` f replaces the first line by f + (base - f) * e / W.
 */
import { NvccError } from '../errors.js';

export type PhaseSpec =
  | { readonly kind: 'warmup'; readonly epochs?: number; readonly steps?: number; readonly from?: number }
  | { readonly kind: 'cosine'; readonly to?: number; readonly epochs?: number; readonly steps?: number }
  | { readonly kind: 'linear'; readonly to: number; readonly epochs?: number; readonly steps?: number }
  | { readonly kind: 'constant'; readonly value?: number; readonly epochs?: number; readonly steps?: number }
  | {
      readonly kind: 'step';
      readonly gamma: number;
      readonly every?: number;
      readonly everySteps?: number;
      readonly epochs?: number;
      readonly steps?: number;
    };

export type ScheduleSpec = 'constant' | PhaseSpec | readonly PhaseSpec[];

export interface ScheduleContext {
  readonly baseLr: number;
  readonly stepsPerEpoch: number;
  readonly epochs: number;
}

export interface Schedule {
  /** Learning rate for global step `step` (0-based, counted over the whole run). */
  at(step: number): number;
  readonly totalSteps: number;
  readonly spec: readonly PhaseSpec[];
}

export class ScheduleError extends NvccError {
  constructor(message: string) {
    super('user', `learning-rate schedule: ${message}`);
    this.name = 'ScheduleError';
  }
}

interface Phase {
  readonly spec: PhaseSpec;
  readonly start: number; // epochs
  readonly length: number; // epochs
  readonly from: number; // lr at start
  readonly to: number; // lr at end
}

function phaseEnd(spec: PhaseSpec, from: number, base: number, length: number, stepsPerEpoch: number): number {
  switch (spec.kind) {
    case 'warmup':
      return base;
    case 'cosine':
      return spec.to ?? 0;
    case 'linear':
      return spec.to;
    case 'constant':
      return spec.value ?? from;
    case 'step': {
      const every = spec.every ?? (spec.everySteps ?? NaN) / stepsPerEpoch;
      return from * spec.gamma ** Math.floor(length / every);
    }
  }
}

export function buildSchedule(spec: ScheduleSpec, ctx: ScheduleContext): Schedule {
  const phasesIn: readonly PhaseSpec[] =
    spec === 'constant' ? [{ kind: 'constant' }] : Array.isArray(spec) ? spec : [spec as PhaseSpec];
  const { baseLr, stepsPerEpoch, epochs } = ctx;
  if (!(baseLr >= 0) || !Number.isFinite(baseLr))
    throw new ScheduleError(`base lr must be a finite number >= 0, got ${baseLr}`);
  if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch <= 0)
    throw new ScheduleError(`steps per epoch must be a positive integer, got ${stepsPerEpoch}`);
  if (!(epochs > 0) || !Number.isFinite(epochs)) throw new ScheduleError(`total epochs must be > 0, got ${epochs}`);
  if (phasesIn.length === 0) throw new ScheduleError('no phases');

  const phases: Phase[] = [];
  let start = 0;
  let level = baseLr;
  phasesIn.forEach((p, i) => {
    const where = `phase ${i + 1} (${p.kind})`;
    if (!['warmup', 'cosine', 'linear', 'constant', 'step'].includes(p.kind))
      throw new ScheduleError(`${where}: unknown kind '${p.kind}'`);
    if (p.epochs !== undefined && p.steps !== undefined)
      throw new ScheduleError(`${where}: give epochs or steps, not both`);
    let length: number;
    if (p.epochs !== undefined) length = p.epochs;
    else if (p.steps !== undefined) length = p.steps / stepsPerEpoch;
    else if (i === phasesIn.length - 1) length = epochs - start;
    else throw new ScheduleError(`${where}: only the last phase may omit its length (epochs or steps)`);
    if (!(length >= 0) || !Number.isFinite(length))
      throw new ScheduleError(`${where}: length must be >= 0, got ${length}`);
    if (start + length > epochs + 1e-9)
      throw new ScheduleError(`${where}: phases run to epoch ${start + length} but training has ${epochs} epochs`);
    if (p.kind === 'step') {
      const every = p.every ?? (p.everySteps !== undefined ? p.everySteps / stepsPerEpoch : undefined);
      if (every === undefined || !(every > 0))
        throw new ScheduleError(`${where}: needs every (epochs) or everySteps > 0`);
      if (!(p.gamma > 0)) throw new ScheduleError(`${where}: gamma must be > 0`);
    }
    if (p.kind === 'warmup' && p.from !== undefined && !(p.from >= 0))
      throw new ScheduleError(`${where}: from must be >= 0`);
    const from = p.kind === 'warmup' ? (p.from ?? 0) : level;
    const to = phaseEnd(p, from, baseLr, length, stepsPerEpoch);
    phases.push({ spec: p, start, length, from, to });
    start += length;
    level = to;
  });

  const valueIn = (ph: Phase, e: number): number => {
    const x = e - ph.start;
    const frac = ph.length > 0 ? x / ph.length : 1;
    const p = ph.spec;
    switch (p.kind) {
      case 'warmup':
        return ph.from + (baseLr - ph.from) * frac;
      case 'linear':
        return ph.from + (ph.to - ph.from) * frac;
      case 'cosine':
        return ph.to + (ph.from - ph.to) * 0.5 * (1 + Math.cos(Math.PI * frac));
      case 'constant':
        return ph.to;
      case 'step': {
        const every = p.every ?? p.everySteps! / stepsPerEpoch;
        return ph.from * p.gamma ** Math.floor(x / every + 1e-9);
      }
    }
  };

  return {
    totalSteps: Math.round(epochs * stepsPerEpoch),
    spec: phasesIn,
    at(step: number): number {
      if (!Number.isInteger(step) || step < 0)
        throw new RangeError(`schedule step must be an integer >= 0, got ${step}`);
      const e = step / stepsPerEpoch;
      for (const ph of phases) if (e < ph.start + ph.length) return valueIn(ph, e);
      return level;
    },
  };
}
