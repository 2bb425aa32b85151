/**
 * Type-checks one fixture file with the project's compiler options.
 * In: a path to a .ts file that the project's tsconfig excludes. Out: the 1-based line numbers
 * that have type errors, and the lines marked `// tsc-error`. Holds afterwards: nothing.
 */
import { readFileSync } from 'node:fs';
import * as ts from 'typescript';

export interface TscOutcome {
  /** Lines (1-based) with at least one error, with the first message of each. */
  readonly errors: ReadonlyMap<number, string>;
  /** Lines marked `// tsc-error`. */
  readonly expected: readonly number[];
}

export function typeCheckFixture(path: string): TscOutcome {
  const config = ts.readConfigFile('tsconfig.json', ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, '.');
  const program = ts.createProgram([path], { ...parsed.options, noEmit: true });
  const errors = new Map<number, string>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.file === undefined || d.start === undefined) {
      errors.set(0, ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1;
    const where = d.file.fileName.endsWith(path.replace(/^\.\//, '')) ? line : -1;
    if (!errors.has(where))
      errors.set(where, `${d.file.fileName}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  }
  const expected = readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((text, i) => (/\S.*\/\/ tsc-error$/.test(text) ? [i + 1] : []));
  return { errors, expected };
}
