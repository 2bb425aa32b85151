/**
 * Data errors: what is wrong with a dataset, where, in words a researcher can act on.
 * In: problems found while reading a table or images. Out: `DataError` records and their
 * one-line rendering `file, row R, column C: message`.
 * Holds afterwards: rows are 1-based as a spreadsheet shows them (the header is row 1, the
 * first patient row 2); a refused dataset surfaces as `DataRefusedError` carrying every error
 * at once, never as a stack trace.
 */
import { NvccError } from '../errors.js';

export interface DataError {
  /** The file at fault, as the user named it (table path, image path). */
  readonly file: string;
  /** 1-based row as a spreadsheet shows it (header = 1), when the error is in a table. */
  readonly row?: number;
  /** Column name, when the error is in a table cell or a missing column. */
  readonly column?: string;
  readonly message: string;
}

export function formatDataError(e: DataError): string {
  const where = [
    e.file,
    e.row !== undefined ? `row ${e.row}` : undefined,
    e.column !== undefined ? `column ${e.column}` : undefined,
  ]
    .filter((x) => x !== undefined)
    .join(', ');
  return `${where}: ${e.message}`;
}

/** Thrown by `loadDataset` when the data are refused; `errors` holds every problem found. */
export class DataRefusedError extends NvccError {
  readonly errors: readonly DataError[];

  constructor(dataset: string, errors: readonly DataError[]) {
    const shown = errors.slice(0, 50).map((e) => `  ${formatDataError(e)}`);
    const more = errors.length > 50 ? [`  ... and ${errors.length - 50} more`] : [];
    super(
      'data',
      `dataset ${dataset}: ${errors.length} data ` +
        `error${errors.length === 1 ? '' : 's'}:\n${[...shown, ...more].join('\n')}`,
      { summary: 'the data were refused' },
    );
    this.name = 'DataRefusedError';
    this.errors = errors;
  }
}
