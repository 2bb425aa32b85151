/**
 * A reader that stops early (`nvcc build --emit ast | head -1`) closes nvcc's stdout while it is
 * still writing. nvcc must then stop quietly with status 0, not print Node's EPIPE trace.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/cli-process.js';

describe('stdout closed by the reader', () => {
  it('ends nvcc quietly, without a stack trace', () => {
    // The shell's pipe is the real situation; `head -c 40` reads 40 bytes and closes it.
    const r = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; node bin/nvcc.js build examples/mednvc.nvc --emit ast | head -c 40; echo " ' +
          'rc=${PIPESTATUS[0]}"',
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(r.stdout).toMatch(/^Module "examples\/mednvc\.nvc"/);
    expect(r.stdout).toContain(' rc=0');
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|at .*node:/);
  });
});
