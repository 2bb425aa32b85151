/**
 * Paths a run folder records are resolved against the run and refused when they lead outside
 * the project and the run folder, or to something other than a regular file (or folder): a copied
 * run folder's program.json naming /etc/shadow was compiled and its lines quoted in diagnostics,
 * and /dev/zero aborted nvcc with std::bad_alloc. In-process `nvcc eval` for program.json; the
 * runtime's readers for data-source.json, config.json and the stage weights.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import type { DatasetSpec } from '../../runtime/data/spec.js';
import { projectOf, RecordedPathError, recordedPath } from '../../runtime/run/recorded.js';
import { checkRecordedDataPaths, readDataSource } from '../../runtime/train/dataset-adapter.js';
import { filesSpec } from '../fixtures/data/folder.js';

let err = '';
let out = '';
beforeEach(() => {
  err = '';
  out = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
});
afterEach(() => vi.restoreAllMocks());

/** A project folder holding `runs/r` with a program.json whose `file` is `file`. */
function runWithProgram(file: string): { project: string; run: string } {
  const project = mkdtempSync(join(tmpdir(), 'nvcc-recorded-'));
  const run = join(project, 'runs', 'r');
  mkdirSync(run, { recursive: true });
  writeFileSync(
    join(run, 'program.json'),
    JSON.stringify({ file, variant: null, overrides: {}, cacheKey: 'x', specHash: 'x' }),
  );
  return { project, run };
}

describe('program.json of a run', () => {
  for (const target of ['/etc/shadow', '/dev/zero', '/etc/passwd'])
    it(`naming ${target}: eval refuses it without reading it`, async () => {
      const { run } = runWithProgram(target);
      expect(await main(['eval', run])).toBe(1);
      expect(err).toContain(`${join(run, 'program.json')}: the program file ${target} is outside the project`);
      expect(err).toContain('refusing to read it');
      expect(err + out).not.toMatch(/root:|internal error|bad_alloc/);
    });

  it('a link inside the run folder to a file outside is followed and refused', async () => {
    const { run } = runWithProgram('program.nvc');
    symlinkSync('/etc/passwd', join(run, 'program.nvc'));
    expect(await main(['eval', run])).toBe(1);
    expect(err).toContain(`the program file ${join(run, 'program.nvc')} (a link to /etc/passwd) is outside`);
    expect(err).not.toContain('root:');
  });

  it('a FIFO or a folder inside the project is not a regular file', async () => {
    const { project, run } = runWithProgram('../../pipe.nvc');
    execFileSync('mkfifo', [join(project, 'pipe.nvc')]);
    expect(await main(['eval', run])).toBe(1);
    expect(err).toContain(`the program file ${join(project, 'pipe.nvc')} is not a regular file; refusing to read it`);
    const dir = runWithProgram('../../folder.nvc');
    mkdirSync(join(dir.project, 'folder.nvc'));
    expect(await main(['eval', dir.run])).toBe(1);
    expect(err).toContain('folder.nvc is not a regular file');
  });
});

describe('other recorded paths', () => {
  it('data-source.json pointing outside the project is refused; inside it is resolved', () => {
    const { project, run } = runWithProgram('x.nvc');
    writeFileSync(join(run, 'data-source.json'), JSON.stringify({ baseDir: '/etc' }));
    expect(() => readDataSource(run)).toThrow(/data-source\.json: the data folder \/etc is outside the project/);
    writeFileSync(join(run, 'data-source.json'), JSON.stringify({ baseDir: '../..' }));
    expect(readDataSource(run)).toEqual({ baseDir: project });
    writeFileSync(join(run, 'data-source.json'), '{"baseDir": ');
    expect(() => readDataSource(run)).toThrow(/data-source\.json is not valid JSON/);
  });

  it("config.json's dataset table, images and cache must stay inside the project", () => {
    const { project, run } = runWithProgram('x.nvc');
    mkdirSync(join(project, 'images'));
    writeFileSync(join(project, 'labs.csv'), 'patient_id\n');
    const spec = (table: string, images: string, cache?: string): DatasetSpec => ({
      ...filesSpec(project),
      source: { kind: 'files', table, images },
      ...(cache !== undefined ? { cache } : {}),
    });
    checkRecordedDataPaths(run, spec('labs.csv', 'images', 'cache'), project);
    expect(() => checkRecordedDataPaths(run, spec('/etc/shadow', 'images'), project)).toThrow(
      /config\.json: the dataset table \/etc\/shadow is outside the project/,
    );
    expect(() => checkRecordedDataPaths(run, spec('labs.csv', '/etc'), project)).toThrow(/the image folder \/etc/);
    expect(() => checkRecordedDataPaths(run, spec('labs.csv', 'images', '/etc/nvcc-cache'), project)).toThrow(
      /the cache folder \/etc\/nvcc-cache is outside/,
    );
    expect(() => checkRecordedDataPaths(run, spec('images', 'images'), project)).toThrow(/is not a regular file/);
  });

  it('stage weights stay inside the run folder', () => {
    const { run } = runWithProgram('x.nvc');
    const o = { runDir: run, recordedIn: 'state', what: 'weights', kind: 'file' as const, roots: [] };
    expect(() => recordedPath('../../../../etc/passwd', o)).toThrow(RecordedPathError);
    let caught: unknown;
    try {
      recordedPath('/etc/passwd', o);
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({ kind: 'data', exitCode: 1, path: 'state' });
    expect(() => recordedPath(join('stages', '..', '..', 'x.safetensors'), { ...o, mayBeMissing: true })).toThrow(
      /is outside/,
    );
    expect(recordedPath(join('stages', 'fit', 'weights.safetensors'), { ...o, mayBeMissing: true })).toBe(
      join(run, 'stages', 'fit', 'weights.safetensors'),
    );
  });

  it('the project of a run is the parent of runs/, or of a run folder named with --out', () => {
    expect(projectOf('/p/runs/r')).toBe('/p');
    expect(projectOf('/p/out')).toBe('/p');
  });
});
