/**
 * `nvcc experiment` end to end on a tiny study (test/cli/fixtures/tiny-study.nvc: a lab-only
 * row and the two-modality model, 40 synthetic patients): the table's paired comparison is
 * recomputed here from the runs' own predictions.csv files.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { pairedBootstrapAucDifference, rocAuc } from '../../runtime/metrics/index.js';
import { createRng } from '../../runtime/rng.js';
import { parsePredictionsCsv, type SplitPredictions } from '../../runtime/train/evaluate.js';

const FIXTURE = resolve('test/cli/fixtures/tiny-study.nvc');
const CLASSES = ['negative', 'positive'];

let _out = '';
let err = '';

describe('nvcc experiment', () => {
  let dir: string;
  let program: string;
  const stem = `tiny-study-${process.pid}`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nvcc-experiment-'));
    program = join(dir, `${stem}.nvc`);
    copyFileSync(FIXTURE, program);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const b of readdirSync('build').filter((f) => f.startsWith(stem)))
      rmSync(join('build', b), { recursive: true, force: true });
  });
  beforeEach(() => {
    _out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      _out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  const testScores = (run: string): SplitPredictions =>
    parsePredictionsCsv(
      readFileSync(join(run, 'stages/fit/predictions.csv'), 'utf8'),
      CLASSES,
      'test',
      'predictions.csv',
    );

  it('compares every row with the reference on the same test patients (paired bootstrap)', async () => {
    const exp = join(dir, 'single');
    const code = await main([
      'experiment',
      program,
      '--variants',
      'labs_only,base',
      '--out',
      exp,
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(err).toBe('');
    expect(code).toBe(0);
    const labs = testScores(join(exp, 'labs_only'));
    const base = testScores(join(exp, 'base'));
    expect(labs.patientIds).toEqual(base.patientIds);
    expect(labs.labels).toEqual(base.labels);
    // The table's figures, recomputed from the files with the experiment's own stream.
    const ids = [...labs.patientIds].map((id, i) => [id, i] as const).sort(([a], [b]) => (a < b ? -1 : 1));
    const labels = ids.map(([, i]) => labs.labels[i] as number);
    const expected = pairedBootstrapAucDifference(
      labels,
      ids.map(([, i]) => labs.scores[i] as number),
      ids.map(([, i]) => base.scores[i] as number),
      { rng: createRng(1).fork('experiment-comparison').fork('labs_only'), resamples: 2000 },
    );
    expect(expected.difference.estimate).toBeCloseTo(
      rocAuc(labs.labels, labs.scores) - rocAuc(base.labels, base.scores),
      12,
    );
    const md = readFileSync(join(exp, 'results.md'), 'utf8');
    const pp = (x: number) => `${x > 0 ? '+' : ''}${(x * 100).toFixed(2)}`;
    const header = md.split('\n').find((l) => l.startsWith('| Model'))!;
    expect(header).toContain('| ΔAUC vs base (95% CI) | p |');
    const labsRow = md.split('\n').find((l) => l.includes('| labs_only |'))!;
    expect(labsRow).toContain(
      `| ${pp(expected.difference.estimate)} (${pp(expected.difference.lower)} to ${pp(expected.difference.upper)}) |`,
    );
    expect(md.split('\n').find((l) => l.includes('| base |'))).toContain('| (reference) |');
    expect(md).toContain("ΔAUC: the row's test AUC minus base's on the same test patients");
    // The table's page links the runs' comparison page: both runs' curves, each report linked.
    expect(readFileSync(join(exp, 'results.html'), 'utf8')).toContain('<a href="compare.html">');
    const compare = readFileSync(join(exp, 'compare.html'), 'utf8');
    expect(compare).toContain('<a href="labs_only/report.html">labs_only</a>');
    expect(compare).toContain('<a href="base/report.html">base</a>');
    expect(compare).toContain('labs_only: train loss');
    expect(compare).toContain('base: train loss');
    // An experiment-wide ETA before every run but the first.
    expect(_out).toContain(`-> ${join(exp, 'labs_only')} (run 1 of 2; experiment ETA after the first run)`);
    expect(_out).toMatch(/-> \S+base \(run 2 of 2; experiment ETA [\dhms]+ \(at the pace of the runs finished/);
  }, 120_000);

  it('refuses a reference that is not one of the variants before training anything', async () => {
    const exp = join(dir, 'bad-ref');
    const code = await main([
      'experiment',
      program,
      '--variants',
      'labs_only,base',
      '--reference',
      'demo',
      '--out',
      exp,
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(code).not.toBe(0);
    expect(err).toContain('--reference demo is not one of --variants (labs_only, base)');
    expect(() => readdirSync(exp)).toThrow();
  });
});
