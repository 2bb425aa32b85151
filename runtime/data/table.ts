/**
 * Reading the lab table and checking it against the declaration.
 * In: CSV text (through csv-parse) or rows produced by the synthetic generator, and a
 * DatasetSpec. Out: one `PatientRow` per table row with its label index and each declared
 * field's raw value (number, level name, or null when missing), plus every DataError found.
 * Holds afterwards: a PatientRow exists only for rows whose id is present and unique; values
 * are typed (numbers finite and written in decimal, levels declared), a row has no non-empty
 * cell beyond the header, missing values are null and are errors only
 * where the field's policy is `error`. Nothing is filled or normalised here (see encode.ts).
 */
import { parse } from 'csv-parse/sync';
import { decimalNumber, isMissingCell, parseFieldCell, type RawValue } from './cells.js';
import type { DataError } from './errors.js';
import type { DatasetSpec } from './spec.js';

export { decimalNumber, isMissingCell, type RawValue } from './cells.js';

export interface RawTable {
  /** File name used in messages. */
  readonly file: string;
  readonly header: readonly string[];
  /** Data rows with their spreadsheet row number (header = 1). */
  readonly rows: readonly { readonly row: number; readonly cells: readonly string[] }[];
}

export interface PatientRow {
  readonly id: string;
  readonly row: number;
  /** Index into spec.label.classes; -1 when the dataset is read without labels. */
  readonly label: number;
  /** The linking value images are matched against (`images.per` column). */
  readonly imageKey: string;
  /** Raw values per group, in field order. */
  readonly values: Readonly<Record<string, readonly RawValue[]>>;
}

export function parseCsv(text: string, file: string): { table?: RawTable; errors: DataError[] } {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, {
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      bom: true,
    }) as unknown as typeof records;
  } catch (e) {
    const err = e as { message?: string; lines?: number };
    const message = (err.message ?? String(e)).replace(/^Invalid [^:]*: /, '');
    return { errors: [{ file, row: err.lines, message: `cannot parse CSV: ${message}` }] };
  }
  if (records.length === 0) return { errors: [{ file, row: 1, message: 'the table is empty (no header row)' }] };
  // csv-parse reports the line a record ends on; a spreadsheet shows the line it starts on.
  const startRow = (r: { record: string[]; info: { lines: number } }): number =>
    r.info.lines - r.record.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0);
  const [head, ...body] = records;
  return {
    table: {
      file,
      header: head!.record.map((h) => h.trim()),
      rows: body.map((r) => ({ row: startRow(r), cells: r.record })),
    },
    errors: [],
  };
}

function labelIndex(spec: DatasetSpec, cell: string): number {
  const text = cell.trim();
  return spec.label.classes.findIndex((c) => {
    if (typeof c.code === 'number') return decimalNumber(text) === c.code;
    return c.code === text || c.code.toLowerCase() === text.toLowerCase();
  });
}

/**
 * Checks the table against the spec and types every declared cell. With `labels: false`
 * (prediction on new patients) the label column is neither required nor read.
 */
export function readPatients(
  table: RawTable,
  spec: DatasetSpec,
  labels: boolean,
): { patients: PatientRow[]; errors: DataError[] } {
  const errors: DataError[] = [];
  const file = table.file;
  const col = new Map<string, number>();
  table.header.forEach((h, i) => {
    if (!col.has(h)) col.set(h, i);
  });
  const required: Array<[string, string]> = [[spec.id, 'the patient id']];
  if (labels) required.push([spec.label.column, 'the label']);
  if (spec.images.per !== spec.id) required.push([spec.images.per, 'the image link']);
  for (const g of spec.groups) for (const f of g.fields) required.push([f.name, `field ${g.name}.${f.name}`]);
  let missingColumns = false;
  for (const [name, role] of required) {
    if (!col.has(name)) {
      missingColumns = true;
      errors.push({
        file,
        row: 1,
        column: name,
        message: `missing column '${name}' (${role}); the header has: ${table.header.join(', ')}`,
      });
    }
  }
  if (missingColumns) return { patients: [], errors };

  const idCol = col.get(spec.id)!;
  const labelCol = labels ? col.get(spec.label.column)! : -1;
  const perCol = col.get(spec.images.per)!;
  const firstRow = new Map<string, number>();
  const patients: PatientRow[] = [];
  const classList = spec.label.classes.map((c) => `${c.name} = ${c.code}`).join(', ');
  for (const { row, cells } of table.rows) {
    if (cells.length > table.header.length) {
      // A cell beyond the header usually means a stray comma shifted the row: every value after
      // it would land in the wrong column.
      const extra = cells.slice(table.header.length);
      if (extra.some((c) => c.trim() !== '')) {
        errors.push({
          file,
          row,
          column: `${table.header.length + 1}`,
          message:
            `the row has ${cells.length} cells but the header has ${table.header.length} columns ` +
            `(extra: ${extra.map((c) => `'${c}'`).join(', ')}); a comma inside a value needs quotes`,
        });
        // The cells after the stray one sit in the wrong columns: their errors would mislead.
        continue;
      }
    }
    let ok = true;
    const id = (cells[idCol] ?? '').trim();
    if (isMissingCell(cells[idCol])) {
      errors.push({ file, row, column: spec.id, message: 'empty patient id' });
      ok = false;
    } else if (firstRow.has(id)) {
      errors.push({
        file,
        row,
        column: spec.id,
        message: `duplicate patient id '${id}' (first at row ${firstRow.get(id)})`,
      });
      ok = false;
    } else firstRow.set(id, row);
    let label = -1;
    if (labels) {
      const cell = cells[labelCol] ?? '';
      if (isMissingCell(cell)) {
        errors.push({ file, row, column: spec.label.column, message: 'empty label' });
        ok = false;
      } else {
        label = labelIndex(spec, cell);
        if (label < 0) {
          errors.push({
            file,
            row,
            column: spec.label.column,
            message: `label '${cell.trim()}' is not one of the declared classes (${classList})`,
          });
          ok = false;
        }
      }
    }
    const values: Record<string, RawValue[]> = {};
    for (const g of spec.groups) {
      values[g.name] = g.fields.map((f) => {
        const cell = cells[col.get(f.name)!];
        if (isMissingCell(cell)) {
          if (f.missing.kind === 'error') {
            const shown = cell === undefined || cell.trim() === '' ? 'empty value' : `missing value '${cell.trim()}'`;
            errors.push({
              file,
              row,
              column: f.name,
              message: `${shown} in required field ${g.name}.${f.name} (declare missing(...) to allow it)`,
            });
            ok = false;
          }
          return null;
        }
        const parsed = parseFieldCell(f, cell!);
        if ('error' in parsed) {
          errors.push({ file, row, column: f.name, message: parsed.error });
          ok = false;
          return null;
        }
        return parsed.value;
      });
    }
    if (ok) patients.push({ id, row, label, imageKey: (cells[perCol] ?? '').trim(), values });
  }
  if (table.rows.length === 0) errors.push({ file, row: 2, message: 'the table has a header but no patient rows' });
  return { patients, errors };
}
