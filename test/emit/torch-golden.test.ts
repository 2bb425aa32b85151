/**
 * Golden files for the code of `nvcc build --target torch`: model.py of four small fixtures (an
 * MLP with a learned scale, a chain with a function layer and two named outputs; a sparse
 * convolutional encoder with a patch mask and a token head; a block with two named outputs used
 * by its caller; the std ConvNeXt-V2 block and its GRN). The text must not depend on anything
 * but the program: a second compile in the same process gives the same bytes.
 * Set UPDATE_BASELINES=1 to accept new output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileTorch } from '../../compiler/emit/torch/build.js';

const FIXTURES = ['tiny-mlp', 'tiny-conv', 'two-outputs', 'convnextv2-block', 'vocabulary'];
const BASELINES = 'test/baselines/emit';
const update = process.env.UPDATE_BASELINES === '1';

function check(name: string, actual: string): void {
  const file = path.join(BASELINES, name);
  if (update || !fs.existsSync(file)) {
    if (!update) throw new Error(`missing baseline ${file}; run with UPDATE_BASELINES=1 to create it`);
    fs.mkdirSync(BASELINES, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}

describe('generated PyTorch code goldens', () => {
  for (const name of FIXTURES) {
    it(name, async () => {
      const file = `test/fixtures/emit/${name}.nvc`;
      const first = await compileTorch(file);
      expect(first.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(first.problems).toEqual([]);
      check(`${name}.model.py.txt`, first.modelPy!);
      const second = await compileTorch(file);
      expect(second.modelPy).toBe(first.modelPy);
    });
  }
});
