/**
 * Runtime errors raised inside generated code are reported against the `.nvc` statement that
 * produced them: a deliberately wrong weight and an input whose shape only fails at run time
 * both come out as NvcRuntimeError `<file>:<line>:<col>: <message>`, with the enclosing call
 * sites in `trace`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBuiltProgram, type LoadedProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshDir } from './helpers.js';

const MINI = 'test/fixtures/emit/mini-mednvc.nvc';

/** `label:line:col` of the first `token` on the first line containing `lineText`. */
function sourcePosition(file: string, label: string, lineText: string, token: string): string {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(lineText));
  if (i < 0) throw new Error(`no line with ${lineText}`);
  return `${label}:${i + 1}:${lines[i]!.indexOf(token, lines[i]!.indexOf(lineText)) + 1}`;
}

function caught(run: () => unknown): nv.NvcRuntimeError {
  try {
    nv.tf.tidy(() => {
      run();
    });
  } catch (err) {
    expect(err).toBeInstanceOf(nv.NvcRuntimeError);
    return err as nv.NvcRuntimeError;
  }
  throw new Error('expected an error');
}

describe('runtime errors point at the .nvc source', () => {
  let p: LoadedProgram;
  beforeAll(async () => {
    p = await loadBuiltProgram(MINI, { outDir: path.join(freshDir(), 'out') });
    await cpuSeeded(4);
  });
  const ctx = () => ({ training: false, rng: nv.createRng(1) });

  it('a deliberately wrong weight is reported at the layer application', () => {
    const model = p.factories.finetune!.create();
    const head = model.find('head') as unknown as { weight: nv.tf.Variable };
    head.weight = nv.tf.variable(nv.tf.zeros([5, 2]));
    const err = caught(() => model.forward(ctx(), { xray: nv.tf.zeros([2, 64, 64, 3]), labs: nv.tf.zeros([2, 14]) }));
    const where = sourcePosition(MINI, 'mini-mednvc.nvc', 'return f |> mean', 'head');
    expect(where).toBe('mini-mednvc.nvc:19:48');
    expect(err.origin).toBe(where);
    expect(err.message.startsWith(`${where}: `)).toBe(true);
    expect(err.message).toBe(`${where}: linear: input last dim 64 does not match weight [5, 2]`);
    model.dispose();
  });

  it('an error inside a std block names the block statement and every call site', () => {
    const model = p.factories.finetune!.create();
    const pw = model.find('enc.stages.1.0.pwconv1') as unknown as { weight: nv.tf.Variable };
    pw.weight = nv.tf.variable(nv.tf.zeros([3, 64]));
    const err = caught(() => model.forward(ctx(), { xray: nv.tf.zeros([1, 64, 64, 3]), labs: nv.tf.zeros([1, 14]) }));
    const inner = sourcePosition('std/convnextv2.nvc', 'std/convnextv2.nvc', 'let y = x |> dwconv', 'pwconv1');
    expect(err.origin).toBe(inner);
    expect(err.message.startsWith(`${inner}: `)).toBe(true);
    // innermost first: the block statement, then the call of stages[1] in the model.
    expect(err.trace[0]).toBe(inner);
    expect(err.trace[err.trace.length - 1]).toBe(
      sourcePosition(MINI, 'mini-mednvc.nvc', 'let v = xray', 'enc.stages[1]'),
    );
    model.dispose();
  });

  it('a shape that only fails at run time (input smaller than declared) is reported at the statement', () => {
    const model = p.factories.finetune!.create();
    // 32x32 passes the encoder's first stages but not `untokens` to the declared 8x8 grid.
    const err = caught(() => model.forward(ctx(), { xray: nv.tf.zeros([2, 32, 32, 3]), labs: nv.tf.zeros([2, 14]) }));
    const where = sourcePosition(MINI, 'mini-mednvc.nvc', 'let q = fusion', 'untokens');
    expect(err.origin).toBe(where);
    expect(err.detail.length).toBeGreaterThan(10);
    model.dispose();
  });
});
