/**
 * Buffers in the compiler's outputs: BatchNorm's running statistics are in the IR (printed as
 * `buffer`), not parameters (summary's totals and the build manifest's counts leave them out)
 * and shown by `nvcc summary` on their own line; `buffer` declarations in blocks and a weight
 * named `weight` (PyTorch's name for a norm's scale).
 */
import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import { cpuSeeded, freshDir } from '../builder/helpers.js';

const FILE = 'test/fixtures/emit/batchnorm.nvc';
// conv 3x3x3x6 + 6, bn 6 + 6, fc 6x12 + 12, bn1 12 + 12, head 12x3 + 3.
const PARAMS = 162 + 6 + 12 + 72 + 12 + 24 + 36 + 3;

describe('buffers in summary and IR', () => {
  let out = '';
  beforeEach(() => {
    out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('summary counts parameters without the buffers and lists the buffers apart', async () => {
    expect(await main(['summary', FILE, '--model', 'BNNet', '--dims', 'H=8,W=8'])).toBe(0);
    expect(out).toContain(`Total params: ${PARAMS}`);
    // running_mean and running_var (6 + 12 each) and two counters.
    expect(out).toContain('Buffers (saved with the weights, not trained): 38 values in 6 tensors');
    out = '';
    expect(await main(['summary', FILE, '--model', 'BNNet', '--format', 'json'])).toBe(0);
    const json = JSON.parse(out) as { models: { totalParams: number; buffers: { tensors: number; values: number } }[] };
    expect(json.models[0]!.totalParams).toBe(PARAMS);
    expect(json.models[0]!.buffers).toEqual({ tensors: 6, values: 38 });
  });

  it('the IR lists each buffer with its shape, start value and dtype, after the weights', async () => {
    expect(await main(['build', FILE, '--emit', 'ir'])).toBe(0);
    const bn = out.slice(out.indexOf('bn BatchNorm2d'));
    const lines = bn
      .split('\n')
      .slice(1, 6)
      .map((l) => l.replace(/\s+;.*/, '').trim());
    expect(lines).toEqual([
      'weight weight [6] ones no_decay',
      'weight bias [6] zeros no_decay',
      'buffer running_mean [6] zeros',
      'buffer running_var [6] ones',
      'buffer num_batches_tracked [] zeros int32',
    ]);
  });
});

describe('buffers declared in .nvc, and a weight named `weight`', () => {
  const BLOCK = 'test/fixtures/emit/buffer-block.nvc';

  it('parses `weight weight` and `buffer`, and reads both in the forward', () => {
    const { diagnostics, program } = compileProgramSync(BLOCK);
    expect(diagnostics).toEqual([]);
    const norm = program!.models[0]!.root.children.find((c) => c.path === 'norm')!;
    expect(norm.weights.map((w) => w.name)).toEqual(['weight']);
    expect(norm.buffers).toMatchObject([{ name: 'shift', shape: [4], init: { kind: 'constant' }, dtype: 'float32' }]);
  });

  it('the tfjs build registers the buffer apart from the parameters, starting at its value', async () => {
    const dir = freshDir('nvcc-buffer-');
    try {
      const loaded = await loadBuiltProgram(BLOCK, { outDir: dir });
      await cpuSeeded(1);
      const model = loaded.modelFactories.WithBuffer!.create();
      expect(model.namedParameters().map(([k]) => k)).toEqual(['norm.weight', 'head.weight', 'head.bias']);
      expect(model.namedState().map(([k]) => k)).toEqual(['norm.weight', 'norm.shift', 'head.weight', 'head.bias']);
      expect([...model.namedBuffers()[0]![1].variable.dataSync()]).toEqual([0.5, 0.5, 0.5, 0.5]);
      model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps `weight` a keyword elsewhere: `weight` in a forward before a name is still a misplaced declaration', () => {
    const text = 'block A(d: int) {\n  forward(x: [B, d]) -> [B, d] {\n    weight w: [d]\n    return x\n  }\n}\n';
    const { diagnostics } = compileProgramSync('inline.nvc', { text });
    expect(diagnostics.map((d) => d.code)).toEqual(['NVC1016']);
  });
});
