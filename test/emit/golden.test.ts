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

  it('class names of the MED-NVC demo and std/convnextv2.nvc', async () => {
    // Blocks instantiated at several sizes are named by the parameter that differs (GRN_dim64);
    // model roots of one block by their model (ConvNeXtV2_convnextv2_atto). The declarations, one
    // line per class, with the header of its doc comment.
    const lines: string[] = [];
    for (const [file, variant] of [
      ['examples/mednvc.nvc', 'demo'],
      ['std/convnextv2.nvc', undefined],
    ] as const) {
      const { compiled } = await compileBuild(file, variant ? { variant } : {}, 'build/x');
      const text = compiled!.modelTs;
      lines.push(`# ${file}${variant ? ` --variant ${variant}` : ''}`);
      for (const m of text.matchAll(/\/\*\*\n \* ([^\n]*)\n(?: \*[^\n]*\n)* \*\/\nexport class (\S+)/g))
        lines.push(`${m[2]}: ${m[1]}`);
    }
    check('class-names.txt', `${lines.join('\n')}\n`);
  });
});
