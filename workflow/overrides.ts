/**
 * Overrides of a program's tunable settings from `--config FILE` and `--set path=value`.
 * In: the .nvc entry (its override schema tells where nested mappings of the config file stop),
 * the variant, the raw `--set` items and the config path. Out: one mapping of dotted paths to
 * values, config first, `--set` later (later wins).
 * Holds afterwards: every problem of every item is reported at once, as one UserError; the
 * values are not yet checked against the schema (the build does that). The override reader (ajv,
 * yaml) is imported only when there is something to read, so a cached `nvcc build` loads none.
 */
import * as fs from 'node:fs';
import { overrideSchemaOf } from '../compiler/builder/build.js';
import { UserError } from '../runtime/errors.js';

export interface OverrideFlags {
  readonly variant?: string | undefined;
  readonly set?: readonly string[] | undefined;
  readonly config?: string | undefined;
}

async function collectOverrides(
  file: string,
  flags: OverrideFlags,
): Promise<{ overrides: Record<string, unknown>; problems: string[] }> {
  if (!flags.config && !flags.set?.length) return { overrides: {}, problems: [] };
  const { parseSetArgs, readConfigFile } = await import('../compiler/schema/overrides.js');
  const problems: string[] = [];
  let overrides: Record<string, unknown> = {};
  if (flags.config) {
    // Nested mappings in the file stop at known paths: the schema is needed to read it.
    const { schema } = await overrideSchemaOf(file, flags.variant);
    const r = readConfigFile(flags.config, new Set(schema ? schema.tunables.keys() : []));
    problems.push(...r.problems.map((p) => p.message));
    overrides = { ...r.overrides };
  }
  const sets = parseSetArgs(flags.set ?? []);
  problems.push(...sets.problems.map((p) => p.message));
  return { overrides: { ...overrides, ...sets.overrides }, problems };
}

/** For `build` and `summary`: each problem on its own `error:` line. */
export async function gatherOverrides(file: string, flags: OverrideFlags): Promise<Record<string, unknown>> {
  const { overrides, problems } = await collectOverrides(file, flags);
  if (problems.length) throw new UserError(problems.join('\nerror: '));
  return overrides;
}

/** For the commands that run a program (`train`, `schedule`, `preview-mask`): a missing config file is named first. */
export async function readRunOverrides(file: string, flags: OverrideFlags): Promise<Record<string, unknown>> {
  if (flags.config !== undefined && !fs.existsSync(flags.config))
    throw new UserError(`--config ${flags.config}: no such file`);
  const { overrides, problems } = await collectOverrides(file, flags);
  if (problems.length) throw new UserError(problems.join('\n'));
  return overrides;
}
