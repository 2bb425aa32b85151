/**
 * `nvcc schedule`: the training plan before training. The text plan names each stage's phases
 * with their lr at both ends; the CSV values are the runtime schedule's own at fractions of an
 * epoch, checked against the closed forms (linear warm-up, half-cosine); overrides apply; bad
 * flags are refused without a stack trace.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { scheduleCsv } from '../../workflow/schedule.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-schedule-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('nvcc schedule', () => {
  let out = '';
  let err = '';
  beforeEach(() => {
    out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => ((out += String(chunk)), true),
    );
    vi.spyOn(process.stderr, 'write').mockImplementation(
      (chunk: string | Uint8Array) => ((err += String(chunk)), true),
    );
  });
  afterEach(() => vi.restoreAllMocks());

  it('prints each stage with its phases, mask, random throw and hand-over', async () => {
    expect(await main(['schedule', 'examples/mednvc.nvc', '--variant', 'demo']), err).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('stage pretrain (masked): epochs 0-4 overall, 4 epochs, batch 24, lion lr 3e-4');
    expect(lines).toContain('  cosine (to 3e-6): epochs 1-4, lr 3e-4 -> 3e-6');
    expect(lines).toContain('  mask: random_patches ratio 0.6, patch 32');
    expect(lines).toContain('stage images (supervised): epochs 4-14 overall, 10 epochs, batch 24, lion lr 3e-4');
    expect(lines).toContain('  weights from: images.enc -> enc');
    expect(lines).toContain('  random throw: p 0.2, fill -10, over xray, labs');
    expect(lines[lines.length - 1]).toBe('total: 24 epochs in 3 stages');
  });

  it("samples the runtime's schedule: linear warm-up, then a half cosine to the floor, stages end to end", async () => {
    expect(
      await main(['schedule', 'examples/mednvc.nvc', '--variant', 'demo', '--format', 'csv', '--points', '4']),
    ).toBe(0);
    const rows = out.trim().split('\n');
    expect(rows[0]).toBe('stage,epoch,overall_epoch,lr');
    const at = (stage: string, epoch: number) => {
      const row = rows
        .slice(1)
        .map((r) => r.split(','))
        .find(([s, e]) => s === stage && Number(e) === epoch);
      if (!row) throw new Error(`no sample of ${stage} at epoch ${epoch}`);
      return { overall: Number(row[2]), lr: Number(row[3]) };
    };
    const [base, floor] = [3e-4, 3e-6];
    expect(at('pretrain', 0).lr).toBe(0);
    expect(at('pretrain', 0.5).lr).toBeCloseTo(base / 2, 12);
    expect(at('pretrain', 1).lr).toBeCloseTo(base, 12);
    // Cosine over epochs 1-4: at its middle (2.5) the level is halfway between base and floor.
    expect(at('pretrain', 2.5).lr).toBeCloseTo((base + floor) / 2, 12);
    expect(at('pretrain', 1.75).lr).toBeCloseTo(
      floor + (base - floor) * 0.5 * (1 + Math.cos((Math.PI * 0.75) / 3)),
      12,
    );
    expect(at('images', 0)).toEqual({ overall: 4, lr: 0 });
    expect(at('finetune', 5.5).overall).toBe(19.5);
    // 4 points per epoch and both ends: 4 * 4 + 1, 10 * 4 + 1 twice.
    expect(rows.length - 1).toBe(17 + 41 + 41);
  });

  it('applies overrides and writes an SVG chart with a legend per stage', async () => {
    const file = path.join(tmp, 'plan.svg');
    expect(
      await main(['schedule', 'examples/mednvc.nvc', '--variant', 'demo', '--set', 'images.epochs=5', '--out', file]),
      err,
    ).toBe(0);
    const svg = fs.readFileSync(file, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    for (const stage of ['pretrain', 'images', 'finetune']) expect(svg).toContain(`>${stage}</text>`);
    expect(err).toContain(`wrote ${file}`);
    out = '';
    expect(await main(['schedule', 'examples/mednvc.nvc', '--variant', 'demo', '--set', 'images.epochs=5'])).toBe(0);
    expect(out).toContain('total: 19 epochs in 3 stages');
  });

  it('refuses bad flags and unknown overrides with exit 1 and no stack trace', async () => {
    expect(await main(['schedule', 'examples/mednvc.nvc', '--format', 'pdf'])).toBe(1);
    expect(err).toContain('--format must be text, csv or svg');
    err = '';
    expect(await main(['schedule', 'examples/mednvc.nvc', '--points', '0'])).toBe(1);
    expect(err).toContain('--points must be an integer from 1 to 10000');
    err = '';
    expect(await main(['schedule', 'examples/mednvc.nvc', '--variant', 'demo', '--set', 'images.epoch=5'])).toBe(1);
    expect(err).toContain('did you mean `images.epochs`?');
    expect(err).not.toMatch(/\n\s+at /);
  });
});

describe('schedule CSV numbers', () => {
  it('writes 12 significant digits: 1.5e-4 * 0.1 reads 0.000015, not 0.000015000000000000002', () => {
    expect(1.5e-4 * 0.1).not.toBe(0.000015);
    const csv = scheduleCsv([{ stage: 'finetune', epoch: 0.1 + 0.2, overall: 10.1 + 0.2, lr: 1.5e-4 * 0.1 }]);
    expect(csv).toBe('stage,epoch,overall_epoch,lr\nfinetune,0.3,10.3,0.000015\n');
  });
});
