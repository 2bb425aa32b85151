/**
 * Golden files for the generated code: two small fixtures (an MLP with a learned scale and two
 * named outputs; a sparse convolutional encoder with a patch mask and a token head) and the std
 * ConvNeXt-V2 block. Set UPDATE_BASELINES=1 to accept new output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileBuild } from '../../compiler/builder/build.js';

const FIXTURES = ['tiny-mlp', 'tiny-conv', 'convnextv2-block', 'vocabulary'];
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

describe('generated code goldens', () => {
  for (const name of FIXTURES) {
    it(name, async () => {
      // A fixed output folder two levels below the repository, as `build/<stem>` is.
      const { compiled, result, problems } = await compileBuild(`test/fixtures/emit/${name}.nvc`, {}, `build/${name}`);
      expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(problems).toEqual([]);
      check(`${name}.model.ts.txt`, compiled!.modelTs);
      check(`${name}.train.ts.txt`, compiled!.trainTs);
    });
  }
});
