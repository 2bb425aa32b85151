/**
 * Parsers of flag values that several commands share.
 * In: the text commander hands over. Out: typed values. Holds afterwards: a bad value is a
 * UserError naming the flag, what was found and what is accepted.
 */
import type { BackendRequest } from '../runtime/backend.js';
import { UserError } from '../runtime/errors.js';

const BACKENDS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export function parseBackend(value: string | undefined): BackendRequest | undefined {
  if (value === undefined) return undefined;
  if (!(BACKENDS as readonly string[]).includes(value))
    throw new UserError(`--backend must be one of ${BACKENDS.join(', ')}, found \`${value}\``);
  return value as BackendRequest;
}

/** `--threads N`: a whole number >= 1 (the default, every core, is the runner's). */
export function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value)))
    throw new UserError(`--threads must be a whole number of threads >= 1, found \`${value}\``);
  return Number(value);
}

export function parseSeed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new UserError(`--seed must be a non-negative integer, found \`${value}\``);
  return Number(value);
}

/** `--depth N`: a non-negative integer. */
export function parseDepth(value: string): number {
  const depth = Number(value);
  if (!Number.isInteger(depth) || depth < 0)
    throw new UserError(`--depth expects a non-negative integer, found \`${value}\``);
  return depth;
}

/** `--dims H=224,W=224`; `example` is the pair list the message shows. */
export function parseDims(text: string | undefined, example = 'H=224,W=224'): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of (text ?? '').split(',').filter((s) => s.trim())) {
    const m = /^([A-Za-z_]\w*)=(\d+)$/.exec(part.trim());
    if (!m) throw new UserError(`--dims expects NAME=INT pairs such as ${example}, found \`${part}\``);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}
