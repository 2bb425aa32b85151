/**
 * `nvcc check` runs train's data validation without training (it never opened the data, so
 * unreadable images and bad values passed): by default when the data are local files and small,
 * always with --data (a generated cohort too), never with --no-data; errors name file, row and
 * column, exit 1, and nothing is written. In-process `main`.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { GOOD_CSV, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';

const PROGRAM = `dataset Small {
  source = files
  table = "labs.csv"
  id = patient_id
  label = infected
  classes = { negative = 0, positive = 1 }
  images = folder("images", per = patient_id, size = [8, 8], channels = 1)
  labs {
    crp: number log1p standardize
    joint: binary [hip, knee]
    sex: binary
  }
  split = by_patient(train = 0.5, val = 0.25, test = 0.25, stratified = true, seed = 1)
}
`;

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
});
afterEach(() => vi.restoreAllMocks());

async function project(csv: string, images: Record<string, number> = { A1: 1, A2: 2, A3: 1, A4: 1 }) {
  const dir = await tempDir('nvcc-check-data-');
  await writeSmallDataset(dir, csv, images);
  writeFileSync(join(dir, 'small.nvc'), PROGRAM);
  return { dir, file: join(dir, 'small.nvc') };
}

describe('nvcc check and the data', () => {
  it('local, small data are checked by default: good data pass', async () => {
    const { file } = await project(GOOD_CSV);
    expect(await main(['check', file])).toBe(0);
    expect(out).toBe(`${file}: ok\ndata of Small: ok\n`);
    // Four patients leave no one for the test split: what training would warn about, check says too.
    expect(err).toBe(
      'warning: dataset Small: the test split is empty (4 patients split 0.5/0.25/0.25): AUC is undefined on it; ' +
        'add patients or change the fractions\n',
    );
  });

  it('bad data fail with file, row and column, and nothing is written', async () => {
    const { dir, file } = await project(GOOD_CSV.replace('A2,1,40', 'A2,1,0x10'), { A1: 1, A2: 2, A3: 1 });
    writeFileSync(join(dir, 'images', 'A1_0.png'), 'not an image');
    const before = readdirSync(dir).sort();
    expect(await main(['check', file])).toBe(1);
    // Paths as the program names them (relative to its folder).
    expect(err).toContain('error: dataset Small: 3 data errors:');
    expect(err).toContain("images/A1_0.png: unreadable image for patient 'A1' (labs.csv row 2)");
    expect(err).toContain("labs.csv, row 3, column crp: '0x10' is not a decimal number");
    expect(err).toContain("labs.csv, row 5, column patient_id: patient 'A4' has no images");
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(err).not.toMatch(/internal error|\n\s+at /);
  });

  it('--no-data reads no data', async () => {
    const { file } = await project(GOOD_CSV.replace('A2,1,40', 'A2,1,0x10'));
    expect(await main(['check', file, '--no-data'])).toBe(0);
    expect(out).toBe(`${file}: ok\n`);
  });

  it('a generated cohort is checked only with --data', async () => {
    expect(await main(['check', 'test/cli/fixtures/tiny.nvc'])).toBe(0);
    expect(out).toContain('data of PJI not checked: a generated cohort; `nvcc check --data` checks them');
    out = '';
    expect(await main(['check', 'test/cli/fixtures/tiny.nvc', '--data'])).toBe(0);
    expect(out).toContain('data of PJI: ok');
  });

  it('large data are left to --data', async () => {
    const { dir, file } = await project(GOOD_CSV.replace('A2,1,40', 'A2,1,0x10'));
    mkdirSync(join(dir, 'images', 'many'));
    for (let i = 0; i < 2001; i++) writeFileSync(join(dir, 'images', 'many', `x${i}.txt`), '');
    expect(await main(['check', file])).toBe(0);
    expect(out).toContain('data of Small not checked: more than 2000 files or 200 MB of table and images');
    expect(await main(['check', file, '--data'])).toBe(1);
    expect(err).toContain("'0x10' is not a decimal number");
  });
});
