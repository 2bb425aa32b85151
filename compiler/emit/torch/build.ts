/**
 * `nvcc build --target torch`: a .nvc program to a self-contained Python package.
 * In: an entry path, an optional variant, overrides and an output folder. Out: the folder with
 * `model.py` (emitTorchModels), `__init__.py`, the Python files of compiler/emit/torch/python/
 * (nvcc_layers.py and the trainer's files) copied beside it, and `manifest.json` (models with
 * their class, parameter count, inputs and outputs; sources with hashes). Holds afterwards: a
 * refused build (diagnostics, torch refusals, bad overrides) writes nothing; the same program
 * gives the same bytes; the folder needs Python and PyTorch only (no Node).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../../../dsl/diagnostics/diagnostic.js';
import type { SourceFile, Span } from '../../../dsl/span.js';
import { packagePath } from '../../../runtime/package-root.js';
import { COMPILER_VERSION, defaultOutDir, overrideSchemaOf, SourceLabels, spanOrigin } from '../../builder/build.js';
import type { ProgramIR } from '../../ir/ir.js';
import { compileProgramSync } from '../../pipeline.js';
import { validateOverrides } from '../../schema/overrides.js';
import { torchSupportProblems } from './check.js';
import { emitTorchModels, TorchEmitError, type TorchEmittedModel, type TorchModelEntry } from './model.js';

/** Bumped when the generated Python changes shape (part of the manifest). */
export const TORCH_EMIT_FORMAT = 1;

/** The folder whose *.py files every torch build copies (nvcc_layers.py, the trainer). */
export const TORCH_PYTHON_DIR = packagePath('compiler', 'emit', 'torch', 'python');

export interface TorchBuildOptions {
  readonly variant?: string;
  readonly overrides?: Readonly<Record<string, unknown>>;
  readonly outDir?: string;
}

export interface TorchBuildResult {
  readonly ok: boolean;
  readonly outDir: string;
  readonly diagnostics: readonly Diagnostic[];
  readonly files: ReadonlyMap<string, SourceFile>;
  readonly problems: readonly { readonly message: string; readonly origin?: string }[];
  readonly models?: readonly TorchEmittedModel[];
  readonly modelPy?: string;
}

function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Stage models under their stage name (`train/stage` with several trains), then top-level models. */
export function torchModelEntries(program: ProgramIR): TorchModelEntry[] {
  const single = program.trains.length <= 1;
  const entries: TorchModelEntry[] = [];
  const keys = new Set<string>();
  const add = (key: string, model: ProgramIR['models'][number]) => {
    if (keys.has(key)) return;
    keys.add(key);
    entries.push({ key, model });
  };
  for (const t of program.trains) for (const s of t.stages) add(single ? s.name : `${t.name}/${s.name}`, s.model);
  for (const m of program.models) add(m.name, m);
  return entries;
}

/** The torch target checks its own refusals (check.ts), not the tfjs runtime's. */
const TORCH_TARGET = ['torch'];

/** Compiles and emits model.py without touching the disk. */
export async function compileTorch(entry: string, options: TorchBuildOptions = {}): Promise<TorchBuildResult> {
  const outDir = options.outDir ?? `${defaultOutDir(entry, options.variant, options.overrides)}-torch`;
  const overrides = options.overrides ?? {};
  const variant = options.variant !== undefined ? { variant: options.variant } : {};
  const base = await overrideSchemaOf(entry, options.variant, TORCH_TARGET);
  const fail = (r: { diagnostics: readonly Diagnostic[]; files: ReadonlyMap<string, SourceFile> }, problems = []) => ({
    ok: false,
    outDir,
    diagnostics: r.diagnostics,
    files: r.files,
    problems,
  });
  if (!base.result.program || !base.schema) return fail(base.result);
  if (Object.keys(overrides).length) {
    const refused = validateOverrides(base.schema, overrides);
    if (refused.length) return { ...fail(base.result), problems: refused.map((p) => ({ message: p.message })) };
  }
  const result = Object.keys(overrides).length
    ? compileProgramSync(entry, { ...variant, overrides, targets: TORCH_TARGET })
    : base.result;
  if (!result.program) return fail(result);
  const refusals = torchSupportProblems(result.program);
  if (refusals.length) return { ...fail(result), diagnostics: [...result.diagnostics, ...refusals] };
  const labels = new SourceLabels(path.resolve(entry));
  const origin = (span: Span) => spanOrigin(span, result.files, labels);
  try {
    const code = emitTorchModels(torchModelEntries(result.program), {
      origin,
      title: `PyTorch modules of ${labels.label(entry)}${options.variant ? ` (variant ${options.variant})` : ''}.`,
    });
    return {
      ok: true,
      outDir,
      diagnostics: result.diagnostics,
      files: result.files,
      problems: [],
      models: code.models,
      modelPy: code.text,
    };
  } catch (err) {
    if (err instanceof TorchEmitError)
      return { ...fail(result), problems: [{ message: err.message, ...(err.origin ? { origin: err.origin } : {}) }] };
    throw err;
  }
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

const INIT_PY = `"""A PyTorch package built by nvcc (nvcc build --target torch); see model.py."""
from .model import MODEL_CLASSES, MODEL_INPUTS, MODEL_NO_DECAY, MODEL_OUTPUTS, build_model

__all__ = ['MODEL_CLASSES', 'MODEL_INPUTS', 'MODEL_NO_DECAY', 'MODEL_OUTPUTS', 'build_model']
`;

/** Builds the Python package into its output folder. */
export async function buildTorchPackage(entry: string, options: TorchBuildOptions = {}): Promise<TorchBuildResult> {
  const compiled = await compileTorch(entry, options);
  if (!compiled.ok || compiled.modelPy === undefined || !compiled.models) return compiled;
  const outDir = compiled.outDir;
  const labels = new SourceLabels(path.resolve(entry));
  const python = fs
    .readdirSync(TORCH_PYTHON_DIR)
    .filter((f) => f.endsWith('.py'))
    .sort();
  const texts = new Map<string, string | Uint8Array>();
  texts.set('model.py', compiled.modelPy);
  texts.set('__init__.py', INIT_PY);
  for (const f of python) if (!texts.has(f)) texts.set(f, fs.readFileSync(path.join(TORCH_PYTHON_DIR, f)));
  const sources = [...compiled.files.values()]
    .map((f) => ({ file: labels.label(f.path), sha256: sha256(f.text) }))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const manifest = {
    target: 'torch',
    format: TORCH_EMIT_FORMAT,
    compiler: COMPILER_VERSION,
    entry: labels.label(entry),
    variant: options.variant ?? null,
    overrides: options.overrides ?? {},
    sources,
    models: Object.fromEntries(
      compiled.models.map((m) => [
        m.key,
        { className: m.className, parameters: m.parameterCount, inputs: m.inputs, outputs: m.outputs },
      ]),
    ),
    files: Object.fromEntries([...texts].map(([f, t]) => [f, sha256(t)]).sort(([a], [b]) => (a! < b! ? -1 : 1))),
  };
  try {
    fs.mkdirSync(outDir, { recursive: true });
    fs.rmSync(path.join(outDir, 'manifest.json'), { force: true });
    for (const [f, t] of texts) writeAtomic(path.join(outDir, f), t);
    // The manifest goes last: a folder with a manifest is complete.
    writeAtomic(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ...compiled, ok: false, problems: [{ message: `cannot write the build folder ${outDir}: ${reason}` }] };
  }
  return compiled;
}
