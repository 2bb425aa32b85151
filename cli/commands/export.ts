/**
 * `nvcc export RUN_DIR --format torch [--stage S] [--strip PATH] [--out FILE]`: a run's trained
 * weights as the official PyTorch ConvNeXt-V2 state dict.
 * In: a run folder made by `nvcc train` (its program.json and `stages/<stage>/weights.safetensors`).
 * Out: a safetensors file (default `RUN/export/<stage>.torch.safetensors`) in PyTorch's layouts
 * under the official names (compiler/emit/torch/export.ts); `--strip enc` moves the `enc.`
 * subtree to the root, so MED-NVC's ImagesOnly becomes the official ConvNeXtV2 key for key.
 * The official model loads it with `model.load_state_dict(safetensors.torch.load_file(FILE),
 * strict=True)`. Holds afterwards: the run folder is only read; a refused export (unknown
 * format or stage, weights that are not the model's) writes nothing and says why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExportMismatchError, officialTorchState } from '../../compiler/emit/torch/export.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { readSafetensors, SafetensorsError, writeSafetensors } from '../../runtime/io/safetensors.js';
import { recordedPath } from '../../runtime/run/recorded.js';
import { RunDirError } from '../../runtime/run/rundir.js';
import { UserError } from '../../runtime/errors.js';
import type { SetExit } from './index.js';

const PROGRAM_FILE = 'program.json';

export async function exportCommand(
  runDir: string,
  opts: { format: string; stage?: string; strip?: string; out?: string },
  setExit: SetExit,
): Promise<void> {
  if (opts.format !== 'torch') throw new UserError(`--format must be torch, got '${opts.format}'`);
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
  let programFile: string;
  try {
    programFile = recordedPath(record.file, {
      runDir: run,
      recordedIn: recordFile,
      what: 'the program file',
      kind: 'file',
    });
  } catch (err) {
    if (err instanceof RunDirError) throw new UserError(err.message);
    throw err;
  }
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
  let state: Map<string, import('../../runtime/io/safetensors.js').HostTensor>;
  try {
    state = new Map([...readSafetensors(weightsFile).tensors].map(([k, e]) => [k, e.tensor]));
  } catch (err) {
    if (err instanceof SafetensorsError) throw new UserError(err.message);
    throw err;
  }
  let official: Map<string, import('../../runtime/io/safetensors.js').HostTensor>;
  try {
    official = officialTorchState(stage.model, state, {
      source: weightsFile,
      ...(opts.strip !== undefined ? { strip: opts.strip } : {}),
    });
  } catch (err) {
    if (err instanceof ExportMismatchError) throw new UserError(err.message);
    throw err;
  }
  const out = path.resolve(opts.out ?? path.join(run, 'export', `${stage.name}.torch.safetensors`));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  writeSafetensors(out, official, { format: 'pt', source: `nvcc export (stage ${stage.name})` });
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), out) || out}: ${official.size} tensors of stage ${stage.name} in ` +
      'PyTorch layout (load with load_state_dict(safetensors.torch.load_file(FILE), strict=True))\n',
  );
  setExit(0);
}
