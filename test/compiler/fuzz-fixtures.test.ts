/**
 * Offenders of the fuzz bench (bench/fuzz.ts --fixtures writes them, minimised, as
 * `seed<S>-<N>.nvc` with their source file on the first line) and issue 18's reproductions
 * (`issue18-*.nvc`, first line `// expect NVCxxxx: ...`) in test/fixtures/fuzz/: each goes
 * through the check path and must not crash; an `expect` line names the diagnostic it must give.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkInput, REPO } from '../../bench/fuzz-inputs.js';

const DIR = 'test/fixtures/fuzz';
const fixtures = fs
  .readdirSync(path.join(REPO, DIR))
  .filter((n) => n.endsWith('.nvc'))
  .sort();

describe('fuzz fixtures', () => {
  it('has fixtures', () => expect(fixtures.length).toBeGreaterThan(0));
  for (const name of fixtures) {
    it(name, () => {
      const text = fs.readFileSync(path.join(REPO, DIR, name), 'utf8');
      const first = text.split('\n', 1)[0]!;
      // A bench offender is checked as the file it was made from, so its imports resolve.
      const source = /; source: (\S+)$/.exec(first)?.[1] ?? `${DIR}/${name}`;
      const outcome = checkInput({ source, text });
      expect(outcome.crash).toBeUndefined();
      const expected = /^\/\/ expect (NVC\d{4}):/.exec(first)?.[1];
      if (expected) expect(outcome.codes).toContain(expected);
    });
  }
});
