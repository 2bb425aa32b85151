/**
 * Resource limits: how much a program (or a config file) may ask of nvcc before it is refused.
 * In: the process environment (each raisable limit has an `NVCC_MAX_...` variable). Out: the
 * limits in force (`limits()`), an `ElaborationBudget` that the elaborator charges, and
 * `readRegularFile`, the one way sources and config files are read. Holds afterwards: with the
 * defaults, no input under 1 MB makes a command hold more than about 1 GB or work more than a
 * few seconds before it is refused with a diagnostic that names the limit and how to raise it
 * (docs/reliability.md lists each limit with the test that proves it).
 */
import * as fs from 'node:fs';

export interface RaisableLimit {
  /** The environment variable that raises it. */
  readonly env: string;
  readonly value: number;
}

export interface Limits {
  /** Bytes of one .nvc source or one `--config` file. */
  readonly sourceBytes: RaisableLimit;
  /** Items of one compile-time list (`0..n`, `range`, `linspace`, a comprehension). */
  readonly listItems: RaisableLimit;
  /** Layers created while elaborating one program (blocks, primitives, lists, after `repeat`). */
  readonly layers: RaisableLimit;
  /** Elaboration steps: expressions evaluated plus list items made, for one program. */
  readonly evalSteps: RaisableLimit;
  /** Samples of `nvcc schedule --format csv|svg` (epochs x `--points` over all stages). */
  readonly scheduleSamples: RaisableLimit;
  /** Nodes of one svg or png diagram (layout time grows faster than the node count). */
  readonly diagramNodes: RaisableLimit;
}

/**
 * Fixed limits: they keep recursion far from the JavaScript stack, so they cannot be raised
 * without a different implementation.
 */
export const FIXED_LIMITS = {
  /** Nested evaluations (a constant using a constant ..., a block using a block ...). */
  evalDepth: 250,
  /** Layers inside layers (a list of lists ..., a block of blocks ...), as emitted and drawn. */
  layerDepth: 100,
  /** Nesting of mappings and lists in a `--config` file. */
  configDepth: 64,
} as const;

export const DEFAULT_LIMITS = {
  sourceBytes: 1024 * 1024,
  listItems: 100_000,
  layers: 10_000,
  evalSteps: 2_000_000,
  scheduleSamples: 1_000_000,
  diagramNodes: 1_500,
} as const;

const ENV_NAMES: Readonly<Record<keyof Limits, string>> = {
  sourceBytes: 'NVCC_MAX_SOURCE_BYTES',
  listItems: 'NVCC_MAX_LIST_ITEMS',
  layers: 'NVCC_MAX_LAYERS',
  evalSteps: 'NVCC_MAX_EVAL_STEPS',
  scheduleSamples: 'NVCC_MAX_SCHEDULE_SAMPLES',
  diagramNodes: 'NVCC_MAX_DIAGRAM_NODES',
};

/** A positive whole number from the environment (`1e7` and `10_000_000` allowed), else the default. */
function fromEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.replaceAll('_', '').trim();
  if (!raw) return fallback;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** The limits in force now (read on each call, so a test or a caller may set the variables). */
export function limits(): Limits {
  const entry = (key: keyof Limits): RaisableLimit => ({
    env: ENV_NAMES[key],
    value: fromEnv(ENV_NAMES[key], DEFAULT_LIMITS[key]),
  });
  return {
    sourceBytes: entry('sourceBytes'),
    listItems: entry('listItems'),
    layers: entry('layers'),
    evalSteps: entry('evalSteps'),
    scheduleSamples: entry('scheduleSamples'),
    diagramNodes: entry('diagramNodes'),
  };
}

/** `NVCC_MAX_LAYERS=40000`: the help text that says how to raise a limit. */
export function raiseHint(limit: RaisableLimit, needed?: number): string {
  const suggestion = Math.max(limit.value * 2, needed ?? 0);
  return `${limit.env}=${suggestion}`;
}

// ---------------------------------------------------------------------------------------------
// Reading files

export type FileRefusal =
  | { readonly kind: 'missing' }
  | { readonly kind: 'not-regular'; readonly what: string }
  | { readonly kind: 'too-large'; readonly size: number; readonly limit: RaisableLimit }
  | { readonly kind: 'unreadable'; readonly code: string };

export type ReadResult = { readonly text: string } | { readonly refused: FileRefusal };

function describeStat(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a regular file of at most `limit` bytes as UTF-8. Devices (`/dev/zero`), FIFOs and
 * folders are refused before anything is read, also behind a symlink, so reading never blocks
 * or grows without bound; the size is checked on the open descriptor and again while reading
 * (a file that grows meanwhile is still cut off at the limit).
 */
export function readRegularFile(path: string, limit: RaisableLimit = limits().sourceBytes): ReadResult {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return { refused: code === 'ENOENT' || code === 'ENOTDIR' ? { kind: 'missing' } : { kind: 'unreadable', code } };
  }
  if (!st.isFile()) return { refused: { kind: 'not-regular', what: describeStat(st) } };
  if (st.size > limit.value) return { refused: { kind: 'too-large', size: st.size, limit } };
  let fd: number;
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it does not wait.
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    return { refused: { kind: 'unreadable', code: (err as NodeJS.ErrnoException).code ?? 'EIO' } };
  }
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) return { refused: { kind: 'not-regular', what: describeStat(opened) } };
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(limit.value + 1 - length, Math.max(opened.size - length + 1, 65536)));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      length += n;
      if (length > limit.value) return { refused: { kind: 'too-large', size: length, limit } };
    }
    return { text: Buffer.concat(chunks, length).toString('utf8') };
  } catch (err) {
    return { refused: { kind: 'unreadable', code: (err as NodeJS.ErrnoException).code ?? 'EIO' } };
  } finally {
    fs.closeSync(fd);
  }
}

/** One line for a refused file, for messages that are not diagnostics (`--config`). */
export function refusalText(path: string, r: FileRefusal): string {
  switch (r.kind) {
    case 'missing':
      return `${path}: no such file`;
    case 'not-regular':
      return `${path} is ${r.what}, not a regular file; nvcc reads only regular files`;
    case 'too-large':
      return (
        `${path} has ${r.size} bytes, more than the limit ` +
        `of ${r.limit.value} (raise it with ${raiseHint(r.limit, r.size)})`
      );
    case 'unreadable':
      return `${path}: cannot read it (${r.code})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Elaboration

/**
 * What one elaboration has used so far. The elaborator charges it and, once a limit is crossed,
 * reports that once and stops (every later evaluation yields an error value at once), so an
 * exponential or huge program ends in a diagnostic within the budget's time.
 */
export class ElaborationBudget {
  readonly limits = limits();
  depth = 0;
  steps = 0;
  layers = 0;
  /** Set when a limit was crossed and reported; elaboration stops. */
  exhausted = false;
}

// ---------------------------------------------------------------------------------------------
// Config files and `--set` values

/**
 * The deepest bracket nesting (`[`, `{`) of YAML or JSON text, outside quotes and comments.
 * YAML parsers recurse once per level, so text nested far deeper than any config is refused
 * before it is parsed. Block-style nesting needs one more indentation per level, which the
 * size limit already bounds; `valueDepth` checks the parsed result as well.
 */
export function bracketDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let quote: string | undefined;
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (comment) {
      if (c === '\n') comment = false;
      continue;
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) comment = true;
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return deepest;
}

/** Nesting depth of a parsed YAML/JSON value (a scalar is 0), without recursion. */
export function valueDepth(root: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, d + 1);
    if (deepest > FIXED_LIMITS.configDepth) return deepest;
    for (const x of Object.values(v as Record<string, unknown>)) stack.push([x, d + 1]);
  }
  return deepest;
}

/** The one-line refusal of config text nested too deeply. */
export const CONFIG_DEPTH_TEXT =
  `nested more than ${FIXED_LIMITS.configDepth} levels deep ` + '(a fixed limit: no setting needs that many levels)';

/**
 * A JavaScript stack overflow, also when a library (the YAML parser) wrapped it in its own error:
 * input nested too deeply for a recursive reader.
 */
export function isStackOverflow(err: unknown): boolean {
  return err instanceof Error && (err instanceof RangeError || /Maximum call stack size exceeded/.test(err.message));
}
