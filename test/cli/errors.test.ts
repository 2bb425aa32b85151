/**
 * Errors carry their kind and exit code (runtime/errors.ts) and the command line reports them
 * from it (cli/report.ts): user, data and system errors exit 1 with a message naming the file
 * and what was kept; only an error without a kind is "internal error ... a bug" (exit 2).
 * Operating-system errors are provoked for real where root cannot get around them (a path
 * under a regular file: ENOTDIR, EEXIST) and injected into the file system where it can (a
 * full disk during a checkpoint write: ENOSPC from fsync, as a filling disk reports it).
 */
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { formatError, reportError } from '../../cli/report.js';
import { BuildRefused } from '../../compiler/builder/build.js';
import { BackendError } from '../../runtime/backend.js';
import { NvcRuntimeError } from '../../runtime/codegen.js';
import { DataRefusedError } from '../../runtime/data/errors.js';
import { errorReport, keeping, NvccError, SystemError, systemErrorOf, UserError } from '../../runtime/errors.js';
import { SafetensorsError } from '../../runtime/io/safetensors.js';
import { WeightsMismatchError } from '../../runtime/io/weights.js';
import { JsonlError } from '../../runtime/run/jsonl.js';
import { RunDirError } from '../../runtime/run/rundir.js';
import { TrainingError } from '../../runtime/train/common.js';
import { HandoverError } from '../../runtime/train/handover.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-errors-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An operating-system error as Node raises it. */
function errno(code: string, syscall: string, where?: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: simulated, ${syscall}${where ? ` '${where}'` : ''}`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  if (where !== undefined) e.path = where;
  return e;
}

describe('errors carry their kind and exit code', () => {
  it.each([
    ['UserError', 'user', 1, new UserError('bad flag')],
    ['RunDirError', 'user', 1, new RunDirError('not empty')],
    ['TrainingError', 'user', 1, new TrainingError('nothing to resume')],
    ['BackendError', 'user', 1, new BackendError('no such backend')],
    ['HandoverError', 'user', 1, new HandoverError(['a -> b: shape'])],
    ['NvcRuntimeError', 'user', 1, new NvcRuntimeError('t.nvc:3:5', 'shape mismatch', undefined)],
    [
      'DataRefusedError',
      'data',
      1,
      new DataRefusedError('PJI', [{ file: 'labs.csv', row: 4, message: 'not a number' }]),
    ],
    ['WeightsMismatchError', 'data', 1, new WeightsMismatchError('w.safetensors', ['a'], [], [])],
    ['SafetensorsError', 'data', 1, new SafetensorsError('w.safetensors', 'truncated header')],
    ['JsonlError', 'data', 1, new JsonlError('log.jsonl, line 2: not JSON')],
    ['SystemError', 'system', 1, new SystemError('ENOSPC', 'cannot write x: no space left on the device (ENOSPC)')],
  ] as const)('%s is a %s error with exit %d', (_name, kind, exitCode, err) => {
    expect(err).toBeInstanceOf(NvccError);
    expect(errorReport(err).kind).toBe(kind);
    expect(errorReport(err).exitCode).toBe(exitCode);
  });

  it('an error without a kind is internal (exit 2)', () => {
    expect(errorReport(new TypeError('x is undefined'))).toMatchObject({ kind: 'internal', exitCode: 2 });
    expect(errorReport('a string')).toMatchObject({ kind: 'internal', exitCode: 2, message: 'a string' });
  });

  it('an error from another copy of the module is recognised by its kind, not its class', () => {
    const foreign = Object.assign(new Error('from another bundle'), { kind: 'data', exitCode: 1 });
    expect(errorReport(foreign)).toMatchObject({ kind: 'data', exitCode: 1 });
    const unrelated = Object.assign(new Error('a library error'), { kind: 'parse' });
    expect(errorReport(unrelated).kind).toBe('internal');
  });
});

describe('operating-system errors', () => {
  it('ENOTDIR from a real write under a regular file names the path', () => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    const target = path.join(file, 'out.svg');
    let raised: unknown;
    try {
      fs.writeFileSync(target, 'svg');
    } catch (e) {
      raised = e;
    }
    const system = systemErrorOf(raised);
    expect(system).toBeInstanceOf(SystemError);
    expect(system!.code).toBe('ENOTDIR');
    expect(system!.path).toBe(target);
    expect(system!.message).toBe(`cannot open ${target}: a part of the path is a file, not a folder (ENOTDIR)`);
    expect(errorReport(raised)).toMatchObject({ kind: 'system', exitCode: 1, path: target });
  });

  it.each([
    ['ENOSPC', 'write', 'cannot write /runs/a/log.jsonl: no space left on the device (ENOSPC)'],
    ['EROFS', 'open', 'cannot open /runs/a/log.jsonl: the file system is read-only (EROFS)'],
    ['EACCES', 'mkdir', 'cannot create the folder /runs/a/log.jsonl: permission denied (EACCES)'],
    ['EPERM', 'rename', 'cannot write /runs/a/log.jsonl: operation not permitted (EPERM)'],
    [
      'EMFILE',
      'open',
      'cannot open /runs/a/log.jsonl: too many open files in this process (raise the limit with `ulimit -n`) (EMFILE)',
    ],
  ])('%s (%s) is the user situation, with the path', (code, syscall, message) => {
    const system = systemErrorOf(errno(code, syscall, '/runs/a/log.jsonl'));
    expect(system?.message).toBe(message);
    expect(system?.kind).toBe('system');
  });

  it('a writer names the file it writes when the error itself has no path (fs.writeSync, fsync)', () => {
    expect(systemErrorOf(errno('ENOSPC', 'write'))?.message).toBe('cannot write: no space left on the device (ENOSPC)');
    const named = systemErrorOf(errno('ENOSPC', 'fsync'), { path: 'run/log.jsonl', action: 'write' });
    expect(named?.message).toBe('cannot write run/log.jsonl: no space left on the device (ENOSPC)');
    expect(named?.path).toBe('run/log.jsonl');
    // A SystemError raised for a temporary file is renamed for the target the caller knows.
    expect(systemErrorOf(named, { path: 'run/report.html', action: 'write' })?.message).toBe(
      'cannot write run/report.html: no space left on the device (ENOSPC)',
    );
  });

  it('ENOENT is a system error only where something was being created; EEXIST only for a folder', () => {
    expect(systemErrorOf(errno('ENOENT', 'open', '/pkg/std/x.nvc'))).toBeUndefined();
    expect(errorReport(errno('ENOENT', 'open', '/pkg/std/x.nvc')).kind).toBe('internal');
    expect(systemErrorOf(errno('ENOENT', 'mkdir', '/no/such/out'))?.kind).toBe('system');
    expect(systemErrorOf(errno('ENOENT', 'open', '/no/such/out.csv'), { action: 'write' })?.kind).toBe('system');
    expect(systemErrorOf(errno('EEXIST', 'open', '/run/log.jsonl'))).toBeUndefined();
    expect(systemErrorOf(errno('EEXIST', 'mkdir', '/run/plot'))?.message).toBe(
      'cannot create the folder /run/plot: a file of that name is in the way (EEXIST)',
    );
    expect(systemErrorOf(errno('EINVAL', 'fsync', '/run'))).toBeUndefined();
    expect(systemErrorOf(new Error('no code'))).toBeUndefined();
  });

  it('`keeping` tells data and system errors what was kept, and leaves user errors and bugs alone', async () => {
    const data = new DataRefusedError('PJI', [{ file: 'labs.csv', message: 'empty' }]);
    await expect(keeping('nothing was written', () => Promise.reject(data))).rejects.toMatchObject({
      kept: 'nothing was written',
    });
    const raw = errno('ENOSPC', 'write', 'run/log.jsonl');
    await expect(keeping('the run folder run keeps it', () => Promise.reject(raw))).rejects.toMatchObject({
      kind: 'system',
      kept: 'the run folder run keeps it',
    });
    const user = new UserError('bad flag');
    await expect(keeping('nothing was written', () => Promise.reject(user))).rejects.toBe(user);
    expect(user.kept).toBeUndefined();
    const bug = new TypeError('x is undefined');
    await expect(keeping('nothing was written', () => Promise.reject(bug))).rejects.toBe(bug);
    // What an inner layer said is kept wins over what an outer one would say.
    const told = new SystemError('ENOSPC', 'cannot write x', { kept: 'x keeps its old contents' });
    await expect(keeping('nothing was written', () => Promise.reject(told))).rejects.toMatchObject({
      kept: 'x keeps its old contents',
    });
  });
});

describe('the report', () => {
  let written = '';
  const write = (text: string) => {
    written += text;
  };
  beforeEach(() => {
    written = '';
  });

  it('a refused dataset: summary, what was kept, then the list', () => {
    const err = new DataRefusedError('PJI', [{ file: 'labs.csv', row: 4, column: 'crp', message: 'not a number' }]);
    err.kept = 'nothing was written';
    expect(reportError(err, write)).toBe(1);
    expect(written).toBe(
      'error: the data were refused; nothing was written.\n' +
        'dataset PJI: 1 data error:\n  labs.csv, row 4, column crp: not a number\n',
    );
  });

  it('a system error: the message, then what was kept; never "a bug"', () => {
    const err = systemErrorOf(errno('EROFS', 'open', 'out/fig.svg'), { action: 'write', kept: 'nothing was written' });
    expect(reportError(err, write)).toBe(1);
    expect(written).toBe(
      'error: cannot write out/fig.svg: the file system is read-only (EROFS)\nNothing was written.\n',
    );
    // Raw, as Node raises it, it is still the user's situation.
    written = '';
    expect(reportError(errno('ENOSPC', 'write', 'runs/a/log.jsonl'), write)).toBe(1);
    expect(written).toBe('error: cannot write runs/a/log.jsonl: no space left on the device (ENOSPC)\n');
  });

  it('a user error is one line', () => {
    expect(formatError(new UserError('--seed must be a non-negative integer, found `x`'))).toBe(
      'error: --seed must be a non-negative integer, found `x`\n',
    );
  });

  it('an error without a kind is a bug in nvcc (exit 2)', () => {
    expect(reportError(new TypeError('cannot read properties of undefined'), write)).toBe(2);
    expect(written).toBe(
      'internal error in nvcc: cannot read properties of undefined\n' +
        'This is a bug in nvcc, not in your spec. Please report it with the command you ran.\n',
    );
  });

  it('a refused program shows its problems as the build does', () => {
    const refused = new BuildRefused('nvcc build t.nvc: bad override', {
      ok: false,
      outDir: 'build/t',
      cached: false,
      diagnostics: [],
      files: new Map(),
      problems: [{ path: 'fit.epochs', kind: 'bad-value', message: 'fit.epochs must be at least 1', origin: '--set' }],
    } as never);
    expect(reportError(refused, write)).toBe(1);
    expect(written).toBe('error: --set: fit.epochs must be at least 1\n');
  });
});

describe('through the command line', () => {
  const FIXTURE = path.resolve('test/cli/fixtures/tiny.nvc');
  const program = path.join(tmp, `tiny-errors-${process.pid}.nvc`);
  fs.copyFileSync(FIXTURE, program);
  const blocker = path.join(tmp, 'a-file');
  fs.writeFileSync(blocker, 'not a folder');
  let out = '';
  let err = '';
  beforeEach(() => {
    out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => {
    for (const b of fs.readdirSync('build').filter((f) => f.startsWith(`tiny-errors-${process.pid}`)))
      fs.rmSync(path.join('build', b), { recursive: true, force: true });
  });

  it('diagram --out under a regular file: the path and "nothing was written", exit 1', async () => {
    const target = path.join(blocker, 'fig.dot');
    expect(await main(['diagram', program, '--format', 'dot', '--out', target])).toBe(1);
    expect(err).toBe(
      `error: cannot write ${target}: a part of the path is a file, not a folder (ENOTDIR)\nNothing was written.\n`,
    );
    expect(out).toBe('');
  });

  it('schedule --out whose folder is a regular file: the folder cannot be made, exit 1', async () => {
    const target = path.join(blocker, 'plan.csv');
    expect(await main(['schedule', program, '--format', 'csv', '--out', target])).toBe(1);
    expect(err).toBe(
      `error: cannot write ${target}: a file of that name is in the way (EEXIST)\nNothing was written.\n`,
    );
  });

  it('train --out under a regular file: the run folder cannot be made, exit 1, no "bug"', async () => {
    const run = path.join(blocker, 'run');
    expect(await main(['train', program, '--backend', 'cpu', '--quiet', '--out', run])).toBe(1);
    // Node's recursive mkdir names the component in the way.
    expect(err).toBe(`error: cannot create the folder ${blocker}: a file of that name is in the way (EEXIST)\n`);
    expect(fs.readFileSync(blocker, 'utf8')).toBe('not a folder');
  });

  /**
   * Trains `run` with fsync failing with ENOSPC (where a filling disk reports it) for the files
   * of the checkpoint folders whose path contains `failing`.
   */
  async function trainOnFullDisk(run: string, failing: string): Promise<{ code: number; failures: number }> {
    const nodeFs = createRequire(import.meta.url)('node:fs') as typeof fs;
    const { openSync, fsyncSync } = nodeFs;
    const doomed = new Set<number>();
    let failures = 0;
    nodeFs.openSync = ((file: fs.PathLike, ...rest: never[]) => {
      const fd = (openSync as (...a: unknown[]) => number)(file, ...rest);
      if (String(file).includes(`${path.sep}checkpoints${path.sep}`) && String(file).includes(failing)) doomed.add(fd);
      return fd;
    }) as typeof fs.openSync;
    nodeFs.fsyncSync = ((fd: number) => {
      if (doomed.has(fd)) {
        failures++;
        const e = new Error('ENOSPC: no space left on device, fsync') as NodeJS.ErrnoException;
        e.code = 'ENOSPC';
        e.errno = -28;
        e.syscall = 'fsync';
        throw e;
      }
      fsyncSync(fd);
    }) as typeof fs.fsyncSync;
    syncBuiltinESMExports();
    try {
      const code = await main(['train', program, '--backend', 'cpu', '--quiet', '--out', run]);
      return { code, failures };
    } finally {
      nodeFs.openSync = openSync;
      nodeFs.fsyncSync = fsyncSync;
      syncBuiltinESMExports();
    }
  }

  it(
    'a disk full at the second checkpoint: the file, the checkpoint to continue from, exit 1; the resume ' + 'finishes',
    async () => {
      const run = path.join(tmp, 'run-full-disk');
      const { code, failures } = await trainOnFullDisk(run, 'ckpt-000002');
      expect(failures).toBe(1);
      expect(code).toBe(1);
      expect(err).toMatch(
        new RegExp(
          `^error: cannot write ${escapeRegex(path.join(run, 'checkpoints'))}/\\.ckpt-000002[^\\n]+: ` +
            'no space left on the device \\(ENOSPC\\)\\n',
        ),
      );
      const resume = `nvcc train ${program} --resume ${run}`;
      expect(err).toContain(
        `\nThe run folder ${run} can continue from its last checkpoint, ckpt-000001 (${resume}).\n`,
      );
      expect(err).not.toContain('internal error');
      expect(err).not.toMatch(/\n\s+at /);

      // What the message promised: the run continues from its folder and finishes.
      err = '';
      expect(await main(['train', program, '--backend', 'cpu', '--quiet', '--resume', run]), err).toBe(0);
      expect(out).toMatch(/test split \(\d+ patients\): AUC/);
    },
  );

  it('a disk full at the first checkpoint: the run folder holds nothing to continue from', async () => {
    const run = path.join(tmp, 'run-full-disk-early');
    const { code, failures } = await trainOnFullDisk(run, 'ckpt-000001');
    expect(failures).toBe(1);
    expect(code).toBe(1);
    expect(err).toContain('no space left on the device (ENOSPC)\n');
    expect(err).toContain(`\nThe run folder ${run} holds no checkpoint to continue from; start the run again.\n`);
    expect(err).not.toContain('internal error');
  });
});

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
