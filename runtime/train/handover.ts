/**
 * Weight hand-over between stages and freezing of module paths.
 * In: the parameters of an earlier stage's model (as a path -> tensor map, so that they can come
 * from a live model or a checkpoint), the `Handover` module mappings, and the new model. Out:
 * the new model's variables overwritten where mapped, and a `HandoverReport` that lists every
 * copied parameter (source path, target path, shape, element count) and every parameter that
 * stayed freshly initialised. Holds afterwards: either every mapped parameter was found with an
 * equal shape and was copied, or nothing was assigned and a `HandoverError` lists every
 * problem at once (missing source module, missing target, shape mismatch).
 */
import { NvccError } from '../errors.js';
import type * as tf from '@tensorflow/tfjs';
import type { Module } from '../module.js';
import type { Handover } from './spec.js';

export class HandoverError extends NvccError {
  constructor(readonly problems: readonly string[]) {
    super('user', `weight hand-over failed:\n  ${problems.join('\n  ')}`);
    this.name = 'HandoverError';
  }
}

export interface HandoverEntry {
  readonly fromStage: string;
  readonly source: string;
  readonly target: string;
  readonly shape: readonly number[];
  readonly count: number;
}

export interface HandoverReport {
  readonly loaded: readonly HandoverEntry[];
  /** Target parameters no mapping reached: they keep their fresh initialisation. */
  readonly fresh: ReadonlyArray<{ readonly path: string; readonly shape: readonly number[]; readonly count: number }>;
}

function under(prefix: string, path: string): string | undefined {
  if (prefix === '') return path;
  return path.startsWith(prefix + '.') ? path.slice(prefix.length + 1) : undefined;
}

function join(prefix: string, rest: string): string {
  return prefix === '' ? rest : `${prefix}.${rest}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Copies weights into `model` following `handovers`. `sources` gives, per earlier stage name,
 * its final parameters by path. Validates everything before assigning anything.
 */
export function applyHandover(
  model: Module,
  handovers: readonly Handover[],
  sources: ReadonlyMap<string, ReadonlyMap<string, tf.Tensor>>,
): HandoverReport {
  // Buffers (running statistics) travel with the parameters, as in PyTorch's load_state_dict.
  const targets = new Map(model.namedState().map(([path, variable]) => [path, { variable }] as const));
  const problems: string[] = [];
  const plan: Array<{ entry: HandoverEntry; tensor: tf.Tensor; variable: tf.Variable }> = [];
  const claimed = new Map<string, string>();

  for (const h of handovers) {
    const source = sources.get(h.from);
    if (!source) {
      problems.push(`stage '${h.from}' has no weights to hand over (it must be an earlier stage)`);
      continue;
    }
    for (const { source: srcPrefix, target: dstPrefix } of h.modules) {
      const srcLabel = srcPrefix === '' ? `${h.from}` : `${h.from}.${srcPrefix}`;
      let matched = 0;
      for (const [path, tensor] of source) {
        const rest = under(srcPrefix, path);
        if (rest === undefined) continue;
        matched++;
        const targetPath = join(dstPrefix, rest);
        const target = targets.get(targetPath);
        if (!target) {
          problems.push(
            `${srcLabel}: parameter '${path}' ${JSON.stringify(tensor.shape)} has no counterpart ` +
              `'${targetPath}' in the new model`,
          );
          continue;
        }
        if (!sameShape(tensor.shape, target.variable.shape)) {
          problems.push(
            `${srcLabel}: '${path}' has shape ${JSON.stringify(tensor.shape)} but '${targetPath}' has shape ` +
              `${JSON.stringify(target.variable.shape)}`,
          );
          continue;
        }
        const previous = claimed.get(targetPath);
        if (previous !== undefined) {
          problems.push(`'${targetPath}' would be loaded twice (from ${previous} and from ${h.from}.${path})`);
          continue;
        }
        claimed.set(targetPath, `${h.from}.${path}`);
        plan.push({
          entry: { fromStage: h.from, source: path, target: targetPath, shape: [...tensor.shape], count: tensor.size },
          tensor,
          variable: target.variable,
        });
      }
      if (matched === 0) problems.push(`${srcLabel}: no parameters found under '${srcPrefix}' in stage '${h.from}'`);
      // Target parameters under the destination that the source did not provide stay fresh but
      // signal a structural mismatch between two modules that should be the same kind.
      for (const [path, p] of targets) {
        const rest = under(dstPrefix, path);
        if (rest === undefined || matched === 0) continue;
        if (!source.has(join(srcPrefix, rest))) {
          problems.push(
            `'${path}' ${JSON.stringify(p.variable.shape)} is under '${dstPrefix}' but ${srcLabel} has no ` +
              `'${join(srcPrefix, rest)}'`,
          );
        }
      }
    }
  }
  if (problems.length > 0) throw new HandoverError(problems);

  for (const { tensor, variable } of plan) variable.assign(tensor);
  const fresh = [...targets]
    .filter(([path]) => !claimed.has(path))
    .map(([path, p]) => ({ path, shape: [...p.variable.shape], count: p.variable.size }));
  return { loaded: plan.map((x) => x.entry), fresh };
}

/** A fixed-width text table of a hand-over, grouped per mapping, for the terminal and the log. */
export function formatHandoverReport(report: HandoverReport): string {
  const rows: string[][] = [['source', 'target', 'shape', 'count']];
  for (const e of report.loaded)
    rows.push([`${e.fromStage}.${e.source}`, e.target, `[${e.shape.join(', ')}]`, String(e.count)]);
  for (const f of report.fresh) rows.push(['(fresh init)', f.path, `[${f.shape.join(', ')}]`, String(f.count)]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const loadedCount = report.loaded.reduce((n, e) => n + e.count, 0);
  const freshCount = report.fresh.reduce((n, e) => n + e.count, 0);
  return [
    line(rows[0]!),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
    `loaded ${report.loaded.length} tensors (${loadedCount} values); ${report.fresh.length} tensors ` +
      `(${freshCount} values) freshly initialised`,
  ].join('\n');
}

/** The longest common dotted prefix of module paths ('' when they share none). */
function commonPrefix(paths: readonly string[]): string {
  const split = paths.map((p) => p.split('.').slice(0, -1));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length && split.every((parts) => parts[n] === first[n])) n++;
  return first.slice(0, n).join('.');
}

/**
 * The hand-over in a few console lines: one per source stage and module mapping, with tensor and
 * value counts, and one for freshly initialised tensors; the full table goes to the run log.
 */
export function formatHandoverSummary(report: HandoverReport): string {
  const groups = new Map<string, HandoverEntry[]>();
  for (const e of report.loaded) {
    const key = `${e.fromStage}\u0000${e.source.split('.')[0]}\u0000${e.target.split('.')[0]}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  const values = (n: number) => n.toLocaleString('en-US');
  const lines: string[] = [];
  for (const entries of groups.values()) {
    const from = commonPrefix(entries.map((e) => e.source));
    const to = commonPrefix(entries.map((e) => e.target));
    const count = entries.reduce((n, e) => n + e.count, 0);
    lines.push(
      `  ${entries[0]!.fromStage}.${from || '*'} -> ${to || '(root)'}: ${entries.length} tensors, ` +
        `${values(count)} values`,
    );
  }
  if (report.fresh.length > 0) {
    const modules = [...new Set(report.fresh.map((f) => f.path.split('.')[0]!))];
    const count = report.fresh.reduce((n, f) => n + f.count, 0);
    lines.push(`  freshly initialised: ${modules.join(', ')}: ${report.fresh.length} tensors, ${values(count)} values`);
  }
  return lines.join('\n');
}

/**
 * Marks every parameter under each module path frozen. Unknown paths are an error (a typo in
 * `freeze = [...]` must not silently train everything). Returns the frozen parameter paths.
 */
export function freezeModules(model: Module, paths: readonly string[]): string[] {
  const unknown = paths.filter(
    (p) => model.find(p) === undefined && !model.namedParameters().some(([name]) => name === p),
  );
  if (unknown.length > 0)
    throw new HandoverError(unknown.map((p) => `freeze: the model has no module or parameter '${p}'`));
  const frozen: string[] = [];
  for (const [path, p] of model.namedParameters()) {
    if (paths.some((prefix) => path === prefix || path.startsWith(prefix + '.'))) {
      p.trainable = false;
      frozen.push(path);
    }
  }
  return frozen;
}

/** The model's parameters and buffers as a path -> tensor map (live variables, not copies). */
export function parameterMap(model: Module): Map<string, tf.Tensor> {
  return new Map(model.namedState().map(([path, v]) => [path, v as tf.Tensor]));
}
