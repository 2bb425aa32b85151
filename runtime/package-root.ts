/**
 * Where nvcc's own files are.
 * In: nothing (this module's own location). Out: the package root, i.e. the nearest folder
 * above this module whose package.json is nvcc's, and paths of shipped files under it (std/,
 * the diagram font, the SIMD .wasm, package.json).
 * Holds afterwards: the answer is the same whether this code runs from the TypeScript sources
 * (runtime/package-root.ts) or from the bundle (dist/<id>/chunks/*.js, another depth), so
 * no caller counts `..` from its own `import.meta.url`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'nvcc';
let root: string | undefined;

function isNvccPackage(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/** Absolute path of the folder holding nvcc's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (isNvccPackage(dir)) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`nvcc: no package.json named "${PACKAGE_NAME}" above ${start}`);
  }
}

/** Absolute path of a file or folder shipped with nvcc, e.g. packagePath('std'). */
export function packagePath(...segments: string[]): string {
  return join(packageRoot(), ...segments);
}
