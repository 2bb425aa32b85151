import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_DIR,
  latestCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  STATE_FILE,
  writeCheckpoint,
} from '../../runtime/train/checkpoint.js';

const files = (tag: string) =>
  new Map<string, string | Uint8Array>([
    ['model.bin', new Uint8Array([1, 2, 3])],
    [STATE_FILE, JSON.stringify({ tag })],
  ]);

describe('checkpoint folders', () => {
  it('writes complete folders, lists them in order and ignores temporaries', async () => {
    const run = mkdtempSync(join(tmpdir(), 'nvcc-ckpt-'));
    await writeCheckpoint(run, 1, files('a'));
    await writeCheckpoint(run, 2, files('b'));
    // A folder a killed writer left behind must not count as a checkpoint.
    mkdirSync(join(run, CHECKPOINT_DIR, '.ckpt-000003.tmp-999'));
    writeFileSync(join(run, CHECKPOINT_DIR, '.ckpt-000003.tmp-999', 'model.bin'), 'partial');
    expect(listCheckpoints(run).map((c) => c.seq)).toEqual([1, 2]);
    const latest = latestCheckpoint(run)!;
    expect(JSON.parse(readFileSync(join(latest.path, STATE_FILE), 'utf8'))).toEqual({ tag: 'b' });
    expect(Array.from(readFileSync(join(latest.path, 'model.bin')))).toEqual([1, 2, 3]);
    await writeCheckpoint(run, 3, files('c'));
    expect(readdirSync(join(run, CHECKPOINT_DIR)).filter((e) => e.startsWith('.'))).toEqual([]);
    pruneCheckpoints(run, 1, [join(run, CHECKPOINT_DIR, 'ckpt-000001')]);
    expect(listCheckpoints(run).map((c) => c.seq)).toEqual([1, 3]);
    await expect(writeCheckpoint(run, 3, files('d'))).rejects.toThrow(/already exists/);
    await expect(writeCheckpoint(run, 4, new Map([['x', 'y']]))).rejects.toThrow(/state\.json/);
    expect(existsSync(join(run, CHECKPOINT_DIR, 'ckpt-000004'))).toBe(false);
  });
});
