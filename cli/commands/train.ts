/**
 * `nvcc train FILE [--variant V] [--set k=v]... [--config f.yaml] [--backend B] [--out RUN_DIR]
 * [--resume RUN_DIR] [--seed N] [--quiet] [--threads N] [--engine tfjs|torch] [--nproc N] [--nnodes M
 * --rdzv-endpoint H:P] [--device D] [--python PY]`: trains the program into a run folder with the
 * tfjs engine (workflow/train.ts) or the PyTorch one (workflow/train-torch.ts) and prints where it
 * went and the test metrics.
 * Exit 0 when done, 130 when interrupted (a checkpoint was written and the command to continue
 * is printed); errors are reported from their kind (cli/report.ts).
 */
import * as fs from 'node:fs';
import { UserError } from '../../runtime/errors.js';
import { readRunOverrides } from '../../workflow/overrides.js';
import { describeOutcome, trainProgram } from '../../workflow/train.js';
import type { TorchTrainOptions } from '../../workflow/train-torch.js';
import { typedCommandLine } from '../command-line.js';
import { parseBackend, parseSeed, parseThreads } from '../flags.js';
import type { SetExit } from './index.js';

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a positive integer, got '${value}'`);
  return n;
}

/** The torch engine's launch flags. */
function parseTorchFlags(opts: {
  nproc?: string;
  nnodes?: string;
  rdzvEndpoint?: string;
  device?: string;
  python?: string;
}): Pick<TorchTrainOptions, 'nproc' | 'nnodes' | 'rdzvEndpoint' | 'device' | 'python'> {
  const nproc = positive('--nproc', opts.nproc);
  const nnodes = positive('--nnodes', opts.nnodes);
  if (opts.device !== undefined && !['auto', 'cuda', 'cpu'].includes(opts.device))
    throw new UserError(`--device must be cuda, cpu or auto, got '${opts.device}'`);
  if (opts.rdzvEndpoint !== undefined && !/^[^\s:]+:\d+$/.test(opts.rdzvEndpoint))
    throw new UserError(`--rdzv-endpoint must be HOST:PORT, got '${opts.rdzvEndpoint}'`);
  return {
    ...(nproc !== undefined ? { nproc } : {}),
    ...(nnodes !== undefined ? { nnodes } : {}),
    ...(opts.rdzvEndpoint !== undefined ? { rdzvEndpoint: opts.rdzvEndpoint } : {}),
    ...(opts.device !== undefined ? { device: opts.device as 'auto' | 'cuda' | 'cpu' } : {}),
    ...(opts.python !== undefined ? { python: opts.python } : {}),
  };
}

export async function trainCommand(
  file: string,
  opts: {
    variant?: string;
    set: string[];
    config?: string;
    backend?: string;
    out?: string;
    resume?: string;
    seed?: string;
    quiet?: boolean;
    threads?: string;
    engine?: string;
    init?: string[];
    nproc?: string;
    nnodes?: string;
    rdzvEndpoint?: string;
    device?: string;
    python?: string;
  },
  setExit: SetExit,
): Promise<void> {
  if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
  const engine = opts.engine ?? 'tfjs';
  if (engine !== 'tfjs' && engine !== 'torch') throw new UserError(`--engine must be tfjs or torch, got '${engine}'`);
  const torchOnly = ['nproc', 'nnodes', 'rdzvEndpoint', 'device', 'python'] as const;
  if (engine === 'tfjs' && torchOnly.some((k) => opts[k] !== undefined))
    throw new UserError('--nproc, --nnodes, --rdzv-endpoint, --device and --python belong to --engine torch');
  if (engine === 'torch' && opts.threads !== undefined)
    throw new UserError('--threads belongs to --engine tfjs (the torch engine uses --nproc)');
  const threads = parseThreads(opts.threads);
  const overrides = await readRunOverrides(file, opts);
  const backend = parseBackend(opts.backend);
  const seed = parseSeed(opts.seed);
  const common = {
    file,
    ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
    overrides,
    ...(backend ? { backend } : {}),
    ...(opts.out !== undefined ? { out: opts.out } : {}),
    ...(opts.resume !== undefined ? { resume: opts.resume } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(opts.quiet ? { quiet: true } : {}),
    ...(opts.init?.length ? { init: opts.init } : {}),
  };
  if (engine === 'torch') {
    const { trainWithTorch } = await import('../../workflow/train-torch.js');
    const { code } = await trainWithTorch({ ...common, ...parseTorchFlags(opts), command: typedCommandLine() });
    setExit(code);
    return;
  }
  const outcome = await trainProgram({
    ...common,
    ...(threads !== undefined ? { threads } : {}),
    command: typedCommandLine(),
  });
  for (const line of describeOutcome(outcome, file, opts.variant, overrides)) process.stdout.write(`${line}\n`);
  setExit(outcome.result.status === 'interrupted' ? 130 : 0);
}
