/**
 * A run's trained weights as the official PyTorch ConvNeXt-V2 state dict (`nvcc export`).
 * In: a run folder made by `nvcc train` (its program.json and `stages/<stage>/weights.safetensors`),
 * the stage (default the last) and the subtree to move to the root (`strip`). Out: a safetensors
 * file (default `RUN/export/<stage>.torch.safetensors`) in PyTorch's layouts under the official
 * names (compiler/emit/torch/export.ts).
 * Holds afterwards: the run folder is only read; a refused export (unknown stage, weights that are
 * not the model's, a program that no longer checks) writes nothing and says why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { officialTorchState } from '../compiler/emit/torch/export.js';
import { compileProgramSync } from '../compiler/pipeline.js';
import { UserError } from '../runtime/errors.js';
import { type HostTensor, readSafetensors, writeSafetensors } from '../runtime/io/safetensors.js';
import { recordedPath } from '../runtime/run/recorded.js';
import { PROGRAM_FILE } from './train.js';

export interface TorchExport {
  /** The file written (absolute). */
  readonly out: string;
  readonly stage: string;
  readonly tensors: number;
}

/** Writes the stage's weights of the run in `runDir` as the official PyTorch state dict. */
export async function exportTorchWeights(
  runDir: string,
  opts: { readonly stage?: string | undefined; readonly strip?: string | undefined; readonly out?: string | undefined },
): Promise<TorchExport> {
  const run = path.resolve(runDir);
  const recordFile = path.join(run, PROGRAM_FILE);
  if (!fs.existsSync(recordFile))
    throw new UserError(`${runDir} has no ${PROGRAM_FILE}: it is not a run folder made by \`nvcc train\``);
  let record: { file?: unknown; variant?: unknown; overrides?: unknown };
  try {
    record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as typeof record;
  } catch {
    throw new UserError(`${recordFile} is not valid JSON`);
  }
  const programFile = recordedPath(record.file, {
    runDir: run,
    recordedIn: recordFile,
    what: 'the program file',
    kind: 'file',
  });
  const variant = typeof record.variant === 'string' ? record.variant : undefined;
  const overrides =
    record.overrides && typeof record.overrides === 'object' ? (record.overrides as Record<string, unknown>) : {};
  const rel = path.relative(process.cwd(), programFile) || programFile;
  const compiled = compileProgramSync(rel, {
    ...(variant !== undefined ? { variant } : {}),
    ...(Object.keys(overrides).length ? { overrides } : {}),
  });
  if (!compiled.program) throw new UserError(`${rel} no longer checks; run \`nvcc check ${rel}\``);
  const stages = compiled.program.trains.flatMap((t) => t.stages);
  const stage = opts.stage === undefined ? stages.at(-1) : stages.find((s) => s.name === opts.stage);
  if (!stage)
    throw new UserError(
      opts.stage === undefined
        ? `${rel} has no train stage`
        : `no stage \`${opts.stage}\` in ${rel} (stages: ${stages.map((s) => s.name).join(', ')})`,
    );
  const weightsFile = path.join(run, 'stages', stage.name, 'weights.safetensors');
  if (!fs.existsSync(weightsFile))
    throw new UserError(`${weightsFile} does not exist: stage \`${stage.name}\` has not finished in this run`);
  const state = new Map<string, HostTensor>([...readSafetensors(weightsFile).tensors].map(([k, e]) => [k, e.tensor]));
  const official = officialTorchState(stage.model, state, {
    source: weightsFile,
    ...(opts.strip !== undefined ? { strip: opts.strip } : {}),
  });
  const out = path.resolve(opts.out ?? path.join(run, 'export', `${stage.name}.torch.safetensors`));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  writeSafetensors(out, official, { format: 'pt', source: `nvcc export (stage ${stage.name})` });
  return { out, stage: stage.name, tensors: official.size };
}
