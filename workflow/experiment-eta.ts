/**
 * The experiment-wide ETA of `nvcc experiment`.
 * In: each planned run's work (`runWork`: the multiply-accumulates its stages spend per training
 * sample, summed over epochs) and the wall time of each finished run. Out: the seconds the
 * remaining runs should take, from a fixed cost per run plus a cost per unit of work fitted to
 * the finished runs, and the line the experiment prints before each run. Holds afterwards: no estimate before a run
 * has finished (the first run also pays for the build and the data load, so it errs long);
 * runs are assumed to see the same training samples (one dataset, or folds of one).
 */
import type { ProgramIR } from '../compiler/ir/ir.js';
import { stageInputDims, summarizeModel } from '../compiler/summary.js';
import { formatDuration } from '../runtime/run/progress.js';

/** Σ over the program's stages of epochs x the stage model's MACs per sample (at least 1 each). */
export function runWork(program: ProgramIR): number {
  let work = 0;
  for (const t of program.trains)
    for (const s of t.stages) {
      const epochs = typeof s.settings.epochs === 'number' ? s.settings.epochs : 1;
      const macs = summarizeModel(s.model, stageInputDims(program, t.name, s.name), 0).macs;
      work += epochs * Math.max(1, Number.isFinite(macs) ? macs : 1);
    }
  return work;
}

export class ExperimentEta {
  private readonly seconds: (number | undefined)[];

  constructor(private readonly works: readonly number[]) {
    this.seconds = works.map(() => undefined);
  }

  finished(run: number, seconds: number): void {
    this.seconds[run] = seconds;
  }

  /**
   * Seconds the runs from `next` on should take, or NaN before any run has finished. A run costs
   * a + b x work: the fixed part (build, data, evaluation, report) and the training. Finished runs
   * of two or more different works give both by least squares; one work alone gives only b.
   */
  remaining(next: number): number {
    const done = this.seconds.flatMap((s, i) => (s === undefined ? [] : [{ x: this.works[i]!, y: s }]));
    if (done.length === 0) return Number.NaN;
    const mx = done.reduce((a, p) => a + p.x, 0) / done.length;
    const my = done.reduce((a, p) => a + p.y, 0) / done.length;
    const sxx = done.reduce((a, p) => a + (p.x - mx) ** 2, 0);
    const sxy = done.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
    let [fixed, perWork] = [0, mx > 0 ? my / mx : 0];
    if (sxx > 0 && sxy >= 0 && my - (sxy / sxx) * mx >= 0) [fixed, perWork] = [my - (sxy / sxx) * mx, sxy / sxx];
    return this.works.slice(next).reduce((a, w) => a + fixed + perWork * w, 0);
  }

  /** `run 2 of 4; experiment ETA 3m10s` (or `... after the first run`). */
  line(next: number): string {
    const eta = this.remaining(next);
    const head = `run ${next + 1} of ${this.works.length}`;
    if (Number.isNaN(eta)) return `${head}; experiment ETA after the first run`;
    return `${head}; experiment ETA ${formatDuration(eta)} (at the pace of the runs finished, weighted by MACs)`;
  }
}
