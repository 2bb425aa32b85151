/**
 * A build written outside the repository (no package.json of ours above it) still loads: the
 * build folder declares its JavaScript as ES modules itself.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { freshDir } from './helpers.js';

describe('a build folder outside the repository', () => {
  it('loads its generated ES modules', async () => {
    const outDir = path.join(freshDir('nvcc-outside-'), 'out');
    const p = await loadBuiltProgram('test/fixtures/emit/tiny-mlp.nvc', { outDir });
    expect(JSON.parse(fs.readFileSync(path.join(outDir, 'package.json'), 'utf8'))).toEqual({ type: 'module' });
    expect(Object.keys(p.modelFactories).length).toBeGreaterThan(0);
    // Plain Node (with the tsx loader the CLI uses), not vitest's module runner, decides the
    // module format from the nearest package.json.
    const script =
      `const m = await import(` +
      `${JSON.stringify(pathToFileURL(path.join(outDir, 'model.js')).href)}); ` +
      `console.log(Object.keys(m).length > 0 ? 'loaded' : 'empty');`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('loaded');
  });
});
