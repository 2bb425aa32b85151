/**
 * A build written outside the repository (no package.json of ours above it) still loads: the
 * build folder is a package of its own that declares its JavaScript as ES modules. (Plain Node
 * importing such a folder from a project that depends on nvcc: test/builder/package.test.ts.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { freshDir } from './helpers.js';

describe('a build folder outside the repository', () => {
  it('loads its generated ES modules', async () => {
    const outDir = path.join(freshDir('nvcc-outside-'), 'out');
    const p = await loadBuiltProgram('test/fixtures/emit/tiny-mlp.nvc', { outDir });
    expect(JSON.parse(fs.readFileSync(path.join(outDir, 'package.json'), 'utf8'))).toMatchObject({
      name: 'tiny-mlp',
      type: 'module',
      exports: { '.': { types: './model.d.ts', default: './model.js' } },
    });
    expect(Object.keys(p.modelFactories).length).toBeGreaterThan(0);
  });
});
