/**
 * Data the check must refuse before anything is written (each failed before its fix): a lab value
 * whose encoding leaves the plausible range (1e200 in a validation row reached evaluation as
 * infinity and ended in "internal error: probability ... is NaN"), training values too large to
 * fit statistics on, a row with more cells than the header, `0x10` read as 16, and a training
 * split holding one class. Each refusal names file, row and column.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset, validateDataset } from '../../runtime/data/dataset.js';
import { implausibleValue, PLAUSIBLE } from '../../runtime/data/encode.js';
import { DataRefusedError } from '../../runtime/data/errors.js';
import type { FieldGroupSpec } from '../../runtime/data/spec.js';
import { filesSpec, GOOD_CSV, SMALL_LABS, tempDir, writeSmallDataset } from '../fixtures/data/folder.js';

const FOUR = { A1: 1, A2: 2, A3: 1, A4: 1 };

/** SMALL_LABS plus `age`, a number without transforms. */
const WITH_AGE: FieldGroupSpec = {
  name: 'labs',
  fields: [...SMALL_LABS.fields, { name: 'age', type: { kind: 'number' }, transforms: [], missing: { kind: 'error' } }],
};

/** GOOD_CSV with an `age` column: header and values in row order (the header cell is added). */
function withAge(values: readonly string[]): string {
  const cells = values[0] === 'age' ? values : ['age', ...values];
  return GOOD_CSV.split('\n')
    .map((l, i) => (l === '' ? l : `${l},${cells[i]}`))
    .join('\n');
}

const WITH_AGE_STANDARDIZED: FieldGroupSpec = {
  name: 'labs',
  fields: [
    ...SMALL_LABS.fields,
    { name: 'age', type: { kind: 'number' }, transforms: ['standardize'], missing: { kind: 'error' } },
  ],
};

async function dataset(csv: string, groups = [SMALL_LABS]) {
  const dir = await tempDir();
  await writeSmallDataset(dir, csv, FOUR);
  const spec = filesSpec(dir, { groups, cache: join(dir, 'cache') });
  return { dir, spec, table: join(dir, 'labs.csv') };
}

async function refusal(spec: Parameters<typeof loadDataset>[0], options = {}): Promise<DataRefusedError> {
  const e = await loadDataset(spec, options).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DataRefusedError);
  return e as DataRefusedError;
}

const editRow = (row: number, from: string, to: string) =>
  GOOD_CSV.split('\n')
    .map((l, i) => (i === row - 1 ? l.replace(from, to) : l))
    .join('\n');

describe('values that would become infinity or NaN downstream are refused at the data check', () => {
  it('an age of 1e200 in a non-training row: refused with row and column, nothing written', async () => {
    // With seed 1 the training split is A2 and A3 (checked below); A1 (row 2) is val or test.
    const good = await loadDataset((await dataset(GOOD_CSV)).spec);
    expect(good.splits.train.map((p) => good.patients[p]!.id).sort()).toEqual(['A2', 'A3']);
    const { spec, table } = await dataset(withAge(['1e200', '60', '70', '50']), [WITH_AGE_STANDARDIZED]);
    const errors = await validateDataset(spec);
    expect(errors).toEqual([
      {
        file: table,
        row: 2,
        column: 'age',
        message:
          'field labs.age: 1e+200 is not a finite 32-bit number after standardize; ' +
          'it would turn into infinity or NaN in the model',
      },
    ]);
    const e = await refusal(spec);
    expect(e.errors).toEqual(errors);
    expect(existsSync(spec.cache!)).toBe(false);
  });

  it('a value a thousand standard deviations off (a unit slip) is refused', async () => {
    const { spec, table } = await dataset(withAge(['age', '60', '70', '50', '65e4']), [WITH_AGE_STANDARDIZED]);
    const errors = await validateDataset(spec);
    expect(errors.map((e) => [e.file, e.row, e.column])).toEqual([[table, 5, 'age']]);
    expect(errors[0]!.message).toMatch(
      new RegExp(
        String.raw`^field labs\.age: 650000 lies [0-9.e+]+` +
          String.raw` standard deviations from the training mean after standardize \(more than 1000 `,
      ),
    );
  });

  it('an unscaled value beyond float32 is refused, and one past the unscaled bound', async () => {
    const { spec, table } = await dataset(withAge(['60', '1e39', '2e6', '60']), [WITH_AGE]);
    const errors = await validateDataset(spec);
    expect(errors.map((e) => [e.file, e.row, e.column])).toEqual([
      [table, 3, 'age'],
      [table, 4, 'age'],
    ]);
    expect(errors[0]!.message).toBe(
      'field labs.age: 1e+39 is not a finite 32-bit number; it would turn into infinity or NaN in the model',
    );
    expect(errors[1]!.message).toMatch(/^field labs\.age: 2000000 encodes to 2\.00e\+6, beyond \+-1000000 /);
  });

  it('training values whose statistics overflow are refused for the column', async () => {
    const group: FieldGroupSpec = {
      name: 'labs',
      fields: [
        ...SMALL_LABS.fields.slice(1),
        { name: 'crp', type: { kind: 'number' }, transforms: ['standardize'], missing: { kind: 'error' } },
      ],
    };
    const csv = GOOD_CSV.replace('A1,0,1.5', 'A1,0,1e200').replace('A2,1,40', 'A2,1,-1e200');
    const { spec, table } = await dataset(csv, [group]);
    const errors = await validateDataset(spec);
    expect(errors).toEqual([
      {
        file: table,
        column: 'crp',
        message:
          'field labs.crp: the training values are too large to encode ' +
          '(their mean, deviation or range is not a finite number)',
      },
    ]);
  });

  it('eval with a run’s statistics refuses the same values', async () => {
    const trained = await loadDataset((await dataset(withAge(['60', '70', '50', '65']), [WITH_AGE_STANDARDIZED])).spec);
    const { spec, table } = await dataset(withAge(['60', '70', '-1e300', '65']), [WITH_AGE_STANDARDIZED]);
    const e = await refusal(spec, { stats: trained.stats });
    expect(e.errors.map((x) => [x.file, x.row, x.column])).toEqual([[table, 4, 'age']]);
  });

  it('the plausible range: a training value stays inside it; a missing cell is judged by its fill', () => {
    const crp = SMALL_LABS.fields[0]!;
    const stats = { transforms: [{ kind: 'log1p' as const }, { kind: 'standardize' as const, mean: 1, std: 0.5 }] };
    expect(implausibleValue(crp, stats, 40)).toBeUndefined();
    // log1p(x) = 1 + 0.5 * 1000 is exactly the bound; a little more is past it.
    expect(implausibleValue(crp, stats, Math.expm1(1 + 0.5 * PLAUSIBLE.maxStandardScore) * 0.999)).toBeUndefined();
    expect(implausibleValue(crp, stats, Math.expm1(1 + 0.5 * PLAUSIBLE.maxStandardScore) * 1.01)).toMatch(/1\.00e\+3/);
    expect(implausibleValue(crp, { ...stats, fill: 1e300 }, null)).toMatch(/^the fill value 1e\+300 of a missing cell/);
  });
});

describe('table cells that were accepted silently', () => {
  it('a row with more cells than the header: refused with the first extra column', async () => {
    const { spec, table } = await dataset(editRow(3, 'A2,1,40', 'A2,1,4,0'));
    const errors = await validateDataset(spec);
    expect(errors).toEqual([
      {
        file: table,
        row: 3,
        column: '6',
        message: "the row has 6 cells but the header has 5 columns (extra: '1'); a comma inside a value needs quotes",
      },
    ]);
  });

  it('a trailing empty cell (a spreadsheet export) is still read', async () => {
    const { spec } = await dataset(GOOD_CSV.replace('A1,0,1.5,hip,0', 'A1,0,1.5,hip,0,'));
    expect(await validateDataset(spec)).toEqual([]);
  });

  it('0x10, 0b1 and Infinity are not numbers, binary values or labels', async () => {
    const csv = editRow(2, 'A1,0,1.5,hip,0', 'A1,0,0x10,hip,0b1').replace('A3,0,', 'A3,0x0,');
    const { spec, table } = await dataset(csv);
    const errors = await validateDataset(spec);
    expect(errors.map((e) => [e.row, e.column, e.message])).toEqual([
      [2, 'crp', "'0x10' is not a decimal number (hexadecimal, binary and octal are not read)"],
      [2, 'sex', "'0b1' is not a binary value (expected 0/1, true/false or yes/no)"],
      [4, 'infected', "label '0x0' is not one of the declared classes (negative = 0, positive = 1)"],
    ]);
    expect(errors.every((e) => e.file === table)).toBe(true);
    const inf = await dataset(editRow(2, '1.5', 'Infinity'));
    expect((await validateDataset(inf.spec)).map((e) => e.message)).toEqual(["'Infinity' is not a number"]);
  });
});

describe('a training split with one class', () => {
  it('is refused, naming the class', async () => {
    const { spec, table } = await dataset(GOOD_CSV.replace('A2,1,', 'A2,0,').replace('A4,1,', 'A4,0,'));
    const errors = await validateDataset(spec);
    expect(errors).toEqual([
      {
        file: table,
        column: 'infected',
        message:
          "the training split holds only class 'negative' (2 patients): " +
          'a classifier needs examples of at least two classes to learn from',
      },
    ]);
  });

  it('is not a reason to refuse eval on a run’s statistics (one class may be all there is)', async () => {
    const trained = await loadDataset((await dataset(GOOD_CSV)).spec);
    const { spec } = await dataset(GOOD_CSV.replace('A2,1,', 'A2,0,').replace('A4,1,', 'A4,0,'));
    await expect(loadDataset(spec, { stats: trained.stats })).resolves.toBeDefined();
  });
});
