/**
 * Saving the resolved configuration of a run.
 * In: the fully resolved configuration (plain JSON data: every default filled in, every
 * override applied). Out: `config.json` and `config.yaml` in the run folder, written
 * atomically. Holds afterwards: both files describe the same data (the YAML parses back to the
 * JSON), so a run can be audited or re-run from its folder alone.
 */
import * as path from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from './atomic.js';
import { RUN_FILES } from './rundir.js';

export interface SavedConfig {
  readonly jsonPath: string;
  readonly yamlPath: string;
}

/** Throws a TypeError naming the path of the first value JSON cannot represent faithfully. */
function assertPlainData(value: unknown, where: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`config value at ${where} is ${value}, which JSON cannot hold`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertPlainData(v, `${where}[${i}]`));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) assertPlainData(v, `${where}.${k}`);
    return;
  }
  throw new TypeError(`config value at ${where} is not plain data (${typeof value})`);
}

export async function saveResolvedConfig(runDir: string, config: unknown): Promise<SavedConfig> {
  assertPlainData(config, 'config');
  const jsonPath = path.join(runDir, RUN_FILES.configJson);
  const yamlPath = path.join(runDir, RUN_FILES.configYaml);
  await writeFileAtomic(jsonPath, `${JSON.stringify(config, null, 2)}\n`);
  await writeFileAtomic(yamlPath, stringify(config, { lineWidth: 0 }));
  return { jsonPath, yamlPath };
}
