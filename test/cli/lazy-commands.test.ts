/**
 * Commands load their implementation only when they run (cli/commands/index.ts): `nvcc
 * --help` loads no compiler and no heavy package, a cached `nvcc build` no parser, emitter or
 * tfjs. Each case runs the real CLI in a fresh process and lists what it loaded with a loader
 * hook; the cold build and `eval` show that the hook does see those modules when they load.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEAVY_PACKAGES, REPO, runCli } from '../support/cli-process.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-lazy-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const heavyLoaded = (modules: ReadonlySet<string>) => HEAVY_PACKAGES.filter((p) => modules.has(p));
const localSources = (modules: ReadonlySet<string>) =>
  [...modules].filter((m) => /^(dsl|compiler|runtime|workflow|cli)\//.test(m)).sort();

describe('nvcc --help', () => {
  it('from the bundle loads commander and the command declarations only', () => {
    const r = runCli(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('build [options] <file>');
    expect(r.bundle, 'ran from dist/<id>').toMatch(/^dist\/[0-9a-f]{16}$/);
    expect(heavyLoaded(r.modules)).toEqual([]);
    expect(localSources(r.modules)).toEqual(['cli/commands/index.ts', 'cli/main.ts']);
  });

  it('from the TypeScript sources (NVCC_BUNDLE=0) loads the same', () => {
    const r = runCli(['--help'], { env: { NVCC_BUNDLE: '0' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.bundle).toBeUndefined();
    expect(heavyLoaded(r.modules)).toEqual([]);
    expect(localSources(r.modules)).toEqual(['cli/commands/index.ts', 'cli/main.ts']);
  });
});

describe('declaring only the command that runs', () => {
  it('still suggests a command for a typo and helps on any command', () => {
    const typo = runCli(['buld', 'x.nvc']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("unknown command 'buld'");
    expect(typo.stderr).toContain('Did you mean build?');
    const help = runCli(['help', 'train']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: nvcc train [options] <file>');
    expect(help.stdout).toContain('--resume <dir>');
  });
});

describe('nvcc build', () => {
  it('compiles with the parser and ts-morph cold, and a cached build loads neither nor tfjs', () => {
    fs.copyFileSync(path.join(REPO, 'test/cli/fixtures/tiny.nvc'), path.join(tmp, 'tiny.nvc'));
    const cold = runCli(['build', 'tiny.nvc', '--out', 'out'], { cwd: tmp });
    expect(cold.code, cold.stderr).toBe(0);
    expect(cold.stdout).toMatch(/^built out in \d+ ms/);
    expect(cold.modules.has('ts-morph')).toBe(true);
    expect(cold.modules.has('dsl/parser.ts')).toBe(true);
    expect(cold.modules.has('@tensorflow/tfjs')).toBe(false);

    const cached = runCli(['build', 'tiny.nvc', '--out', 'out'], { cwd: tmp });
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stdout).toMatch(/^up to date out in \d+ ms/);
    expect(heavyLoaded(cached.modules)).toEqual([]);
    expect(
      localSources(cached.modules).filter((m) =>
        /^(dsl\/parser|compiler\/pipeline|compiler\/emit\/|runtime\/(?!package-root|errors))/.test(m),
      ),
    ).toEqual([]);
  });
});

describe('commands that train or score', () => {
  it('load tfjs when they run (the hook sees it)', () => {
    const r = runCli(['eval', path.join(tmp, 'no-such-run')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such run folder');
    expect(r.modules.has('@tensorflow/tfjs')).toBe(true);
  });
});
