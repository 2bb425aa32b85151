/**
 * The IR is the only contract: the emitters, the diagram, the summary (library and command)
 * and the override schema import nothing from the elaborator, directly or through other
 * modules. Static check over the import graph: every `import ... from '...'`, `export ... from`
 * and `import('...')` with a literal relative path, followed transitively. The compile entry
 * point compiler/pipeline.ts is where a build driver (compiler/emit/torch/build.ts, the summary
 * command) asks for a ProgramIR; the walk stops there, since calling it hands over nothing but
 * the IR and diagnostics.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ELABORATOR = [...tsFiles('compiler/elaborate'), 'compiler/values.ts', 'compiler/program.ts', 'compiler/scope.ts'];
const ENTRY_POINT = 'compiler/pipeline.ts';

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith('.')) continue;
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
    if (fs.existsSync(resolved)) out.push(resolved);
  }
  return out;
}

/** The chain of imports from `start` to an elaborator module, or undefined. */
function pathToElaborator(start: string): string[] | undefined {
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): string[] | undefined => {
    if (ELABORATOR.includes(file)) return [...chain, file];
    if (seen.has(file) || file === ENTRY_POINT) return undefined;
    seen.add(file);
    for (const next of importsOf(file)) {
      const found = walk(next, [...chain, file]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, []);
}

function tsFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.posix.join(e.parentPath.split(path.sep).join('/'), e.name))
    .sort();
}

const CHECKED = [
  ...tsFiles('compiler/emit'),
  ...tsFiles('compiler/diagram'),
  ...tsFiles('compiler/ir').filter((f) => f !== 'compiler/ir/build.ts'),
  ...tsFiles('compiler/primitives'),
  'compiler/summary.ts',
  'cli/commands/summary.ts',
  'compiler/schema/overrides.ts',
];

describe('the IR is the only contract', () => {
  it('finds the modules it checks', () => {
    expect(CHECKED.length).toBeGreaterThan(20);
    for (const f of CHECKED) expect(fs.existsSync(f), f).toBe(true);
    expect(ELABORATOR).toContain('compiler/elaborate/index.ts');
    expect(ELABORATOR.length).toBeGreaterThan(5);
  });

  it('the walk would see an elaborator import (compiler/ir/build.ts, the bridge, has one)', () => {
    expect(pathToElaborator('compiler/ir/build.ts')).toEqual(['compiler/ir/build.ts', 'compiler/values.ts']);
  });

  for (const file of CHECKED)
    it(`${file} reaches no elaborator module`, () => {
      expect(pathToElaborator(file)).toBeUndefined();
    });
});
