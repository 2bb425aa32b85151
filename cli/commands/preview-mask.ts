/**
 * `nvcc preview-mask FILE [--variant V] [--set p=v ...] [--config F] [--stage S] [--count N]
 * [--scale K] --out masks.png`: what a masked stage's first training step sees.
 * In: a .nvc program with a stage that has `mask = random_patches(...)` (the first such stage
 * unless --stage names one). Out: the PNG workflow/mask-preview.ts draws, and a line on stderr
 * saying what it shows.
 */
import * as fs from 'node:fs';
import { UserError } from '../../runtime/errors.js';
import { maskPreview } from '../../workflow/mask-preview.js';
import { readRunOverrides } from '../../workflow/overrides.js';
import { checkProgram } from '../../workflow/program.js';
import { writeOutput } from '../output.js';

export interface PreviewMaskOptions {
  readonly variant?: string;
  readonly set: string[];
  readonly config?: string;
  readonly stage?: string;
  readonly count: string;
  readonly scale?: string;
  readonly out?: string;
}

export async function previewMaskCommand(file: string, opts: PreviewMaskOptions): Promise<void> {
  if (!opts.out) throw new UserError('--out PATH.png is required (the preview is an image)');
  if (!opts.out.endsWith('.png')) throw new UserError(`--out must name a .png file, found \`${opts.out}\``);
  const count = Number(opts.count);
  if (!Number.isInteger(count) || count < 1 || count > 64)
    throw new UserError(`--count must be an integer from 1 to 64, found \`${opts.count}\``);
  if (opts.scale !== undefined && !/^[1-9]\d?$/.test(opts.scale))
    throw new UserError(`--scale must be an integer from 1 to 99, found \`${opts.scale}\``);
  if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
  const overrides = await readRunOverrides(file, opts);
  const checked = await checkProgram({
    file,
    ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
    overrides,
  });
  const masked = checked.trainSpec.stages.filter((s) => s.mask);
  const stage = opts.stage !== undefined ? checked.trainSpec.stages.find((s) => s.name === opts.stage) : masked[0];
  if (!stage) {
    const names = checked.trainSpec.stages.map((s) => s.name);
    throw new UserError(
      opts.stage !== undefined
        ? `no stage \`${opts.stage}\` (stages: ${names.join(', ')})`
        : `no stage of ${file} has a mask policy (stages: ${names.join(', ')})`,
    );
  }
  if (!stage.mask)
    throw new UserError(
      `stage \`${stage.name}\` has no mask policy` +
        (masked.length ? ` (masked stages: ${masked.map((s) => s.name).join(', ')})` : ''),
    );
  const preview = await maskPreview(
    file,
    checked,
    stage,
    count,
    opts.scale !== undefined ? Number(opts.scale) : undefined,
  );
  writeOutput(preview.png, opts.out, { createFolder: true, quiet: true });
  process.stderr.write(`wrote ${opts.out}: ${preview.description}\n`);
}
