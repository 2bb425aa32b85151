/**
 * `--config f.yaml` with a key given twice is refused, naming the file and the key, rather than
 * the later value winning silently: the same key twice in one mapping, two keys that differ only
 * in their YAML type (`1:` and `"1":`), and one path written nested and dotted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from '../../compiler/schema/overrides.js';
import { freshDir } from './helpers.js';

const KNOWN = new Set(['finetune.epochs', 'finetune.optimizer.lr', 'PJI.classes.1']);

function read(text: string) {
  const file = path.join(freshDir(), 'o.yaml');
  fs.writeFileSync(file, text);
  return { file, ...readConfigFile(file, KNOWN) };
}

describe('a YAML config with a key given twice', () => {
  it('the same key twice in one mapping', () => {
    const r = read('finetune:\n  epochs: 3\n  epochs: 5\n');
    expect(r.overrides).toEqual({});
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toMatch(new RegExp(`^--config ${r.file}: Map keys must be unique at line 3`));
  });

  it('keys that differ only in their YAML type', () => {
    const r = read('PJI:\n  classes:\n    1: a\n    "1": b\n');
    expect(r.overrides).toEqual({});
    expect(r.problems[0]!.message).toMatch(/Map keys must be unique at line 4/);
  });

  it('one path written nested and dotted', () => {
    const r = read('finetune:\n  epochs: 3\nfinetune.epochs: 5\n');
    expect(r.overrides).toEqual({});
    expect(r.problems.map((p) => p.message)).toEqual([
      `--config ${r.file}: \`finetune.epochs\` is given twice (nested and dotted); keep one`,
    ]);
  });

  it('distinct keys are read as before', () => {
    expect(read('finetune:\n  epochs: 3\nfinetune.optimizer.lr: 1e-4\n').overrides).toEqual({
      'finetune.epochs': 3,
      'finetune.optimizer.lr': 1e-4,
    });
  });
});
