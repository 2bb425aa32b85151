/**
 * Shared helpers of the diagram tests: compiled programs (each compiled once per test file)
 * and golden-file comparison under test/baselines/diagram/ (UPDATE_BASELINES=1 rewrites).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileProgramSync } from '../../compiler/pipeline.js';
import type { ProgramIR } from '../../compiler/ir/ir.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const programs = new Map<string, ProgramIR>();

export function program(path: string, variant?: string): ProgramIR {
  const key = `${path}#${variant ?? ''}`;
  let p = programs.get(key);
  if (!p) {
    const r = compileProgramSync(resolve(repoRoot, path), variant ? { variant } : {});
    if (!r.program) throw new Error(`${path} does not compile: ${r.diagnostics.map((d) => d.message).join('; ')}`);
    p = r.program;
    programs.set(key, p);
  }
  return p;
}

/** Returns the expected text (writing it first under UPDATE_BASELINES=1). */
export function golden(name: string, actual: string): string {
  const path = resolve(repoRoot, 'test', 'baselines', 'diagram', name);
  if (process.env['UPDATE_BASELINES'] === '1' || !existsSync(path)) {
    if (process.env['UPDATE_BASELINES'] !== '1')
      throw new Error(`missing baseline ${path}: run with UPDATE_BASELINES=1 and review it`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
  }
  return readFileSync(path, 'utf8');
}
