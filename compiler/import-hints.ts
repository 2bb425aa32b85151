/**
 * Where an unknown name is declared, for the fix "`X` is exported by ...: add `import ...`".
 * In: the entry file's absolute path and a parse function. Out: `importHinter`, a lookup from a
 * name and the file that uses it to the module specifier to import it from: a .nvc file of the
 * project (the entry's folder and the folders below it), written relative to the using file
 * (`./blocks/fusion`), else the std module that declares it (`std/attention`).
 * Holds afterwards: the project is searched once per hinter and only when a name is unknown;
 * the search reads regular .nvc files only (no links, devices or FIFOs; no hidden folders or
 * node_modules), at most PROJECT_SEARCH.files files and PROJECT_SEARCH.bytes bytes in all, at
 * most PROJECT_SEARCH.depth folders down; a file that cannot be read or parsed contributes
 * nothing (parse never throws), and the search never fails the compilation.
 */
import { type Dirent, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { SourceFile } from '../dsl/span.js';
import { limits, readRegularFile } from './limits.js';
import { type ParseFn, STD_DIR, stdExports } from './loader.js';

/** Bounds of the project search: files read, bytes read in all, folders below the entry's. */
export const PROJECT_SEARCH = { files: 200, bytes: 4 * 1024 * 1024, depth: 4 } as const;

export type ImportHinter = (name: string, usedIn: string) => string | undefined;

/**
 * The names the project's own .nvc files declare (besides the entry), with the absolute path of
 * the first file that declares each: the entry's folder first, then its subfolders breadth
 * first, in name order. std/ itself is left to `stdExports`.
 */
export function projectDeclarations(entryAbs: string, parse: ParseFn): ReadonlyMap<string, string> {
  const found = new Map<string, string>();
  let filesLeft: number = PROJECT_SEARCH.files;
  let bytesLeft: number = PROJECT_SEARCH.bytes;
  const folders: Array<[string, number]> = [[path.dirname(entryAbs), 0]];
  while (folders.length > 0) {
    const [folder, depth] = folders.shift()!;
    if (path.resolve(folder) === path.resolve(STD_DIR)) continue;
    let entries: Dirent[];
    try {
      entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const abs = path.join(folder, entry.name);
      // Dirent types come from lstat: a link is neither a folder nor a file here, so never followed.
      if (entry.isDirectory()) {
        if (depth < PROJECT_SEARCH.depth) folders.push([abs, depth + 1]);
        continue;
      }
      if (!entry.isFile() || !entry.name.endsWith('.nvc') || abs === entryAbs) continue;
      if (filesLeft === 0 || bytesLeft === 0) return found;
      filesLeft--;
      const limit = limits().sourceBytes;
      const read = readRegularFile(abs, { ...limit, value: Math.min(limit.value, bytesLeft) });
      if ('refused' in read) continue;
      bytesLeft -= Buffer.byteLength(read.text, 'utf8');
      for (const decl of parse(new SourceFile(abs, read.text)).module.decls)
        if (decl.name.name && !found.has(decl.name.name)) found.set(decl.name.name, abs);
    }
  }
  return found;
}

/** `./fusion`, `../shared/blocks`: the import of `targetAbs` as the file `fromAbs` writes it. */
export function importSpecifier(targetAbs: string, fromAbs: string): string {
  const rel = path
    .relative(path.dirname(fromAbs), targetAbs)
    .split(path.sep)
    .join('/')
    .replace(/\.nvc$/, '');
  return rel.startsWith('../') ? rel : `./${rel}`;
}

/** The hint lookup of one compilation: the project's own declarations first, then std's. */
export function importHinter(entryAbs: string, parse: ParseFn): ImportHinter {
  let project: ReadonlyMap<string, string> | undefined;
  return (name, usedIn) => {
    project ??= projectDeclarations(entryAbs, parse);
    const declaredIn = project.get(name);
    const fromAbs = path.resolve(usedIn);
    if (declaredIn !== undefined && declaredIn !== fromAbs) return importSpecifier(declaredIn, fromAbs);
    return stdExports(parse).get(name);
  };
}
