/**
 * The data check of `nvcc check`: the validation `nvcc train` runs before it writes anything
 * (runtime/data validateDataset: table, images, split, plausible values), without training.
 * In: a checked program and its file. Out: per dataset its trains read, ok (with the warnings
 * training would print), refused (every error, file, row and column) or skipped with the reason.
 * Holds afterwards: nothing is written. Unless `always`, a dataset is checked only when it is
 * local files within DATA_CHECK_LIMITS (a generated cohort or a large folder is skipped).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProgramIR } from '../compiler/ir/ir.js';
import { DataRefusedError } from '../runtime/data/errors.js';
import type { DatasetSpec } from '../runtime/data/spec.js';

/** What `check` reads without being asked: a table and image folder at most this large. */
export const DATA_CHECK_LIMITS = { files: 2000, bytes: 200 * 1024 * 1024 } as const;

export interface DataCheck {
  readonly dataset: string;
  /** Why the data were not checked, when they were not. */
  readonly skipped?: string;
  /** The data's errors, when they were refused. */
  readonly refused?: DataRefusedError;
  /** What training on the data would warn about (an evaluation split with one class). */
  readonly warnings?: readonly string[];
}

/** Checks the data of the datasets the program's trains read (all of them when it has no train). */
export async function checkProgramData(
  program: ProgramIR,
  file: string,
  options: { readonly always?: boolean } = {},
): Promise<DataCheck[]> {
  const { lowerDataset } = await import('../compiler/builder/lower.js');
  const used = new Set(program.trains.map((t) => t.dataset));
  const datasets = program.datasets.filter((d) => used.size === 0 || used.has(d.name)).map(lowerDataset);
  const baseDir = path.resolve(path.dirname(file));
  const out: DataCheck[] = [];
  for (const spec of datasets) {
    const skip = options.always ? undefined : whyNotByDefault(spec, baseDir);
    if (skip) {
      out.push({ dataset: spec.name, skipped: skip });
      continue;
    }
    const { checkDataset } = await import('../runtime/data/dataset.js');
    const { errors, warnings } = await checkDataset(spec, { baseDir });
    out.push(
      errors.length > 0
        ? { dataset: spec.name, refused: new DataRefusedError(spec.name, errors) }
        : { dataset: spec.name, ...(warnings.length > 0 ? { warnings } : {}) },
    );
  }
  return out;
}

/** Why the data are not checked unasked (a generated cohort, or more than the limits), if so. */
function whyNotByDefault(spec: DatasetSpec, baseDir: string): string | undefined {
  if (spec.source.kind !== 'files') return 'a generated cohort';
  const at = (p: string) => path.resolve(baseDir, p);
  let files = 0;
  let bytes = 0;
  const over = () => files > DATA_CHECK_LIMITS.files || bytes > DATA_CHECK_LIMITS.bytes;
  const add = (p: string) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st?.isFile()) files++, (bytes += st.size);
  };
  add(at(spec.source.table));
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a missing folder is cheap to check, and worth reporting
    }
    for (const e of entries) {
      if (over()) return;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else add(full);
    }
  };
  walk(at(spec.source.images));
  return over()
    ? `more than ${DATA_CHECK_LIMITS.files} files or ${DATA_CHECK_LIMITS.bytes / 1024 / 1024} MB of table and images`
    : undefined;
}
