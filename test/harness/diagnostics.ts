/**
 * Golden-test harness for diagnostics.
 * In: paths of .nvc fixture files. Out: the diagnostics the front end reports for them, their
 * colourless rendering (the baseline text), and helpers to compare against and update
 * checked-in baselines. Holds afterwards: `runFrontEnd` is the ONE place that decides which
 * pipeline a fixture goes through; when the full checker exists (compiler/pipeline.ts) it is
 * switched here and every golden test follows.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torchSupportProblems } from '../../compiler/emit/torch/check.js';
import { compileEveryVariant } from '../../compiler/pipeline.js';
import type { Diagnostic } from '../../dsl/diagnostics/diagnostic.js';
import { renderDiagnostics } from '../../dsl/diagnostics/render.js';
import { SourceFile } from '../../dsl/span.js';
import { parse } from '../../dsl/index.js';

/** Repository root (the harness lives in test/harness/). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface FrontEndResult {
  readonly diagnostics: readonly Diagnostic[];
  /** Every file the run read, by the path used in spans. */
  readonly files: ReadonlyMap<string, SourceFile>;
}

/**
 * Runs the front end on one file. Spans use the path relative to the repository root so that
 * baselines do not depend on where the checkout lives.
 */
export async function runFrontEnd(path: string): Promise<FrontEndResult> {
  const abs = resolve(repoRoot, path);
  const shown = relative(repoRoot, abs).split('\\').join('/');
  const text = readFileSync(abs, 'utf8');
  // A fixture whose first line starts with `// syntax-only` goes through the parser alone
  // (e.g. the language sketch, which is valid syntax but not a checkable program).
  if (/^\/\/\s*syntax-only/.test(text)) {
    const file = new SourceFile(shown, text);
    return { diagnostics: parse(file).diagnostics, files: new Map([[shown, file]]) };
  }
  // The full checker (parse, imports, names, shapes, arguments, program checks). Imports of
  // `std/...` are shown as `std/<file>.nvc` because tests run from the repository root.
  // A fixture with a `// target: torch` line is checked against the torch target instead of
  // tfjs, as `nvcc check --target torch` does.
  const torch = /^\/\/\s*target:\s*torch\s*$/m.test(text);
  // Like `nvcc check` without `--variant`: the program and each of its variants.
  const { diagnostics, files } = compileEveryVariant(
    shown,
    { text, ...(torch ? { targets: ['torch'] } : {}) },
    torch ? torchSupportProblems : undefined,
  );
  return { diagnostics, files };
}

/** The baseline text: rendered diagnostics without colour, or a line saying there are none. */
export function renderForBaseline(result: FrontEndResult): string {
  if (result.diagnostics.length === 0) return 'no diagnostics\n';
  return renderDiagnostics(result.diagnostics, (p) => result.files.get(p), { color: false });
}

/** `// NVC1002: what it checks` on the first line: the code. */
export function fixtureCode(path: string): string | undefined {
  const first = readFileSync(resolve(repoRoot, path), 'utf8').split(/\r\n|\r|\n/, 1)[0] ?? '';
  return /^\/\/\s*(NVC\d{4})\s*:/.exec(first)?.[1];
}

/** Fixture paths (relative to the repo root) in a directory, sorted. */
export function listFixtures(dir: string): string[] {
  const abs = resolve(repoRoot, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((n) => n.endsWith('.nvc'))
    .sort()
    .map((n) => join(dir, n).split('\\').join('/'));
}

export interface BaselineOutcome {
  readonly status: 'match' | 'updated' | 'mismatch' | 'missing';
  readonly expected: string;
  readonly actual: string;
}

/**
 * Compares `actual` with test/baselines/<kind>/<name>.txt. With UPDATE_BASELINES=1 the
 * baseline is (re)written; on a mismatch the actual text goes to test/baselines/local/<kind>/.
 */
export function compareBaseline(kind: string, name: string, actual: string): BaselineOutcome {
  const path = resolve(repoRoot, 'test', 'baselines', kind, `${name}.txt`);
  const update = process.env['UPDATE_BASELINES'] === '1';
  const expected = existsSync(path) ? readFileSync(path, 'utf8').replace(/\r\n/g, '\n') : undefined;
  if (update) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return { status: expected === actual ? 'match' : 'updated', expected: actual, actual };
  }
  if (expected === actual) return { status: 'match', expected, actual };
  const local = resolve(repoRoot, 'test', 'baselines', 'local', kind, `${name}.txt`);
  mkdirSync(dirname(local), { recursive: true });
  writeFileSync(local, actual);
  return { status: expected === undefined ? 'missing' : 'mismatch', expected: expected ?? '', actual };
}
