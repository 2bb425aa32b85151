import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeStaleTempFiles, writeFileAtomic, writeFileAtomicSync } from '../../runtime/run/atomic.js';

const atomicModule = fileURLToPath(new URL('../../runtime/run/atomic.ts', import.meta.url));
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-atomic-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs a child that writes `bytes` bytes of 'N' atomically to target; kills it per `killWhen`. */
function killedWriter(target: string, bytes: number, pauseBeforeRename: boolean, killDelayMs: number): Promise<string> {
  const script = path.join(dir, 'child.mts');
  fs.writeFileSync(
    script,
    `import { writeFileAtomic } from ${JSON.stringify(atomicModule)};\n` +
      `const data = Buffer.alloc(${bytes}, 'N');\n` +
      `process.stdout.write('start\\n');\n` +
      `await writeFileAtomic(${JSON.stringify(target)}, data, ${
        pauseBeforeRename
          ? "{ beforeRename: async () => { process.stdout.write('renaming\\n'); await new Promise(() => {}); } }"
          : '{}'
      });\n` +
      `process.stdout.write('done\\n');\n`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: path.dirname(atomicModule),
    });
    let out = '';
    let err = '';
    const trigger = pauseBeforeRename ? 'renaming\n' : 'start\n';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(trigger)) setTimeout(() => child.kill('SIGKILL'), killDelayMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`child failed (${code}): ${err}`));
      else resolve(out);
    });
  });
}

describe('writeFileAtomic', () => {
  it('replaces the content and leaves no temporary file', async () => {
    const target = path.join(dir, 'a.json');
    await writeFileAtomic(target, 'old');
    await writeFileAtomic(target, new Uint8Array([110, 101, 119]));
    expect(fs.readFileSync(target, 'utf8')).toBe('new');
    writeFileAtomicSync(target, 'sync');
    expect(fs.readFileSync(target, 'utf8')).toBe('sync');
    expect(fs.readdirSync(dir)).toEqual(['a.json']);
  });

  it('a failure injected between write and rename leaves the old file intact and cleans up', async () => {
    const target = path.join(dir, 'ckpt.bin');
    await writeFileAtomic(target, 'previous checkpoint');
    let sawTemp = '';
    await expect(
      writeFileAtomic(target, 'half-baked', {
        beforeRename: (temp) => {
          sawTemp = temp;
          expect(fs.readFileSync(temp, 'utf8')).toBe('half-baked');
          throw new Error('disk on fire');
        },
      }),
    ).rejects.toThrow('disk on fire');
    expect(path.dirname(sawTemp)).toBe(dir);
    expect(fs.readFileSync(target, 'utf8')).toBe('previous checkpoint');
    expect(fs.readdirSync(dir)).toEqual(['ckpt.bin']);
  });

  it('a process SIGKILLed after writing but before renaming leaves the old file intact', async () => {
    const target = path.join(dir, 'model.bin');
    fs.writeFileSync(target, 'OLD');
    const out = await killedWriter(target, 1 << 20, true, 0);
    expect(out).toContain('renaming');
    expect(out).not.toContain('done');
    expect(fs.readFileSync(target, 'utf8')).toBe('OLD');
  });

  it(
    'a process SIGKILLed while writing a big file leaves the old file or the complete new one, never a ' + 'mix',
    async () => {
      const target = path.join(dir, 'big.bin');
      fs.writeFileSync(target, 'OLD');
      const bytes = 96 << 20;
      const out = await killedWriter(target, bytes, false, 40);
      const content = fs.readFileSync(target);
      if (out.includes('done')) {
        expect(content.length).toBe(bytes);
      } else {
        expect(content.toString()).toBe('OLD');
      }
      // Whatever the child left behind as a temporary file is recognised and cleaned on resume.
      const leftovers = fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
      expect(removeStaleTempFiles(dir)).toEqual(leftovers);
      expect(fs.readdirSync(dir).sort()).toEqual(['big.bin', 'child.mts']);
    },
  );

  it('removeStaleTempFiles keeps ordinary files and temporaries of the live process', () => {
    fs.writeFileSync(path.join(dir, 'keep.json'), '{}');
    fs.writeFileSync(path.join(dir, '.keep.json.999999.0123456789ab.tmp'), 'stale');
    const mine = `.x.${process.pid}.0123456789ab.tmp`;
    fs.writeFileSync(path.join(dir, mine), 'live');
    expect(removeStaleTempFiles(dir)).toEqual(['.keep.json.999999.0123456789ab.tmp']);
    expect(fs.readdirSync(dir).sort()).toEqual([mine, 'keep.json'].sort());
  });
});
