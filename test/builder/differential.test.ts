/**
 * Differential tests: the generated code against the compiler's own view of each model.
 * For every example model (built in memory, imported, run on the cpu backend with small
 * concrete sizes): the runtime parameter count equals the IR's, the parameter paths are the
 * IR's weight paths, and every generated statement's output shape equals the statically
 * inferred shape with the symbols bound (recorded through the runtime's forward observer).
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBuiltProgram, SourceLabels, spanOrigin } from '../../compiler/builder/build.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import type { ModelIR, ModuleNode } from '../../compiler/ir/ir.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, expectedStatements, freshDir, observe } from './helpers.js';

function irWeightPaths(node: ModuleNode, out: string[] = []): string[] {
  for (const w of node.weights) out.push(node.path ? `${node.path}.${w.name}` : w.name);
  for (const c of node.children) irWeightPaths(c, out);
  return out;
}

function irCount(node: ModuleNode): number {
  return node.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0) + node.children.reduce((n, c) => n + irCount(c), 0);
}

interface Case {
  readonly file: string;
  readonly variant?: string;
  /** Factory key (stage or model name). */
  readonly model: string;
  readonly inputs: Readonly<Record<string, readonly number[]>>;
  /** Patch-mask grid for masked stages. */
  readonly mask?: readonly [number, number];
}

const CASES: Case[] = [
  { file: 'test/fixtures/emit/mini-mednvc.nvc', model: 'finetune', inputs: { xray: [2, 64, 64, 3], labs: [2, 14] } },
  { file: 'test/fixtures/emit/mini-mednvc.nvc', model: 'pretrain', inputs: { x: [2, 64, 96, 3] }, mask: [2, 3] },
  { file: 'test/fixtures/emit/mini-mednvc.nvc', variant: 'wide_fusion', model: 'finetune', inputs: { xray: [3, 64, 64, 3], labs: [3, 14] } },
  { file: 'std/convnextv2.nvc', model: 'convnextv2_atto', inputs: { x: [1, 32, 64, 3] } },
];

async function runCase(c: Case): Promise<void> {
  const compiled = compileProgramSync(c.file, c.variant ? { variant: c.variant } : {});
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const program = compiled.program!;
  const stage = program.trains.flatMap((t) => t.stages).find((s) => s.name === c.model);
  const ir: ModelIR = stage ? stage.model : program.models.find((m) => m.name === c.model)!;
  const loaded = await loadBuiltProgram(c.file, { ...(c.variant ? { variant: c.variant } : {}), outDir: path.join(freshDir(), 'out') });
  await cpuSeeded(3);
  const factory = stage ? loaded.factories[c.model]! : loaded.modelFactories[c.model]!;
  const model = factory.create();
  try {
    // Parameters: count and exact paths.
    expect(model.parameterCount()).toBe(irCount(ir.root));
    expect(loaded.manifest.models[c.model]!.parameters).toBe(irCount(ir.root));
    expect(model.namedParameters().map(([p]) => p).sort()).toEqual(irWeightPaths(ir.root).sort());
    // Shapes of every statement.
    const labels = new SourceLabels(path.resolve(c.file));
    const expected = expectedStatements(ir, c.inputs, (span) => spanOrigin(span, compiled.files, labels));
    const { statements } = observe(() =>
      nv.tf.tidy(() => {
        const byParam = Object.fromEntries(Object.entries(c.inputs).map(([k, s]) => [k, nv.tf.randomNormal([...s])]));
        // Stage factories take the stage's input names (`inputs = [xray]`), matched to the
        // forward's parameters by position.
        const stageInputs = (stage?.settings.inputs as string[] | undefined) ?? [];
        const params = ir.graphs.get(ir.root.forwardKey!)!.inputs.map((i) => i.name);
        const inputs = stage ? Object.fromEntries(stageInputs.map((n, i) => [n, byParam[params[i]!]!])) : byParam;
        const mask = c.mask ? (nv.tf.tensor4d(Array.from({ length: c.inputs[Object.keys(c.inputs)[0]!]![0]! * c.mask[0] * c.mask[1] }, (_, i) => i % 2), [c.inputs[Object.keys(c.inputs)[0]!]![0]!, c.mask[0], c.mask[1], 1])) : undefined;
        const out = model.forward({ training: false, rng: nv.createRng(5), ...(mask ? { mask } : {}) }, inputs);
        return out instanceof nv.tf.Tensor ? out : Object.values(out)[0]!;
      }),
    );
    expect(statements.length).toBeGreaterThan(10);
    expect(statements).toEqual(expected);
  } finally {
    model.dispose();
  }
}

describe('generated code vs compiler (parameter counts, paths, statement shapes)', () => {
  for (const c of CASES) {
    it(`${c.file}${c.variant ? ` --variant ${c.variant}` : ''}: ${c.model}`, async () => {
      await runCase(c);
    });
  }
});
