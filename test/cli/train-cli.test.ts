/**
 * `nvcc train / eval / predict` through the command line (in-process `main`), on a tiny
 * two-modality program (test/cli/fixtures/tiny.nvc: 16x16 images, 40 synthetic patients).
 * Everything runs on the cpu backend so weights can be compared bit for bit.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';

const FIXTURE = resolve('test/cli/fixtures/tiny.nvc');

let out = '';
let err = '';
/** Called with everything written to stdout (the plain progress display writes there). */
let onOut: ((text: string) => void) | undefined;

async function nvcc(...args: string[]): Promise<number> {
  out = '';
  err = '';
  return main(args);
}

describe('nvcc train, eval and predict on a tiny program', () => {
  let dir: string;
  let program: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nvcc-cli-'));
    // A uniquely named copy, so its build folder (build/<stem>) belongs to this test run alone.
    program = join(dir, `tiny-${process.pid}.nvc`);
    copyFileSync(FIXTURE, program);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const b of readdirSync('build').filter((f) => f.startsWith(`tiny-${process.pid}`)))
      rmSync(join('build', b), { recursive: true, force: true });
  });
  beforeEach(() => {
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      onOut?.(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('trains end to end, prints the test AUC and the report, and eval reproduces the metrics', async () => {
    const run = join(dir, 'run-a');
    expect(await nvcc('train', program, '--backend', 'cpu', '--out', run, '--quiet')).toBe(0);
    expect(err).toBe('');
    expect(out).toMatch(/test split \(\d+ patients\): AUC \d+\.\d\d% \(95% CI/);
    expect(out).toContain(`report ${join(run, 'report.html')}`);
    for (const f of [
      'report.html',
      'metrics.json',
      'log.jsonl',
      'program.json',
      'config.json',
      'stages/fit/weights.safetensors',
    ])
      expect(existsSync(join(run, f)), f).toBe(true);
    const record = JSON.parse(readFileSync(join(run, 'program.json'), 'utf8')) as {
      file: string;
      variant: string | null;
    };
    expect(record).toMatchObject({ file: program, variant: null });
    const [, patients, trainAuc] = /test split \((\d+) patients\): AUC (\d+\.\d\d)%/.exec(out)!;

    expect(await nvcc('eval', run, '--split', 'test', '--backend', 'cpu')).toBe(0);
    expect(out).toContain('stage fit');
    // The same weights, the same threshold rule, the same patients: the same AUC.
    expect(new RegExp(`test \\(${patients} patients, \\d+ positive\\): AUC (\\d+\\.\\d\\d)%`).exec(out)![1]).toBe(
      trainAuc,
    );

    // predict: one row per patient of the new table, probabilities in [0, 1].
    const data = join(dir, 'new');
    expect(await nvcc('synth', 'pji', '--patients', '6', '--out', data, '--seed', '11', '--size', '16')).toBe(0);
    const csv = join(dir, 'predictions.csv');
    expect(
      await nvcc(
        'predict',
        run,
        '--table',
        join(data, 'labs.csv'),
        '--images',
        join(data, 'images'),
        '--out',
        csv,
        '--backend',
        'cpu',
      ),
    ).toBe(0);
    expect(out).toContain('6 patients scored with stage fit');
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('patient_id,images,p_positive,predicted');
    expect(lines).toHaveLength(7);
    for (const line of lines.slice(1)) {
      const [id, images, p, called] = line.split(',');
      expect(id).toMatch(/^P\d+$/);
      expect(Number(images)).toBeGreaterThanOrEqual(1);
      expect(Number(p)).toBeGreaterThanOrEqual(0);
      expect(Number(p)).toBeLessThanOrEqual(1);
      expect(['negative', 'positive']).toContain(called);
    }

    // A run made by another build of nvcc (its cache key differs, its sources do not) loads
    // without a warning; an edited .nvc warns that the weights go into changed model code.
    const recordFile = join(run, 'program.json');
    const recorded = readFileSync(recordFile, 'utf8');
    writeFileSync(recordFile, JSON.stringify({ ...JSON.parse(recorded), cacheKey: 'made-by-another-nvcc' }));
    expect(await nvcc('eval', run, '--split', 'test', '--backend', 'cpu')).toBe(0);
    expect(err).toBe('');
    const source = readFileSync(program, 'utf8');
    try {
      writeFileSync(program, `${source}\n// edited after the run\n`);
      expect(await nvcc('eval', run, '--split', 'test', '--backend', 'cpu')).toBe(0);
      expect(err).toContain('changed since this run started');
    } finally {
      writeFileSync(program, source);
      writeFileSync(recordFile, recorded);
    }
  });

  it('refuses bad data before writing anything: exit 1, file, row and column, no run or build folder', async () => {
    const data = join(dir, 'data');
    expect(await nvcc('synth', 'pji', '--patients', '12', '--out', data, '--seed', '5', '--size', '16')).toBe(0);
    const table = join(data, 'labs.csv');
    const rows = readFileSync(table, 'utf8').split('\n');
    const header = rows[0]!.split(',');
    const crp = header.indexOf('crp');
    const cells = rows[3]!.split(',');
    cells[crp] = 'high';
    rows[3] = cells.join(',');
    writeFileSync(table, rows.join('\n'));
    const bad = join(dir, `refused-${process.pid}.nvc`);
    copyFileSync(FIXTURE, bad);
    const run = join(dir, 'refused-run');
    expect(await nvcc('train', bad, '--variant', 'from_files', '--backend', 'cpu', '--out', run, '--quiet')).toBe(1);
    expect(err).toContain('the data were refused; nothing was written');
    expect(err).toMatch(/labs\.csv, row 4, column crp: /);
    expect(err).not.toMatch(/\n\s+at /);
    expect(existsSync(run)).toBe(false);
    expect(existsSync(join('build', `refused-${process.pid}-from_files`))).toBe(false);
  });

  it('refuses bad flags and bad specs with exit 1 and no stack trace', async () => {
    expect(await nvcc('train', program, '--seed', 'seven')).toBe(1);
    expect(err).toContain('--seed must be a non-negative integer');
    expect(await nvcc('train', program, '--variant', 'form_files')).toBe(1);
    expect(err).toContain('did you mean `from_files`?');
    expect(await nvcc('train', program, '--set', 'fit.epochs=0', '--out', join(dir, 'never'))).toBe(1);
    expect(err).toMatch(/fit\.epochs/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    expect(await nvcc('eval', join(dir, 'no-such-run'))).toBe(1);
    expect(err).toContain('no such run folder');
    expect(err + out).not.toMatch(/\n\s+at /);
  });

  it('--resume continues an interrupted run to the same weights as an uninterrupted one', async () => {
    const full = join(dir, 'full');
    expect(await nvcc('train', program, '--set', 'fit.epochs=4', '--backend', 'cpu', '--out', full, '--quiet')).toBe(0);

    const cut = join(dir, 'cut');
    // Interrupt after the first epoch: the CLI's first SIGINT stops after the current step and
    // writes a checkpoint. (Training never yields to timers, so the trigger is the progress
    // display's epoch line, written synchronously to stdout.)
    let sent = false;
    onOut = (text) => {
      if (!sent && text.includes('epoch 1/4 done')) {
        sent = true;
        process.emit('SIGINT', 'SIGINT');
      }
    };
    const code = await nvcc('train', program, '--set', 'fit.epochs=4', '--backend', 'cpu', '--out', cut);
    onOut = undefined;
    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(out).toContain(`--set 'fit.epochs=4' --resume ${cut}`);
    expect(existsSync(join(cut, 'stages', 'fit', 'weights.safetensors'))).toBe(false);

    // A different configuration is refused rather than silently mixed.
    expect(await nvcc('train', program, '--set', 'fit.epochs=5', '--backend', 'cpu', '--resume', cut, '--quiet')).toBe(
      1,
    );
    expect(err).toContain('no longer describes the run');

    expect(await nvcc('train', program, '--set', 'fit.epochs=4', '--backend', 'cpu', '--resume', cut, '--quiet')).toBe(
      0,
    );
    const a = readFileSync(join(full, 'stages', 'fit', 'weights.safetensors'));
    const b = readFileSync(join(cut, 'stages', 'fit', 'weights.safetensors'));
    expect(b.equals(a)).toBe(true);
  });
});
