import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { IRValue, ModelIR, ModuleNode, ParamExpr } from '../../compiler/ir/ir.js';
import { evalParamExpr, formatParamExpr, paramsOfExpr, plainValue } from '../../compiler/ir/param-expr.js';
import { compileProgramSync } from '../../compiler/pipeline.js';

/** The plain value of an IR value, as evalParamExpr yields it; other kinds stay as they are so they never match. */
function plain(v: IRValue | undefined): unknown {
  return v === undefined ? undefined : (plainValue(v) ?? v);
}

interface Checked {
  args: number;
  weights: number;
  ops: number;
  repeats: number;
}

/**
 * Every provenance expression of a model, evaluated with the concrete parameters of the block it
 * is over, gives the concrete value beside it: the invariant the emitters rely on.
 */
function checkModel(m: ModelIR, counts: Checked): void {
  const visit = (node: ModuleNode, block: ModuleNode | undefined): void => {
    for (const [k, e] of node.argExprs ?? []) {
      expect(block, `${m.name}:${node.path}.${k} has provenance outside a block`).toBeDefined();
      expect(evalParamExpr(e, block!.args), `${m.name}:${node.path} ${k} <- ${formatParamExpr(e)}`).toEqual(
        plain(node.args.get(k)),
      );
      counts.args++;
    }
    if (node.repeat?.countExpr) {
      expect(evalParamExpr(node.repeat.countExpr, block!.args)).toBe(node.repeat.count);
      counts.repeats++;
    }
    for (const w of node.weights) {
      w.shapeExprs?.forEach((e, i) => {
        if (!e) return;
        expect(evalParamExpr(e, node.args), `${m.name}:${node.path}.${w.name}[${i}]`).toBe(w.shape[i]);
        counts.weights++;
      });
    }
    if (node.kind === 'block' && node.forwardKey) {
      const g = m.graphs.get(node.forwardKey)!;
      for (const op of g.ops)
        for (const [k, e] of Object.entries(op.exprs ?? {})) {
          expect(evalParamExpr(e, node.args), `${g.block} %${op.id} ${k}`).toEqual(op.attrs[k]);
          counts.ops++;
        }
      for (const v of [...g.inputs, ...g.outputs])
        v.shapeExprs?.forEach((e, i) => {
          if (e) expect(evalParamExpr(e, node.args)).toBe(v.shape[i]!.asInt());
        });
    }
    for (const c of node.children) visit(c, node.kind === 'block' ? node : block);
  };
  visit(m.root, undefined);
}

function models(file: string): ModelIR[] {
  const r = compileProgramSync(file);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const p = r.program!;
  return [...p.models, ...p.trains.flatMap((t) => t.stages.map((s) => s.model))];
}

describe('IR provenance', () => {
  it('every expression gives the concrete value beside it (std/ and MED-NVC)', () => {
    const counts: Checked = { args: 0, weights: 0, ops: 0, repeats: 0 };
    const files = [
      ...readdirSync('std')
        .filter((f) => f.endsWith('.nvc'))
        .map((f) => `std/${f}`),
      'examples/mednvc.nvc',
    ];
    for (const f of files) for (const m of models(f)) checkModel(m, counts);
    // Each kind of provenance occurs (so the checks above are not vacuous).
    expect(counts.args).toBeGreaterThan(100);
    expect(counts.weights).toBeGreaterThan(10);
    expect(counts.ops).toBeGreaterThan(10);
    expect(counts.repeats).toBeGreaterThan(0);
  });

  it('records the block parameters behind sizes and constants (ConvNeXtV2Block, GRN)', () => {
    const m = models('test/compiler/fixtures/block.nvc').find((x) => x.name === 'blk')!;
    const child = (k: string) => m.root.children.find((c) => c.path === k)!;
    const text = (e: ParamExpr | null | undefined) => (e ? formatParamExpr(e) : undefined);
    expect(text(child('pwconv1').argExprs?.get('out'))).toBe('4 * dim');
    expect(text(child('grn').argExprs?.get('masked_pooling'))).toBe('grn_masked_pooling');
    // Defaults of the primitive and literals of the body have none: they are the same everywhere.
    expect(child('norm').argExprs?.has('eps')).toBe(false);
    expect(child('grn').weights.map((w) => w.shapeExprs?.map(text))).toEqual([['dim'], ['dim']]);
    const grnGraph = m.graphs.get(child('grn').forwardKey!)!;
    expect(text(grnGraph.ops.find((o) => o.op === 'const')?.exprs?.value)).toBe('eps');
  });

  it('keeps no provenance for values read from a layer argument', () => {
    // FCMAE's decoder takes `out_chans = encoder.in_chans`: the encoder was built outside
    // FCMAE, so that value is not one of FCMAE's parameters and must be baked.
    const r = compileProgramSync('examples/mednvc.nvc');
    const pretrain = r.program!.trains[0]!.stages[0]!.model;
    const decoder = pretrain.root.children.find((c) => c.path === 'decoder')!;
    expect(decoder.argExprs?.has('out_chans') ?? false).toBe(false);
    expect(decoder.argExprs?.has('dim')).toBe(true);
    // The encoder itself was given to FCMAE as an argument: none of its arguments are FCMAE's.
    const encoder = pretrain.root.children.find((c) => c.path === 'encoder')!;
    expect(encoder.argExprs).toBeUndefined();
  });

  it('prints expressions with the parentheses precedence needs', () => {
    const p = (name: string): ParamExpr => ({ kind: 'param', name });
    const lit = (value: number): ParamExpr => ({ kind: 'literal', value, int: true });
    const bin = (op: '+' | '-' | '*' | '**', left: ParamExpr, right: ParamExpr): ParamExpr => ({
      kind: 'binary',
      op,
      left,
      right,
      int: true,
    });
    expect(formatParamExpr(bin('*', lit(4), bin('+', p('a'), p('b'))))).toBe('4 * (a + b)');
    expect(formatParamExpr(bin('-', p('a'), bin('-', p('b'), lit(1))))).toBe('a - (b - 1)');
    expect(formatParamExpr(bin('-', bin('-', p('a'), p('b')), lit(1)))).toBe('a - b - 1');
    // A power of a power is always parenthesised (whichever way the reader groups `**`).
    expect(formatParamExpr(bin('**', p('a'), bin('**', p('b'), lit(2))))).toBe('a ** (b ** 2)');
    expect(formatParamExpr({ kind: 'index', list: p('dims'), index: bin('-', p('i'), lit(1)) })).toBe('dims[i - 1]');
    expect(paramsOfExpr(bin('*', p('a'), bin('+', p('b'), p('a'))))).toEqual(['a', 'b']);
  });
});
