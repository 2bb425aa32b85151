/**
 * `nvcc check --target torch` checks the program and every variant against the torch target,
 * as plain `nvcc check` does for tfjs: a refusal of the torch emitter (NVC5101) that only a
 * variant meets names that variant; `--variant` checks one. In-process `main`, on the fixture
 * test/fixtures/diagnostics/target-torch-variant.nvc (its golden shows the rendered diagnostic).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';

const FILE = 'test/fixtures/diagnostics/target-torch-variant.nvc';
let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
});
afterEach(() => vi.restoreAllMocks());

describe('nvcc check --target torch and variants', () => {
  it('reports a refusal only a variant meets, naming the variants', async () => {
    expect(await main(['check', FILE, '--target', 'torch', '--no-data'])).toBe(1);
    expect(err).toContain("error[NVC5101]: the layer `training` of `Shadowing` would shadow torch.nn.Module's own");
    expect(err).toContain('= note: in variants `shadow` and `shadow_fast`');
    expect(err.match(/error\[/g)).toHaveLength(1);
  });

  it('with --variant: the named variant alone', async () => {
    expect(await main(['check', FILE, '--target', 'torch', '--variant', 'shadow', '--no-data'])).toBe(1);
    expect(err).toContain('error[NVC5101]');
    err = '';
    expect(await main(['check', FILE, '--target', 'torch', '--variant', 'plain_fast', '--no-data'])).toBe(0);
    expect(out).toBe(`${FILE}: ok (variant plain_fast)\n`);
    expect(err).toBe('');
  });

  it('the tfjs target runs the variants and has nothing to refuse', async () => {
    expect(await main(['check', FILE, '--no-data'])).toBe(0);
    expect(out).toBe(`${FILE}: ok (and its 3 variants)\n`);
  });
});
