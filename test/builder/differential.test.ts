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
import { dimConst, dimSubst, type Dim } from '../../compiler/symbolic.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, expectedStatements, freshDir, observe } from './helpers.js';

function irWeightPaths(node: ModuleNode, out: string[] = []): string[] {
  for (const w of node.weights) out.push(node.path ? `${node.path}.${w.name}` : w.name);
  for (const c of node.children) irWeightPaths(c, out);
  return out;
}

function irCount(node: ModuleNode): number {
  return (
    node.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0) +
    node.children.reduce((n, c) => n + irCount(c), 0)
  );
}

interface Case {
  readonly file: string;
  readonly variant?: string;
  /** Factory keys to run (stage or model names); default: every model under 5M parameters. */
  readonly models?: readonly string[];
  /** Size of every symbolic dimension other than the batch `B` (default 64). */
  readonly symbol?: number;
}

const CASES: Case[] = [
  { file: 'test/fixtures/emit/mini-mednvc.nvc' },
  { file: 'test/fixtures/emit/mini-mednvc.nvc', variant: 'wide_fusion', models: ['finetune'], symbol: 96 },
  { file: 'examples/mednvc.nvc', variant: 'demo' },
  { file: 'examples/mednvc.nvc', variant: 'demo_mlp_labs' },
  { file: 'examples/mednvc.nvc', variant: 'demo_convnext_images', models: ['finetune'] },
  { file: 'examples/mednvc.nvc', variant: 'demo_convnext_mlp', models: ['finetune'] },
  { file: 'std/convnextv2.nvc', models: ['convnextv2_atto'], symbol: 32 },
  { file: 'test/fixtures/emit/tiny-mlp.nvc' },
  { file: 'test/fixtures/emit/two-outputs.nvc', symbol: 6 },
  { file: 'test/fixtures/emit/tiny-conv.nvc', symbol: 6 },
  { file: 'test/fixtures/emit/convnextv2-block.nvc', symbol: 5 },
];

async function runCase(c: Case): Promise<void> {
  const compiled = compileProgramSync(c.file, c.variant ? { variant: c.variant } : {});
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const program = compiled.program!;
  const loaded = await loadBuiltProgram(c.file, {
    ...(c.variant ? { variant: c.variant } : {}),
    outDir: path.join(freshDir(), 'out'),
  });
  const labels = new SourceLabels(path.resolve(c.file));
  const candidates: { key: string; ir: ModelIR; stageInputs?: readonly string[]; mask?: number }[] = [
    ...program.trains.flatMap((t) =>
      t.stages.map((s) => ({
        key: s.name,
        ir: s.model,
        stageInputs: (s.settings.inputs as string[] | undefined) ?? [],
        ...(s.mask ? { mask: Number((s.mask as { patch?: number }).patch) } : {}),
      })),
    ),
    ...program.models.map((m) => ({ key: m.name, ir: m })),
  ];
  const chosen = candidates.filter((m) => (c.models ? c.models.includes(m.key) : irCount(m.ir.root) < 5_000_000));
  expect(chosen.length).toBeGreaterThan(0);
  for (const m of chosen) {
    const ir = m.ir;
    await cpuSeeded(3);
    const factory = m.stageInputs ? loaded.factories[m.key]! : loaded.modelFactories[m.key]!;
    const model = factory.create();
    try {
      // Parameters: count and exact paths.
      expect(model.parameterCount(), m.key).toBe(irCount(ir.root));
      expect(loaded.manifest.models[m.key]!.parameters).toBe(irCount(ir.root));
      expect(
        model
          .namedParameters()
          .map(([p]) => p)
          .sort(),
      ).toEqual(irWeightPaths(ir.root).sort());
      // Concrete input shapes: B = 2, every other symbol `symbol`.
      const graph = ir.graphs.get(ir.root.forwardKey!)!;
      const env = new Map<string, Dim>();
      for (const i of graph.inputs)
        for (const d of i.shape)
          for (const s of d.symbols()) if (!env.has(s)) env.set(s, dimConst(s === 'B' ? 2 : (c.symbol ?? 64)));
      const shapes = Object.fromEntries(
        graph.inputs.map((i) => [i.name, i.shape.map((d) => dimSubst(d, env).asInt()!)]),
      );
      const expected = expectedStatements(ir, shapes, (span) => spanOrigin(span, compiled.files, labels));
      const { statements } = observe(() =>
        nv.tf.tidy(() => {
          const byParam = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, nv.tf.randomNormal(s)]));
          // Stage factories take the stage's input names (`inputs = [xray]`), matched to the
          // forward's parameters by position.
          const inputs = m.stageInputs
            ? Object.fromEntries(m.stageInputs.map((n, i) => [n, byParam[graph.inputs[i]!.name]!]))
            : byParam;
          let mask: nv.tf.Tensor4D | undefined;
          if (m.mask) {
            const first = shapes[graph.inputs[0]!.name]!;
            const [b, gh, gw] = [first[0]!, first[1]! / m.mask, first[2]! / m.mask];
            mask = nv.tf.tensor4d(
              Array.from({ length: b * gh * gw }, (_, i) => i % 2),
              [b, gh, gw, 1],
            );
          }
          const out = model.forward({ training: false, rng: nv.createRng(5), ...(mask ? { mask } : {}) }, inputs);
          return out instanceof nv.tf.Tensor ? out : Object.values(out)[0]!;
        }),
      );
      expect(statements.length, m.key).toBeGreaterThan(0);
      expect(statements, m.key).toEqual(expected);
    } finally {
      model.dispose();
    }
  }
}

describe('generated code vs compiler (parameter counts, paths, statement shapes)', () => {
  for (const c of CASES) {
    it(
      `${c.file}${c.variant ? ` --variant ${c.variant}` : ''}` + `${c.models ? `: ${c.models.join(', ')}` : ''}`,
      async () => {
        await runCase(c);
      },
    );
  }
});
