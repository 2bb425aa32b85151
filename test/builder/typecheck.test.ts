/**
 * Every example (with every variant), every std-library file (its models include the eight
 * published ConvNeXt-V2 sizes) and every emit fixture builds; the emitted TypeScript of all of
 * them type-checks under the TypeScript compiler in strict mode with zero diagnostics, with
 * `nvcc/runtime` mapped to the runtime's sources.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { compileBuild } from '../../compiler/builder/build.js';
import { parse, SourceFile } from '../../dsl/index.js';
import { freshDir } from './helpers.js';

function variantsOf(file: string): string[] {
  const { module } = parse(new SourceFile(file, fs.readFileSync(file, 'utf8')));
  return module.decls.filter((d) => d.kind === 'Variant').map((d) => d.name.name);
}

const nvcFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.nvc'))
    .sort()
    .map((f) => path.join(dir, f));

const PROGRAMS: { file: string; variant?: string }[] = [
  ...nvcFiles('examples').flatMap((f) => [{ file: f }, ...variantsOf(f).map((variant) => ({ file: f, variant }))]),
  ...nvcFiles('std').map((file) => ({ file })),
  ...nvcFiles('test/fixtures/emit').flatMap((f) => [
    { file: f },
    ...variantsOf(f).map((variant) => ({ file: f, variant })),
  ]),
];

describe('nvcc build of every example, variant, std file and fixture', () => {
  // About 70 s of CPU alone; on a machine loaded by other jobs it has taken over 120 s, so it gets a
  // limit of its own (a hang guard, not a speed check).
  it('builds all of them and the emitted code type-checks in strict mode', { timeout: 600_000 }, async () => {
    const root = freshDir('nvcc-typecheck-');
    const generated: string[] = [];
    const failures: string[] = [];
    for (const [i, p] of PROGRAMS.entries()) {
      const outDir = path.join(root, String(i));
      const { result, compiled, problems } = await compileBuild(
        p.file,
        p.variant ? { variant: p.variant } : {},
        outDir,
      );
      const errors = result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
      if (!compiled) {
        failures.push(
          `${p.file}${p.variant ? ` --variant ${p.variant}` : ''}: ` +
            `${[...errors, ...problems.map((x) => x.message)].join('; ')}`,
        );
        continue;
      }
      fs.mkdirSync(outDir, { recursive: true });
      fs.writeFileSync(path.join(outDir, 'model.ts'), compiled.modelTs);
      fs.writeFileSync(path.join(outDir, 'train.ts'), compiled.trainTs);
      generated.push(path.join(outDir, 'model.ts'), path.join(outDir, 'train.ts'));
    }
    expect(failures).toEqual([]);
    expect(PROGRAMS.length).toBeGreaterThan(10);
    const program = ts.createProgram(generated, {
      strict: true,
      noImplicitOverride: true,
      noFallthroughCasesInSwitch: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      typeRoots: [path.resolve('node_modules/@types')],
      // Generated code imports `nvcc/runtime`; here it is checked against the runtime sources
      // (against the compiled declarations in test/builder/package.test.ts).
      paths: { 'nvcc/runtime': [path.resolve('runtime/index.ts')] },
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && generated.includes(path.resolve(d.file.fileName)));
    const text = diagnostics.map(
      (d) =>
        `${d.file!.fileName}:${d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` +
        `${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
    expect(text).toEqual([]);
    // The generated files really were part of the checked program.
    for (const f of generated) expect(program.getSourceFile(f), f).toBeDefined();
  });
});
