/**
 * `nvcc train --engine torch` end to end on the tiny CLI program (CPU, Debian's Python with
 * PyTorch): one command builds the torch package into the run folder, prepares the data shards,
 * trains with the package's trainer and finishes the run folder as the tfjs engine does
 * (metrics.json with the bootstrap evaluation, predictions, report.html); the tfjs engine's
 * `nvcc eval` then scores the torch run's weights and gets the test AUC the run reported;
 * resuming the finished run changes nothing; a
 * torch-only flag without --engine torch, and several machines without a rendezvous, are refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from '../support/cli-process.js';
import { PYTHON } from '../support/python.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-train-torch-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Several Node and Python processes per test (build, train, eval) on a loaded machine: long limits.
describe('nvcc train --engine torch', () => {
  it('builds, prepares, trains and reports in one command; nvcc eval scores the run', () => {
    fs.copyFileSync(path.join(REPO, 'test/cli/fixtures/tiny.nvc'), path.join(tmp, 'tiny.nvc'));
    const env = { OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' };
    const args = ['train', 'tiny.nvc', '--engine', 'torch', '--device', 'cpu', '--python', PYTHON, '--quiet'];
    const r = runCli([...args, '--out', 'run'], { cwd: tmp, env });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('training with the torch engine:');
    expect(r.stdout).toMatch(/test split \(\d+ patients\): AUC \d+\.\d\d%/);
    const run = path.join(tmp, 'run');
    for (const f of ['torch/model.py', 'torch/train.py', 'torch/train_spec.json', 'torch/data/manifest.json'])
      expect(fs.existsSync(path.join(run, f)), f).toBe(true);
    for (const f of ['log.jsonl', 'config.json', 'report.html', 'program.json', 'stages/fit/predictions.csv'])
      expect(fs.existsSync(path.join(run, f)), f).toBe(true);
    // TensorBoard events and metrics.csv, as the tfjs engine writes them
    expect(fs.readdirSync(run).some((f) => f.startsWith('events.out.tfevents.'))).toBe(true);
    const csv = fs.readFileSync(path.join(run, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^stage,epoch,step,train_loss,lr,/);
    expect(csv.length).toBeGreaterThan(1);
    const metrics = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8'));
    const test = metrics.stages[0].evaluation.splits.find((s: { split: string }) => s.split === 'test');
    expect(test.aucCi.resamples).toBe(1000);

    const evaluated = runCli(['eval', 'run', '--backend', 'cpu', '--format', 'json'], { cwd: tmp, env });
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const json = JSON.parse(evaluated.stdout);
    const tfjsTest = json.evaluation.splits.find((s: { split: string }) => s.split === 'test');
    // Same weights, same data, another engine: the same AUC (pooled scores within float rounding).
    expect(Math.abs(tfjsTest.auc - test.auc)).toBeLessThan(1e-6);

    // Resuming a finished run trains nothing more and finishes the folder again, the same way.
    const weights = fs.readFileSync(path.join(run, 'stages/fit/weights.safetensors'));
    const again = runCli(['train', 'tiny.nvc', '--engine', 'torch', '--python', PYTHON, '--quiet', '--resume', 'run'], {
      cwd: tmp,
      env,
    });
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    expect(again.stdout).toContain('resuming with the torch engine');
    expect(fs.readFileSync(path.join(run, 'stages/fit/weights.safetensors'))).toEqual(weights);
    const finished = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8'));
    expect(finished.stages[0].evaluation.splits).toEqual(metrics.stages[0].evaluation.splits);
  }, 600_000);

  it('refuses torch-only flags on the tfjs engine and several machines without a rendezvous', () => {
    const a = runCli(['train', 'tiny.nvc', '--nproc', '2'], { cwd: tmp });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('belong to --engine torch');
    const b = runCli(['train', 'tiny.nvc', '--engine', 'torch', '--nnodes', '2', '--python', PYTHON], { cwd: tmp });
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('--nnodes > 1 needs --rdzv-endpoint');
  }, 300_000);
});
