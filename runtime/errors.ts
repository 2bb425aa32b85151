/**
 * What kind of failure an error is, carried by the error itself.
 * In: errors raised anywhere in nvcc (runtime, compiler, command line) and operating-system
 * errors from Node. Out: a kind ('user': a bad flag, spec or argument; 'data': a file the user
 * gave is wrong; 'system': the machine refused, e.g. a full disk or a read-only folder;
 * 'internal': a bug), the exit code that kind gets, and a message that names the file and,
 * when known, what was kept.
 * Holds afterwards: the command line reads the kind and exit code from the error, so a new error
 * class says what it is where it is defined instead of in a list kept elsewhere; an error that
 * carries no kind is internal. This module imports nothing, so every layer (the runtime, which
 * never imports the compiler, included) can use it.
 */

export type ErrorKind = 'user' | 'data' | 'system' | 'internal';

/** Exit codes of the command line: 0 success, 1 the user's situation, 2 a bug, 130 interrupted. */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = { user: 1, data: 1, system: 1, internal: 2 };

const KINDS: ReadonlySet<string> = new Set<ErrorKind>(['user', 'data', 'system', 'internal']);

/** What the command line needs to report an error; `NvccError` implements it. */
export interface ErrorReport {
  readonly kind: ErrorKind;
  readonly exitCode: number;
  readonly message: string;
  /** The file or folder at fault, when there is one. */
  readonly path?: string;
  /**
   * What the failure left in place, said to the user after the message ("nothing was written",
   * "the run folder keeps the checkpoint of epoch 3"). Set by the layer that knows it, which is
   * often not the one that raised the error.
   */
  readonly kept?: string;
  /**
   * A short statement said before a message that is a list (the data were refused); the list
   * follows on its own lines.
   */
  readonly summary?: string;
}

export interface NvccErrorOptions {
  readonly path?: string;
  readonly kept?: string;
  readonly summary?: string;
  readonly cause?: unknown;
}

/** Base of every error nvcc raises on purpose. */
export class NvccError extends Error implements ErrorReport {
  readonly kind: ErrorKind;
  readonly path?: string;
  kept?: string;
  readonly summary?: string;

  constructor(kind: ErrorKind, message: string, options: NvccErrorOptions = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'NvccError';
    this.kind = kind;
    if (options.path !== undefined) this.path = options.path;
    if (options.kept !== undefined) this.kept = options.kept;
    if (options.summary !== undefined) this.summary = options.summary;
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** A bad flag, argument or setting: the message says what was wrong and what is accepted. */
export class UserError extends NvccError {
  constructor(message: string, options: NvccErrorOptions = {}) {
    super('user', message, options);
    this.name = 'UserError';
  }
}

/**
 * The operating system refused an operation (disk full, read-only folder, no permission, too
 * many open files): the user's situation, not a bug. `path` names the file when it is known.
 */
export class SystemError extends NvccError {
  /** The errno code, e.g. 'ENOSPC'. */
  readonly code: string;

  constructor(code: string, message: string, options: NvccErrorOptions = {}) {
    super('system', message, options);
    this.name = 'SystemError';
    this.code = code;
  }
}

/** True for errors that carry their kind (`NvccError`s, also from another copy of this module). */
export function isNvccError(err: unknown): err is Error & ErrorReport {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<ErrorReport>;
  return typeof e.kind === 'string' && KINDS.has(e.kind) && typeof e.exitCode === 'number';
}

/** Operating-system error codes that describe the machine or the user's files, in words. */
const SYSTEM_CODES: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file is too large for the file system',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EMFILE: 'too many open files in this process (raise the limit with `ulimit -n`)',
  ENFILE: 'too many open files on this machine',
  EIO: 'input/output error (a failing disk or a network file system?)',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many levels of symbolic links',
  EBUSY: 'the file or folder is busy',
  ETXTBSY: 'the file is busy',
  ENOENT: 'no such file or folder',
  EEXIST: 'a file of that name is in the way',
};

/** System calls that create or change files: a missing folder there is the user's output path. */
const WRITING_CALLS: ReadonlySet<string> = new Set([
  'mkdir',
  'mkdtemp',
  'rename',
  'link',
  'symlink',
  'copyfile',
  'write',
  'fsync',
  'utime',
  'chmod',
  'unlink',
  'rmdir',
]);

function verbOf(syscall: string | undefined, action: SystemErrorContext['action']): string {
  if (action === 'write') return 'cannot write';
  if (action === 'read') return 'cannot read';
  switch (syscall) {
    case 'mkdir':
    case 'mkdtemp':
      return 'cannot create the folder';
    case 'scandir':
    case 'opendir':
      return 'cannot list';
    case 'read':
    case 'stat':
    case 'lstat':
      return 'cannot read';
    case 'unlink':
    case 'rmdir':
      return 'cannot remove';
    case 'open':
      return 'cannot open';
    default:
      return 'cannot write';
  }
}

export interface SystemErrorContext {
  /** The path to name; default the error's own (Node sets it for file operations). */
  readonly path?: string;
  /** What was being done, when the caller knows; default from the system call. */
  readonly action?: 'write' | 'read';
  readonly kept?: string;
}

/**
 * The `SystemError` an operating-system error stands for, or undefined when it is not one (no
 * errno code, or a code that means a bug). ENOENT counts only with a path, for calls that
 * create or change files or when the caller says it was writing: a missing input is reported by
 * whoever reads it, and a file nvcc itself expected is a bug. A SystemError passed in gets the
 * context's path (a caller that knows the file the user named, not a temporary beside it).
 */
export function systemErrorOf(err: unknown, context: SystemErrorContext = {}): SystemError | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException & { dest?: string };
  const code = e.code;
  if (code === undefined || !Object.hasOwn(SYSTEM_CODES, code)) return undefined;
  const cause = err instanceof SystemError && err.cause instanceof Error ? (err.cause as NodeJS.ErrnoException) : e;
  const where = context.path ?? (err instanceof SystemError ? err.path : (e.path ?? e.dest));
  // EEXIST is the user's situation only where a folder was to be made (a file is in the way);
  // elsewhere it is nvcc's own refusal to overwrite ('wx'), which its callers handle.
  if (code === 'EEXIST' && cause.syscall !== 'mkdir') return undefined;
  if (
    code === 'ENOENT' &&
    (where === undefined || (context.action !== 'write' && !WRITING_CALLS.has(cause.syscall ?? '')))
  )
    return undefined;
  if (err instanceof SystemError && context.path === undefined && context.kept === undefined) return err;
  const verb = verbOf(cause.syscall, context.action);
  const message = `${verb}${where !== undefined ? ` ${where}` : ''}: ${SYSTEM_CODES[code]} (${code})`;
  const kept = context.kept ?? (err instanceof SystemError ? err.kept : undefined);
  return new SystemError(code, message, {
    cause: cause,
    ...(where !== undefined ? { path: where } : {}),
    ...(kept !== undefined ? { kept } : {}),
  });
}

/** The report of any thrown value: its own kind, a system error, or else internal (a bug). */
export function errorReport(err: unknown): ErrorReport {
  if (isNvccError(err)) return err;
  const system = systemErrorOf(err);
  if (system) return system;
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'internal', exitCode: EXIT_CODES.internal, message };
}

/**
 * Runs `body`; a data or system error that does not say what was kept is told `kept`: the
 * caller knows what the failure left in place ("nothing was written", a run folder to resume),
 * the code that raised it often does not. A function is asked only when there is a failure to
 * describe, so it can look at what is on disk then.
 */
export async function keeping<T>(kept: string | (() => string), body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const known = isNvccError(err) ? err : systemErrorOf(err);
    if (known && (known.kind === 'data' || known.kind === 'system') && known.kept === undefined) {
      (known as { kept?: string }).kept = typeof kept === 'string' ? kept : kept();
      throw known;
    }
    throw err;
  }
}
