/**
 * `nvcc schedule FILE [--variant V] [--set p=v ...] [--config F] [--format text|csv|svg]
 * [--points N] [--log] [--out F]`: the training plan before anything trains.
 * In: a .nvc program with a `train` (variant and overrides applied, checked as by `nvcc train`
 * without writing or loading data). Out: the plan (workflow/schedule.ts) as text, CSV or SVG on
 * stdout or in --out.
 */
import * as fs from 'node:fs';
import { UserError } from '../../runtime/errors.js';
import { readRunOverrides } from '../../workflow/overrides.js';
import { checkProgram } from '../../workflow/program.js';
import { renderSchedule, type ScheduleFormat } from '../../workflow/schedule.js';
import { writeOutput } from '../output.js';

export interface ScheduleOptions {
  readonly variant?: string;
  readonly set: string[];
  readonly config?: string;
  readonly format?: string;
  readonly points: string;
  readonly log?: boolean;
  readonly out?: string;
}

export async function scheduleCommand(file: string, opts: ScheduleOptions): Promise<void> {
  const format = opts.format ?? (opts.out?.endsWith('.svg') ? 'svg' : opts.out?.endsWith('.csv') ? 'csv' : 'text');
  if (!['text', 'csv', 'svg'].includes(format))
    throw new UserError(`--format must be text, csv or svg, found \`${format}\``);
  const points = Number(opts.points);
  if (!Number.isInteger(points) || points < 1 || points > 10_000)
    throw new UserError(`--points must be an integer from 1 to 10000, found \`${opts.points}\``);
  if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
  const overrides = await readRunOverrides(file, opts);
  const { trainSpec } = await checkProgram({
    file,
    ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
    overrides,
  });
  const text = await renderSchedule(trainSpec, format as ScheduleFormat, {
    points,
    variant: opts.variant,
    logY: opts.log,
  });
  writeOutput(text, opts.out, { createFolder: true });
}
