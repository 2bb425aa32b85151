/**
 * A block with several named outputs, called from another graph: each output keeps its own
 * shape in the IR (an `output` op per name after the call), and the generated code runs the
 * block once and hands each output on, so the caller computes with the right tensors.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuiltProgram } from '../../compiler/builder/build.js';
import { printGraph } from '../../compiler/ir/print.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshDir } from './helpers.js';

const FIXTURE = 'test/fixtures/emit/two-outputs.nvc';

describe('a block with named outputs', () => {
  it('gives each output its own shape in the IR', () => {
    const r = compileProgramSync(FIXTURE);
    expect(r.diagnostics).toEqual([]);
    const model = r.program!.models.find((m) => m.name === 'UseBoth')!;
    const root = printGraph(model.graphs.get(model.root.forwardKey!)!, 0, r.files);
    expect(root).toMatch(/%1 = call\[split\]\(%0\) \{layer = Split, outputs = \[small, big\]\}/);
    expect(root).toMatch(/%2 = output\(%1\) \{name = small\} : \[B, 4\]/);
    expect(root).toMatch(/%3 = output\(%1\) \{name = big\} : \[B, 8\]/);
    expect(root).toMatch(/%4 = concat\(%2, %3\) \{axis = -1\} : \[B, 12\]/);
  });

  it('runs the block once and computes with each output', async () => {
    const loaded = await loadBuiltProgram(FIXTURE, { outDir: path.join(freshDir(), 'out') });
    await cpuSeeded(4);
    const model = loaded.modelFactories.UseBoth!.create();
    try {
      const weight = (p: string) => model.namedParameters().find(([name]) => name === p)![1].variable as nv.tf.Tensor;
      const x = nv.tf.randomNormal([3, 6]);
      const got = model.forward({ training: false, rng: nv.createRng(1) }, { x }) as nv.tf.Tensor;
      const linear = (input: nv.tf.Tensor, layer: string) =>
        nv.tf.add(
          nv.tf.matMul(input as nv.tf.Tensor2D, weight(`${layer}.weight`) as nv.tf.Tensor2D),
          weight(`${layer}.bias`),
        );
      const expected = linear(nv.tf.concat([linear(x, 'split.a'), linear(x, 'split.b')], -1), 'head');
      expect(got.shape).toEqual([3, 2]);
      // Same float32 operations in the same order: equal to rounding.
      const diff = nv.tf.max(nv.tf.abs(nv.tf.sub(got, expected))).dataSync()[0]!;
      expect(diff).toBeLessThan(1e-6);
    } finally {
      model.dispose();
    }
  });

  it('is drawn with one edge per output, from the node that makes it', () => {
    const mermaid = (...extra: string[]) =>
      spawnSync(process.execPath, ['bin/nvcc.js', 'diagram', FIXTURE, '--format', 'mermaid', ...extra], {
        encoding: 'utf8',
      });
    const closed = mermaid();
    expect(closed.status, closed.stderr).toBe(0);
    // split -> concat twice, with each output's width; no node for taking an output.
    expect(closed.stdout).toMatch(/n2 -->\|"\[B, 4\]"\| n3\n\s+n2 -->\|"\[B, 8\]"\| n3/);
    expect(closed.stdout).not.toMatch(/\(\["output"\]\)[\s\S]*\(\["output"\]\)/);
    const open = mermaid('--depth', '1');
    expect(open.status, open.stderr).toBe(0);
    const edgesToConcat = [...open.stdout.matchAll(/(n\d+) -->\|"(\[B, \d+\])"\| (n\d+)/g)].filter(
      (m) => m[3] === [...open.stdout.matchAll(/(n\d+)\(\["concat"\]\)/g)][0]![1],
    );
    expect(edgesToConcat.map((m) => m[2])).toEqual(['[B, 4]', '[B, 8]']);
    expect(new Set(edgesToConcat.map((m) => m[1])).size).toBe(2);
  });
});
