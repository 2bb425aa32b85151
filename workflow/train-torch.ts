/**
 * Training with the PyTorch engine (`nvcc train FILE --engine torch [--nproc N] [--nnodes M
 * --rdzv-endpoint HOST:PORT] [--device D] [--python PY] [--out RUN_DIR | --resume RUN_DIR]`).
 * In: a .nvc program (variant, overrides) and the launch settings. Out: a run folder holding the
 * torch build (`torch/`: model.py, nvcc_layers.py, the trainer, train_spec.json) and the data
 * shards (`torch/data/`), trained by the package's trainer (one process, torchrun on this machine,
 * or one torchrun per machine meeting at the rendezvous endpoint), then finished as a tfjs run
 * (metrics.json with the bootstrap evaluation, report.html), plus program.json so `nvcc eval`
 * and `nvcc predict` score it with the tfjs engine. Holds afterwards: the order is compile ->
 * load and validate the data -> build -> create the run folder -> prepare -> train, so a refused
 * program or data set writes nothing; the printed command line reruns or resumes the run where
 * there is Python and PyTorch but no Node (copy the run folder).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildTorchPackage } from '../compiler/emit/torch/build.js';
import { UserError } from '../runtime/errors.js';
import { createRunDir, RUN_FILES, writeFileAtomicSync } from '../runtime/run/index.js';
import type { RunResult } from '../runtime/train/index.js';
import type { StageResult } from '../runtime/train/state.js';
import {
  finishTorchRun,
  prepareTorchRun,
  runTorchEngine,
  type TorchLaunch,
  torchLaunchCommand,
} from '../runtime/train/torch-engine.js';
import { checkProgram, loadProgram, loadProgramData } from './program.js';
import { type PreparedInit, parseInitFlags, prepareInitWeights } from './init-weights.js';
import {
  describeInit,
  finalSummary,
  PROGRAM_FILE,
  type ProgramRecord,
  type TrainOptions,
  writeInitWeights,
} from './train.js';

/** Folder of the torch build inside a run folder. */
export const TORCH_PACKAGE_DIR = 'torch';

export interface TorchTrainOptions extends TrainOptions {
  readonly nproc?: number;
  readonly nnodes?: number;
  readonly rdzvEndpoint?: string;
  readonly device?: 'auto' | 'cuda' | 'cpu';
  readonly python?: string;
}

function shellLine(command: string, args: readonly string[]): string {
  const quote = (a: string) => (/^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [command, ...args].map(quote).join(' ');
}

/** Builds, prepares and runs the torch engine; returns the exit code and the run folder. */
export async function trainWithTorch(o: TorchTrainOptions): Promise<{ code: number; runDir: string }> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (o.resume !== undefined && o.out !== undefined)
    throw new UserError('--resume continues an existing run folder; it cannot be combined with --out');
  if (o.backend !== undefined) throw new UserError('--backend chooses a tfjs backend; the torch engine takes --device');
  if ((o.nnodes ?? 1) > 1 && !o.rdzvEndpoint)
    throw new UserError('--nnodes > 1 needs --rdzv-endpoint HOST:PORT (a machine every node reaches)');
  if (o.resume !== undefined && o.init?.length)
    throw new UserError('--init starts a run; a resumed run keeps the weights it started from');
  let runDir: string;
  let resume = false;
  let inits: PreparedInit[] = [];
  let initFiles: Record<string, string> = {};
  if (o.resume !== undefined) {
    runDir = createRunDir({ resume: true, path: o.resume }).path;
    if (!fs.existsSync(path.join(runDir, TORCH_PACKAGE_DIR, 'train.py')))
      throw new UserError(
        `cannot resume ${runDir} with the torch engine: it holds no torch build (${TORCH_PACKAGE_DIR}/)`,
      );
    resume = true;
  } else {
    const checked = await checkProgram(o);
    // Data first: a refused dataset stops here, before the builds or the run folder are written.
    const data = await loadProgramData(o.file, checked);
    const program = await loadProgram(o);
    // Checkpoints that do not fit the models are refused before anything is written.
    inits = await prepareInitWeights(
      parseInitFlags(o.init ?? [], checked.trainSpec),
      checked.trainSpec,
      program.factories,
      'cpu',
    );
    const stem = path.basename(o.file).replace(/\.nvc$/, '');
    const name = `${stem}${o.variant ? `-${o.variant}` : ''}`;
    runDir = createRunDir(o.out !== undefined ? { path: o.out, name } : { root: o.runsRoot ?? 'runs', name }).path;
    const pkg = path.join(runDir, TORCH_PACKAGE_DIR);
    const built = await buildTorchPackage(o.file, {
      ...(o.variant !== undefined ? { variant: o.variant } : {}),
      ...(o.overrides && Object.keys(o.overrides).length ? { overrides: o.overrides } : {}),
      outDir: pkg,
    });
    if (!built.ok) {
      const reasons = [
        ...built.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
        ...built.problems.map((p) => `${p.origin ? `${p.origin}: ` : ''}${p.message}`),
      ];
      throw new UserError(reasons.length ? reasons.join('\nerror: ') : `${o.file}: the torch build was refused`);
    }
    const record: ProgramRecord = {
      file: path.resolve(o.file),
      variant: o.variant ?? null,
      overrides: o.overrides ?? {},
      cacheKey: program.manifest.cacheKey,
      specHash: program.manifest.specHash,
    };
    writeFileAtomicSync(path.join(runDir, PROGRAM_FILE), `${JSON.stringify(record, null, 2)}\n`);
    initFiles = writeInitWeights(runDir, inits);
    const manifest = await prepareTorchRun({
      spec: checked.trainSpec,
      dataset: checked.datasetSpec,
      packageDir: pkg,
      data,
    });
    log(
      `nvcc: torch build and data (${manifest.splits.train.samples}/${manifest.splits.val.samples}/` +
        `${manifest.splits.test.samples} train/val/test samples) in ${pkg}`,
    );
  }
  const launch: TorchLaunch = {
    packageDir: path.join(runDir, TORCH_PACKAGE_DIR),
    runDir,
    ...(o.python !== undefined ? { python: o.python } : {}),
    ...(o.nproc !== undefined ? { nproc: o.nproc } : {}),
    ...(o.nnodes !== undefined ? { nnodes: o.nnodes } : {}),
    ...(o.rdzvEndpoint !== undefined ? { rdzvEndpoint: o.rdzvEndpoint } : {}),
    ...(o.device !== undefined ? { device: o.device } : {}),
    resume,
    trainerArgs: [
      ...(o.seed !== undefined && !resume ? ['--seed', String(o.seed)] : []),
      ...Object.entries(initFiles).flatMap(([stage, file]) => ['--init', `${stage}=${path.resolve(runDir, file)}`]),
      ...(o.quiet ? ['--quiet'] : []),
    ],
  };
  for (const line of describeInit(inits)) log(line);
  const { command, args } = torchLaunchCommand(launch);
  log(`nvcc: ${resume ? 'resuming' : 'training'} with the torch engine:\n  ${shellLine(command, args)}`);
  if ((o.nnodes ?? 1) > 1)
    log('nvcc: run the same command on every machine (each with its own copy of the run folder)');
  const code = await runTorchEngine(launch);
  if (code !== 0) {
    log(
      `nvcc: the torch engine exited with code ${code}; continue from the newest checkpoint with:\n` +
        `  nvcc train ${o.file} --engine torch --resume ${runDir}`,
    );
    return { code: code === 130 ? 130 : 1, runDir };
  }
  // The report's header names the command that made (or last continued) the run, as the tfjs engine's.
  const header = { command: o.command ?? 'nvcc', ...(o.variant ? { variant: o.variant } : {}) };
  const report = await finishTorchRun(runDir, o.bootstrapResamples ?? 1000, true, header);
  const metrics = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.metrics), 'utf8')) as {
    stages: StageResult[];
  };
  const result: RunResult = { status: 'completed', runDir, stages: metrics.stages };
  log(`nvcc: done. ${finalSummary(result).line}`);
  log(`nvcc: run folder ${runDir}`);
  if (report) log(`nvcc: report ${path.resolve(report)}`);
  return { code: 0, runDir };
}
