/**
 * The fix of an unknown name searches the project's own .nvc files (compiler/import-hints.ts):
 * the import is written relative to the file that uses the name; the search reads regular files
 * only (a link, a FIFO, a hidden folder and node_modules are passed over), stops after
 * PROJECT_SEARCH.files files or PROJECT_SEARCH.bytes bytes, and goes PROJECT_SEARCH.depth folders
 * down at most; std's declarations still answer when the project has none.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importSpecifier, PROJECT_SEARCH, projectDeclarations } from '../../compiler/import-hints.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { parse } from '../../dsl/index.js';
import { freshDir } from '../builder/helpers.js';

const block = (name: string) =>
  `block ${name}(dim: int) {\n  fc = Linear(dim, dim)\n  forward(x: [B, dim]) -> [B, dim] { return fc(x) }\n}\n`;

function write(file: string, text: string): string {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

const helpOf = (file: string) =>
  compileProgramSync(file)
    .diagnostics.filter((d) => d.code === 'NVC2001')
    .map((d) => d.help.join(' | '));

describe('import hints from the project', () => {
  it('writes the import relative to the file that uses the name', () => {
    expect(importSpecifier('/p/blocks/fusion.nvc', '/p/main.nvc')).toBe('./blocks/fusion');
    expect(importSpecifier('/p/shared/x.nvc', '/p/models/m.nvc')).toBe('../shared/x');
    expect(importSpecifier('/p/y.nvc', '/p/y2.nvc')).toBe('./y');
  });

  it('names the project file from the entry and from an imported module in a subfolder', () => {
    const dir = freshDir('nvcc-hints-');
    write(join(dir, 'shared', 'fusion.nvc'), block('Fusion'));
    write(
      join(dir, 'models', 'head.nvc'),
      'block Head(dim: int) {\n  f = Fusion(dim)\n  forward(x: [B, dim]) -> [B, dim] { return f(x) }\n}\n',
    );
    const main = write(
      join(dir, 'main.nvc'),
      'import { Head } from "./models/head"\nmodel M() {\n  h = Head(4)\n  g = Fusion(4)\n' +
        '  c = CrossAttention(4, heads = 2)\n  forward(x: [B, 4]) -> [B, 4] { return g(h(x)) }\n}\n',
    );
    expect(helpOf(main)).toEqual([
      '`Fusion` is exported by ./shared/fusion: add `import { Fusion } from "./shared/fusion"`',
      '`CrossAttention` is exported by std/attention: add `import { CrossAttention } from "std/attention"`',
      '`Fusion` is exported by ../shared/fusion: add `import { Fusion } from "../shared/fusion"`',
    ]);
  });

  it('reads regular files only: no links, FIFOs, hidden folders or node_modules', () => {
    const dir = freshDir('nvcc-hints-');
    const entry = write(join(dir, 'main.nvc'), 'model M() {}\n');
    const outside = write(join(freshDir('nvcc-hints-out-'), 'linked.nvc'), block('Linked'));
    symlinkSync(outside, join(dir, 'linked.nvc'));
    symlinkSync(join(outside, '..'), join(dir, 'linked-folder'));
    expect(spawnSync('mkfifo', [join(dir, 'pipe.nvc')]).status).toBe(0);
    write(join(dir, '.hidden', 'h.nvc'), block('Hidden'));
    write(join(dir, 'node_modules', 'n.nvc'), block('Vendored'));
    write(join(dir, 'real.nvc'), block('Real'));
    // The FIFO would block a reader that opened it: the search finishes, so it never did.
    expect([...projectDeclarations(entry, parse).keys()]).toEqual(['Real']);
  });

  it(`stops after ${PROJECT_SEARCH.files} files and ${PROJECT_SEARCH.depth} folders down`, () => {
    const dir = freshDir('nvcc-hints-');
    const entry = write(join(dir, 'main.nvc'), 'model M() {}\n');
    for (let i = 0; i <= PROJECT_SEARCH.files; i++)
      write(join(dir, `f${String(i).padStart(3, '0')}.nvc`), block(`B${i}`));
    const found = projectDeclarations(entry, parse);
    expect(found.size).toBe(PROJECT_SEARCH.files);
    expect(found.has(`B${PROJECT_SEARCH.files - 1}`)).toBe(true);
    expect(found.has(`B${PROJECT_SEARCH.files}`)).toBe(false);

    const deep = freshDir('nvcc-hints-');
    const deepEntry = write(join(deep, 'main.nvc'), 'model M() {}\n');
    const levels = (n: number) => Array.from({ length: n }, (_, i) => `d${i}`);
    write(join(deep, ...levels(PROJECT_SEARCH.depth), 'in.nvc'), block('InReach'));
    write(join(deep, ...levels(PROJECT_SEARCH.depth + 1), 'out.nvc'), block('TooDeep'));
    expect([...projectDeclarations(deepEntry, parse).keys()]).toEqual(['InReach']);
  });

  it(`stops after ${PROJECT_SEARCH.bytes} bytes read in all`, () => {
    const dir = freshDir('nvcc-hints-');
    const entry = write(join(dir, 'main.nvc'), 'model M() {}\n');
    // Five files of 0.9 MiB (each under the source limit): the fifth passes 4 MiB in all.
    const padding = `// ${'x'.repeat(1000)}\n`.repeat(Math.floor((0.9 * 1024 * 1024) / 1004));
    for (let i = 0; i < 5; i++) write(join(dir, `big${i}.nvc`), block(`Big${i}`) + padding);
    expect([...projectDeclarations(entry, parse).keys()]).toEqual(['Big0', 'Big1', 'Big2', 'Big3']);
  });
});
