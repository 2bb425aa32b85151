import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset, validateDataset } from '../../runtime/data/dataset.js';
import { DataRefusedError, formatDataError, type DataError } from '../../runtime/data/errors.js';
import { filesSpec, GOOD_CSV, grayPng, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';

const FOUR = { A1: 1, A2: 2, A3: 1, A4: 1 };

async function errorsFor(
  csv: string,
  images: Record<string, number> = FOUR,
  edit?: (dir: string) => Promise<void>,
): Promise<{ dir: string; errors: DataError[] }> {
  const dir = await tempDir();
  await writeSmallDataset(dir, csv, images);
  if (edit) await edit(dir);
  return { dir, errors: await validateDataset(filesSpec(dir)) };
}

function csvWith(replace: (lines: string[]) => string[]): string {
  return replace(GOOD_CSV.trimEnd().split('\n')).join('\n') + '\n';
}

describe('validateDataset: bad data is named by file, row and column', () => {
  it('accepts the good fixture', async () => {
    const { errors } = await errorsFor(GOOD_CSV);
    expect(errors).toEqual([]);
  });

  it('missing column: header row 1, the column named', async () => {
    const { dir, errors } = await errorsFor(csvWith((l) => l.map((line) => line.split(',').slice(0, 4).join(','))));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: join(dir, 'labs.csv'), row: 1, column: 'sex' });
    expect(formatDataError(errors[0]!)).toBe(
      `${join(dir, 'labs.csv')}, row 1, column sex: missing column 'sex' (field labs.sex); the header has: ` +
        `patient_id, infected, crp, joint`,
    );
  });

  it('unknown category', async () => {
    const { dir, errors } = await errorsFor(
      csvWith((l) => l.map((x, i) => (i === 2 ? x.replace('knee', 'elbow') : x))),
    );
    expect(errors).toEqual([
      {
        file: join(dir, 'labs.csv'),
        row: 3,
        column: 'joint',
        message: "unknown category 'elbow' (expected one of hip, knee)",
      },
    ]);
  });

  it('label outside the declared classes', async () => {
    const { dir, errors } = await errorsFor(
      csvWith((l) => l.map((x, i) => (i === 4 ? x.replace('A4,1,', 'A4,2,') : x))),
    );
    expect(errors).toEqual([
      {
        file: join(dir, 'labs.csv'),
        row: 5,
        column: 'infected',
        message: "label '2' is not one of the declared classes (negative = 0, positive = 1)",
      },
    ]);
  });

  it('empty, NaN and non-numeric values in a required field', async () => {
    const { dir, errors } = await errorsFor(
      csvWith((l) =>
        l.map((x, i) =>
          i === 1 ? x.replace('1.5', '') : i === 2 ? x.replace(',40,', ',NaN,') : i === 3 ? x.replace('2.0', 'abc') : x,
        ),
      ),
    );
    const table = join(dir, 'labs.csv');
    expect(errors).toEqual([
      {
        file: table,
        row: 2,
        column: 'crp',
        message: 'empty value in required field labs.crp (declare missing(...) to allow it)',
      },
      {
        file: table,
        row: 3,
        column: 'crp',
        message: "missing value 'NaN' in required field labs.crp (declare missing(...) to allow it)",
      },
      { file: table, row: 4, column: 'crp', message: "'abc' is not a number" },
    ]);
  });

  it('duplicate patient id names the second row and the first', async () => {
    const { dir, errors } = await errorsFor(csvWith((l) => [...l, 'A2,0,3,hip,1']));
    expect(errors).toEqual([
      {
        file: join(dir, 'labs.csv'),
        row: 6,
        column: 'patient_id',
        message: "duplicate patient id 'A2' (first at row 3)",
      },
    ]);
  });

  it('a patient with no images', async () => {
    const { dir, errors } = await errorsFor(GOOD_CSV, { A1: 1, A2: 2, A3: 1 });
    expect(errors).toEqual([
      {
        file: join(dir, 'labs.csv'),
        row: 5,
        column: 'patient_id',
        message: `patient 'A4' has no images in ${join(dir, 'images')} (pattern 'A4_*')`,
      },
    ]);
  });

  it('an image whose patient is not in the table', async () => {
    const { dir, errors } = await errorsFor(GOOD_CSV, { ...FOUR, Z9: 1 });
    expect(errors).toEqual([
      { file: join(dir, 'images', 'Z9_0.png'), message: `no row with patient_id = 'Z9' in ${join(dir, 'labs.csv')}` },
    ]);
  });

  it('unreadable and truncated images name the file, the patient and its row', async () => {
    const { dir, errors } = await errorsFor(GOOD_CSV, FOUR, async (d) => {
      await writeFile(join(d, 'images', 'A2_1.png'), 'this is not an image');
      const png = await grayPng(64, 64, (x, y) => (x * 7 + y * 13) % 256);
      await writeFile(join(d, 'images', 'A3_0.png'), png.subarray(0, Math.floor(png.length / 2)));
    });
    expect(errors.map((e) => [e.file, e.row, e.column])).toEqual([
      [join(dir, 'images', 'A2_1.png'), undefined, undefined],
      [join(dir, 'images', 'A3_0.png'), undefined, undefined],
    ]);
    expect(errors[0]!.message).toBe(
      `unreadable image for patient 'A2' (${join(dir, 'labs.csv')} row 3): not a PNG, JPEG or DICOM image`,
    );
    expect(errors[1]!.message).toMatch(/^unreadable image for patient 'A3' \(.*labs\.csv row 4\): .+/);
  });

  it('collects every error at once, and loadDataset refuses with all of them, writing nothing', async () => {
    const dir = await tempDir();
    const csv = [
      'patient_id,infected,crp,joint,sex',
      'A1,0,1.5,hip,0',
      'A2,5,40,knee,1',
      'A3,0,,knee,1',
      'A2,1,35.5,wrist,0',
      'A5,1,3,hip,1',
    ].join('\n');
    await writeSmallDataset(dir, csv, { A1: 1, A2: 1, A3: 1, Q7: 1 });
    const spec = filesSpec(dir, { cache: join(dir, 'cache') });
    const errors = await validateDataset(spec);
    const where = errors.map((e) => `${e.row ?? '-'}:${e.column ?? '-'}`);
    expect(where).toEqual(['-:-', '3:infected', '4:crp', '5:joint', '5:patient_id', '6:patient_id']);
    expect(errors[0]!.file).toBe(join(dir, 'images', 'Q7_0.png'));
    const failure = await loadDataset(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(DataRefusedError);
    expect((failure as DataRefusedError).errors).toEqual(errors);
    expect((failure as DataRefusedError).message).toContain(
      `${join(dir, 'labs.csv')}, row 3, column infected: label '5'`,
    );
    expect(existsSync(join(dir, 'cache'))).toBe(false);
  });

  it('a malformed CSV names the row where parsing failed', async () => {
    const { dir, errors } = await errorsFor('patient_id,infected,crp,joint,sex\nA1,0,1.5,hip,0\nA2,1,"40,knee,1\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: join(dir, 'labs.csv'), row: 3 });
    expect(errors[0]!.message).toMatch(/^cannot parse CSV: /);
  });

  it('a missing table is reported, not thrown', async () => {
    const dir = await tempDir();
    const errors = await validateDataset(filesSpec(dir));
    expect(errors.map((e) => e.file)).toEqual([join(dir, 'images'), join(dir, 'labs.csv')]);
    expect(errors[1]!.message).toBe('cannot read the table (ENOENT)');
  });

  it('rows keep spreadsheet numbering across blank lines and quoted line breaks', async () => {
    const csv =
      'patient_id,infected,crp,joint,sex\nA1,0,1.5,hip,0\n\n"A\n2",1,40,knee,1\nA3,0,x,knee,1\nA4,1,35.5,hip,0\n';
    const dir = await tempDir();
    await writeSmallDataset(dir, csv, { A1: 1, A3: 1, A4: 1 });
    await writeFile(join(dir, 'images', 'readme.png'), await readFile(join(dir, 'images', 'A1_0.png')));
    const errors = await validateDataset(filesSpec(dir, { images: { ...filesSpec(dir).images, pattern: '{id}_*' } }));
    const cell = errors.find((e) => e.column === 'crp');
    expect(cell).toMatchObject({ row: 6, column: 'crp', message: "'x' is not a number" });
    expect(errors.find((e) => e.file.endsWith('readme.png'))?.message).toBe(
      "the file name does not match the image pattern '{id}_*', so it belongs to no patient",
    );
  });
});
