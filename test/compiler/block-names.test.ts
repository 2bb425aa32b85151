import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { unboundNames } from '../../compiler/elaborate/names.js';
import { loadModules } from '../../compiler/loader.js';
import { Reporter } from '../../compiler/report.js';
import { buildModuleScopes } from '../../compiler/scope.js';
import { parse } from '../../dsl/index.js';

/** Every block of the file and its imports, with the names the static check finds unbound. */
function unboundIn(path: string): string[] {
  const reporter = new Reporter();
  const loaded = loadModules(path, parse, reporter);
  expect(loaded, path).toBeDefined();
  const scopes = buildModuleScopes(loaded!, reporter);
  const out: string[] = [];
  for (const scope of scopes.values())
    for (const d of scope.module.ast.decls)
      if (d.kind === 'Block')
        for (const u of unboundNames(d, scope)) out.push(`${scope.module.path}: ${d.name.name}: ${u.name}`);
  return out;
}

describe('the names of blocks nothing instantiates', () => {
  // The check must bind every name a working program uses (symbols, loop variables, enum words,
  // initialisers): run over every block of std/, the example and the clean fixtures, it finds none.
  const programs = [
    'examples/mednvc.nvc',
    ...readdirSync('std').map((n) => `std/${n}`),
    ...readdirSync('test/fixtures/clean')
      .filter((n) => n.endsWith('.nvc'))
      .map((n) => `test/fixtures/clean/${n}`),
  ];
  for (const path of programs)
    it(`binds every name of ${path}`, () => {
      expect(unboundIn(path)).toEqual([]);
    });

  it('finds the misspelt names of a block (test/fixtures/diagnostics/names-unused-block.nvc)', () => {
    expect(unboundIn('test/fixtures/diagnostics/names-unused-block.nvc').map((s) => s.split(': ').pop())).toEqual([
      'Linaer',
      'dimm',
      'CrossAttention',
      'nn.GELU',
      'yy',
    ]);
  });
});
