/**
 * `nvcc build FILE [--variant V] [--out DIR] [--set path=value ...] [--config overrides.yaml]
 *  [--emit ast|ir|ts] [--force] [--target tfjs|torch]`: typed TypeScript from a .nvc program, or
 *  with `--target torch` a Python package (compiler/emit/torch/build.ts).
 * In: a .nvc path and flags. Out: the build folder (compiler/builder/build.ts) and a one-line
 * summary on stdout; with `--emit`, the chosen stage (AST, IR or generated TypeScript) on stdout
 * and nothing written. Holds afterwards: a refused build (diagnostics, bad overrides) prints the
 * reasons on stderr, exits 1 and writes nothing; no user error is a stack trace.
 */
import * as path from 'node:path';
import { renderDiagnostics, shouldUseColor } from '../../dsl/diagnostics/render.js';
import { buildProgram, compileBuild, defaultOutDir, type BuildResult } from '../../compiler/builder/build.js';
import { UserError } from '../../runtime/errors.js';
import { gatherOverrides } from '../../workflow/overrides.js';
import type { SetExit } from './index.js';

// The parser, the override reader (ajv, yaml) and the printers are imported where they are
// used: a cached build without --set/--config/--emit needs none of them.

export interface BuildFlags {
  variant?: string;
  out?: string;
  set?: string[];
  config?: string;
  emit?: string;
  force?: boolean;
  target?: string;
}

/** 382176 -> '382,176', as toLocaleString('en-US') writes it, without its ~25 ms of ICU set-up. */
function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function report(result: BuildResult): void {
  const lookup = (p: string) => result.files.get(p);
  if (result.diagnostics.length)
    process.stderr.write(renderDiagnostics(result.diagnostics, lookup, { color: shouldUseColor() }) + '\n');
  for (const p of result.problems) process.stderr.write(`error: ${p.origin ? `${p.origin}: ` : ''}${p.message}\n`);
}

export async function buildCommand(file: string, flags: BuildFlags, setExit: SetExit): Promise<void> {
  if (flags.target !== undefined && flags.target !== 'tfjs' && flags.target !== 'torch')
    throw new UserError(`--target must be tfjs or torch, got '${flags.target}'`);
  if (flags.target === 'torch') return buildTorchCommand(file, flags, setExit);
  if (flags.emit !== undefined && !['ast', 'ir', 'ts'].includes(flags.emit))
    throw new UserError(`--emit must be ast, ir or ts, got '${flags.emit}'`);
  const overrides = await gatherOverrides(file, flags);
  const options = {
    ...(flags.variant !== undefined ? { variant: flags.variant } : {}),
    ...(Object.keys(overrides).length ? { overrides } : {}),
    ...(flags.force ? { force: true } : {}),
  };
  const outDir = flags.out ?? defaultOutDir(file, flags.variant, overrides);
  if (flags.emit === 'ast') {
    const [{ entryModule }, { printAst }] = await Promise.all([
      import('../../compiler/schema/overrides.js'),
      import('../../dsl/index.js'),
    ]);
    const ast = entryModule(file, flags.variant, overrides);
    if (!ast) throw new UserError(`cannot read ${file}`);
    process.stdout.write(printAst(ast) + '\n');
    return;
  }
  if (flags.emit === 'ir' || flags.emit === 'ts') {
    const { result, compiled, problems } = await compileBuild(file, options, outDir);
    if (!compiled) {
      report({ ok: false, outDir, cached: false, diagnostics: result.diagnostics, files: result.files, problems });
      setExit(1);
      return;
    }
    if (flags.emit === 'ir') {
      const { printModelIR } = await import('../../compiler/ir/print.js');
      for (const m of compiled.models) process.stdout.write(printModelIR(m.model, result.files) + '\n');
    } else {
      process.stdout.write(`// ===== model.ts\n${compiled.modelTs}\n// ===== train.ts\n${compiled.trainTs}`);
    }
    return;
  }
  const started = Date.now();
  const result = await buildProgram(file, { ...options, outDir });
  report(result);
  if (!result.ok || !result.manifest) {
    setExit(1);
    return;
  }
  const models = Object.entries(result.manifest.models)
    .map(([k, m]) => `${k} ${m.className} (${groupThousands(m.parameters)} parameters)`)
    .join(', ');
  const where = path.relative(process.cwd(), path.resolve(result.outDir)) || '.';
  process.stdout.write(`${result.cached ? 'up to date' : 'built'} ${where} in ${Date.now() - started} ms: ${models}\n`);
}

/** `nvcc build --target torch`: the Python package (compiler/emit/torch/build.ts). */
async function buildTorchCommand(file: string, flags: BuildFlags, setExit: SetExit): Promise<void> {
  if (flags.emit !== undefined) throw new UserError('--emit is not available with --target torch');
  const overrides = await gatherOverrides(file, flags);
  const { buildTorchPackage } = await import('../../compiler/emit/torch/build.js');
  const result = await buildTorchPackage(file, {
    ...(flags.variant !== undefined ? { variant: flags.variant } : {}),
    ...(Object.keys(overrides).length ? { overrides } : {}),
    ...(flags.out !== undefined ? { outDir: flags.out } : {}),
  });
  const lookup = (p: string) => result.files.get(p);
  if (result.diagnostics.length)
    process.stderr.write(`${renderDiagnostics(result.diagnostics, lookup, { color: shouldUseColor() })}\n`);
  for (const p of result.problems) process.stderr.write(`error: ${p.origin ? `${p.origin}: ` : ''}${p.message}\n`);
  if (!result.ok || !result.models) {
    setExit(1);
    return;
  }
  const models = result.models
    .map((m) => `${m.key} ${m.className} (${groupThousands(m.parameterCount)} parameters)`)
    .join(', ');
  const where = path.relative(process.cwd(), path.resolve(result.outDir)) || '.';
  process.stdout.write(`built ${where} (torch): ${models}\n`);
}
