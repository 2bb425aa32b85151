/**
 * `nvcc report`, and runs moving between the engines, on the tiny CLI program read from files
 * (test/cli/fixtures/tiny.nvc, variant from_files, 40 synthetic patients written by `nvcc synth`):
 * - `nvcc report RUN` writes report.html again, byte for byte the one the end of training wrote,
 *   for a tfjs run and for a torch run (the same code path: runtime/train/run-report.ts);
 * - torch run -> tfjs engine: `nvcc predict` on the torch run scores every patient, and the
 *   validation and test patients get the probability the torch trainer wrote in predictions.csv;
 * - tfjs run -> torch engine: the torch trainer's `--score` with the tfjs run's weights gives the
 *   tfjs run's predictions.csv.
 * Tolerance for the probabilities: 1e-5 absolute (float32 on two engines; the differential suite's
 * atol). Python is Debian's /usr/bin/python3 with torch, as CI installs it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from '../support/cli-process.js';
import { PYTHON } from '../support/python.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-report-engines-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const env = { OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' };

function cli(args: readonly string[]): string {
  const r = runCli(args, { cwd: tmp, env });
  expect(r.code, `nvcc ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** `split/patient -> score` of a predictions.csv (split,patient_id,label,images,score). */
function stageScores(file: string): Map<string, number> {
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(rows[0]).toBe('split,patient_id,label,images,score');
  return new Map(
    rows
      .slice(1)
      .map((r) => r.split(','))
      .map((c) => [`${c[0]}/${c[1]}`, Number(c[4])]),
  );
}

function weightsOf(run: string, stage: string): string {
  const metrics = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8'));
  return path.join(run, metrics.stages.find((s: { name: string }) => s.name === stage).weights);
}

function expectSameScores(actual: Map<string, number>, expected: Map<string, number>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, p] of expected) expect(Math.abs(actual.get(key)! - p), key).toBeLessThan(1e-5);
}

// Two trainings, two reports, predict and a Python scoring on a loaded machine: long limits.
describe('nvcc report, and runs moving between the engines', () => {
  const tf = path.join(tmp, 'tf');
  const th = path.join(tmp, 'th');
  beforeAll(() => {
    fs.copyFileSync(path.join(REPO, 'test/cli/fixtures/tiny.nvc'), path.join(tmp, 'tiny.nvc'));
    cli(['synth', 'pji', '--patients', '40', '--seed', '3', '--size', '16', '--out', 'data']);
    cli(['train', 'tiny.nvc', '--variant', 'from_files', '--backend', 'cpu', '--quiet', '--out', 'tf']);
    const torchArgs = ['--engine', 'torch', '--device', 'cpu', '--python', PYTHON];
    cli(['train', 'tiny.nvc', '--variant', 'from_files', ...torchArgs, '--quiet', '--out', 'th']);
  }, 900_000);

  it('writes report.html again, the same bytes as training wrote, for either engine', () => {
    for (const [run, engine, backend] of [
      [tf, 'tfjs', 'cpu'],
      [th, 'torch', 'torch'],
    ] as const) {
      const file = path.join(run, 'report.html');
      const written = fs.readFileSync(file, 'utf8');
      const header = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8')).report;
      expect(header.backend).toBe(backend);
      expect(header.variant).toBe('from_files');
      expect(header.command).toContain('train tiny.nvc --variant from_files');
      expect(written).toContain('tiny.nvc --variant from_files');
      fs.rmSync(file);
      expect(cli(['report', path.basename(run)])).toBe(
        `wrote ${path.basename(run)}/report.html (${engine} engine run)\n`,
      );
      // runDir in the header is the path as given: training was given `--out tf`, the report `tf`.
      const again = fs.readFileSync(file, 'utf8');
      const at = [...again].findIndex((c, i) => c !== written[i]);
      expect(
        at === -1 && again.length === written.length,
        `${engine}: differs at ${again.slice(at - 80, at + 80)}`,
      ).toBe(true);
    }
  }, 300_000);

  it('refuses a folder that is not a finished run, saying what is missing', () => {
    fs.mkdirSync(path.join(tmp, 'empty'));
    const r = runCli(['report', 'empty'], { cwd: tmp, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a finished run: it has no config.json');
  }, 120_000);

  it('nvcc predict scores a torch run with the tfjs engine as the torch trainer did', () => {
    cli(['predict', 'th', '--table', 'data/labs.csv', '--images', 'data/images', '--out', 'p.csv', '--backend', 'cpu']);
    const rows = fs.readFileSync(path.join(tmp, 'p.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('patient_id,images,p_positive,predicted');
    expect(rows).toHaveLength(41);
    const predicted = new Map(
      rows
        .slice(1)
        .map((r) => r.split(','))
        .map((c) => [c[0]!, Number(c[2])]),
    );
    const torchScores = stageScores(path.join(th, 'stages/fit/predictions.csv'));
    expect(torchScores.size).toBeGreaterThan(10);
    for (const [key, p] of torchScores) {
      const patient = key.split('/')[1]!;
      expect(Math.abs(predicted.get(patient)! - p), key).toBeLessThan(1e-5);
    }
  }, 300_000);

  it("the torch trainer scores a tfjs run's weights as the tfjs run did", () => {
    const out = path.join(tmp, 'torch-scores.csv');
    const py = spawnSync(
      PYTHON,
      [
        path.join(th, 'torch/train.py'),
        '--run',
        th,
        '--device',
        'cpu',
        '--score',
        `fit=${weightsOf(tf, 'fit')}`,
        '--scores-out',
        out,
      ],
      { encoding: 'utf8', env: { ...process.env, ...env } },
    );
    expect(py.status, py.stderr).toBe(0);
    expectSameScores(stageScores(out), stageScores(path.join(tf, 'stages/fit/predictions.csv')));
  }, 300_000);

  it('finishes a torch run the trainer left unfinished (torchrun on a machine without Node)', () => {
    // What the trainer alone writes: pooled AUC and rates, no bootstrap CIs, no report header.
    const file = path.join(th, 'metrics.json');
    const finished = JSON.parse(fs.readFileSync(file, 'utf8'));
    const bare = structuredClone(finished);
    delete bare.report;
    for (const split of bare.stages[0].evaluation.splits)
      for (const k of Object.keys(split)) if (/Ci$/.test(k)) delete split[k];
    fs.writeFileSync(file, JSON.stringify(bare));
    fs.rmSync(path.join(th, 'report.html'));
    cli(['report', 'th']);
    const again = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(again.stages[0].evaluation).toEqual(finished.stages[0].evaluation);
    expect(again.report).toEqual({ backend: 'torch' });
    expect(fs.existsSync(path.join(th, 'report.html'))).toBe(true);
  }, 300_000);
});
