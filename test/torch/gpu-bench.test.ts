/**
 * bench/torch_gpu.py, the GPU benchmark of the torch target, run here on the CPU at a tiny size.
 * The test builds std/convnextv2.nvc and examples/mednvc.nvc with the torch target into one tmp
 * folder next to a copy of the script (the folder bench/torch-gpu.sh makes) and runs it with
 * Debian's torch and no nvcc on PYTHONPATH. It checks that every model trains with finite
 * throughput, and that the hand-written ConvNeXt-V2 twin, sized from the generated
 * convnextv2_atto, is the same network: exactly the generated model's parameter count (the
 * manifest's), and given the same random weights (--check-twin) the same logits within 1e-5
 * absolute (float32; observed 6e-8 on outputs up to ~0.3).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTorchPackage } from '../../compiler/emit/torch/build.js';
import { PYTHON } from '../support/python.js';

interface Measured {
  readonly images_per_s: number;
  readonly parameters: number;
  readonly peak_bytes: number;
  readonly last_loss: number;
}
interface Row {
  readonly model: string;
  readonly batch: number;
  readonly generated: Measured;
  readonly handwritten?: Measured;
  readonly ratio?: number;
  readonly twin_max_abs_difference?: number;
  readonly twin_check_output_max?: number;
}

let dir: string;
let stdout: string;
let rows: Row[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nvcc-gpu-bench-'));
  for (const [file, name] of [
    ['std/convnextv2.nvc', 'convnextv2'],
    ['examples/mednvc.nvc', 'mednvc'],
  ] as const) {
    const built = await buildTorchPackage(file, { outDir: join(dir, name) });
    expect(built.ok).toBe(true);
  }
  copyFileSync('bench/torch_gpu.py', join(dir, 'torch_gpu.py'));
  const tiny = ['--device', 'cpu', '--size', '32', '--batch', '2', '--steps', '1', '--warmup', '0'];
  const args = [...tiny, '--no-compile', '--check-twin'];
  const run = spawnSync(
    PYTHON,
    [join(dir, 'torch_gpu.py'), ...args, '--models', 'convnextv2:convnextv2_atto,mednvc:LabsOnly'],
    {
      cwd: dir,
      encoding: 'utf8',
      timeout: 240_000,
      env: { PATH: process.env.PATH ?? '', OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
    },
  );
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  stdout = run.stdout;
  const result = stdout.split('\n').find((line) => line.startsWith('RESULT '));
  rows = (JSON.parse(result!.slice('RESULT '.length)) as { models: Row[] }).models;
}, 300_000);

describe('bench/torch_gpu.py on the CPU', () => {
  it('trains the generated ConvNeXt-V2-atto and its hand-written twin with finite throughput', () => {
    const atto = rows.find((r) => r.model === 'convnextv2:convnextv2_atto')!;
    expect(atto.batch).toBe(2);
    for (const m of [atto.generated, atto.handwritten!]) {
      expect(Number.isFinite(m.images_per_s) && m.images_per_s > 0).toBe(true);
      expect(Number.isFinite(m.last_loss)).toBe(true);
      expect(m.peak_bytes).toBeGreaterThan(0);
    }
    expect(atto.ratio).toBeCloseTo(atto.generated.images_per_s / atto.handwritten!.images_per_s, 9);
  });

  it('sizes the hand-written twin like the generated model: same parameter count as the manifest', () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'convnextv2', 'manifest.json'), 'utf8')) as {
      models: Record<string, { parameters: number }>;
    };
    const atto = rows.find((r) => r.model === 'convnextv2:convnextv2_atto')!;
    expect(atto.generated.parameters).toBe(manifest.models.convnextv2_atto!.parameters);
    expect(atto.handwritten!.parameters).toBe(atto.generated.parameters);
  });

  it('gives the hand-written twin the same logits as the generated model for the same weights', () => {
    const atto = rows.find((r) => r.model === 'convnextv2:convnextv2_atto')!;
    expect(atto.twin_check_output_max).toBeGreaterThan(0.01);
    expect(atto.twin_max_abs_difference).toBeLessThan(1e-5);
  });

  it('runs a model with lab-vector inputs and no twin, and prints one table', () => {
    const labs = rows.find((r) => r.model === 'mednvc:LabsOnly')!;
    expect(labs.handwritten).toBeUndefined();
    expect(Number.isFinite(labs.generated.images_per_s) && labs.generated.images_per_s > 0).toBe(true);
    expect(stdout).toMatch(/^convnextv2:convnextv2_atto +generated +2 /m);
    expect(stdout).toMatch(/^convnextv2:convnextv2_atto +handwritten +2 /m);
    expect(stdout).toMatch(/^convnextv2:convnextv2_atto +ratio +\d+\.\d{3}x/m);
    expect(stdout).toMatch(/^mednvc:LabsOnly +generated +2 /m);
  });
});
