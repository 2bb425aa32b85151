/**
 * A .nvc program as the commands that run it need it: checked, built, and its data loaded.
 * In: the entry file, variant and overrides (and optionally the build folder). Out: the train
 * and dataset declarations (`checkProgram`, no disk), the imported model code of the build
 * (`loadProgram`, the code generator's cache folder) and the validated training data
 * (`loadProgramData`).
 * Holds afterwards: a program that does not compile is a `BuildRefused` carrying its
 * diagnostics and problems, for the caller to show; nothing here prints; a refused dataset
 * says that nothing was written (data are loaded before anything is).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BuildRefused,
  compileBuild,
  defaultOutDir,
  type LoadedProgram,
  loadBuiltProgram,
} from '../compiler/builder/build.js';
import type { DatasetSpec } from '../runtime/data/spec.js';
import { keeping, UserError } from '../runtime/errors.js';
import { type DatasetTrainingData, loadTrainingData, type TrainSpec } from '../runtime/train/index.js';

export interface ProgramOptions {
  readonly file: string;
  readonly variant?: string;
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** Build folder; default the code generator's (`defaultOutDir`). */
  readonly buildDir?: string;
}

export interface CheckedProgram {
  readonly trainSpec: TrainSpec;
  readonly datasetSpec: DatasetSpec;
}

function buildDirOf(o: ProgramOptions): string {
  return o.buildDir ?? defaultOutDir(o.file, o.variant, o.overrides);
}

function buildOptionsOf(o: ProgramOptions): { variant?: string; overrides?: Readonly<Record<string, unknown>> } {
  const overrides = o.overrides ?? {};
  return {
    ...(o.variant !== undefined ? { variant: o.variant } : {}),
    ...(Object.keys(overrides).length ? { overrides } : {}),
  };
}

/** Compiles without writing anything; a program with errors is a BuildRefused. */
export async function checkProgram(o: ProgramOptions): Promise<CheckedProgram> {
  if (!fs.existsSync(o.file)) throw new UserError(`${o.file}: no such file`);
  const outDir = buildDirOf(o);
  const { result, compiled, problems } = await compileBuild(o.file, buildOptionsOf(o), outDir);
  if (result.diagnostics.some((d) => d.severity === 'error') || !compiled) {
    const first = problems[0]?.message ?? result.diagnostics.find((d) => d.severity === 'error')?.message ?? 'refused';
    throw new BuildRefused(`${o.file}: ${first}`, {
      ok: false,
      outDir,
      cached: false,
      diagnostics: result.diagnostics,
      files: result.files,
      problems,
    });
  }
  const trainSpec = compiled.trainSpecs[0];
  if (!trainSpec) throw new UserError(`${o.file} has no \`train\` declaration; nothing to train`);
  const datasetSpec = compiled.datasetSpecs.find((d) => d.name === trainSpec.dataset);
  if (!datasetSpec)
    throw new UserError(
      `${o.file}: train \`${trainSpec.name}\` reads dataset \`${trainSpec.dataset}\`, ` +
        'which the file does not declare',
    );
  return { trainSpec, datasetSpec };
}

/** Builds (or reuses the cached build of) the program and imports its model code. */
export async function loadProgram(o: ProgramOptions): Promise<LoadedProgram> {
  return loadBuiltProgram(o.file, { ...buildOptionsOf(o), outDir: buildDirOf(o) });
}

/** Relative data paths in a program start at the program's folder. */
export function dataBaseDir(file: string): string {
  return path.resolve(path.dirname(file));
}

/** Loads and validates the program's data (a DataRefusedError names file, row, column). */
export async function loadProgramData(file: string, checked: CheckedProgram): Promise<DatasetTrainingData> {
  return keeping('nothing was written', () =>
    loadTrainingData(checked.trainSpec, checked.datasetSpec, { baseDir: dataBaseDir(file) }),
  );
}
