/**
 * The safetensors container: read and write files (the format itself, parsing and encoding
 * bytes, is runtime/io/safetensors-format.ts, re-exported here).
 * In: a file path, or tensors and metadata. Out: host tensors keyed by name, or the file.
 * Holds afterwards: every read was validated as parseSafetensors validates bytes; writes are
 * atomic (temporary file, fsync, rename, directory fsync) so a crash leaves the old file or the
 * new one.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../run/atomic.js';
import { encodeSafetensors, type HostTensor, parseSafetensors, type SafetensorsFile } from './safetensors-format.js';

export * from './safetensors-format.js';

export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

/**
 * Writes `bytes` to `path` atomically (synchronous): the one implementation in runtime/run/atomic.ts,
 * whose hidden temporaries `removeStaleTempFiles` also recognises. Kept under this name for the
 * runtime's public entry point.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  writeFileAtomicSync(path, bytes);
}

export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, HostTensor> | Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const bytes = encodeSafetensors(tensors, metadata);
  writeFileAtomic(path, bytes);
  return bytes;
}
