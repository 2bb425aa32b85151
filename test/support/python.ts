/**
 * Runs Debian's Python with torch for the torch-engine tests.
 * In: a script path (or `-c` code) and arguments. Out: its stdout parsed as JSON (the last line),
 * or an error carrying stderr. Holds afterwards: the interpreter is /usr/bin/python3 (the `python3`
 * on PATH may lack torch; CI installs python3-torch for it) and the package folder
 * compiler/emit/torch/python is on PYTHONPATH, so the tests exercise the files a build ships.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';
export const TORCH_PYTHON_DIR = fileURLToPath(new URL('../../compiler/emit/torch/python', import.meta.url));
export const TORCH_TEST_DIR = fileURLToPath(new URL('../torch', import.meta.url));

export interface PythonRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runPython(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 300_000): PythonRun {
  const r = spawnSync(PYTHON, [...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: {
      ...process.env,
      PYTHONPATH: [TORCH_PYTHON_DIR, TORCH_TEST_DIR].join(':'),
      OMP_NUM_THREADS: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      ...env,
    },
  });
  if (r.error)
    throw new Error(`${PYTHON} could not run (${r.error.message}); the torch tests need Debian's python3-torch`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a script and returns the JSON object printed on its last stdout line; fails with stderr otherwise. */
export function pythonJson<T = Record<string, unknown>>(args: readonly string[], env: Record<string, string> = {}): T {
  const r = runPython(args, env);
  if (r.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}
