/**
 * The precompiled CLI (scripts/bundle.mjs, run by bin/nvcc.js): it builds and trains a tiny
 * program end to end; the generated code imports `nvcc/runtime`, which the trainer gives the
 * bundle's own runtime entry, so the trainer and the model share one runtime instance (code
 * importing a second copy is refused); `nvcc train` after
 * `nvcc build` reuses the build; and an edited source never runs from an older bundle (a new
 * bundle is made, or, when dist/ cannot be written, the sources run through tsx).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { currentBundle } from '../../scripts/dist.mjs';
import { REPO, runCli } from '../support/cli-process.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-bundle-'));
const cleanup: string[] = [tmp];
afterAll(() => {
  for (const p of cleanup) fs.rmSync(p, { recursive: true, force: true });
});

describe('the bundled CLI on a tiny program', () => {
  const work = path.join(tmp, 'work');

  it('builds against the bundle runtime, trains, and train reuses the build', async () => {
    fs.mkdirSync(work);
    fs.copyFileSync(path.join(REPO, 'test/cli/fixtures/tiny.nvc'), path.join(work, 'tiny.nvc'));
    const built = runCli(['build', 'tiny.nvc'], { cwd: work });
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/^built build\/tiny in \d+ ms/);
    const bundle = await currentBundle(REPO, { write: false });
    expect(built.bundle).toBe(`dist/${bundle.id}`);
    const modelJs = fs.readFileSync(path.join(work, 'build/tiny/model.js'), 'utf8');
    expect(/import \* as nv from "([^"]+)"/.exec(modelJs)?.[1]).toBe('nvcc/runtime');
    const manifest = path.join(work, 'build/tiny/manifest.json');
    // The cache key names the bundle (a hash of the compiler's sources), so an edited compiler
    // never reuses a build an older one made.
    expect(JSON.parse(fs.readFileSync(manifest, 'utf8')).compiler).toContain(`, compiler ${bundle.id})`);
    const before = { mtime: fs.statSync(manifest).mtimeMs, text: fs.readFileSync(manifest, 'utf8') };

    const trained = runCli(['train', 'tiny.nvc', '--backend', 'cpu', '--quiet', '--out', 'run'], { cwd: work });
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stdout).toMatch(/test split \(\d+ patients\): AUC \d+\.\d\d%/);
    expect(fs.existsSync(path.join(work, 'run', 'report.html'))).toBe(true);
    // The trainer ran from the bundle and imported the generated code built above (a copy whose
    // runtime import names the bundle's runtime entry), and the build was not rewritten.
    expect(trained.bundle).toBe(`dist/${bundle.id}`);
    expect(trained.urls.some((u) => u.startsWith('file:') && /\/nvcc-load-[^/]+\/train\.js$/.test(u))).toBe(true);
    expect(trained.urls).toContain(pathToFileURL(path.join(bundle.dir, 'runtime', 'index.js')).href);
    expect({ mtime: fs.statSync(manifest).mtimeMs, text: fs.readFileSync(manifest, 'utf8') }).toEqual(before);
    // One runtime: no source module was loaded twice (from the bundle and from the sources).
    expect(trained.urls.filter((u) => /\/(dsl|compiler|runtime|workflow|cli)\/.*\.ts$/.test(u))).toEqual([]);
  });

  it('refuses generated code that imports another copy of the runtime', async () => {
    const bundle = await currentBundle(REPO, { write: false });
    const copy = `${bundle.dir}-copy-${process.pid}`;
    cleanup.push(copy);
    fs.cpSync(bundle.dir, copy, { recursive: true });
    const modelJs = path.join(work, 'build/tiny/model.js');
    fs.writeFileSync(
      modelJs,
      fs
        .readFileSync(modelJs, 'utf8')
        .replace('"nvcc/runtime"', JSON.stringify(path.join(copy, 'runtime', 'index.js'))),
    );
    const r = runCli(['train', 'tiny.nvc', '--backend', 'cpu', '--quiet', '--out', 'run-copy'], { cwd: work });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('uses another copy of the nvcc runtime');
    expect(fs.existsSync(path.join(work, 'run-copy'))).toBe(false);
  });
});

describe('a bundle older than the sources', () => {
  /** A copy of the package (sources, std, scripts, bin) sharing this repository's node_modules. */
  function packageCopy(): string {
    const root = path.join(tmp, 'package');
    for (const d of ['bin', 'scripts', 'dsl', 'compiler', 'runtime', 'workflow', 'cli', 'lsp', 'std'])
      fs.cpSync(path.join(REPO, d), path.join(root, d), { recursive: true });
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(REPO, f), path.join(root, f));
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
    return root;
  }
  const bundles = (root: string) =>
    fs
      .readdirSync(path.join(root, 'dist'))
      .filter((d) => /^[0-9a-f]{16}$/.test(d))
      .sort();
  const setDescription = (root: string, text: string) => {
    const cli = path.join(root, 'cli', 'main.ts');
    fs.writeFileSync(cli, fs.readFileSync(cli, 'utf8').replace(/\.description\('[^']*'\)/, `.description('${text}')`));
  };

  it('is never run: an edit makes a new bundle, a touch does not, and an unwritable dist/ runs the sources', () => {
    const root = packageCopy();
    const first = runCli(['--help'], { root });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Compiler for .nvc model definitions');
    const [id1] = bundles(root);
    expect(first.bundle).toBe(`dist/${id1}`);

    setDescription(root, 'edited description one');
    const edited = runCli(['--help'], { root });
    expect(edited.stdout).toContain('edited description one');
    expect(edited.bundle).toMatch(/^dist\/[0-9a-f]{16}$/);
    expect(edited.bundle).not.toBe(`dist/${id1}`);
    // The older bundle stays for processes that may still run it.
    expect(bundles(root)).toHaveLength(2);

    // Same contents, new mtime: the same bundle.
    const now = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(root, 'cli', 'main.ts'), now, now);
    const touched = runCli(['--help'], { root });
    expect(touched.bundle).toBe(edited.bundle);
    expect(bundles(root)).toHaveLength(2);

    // dist/ cannot hold a new bundle (a file in its place; permissions do not stop root).
    fs.rmSync(path.join(root, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(root, 'dist'), '');
    setDescription(root, 'edited description two');
    const fallback = runCli(['--help'], { root, env: { NVCC_DEBUG: '1' } });
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(fallback.stdout).toContain('edited description two');
    expect(fallback.bundle).toBeUndefined();
    expect(fallback.modules.has('cli/main.ts')).toBe(true);
    expect(fallback.stderr).toContain('running the TypeScript sources');
  });
});
