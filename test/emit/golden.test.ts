/**
 * Golden files for the generated code: two small fixtures (an MLP with a learned scale and two
 * named outputs; a sparse convolutional encoder with a patch mask and a token head) and the std
 * ConvNeXt-V2 block. Set UPDATE_BASELINES=1 to accept new output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileBuild } from '../../compiler/builder/build.js';

const FIXTURES = ['tiny-mlp', 'tiny-conv', 'convnextv2-block', 'vocabulary', 'specialised'];
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

  it('std/convnextv2.nvc: one class per block declaration, taking its parameters', async () => {
    // Eight models with 4 widths each share one GRN and one ConvNeXtV2Block class, built as
    // `new ConvNeXtV2Block(dims..., rate, pooling)`; only the model roots are one per model.
    const { compiled, problems } = await compileBuild('std/convnextv2.nvc', {}, 'build/convnextv2');
    expect(problems).toEqual([]);
    const text = compiled!.modelTs;
    check('std-convnextv2.model.ts.txt', text);
    expect([...text.matchAll(/^export class GRN\b/gm)]).toHaveLength(1);
    expect(text).toContain('export class GRN extends nv.Module');
    expect(text).toMatch(
      /export class ConvNeXtV2Block extends nv\.Module \{[\s\S]*?constructor\(readonly dim: number, /,
    );
    expect(text).toContain('new nv.Linear(dim, 4 * dim, { bias: true })');
    expect(text).toContain('new GRN(4 * dim, 0.000001, grn_masked_pooling)');
    expect(text).not.toMatch(/class (GRN|ConvNeXtV2Block)_/);
  });

  it('class names of the MED-NVC demo and std/convnextv2.nvc', async () => {
    // One class per block declaration taking its parameters (GRN, ConvNeXtV2Block); a
    // declaration whose body bakes a value differently (a `repeat` of a count that is not a
    // parameter, a size from a layer argument) gets a class per variant, named by the baked
    // parameter that differs; model roots of one block by their model
    // (ConvNeXtV2_convnextv2_atto). The declarations, one line per class, with the header of
    // its doc comment: the parameters a class takes, then `with` those it was built for.
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
