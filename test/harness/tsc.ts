/**
 * Type-checks files with the project's compiler options, in memory.
 * In: root .ts files, optionally with replacement texts for some files (a simulated edit).
 * Out: the type errors, each with its file, 1-based line and message; for fixtures, the lines
 * marked with a trailing `// tsc-error`. Holds afterwards: nothing is written to disk.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ts from 'typescript';

export interface TypeError_ {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export function typeCheck(
  rootFiles: readonly string[],
  replacements: ReadonlyMap<string, string> = new Map(),
): TypeError_[] {
  const config = ts.readConfigFile('tsconfig.json', ts.sys.readFile);
  const options = { ...ts.parseJsonConfigFileContent(config.config, ts.sys, '.').options, noEmit: true };
  const replaced = new Map([...replacements].map(([path, text]) => [resolve(path), text]));
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => replaced.get(resolve(name)) ?? readFile(name);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError, create) => {
    const text = replaced.get(resolve(name));
    return text !== undefined
      ? ts.createSourceFile(name, text, version)
      : getSourceFile(name, version, onError, create);
  };
  const program = ts.createProgram(rootFiles, options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ({
    file: d.file ? ts.sys.resolvePath(d.file.fileName) : '',
    line: d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0,
    message: ts.flattenDiagnosticMessageText(d.messageText, ' '),
  }));
}

export interface TscOutcome {
  /** Lines (1-based) of the fixture with at least one error, with the first message of each; -1 for other files. */
  readonly errors: ReadonlyMap<number, string>;
  /** Lines marked with a trailing `// tsc-error`. */
  readonly expected: readonly number[];
}

/** Type-checks one fixture that the project's tsconfig excludes. */
export function typeCheckFixture(path: string): TscOutcome {
  const errors = new Map<number, string>();
  for (const e of typeCheck([path])) {
    const line = e.file === resolve(path) ? e.line : -1;
    if (!errors.has(line)) errors.set(line, `${e.file}:${e.line}: ${e.message}`);
  }
  const expected = readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((text, i) => (/\S.*\/\/ tsc-error$/.test(text) ? [i + 1] : []));
  return { errors, expected };
}
