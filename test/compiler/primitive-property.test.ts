/**
 * Property: for every primitive record and parameter values its schema allows (sampled with
 * fast-check, out-of-range values and mismatched inputs included), `nvcc check` accepts the
 * one-primitive program exactly when `nvcc build` builds it, and the built model then runs one
 * forward pass (cpu backend, tiny shapes) whose output has the shape check inferred.
 *
 * Check is the in-process compile (`compileProgramSync`, the tfjs target, as `nvcc check`).
 * The inferred output shape is what check reports: a case is first checked with a wrong return
 * annotation, and the shape it says the forward returns is the annotation of the real case.
 * Accepted cases are built together (one model per case, in chunks), refused cases one by one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, loadBuiltProgram } from '../../compiler/builder/build.js';
import { compileProgramSync } from '../../compiler/pipeline.js';
import {
  BINARY_PRIMITIVE,
  PRIMITIVES,
  type ParamSchema,
  type PrimitiveRecord,
} from '../../compiler/primitives/index.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshRepoDir, removeRepoDirs } from '../builder/helpers.js';

/** Samples per record; 45 records x 50 = 2,250 cases. */
const PER_RECORD = 50;

/** A parameter value as .nvc text, or undefined to leave it at its default. */
type Args = Record<string, string | undefined>;

interface Case {
  readonly prim: PrimitiveRecord;
  readonly args: Args;
  readonly inputs: readonly (readonly number[])[];
}

const list = (xs: readonly number[]) => `[${xs.join(', ')}]`;

/** Values of one parameter by its schema type: in range, just outside it, and the default. */
function sampledValue(p: ParamSchema): fc.Arbitrary<string | undefined> {
  const lo = p.min ?? (p.above !== undefined ? p.above : -1);
  let v: fc.Arbitrary<string>;
  switch (p.type) {
    case 'int':
      v = fc.integer({ min: Math.floor(lo) - 1, max: Math.floor(lo) + 4 }).map(String);
      break;
    case 'float':
      v = fc.constantFrom('-0.5', '0.0', '0.1', '0.5', '1.0', '1e-6');
      break;
    case 'bool':
      v = fc.constantFrom('true', 'false');
      break;
    case 'enum':
      v = fc.constantFrom(...(p.enumValues ?? []), 'bogus');
      break;
    case 'int[]':
      v = fc.array(fc.integer({ min: -4, max: 3 }), { minLength: 0, maxLength: 3 }).map(list);
      break;
    case 'size':
      v = fc.oneof(
        fc.integer({ min: Math.floor(lo) - 1, max: Math.floor(lo) + 3 }).map(String),
        fc
          .array(fc.integer({ min: Math.floor(lo) - 1, max: Math.floor(lo) + 3 }), { minLength: 1, maxLength: 4 })
          .map(list),
        fc.constantFrom(...(p.enumValues ?? []), 'bogus'),
      );
      break;
    default:
      v = fc.constant('0');
  }
  return p.default !== undefined ? fc.option(v, { nil: undefined, freq: 3 }) : v;
}

/** Arguments from the schema, with some parameters fixed by the record's input generator. */
function argsOf(prim: PrimitiveRecord, fixed: Readonly<Record<string, fc.Arbitrary<string | undefined>>> = {}) {
  const entries = prim.params.map((p) => [p.name, fixed[p.name] ?? sampledValue(p)] as const);
  return fc.record(Object.fromEntries(entries)) as fc.Arbitrary<Args>;
}

const small = (min: number, max: number) => fc.integer({ min, max });
const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);

/**
 * Per record: its arguments and input shapes. Channel arguments usually match the input (a
 * mismatch is a refusal check must report, and is sampled too).
 */
function casesOf(prim: PrimitiveRecord): fc.Arbitrary<Case> {
  const one = (args: fc.Arbitrary<Args>, inputs: (a: Args) => fc.Arbitrary<number[][]>) =>
    args.chain((a) => inputs(a).map((ins) => ({ prim, args: a, inputs: ins })));
  const channels = (name: string, a: Args) =>
    fc.oneof({ weight: 5, arbitrary: fc.constant(Number(a[name])) }, { weight: 1, arbitrary: small(1, 4) });
  const generic = (shapes: fc.Arbitrary<number[][]>) => one(argsOf(prim), () => shapes);
  switch (prim.name) {
    case 'Conv2d':
      return one(argsOf(prim, { in: small(1, 4).map(String), out: small(1, 4).map(String) }), (a) =>
        fc.tuple(channels('in', a), small(3, 6)).map(([c, s]) => [[1, s, s, c]]),
      );
    case 'DepthwiseConv2d':
      return one(argsOf(prim, { dim: small(1, 4).map(String) }), (a) =>
        fc.tuple(channels('dim', a), small(3, 6)).map(([c, s]) => [[1, s, s, c]]),
      );
    case 'Linear':
      return one(argsOf(prim, { in: small(1, 4).map(String), out: small(1, 4).map(String) }), (a) =>
        channels('in', a).map((c) => [[1, 3, c]]),
      );
    case 'LayerNorm':
      return one(argsOf(prim, { dim: small(1, 4).map(String) }), (a) => channels('dim', a).map((c) => [[1, 3, c]]));
    case 'BatchNorm2d':
      return one(argsOf(prim, { dim: small(1, 4).map(String) }), (a) =>
        fc.tuple(channels('dim', a), small(1, 4), pick(3, 4)).map(([c, s, r]) => [r === 4 ? [1, s, s, c] : [1, s, c]]),
      );
    case 'BatchNorm1d':
      return one(argsOf(prim, { dim: small(1, 4).map(String) }), (a) =>
        fc
          .tuple(channels('dim', a), pick(2, 3, 4))
          .map(([c, r]) => [r === 2 ? [1, c] : r === 3 ? [1, 3, c] : [1, 2, 2, c]]),
      );
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
    case 'pow':
      return generic(pick([1, 3, 4], [4], [1, 3, 1], [3, 4], [2, 4]).map((b) => [[1, 3, 4], b]));
    case 'visible':
    case 'patch_mask':
    case 'tokens':
    case 'global_avg_pool':
    case 'global_max_pool':
    case 'roll':
      return generic(pick([[1, 2, 3, 4]], [[1, 3, 4]], [[1, 4, 4, 2]]));
    case 'reshape':
      return one(argsOf(prim, { shape: pick([1, 12], [1, 4, 3], [12], [1, 5, 2], [2, 6]).map(list) }), () =>
        fc.constant([[1, 3, 4]]),
      );
    case 'transpose':
      return one(argsOf(prim, { perm: pick([0, 1, 2], [0, 2, 1], [2, 1, 0], [0, 1], [0, 0, 1]).map(list) }), () =>
        fc.constant([[1, 3, 4]]),
      );
    case 'untokens':
      return one(argsOf(prim, { shape: pick([1, 2, 3, 4], [1, 3, 2, 4], [1, 2, 2, 4], [1, 6, 4]).map(list) }), () =>
        fc.constant([[1, 6, 4]]),
      );
    case 'matmul':
      return generic(
        pick(
          [
            [1, 3, 4],
            [1, 4, 2],
          ],
          [
            [1, 3, 4],
            [1, 2, 4],
          ],
          [
            [1, 4, 3],
            [1, 4, 2],
          ],
          [
            [2, 3],
            [3, 5],
          ],
          [[1, 3, 4], [4]],
        ),
      );
    case 'concat':
      return generic(
        pick(
          [
            [1, 3, 4],
            [1, 3, 2],
          ],
          [
            [1, 3, 4],
            [1, 2, 4],
          ],
          [
            [1, 3],
            [1, 3],
            [1, 3],
          ],
        ),
      );
    case 'slice':
      return generic(pick([[1, 5, 4]], [[1, 2, 3, 4]]));
    case 'patchify':
      return generic(pick([[1, 4, 4, 2]], [[1, 6, 6, 1]], [[1, 3, 4]]));
    case 'unpatchify':
      return one(argsOf(prim, { grid: pick([2, 2], [1, 4], [4, 1], [3, 3], [4]).map(list) }), () =>
        pick([[1, 4, 8]], [[1, 4, 4]], [[1, 4, 18]]),
      );
    case 'ConvTranspose2d':
      return one(argsOf(prim, { in: small(1, 4).map(String), out: small(1, 4).map(String) }), (a) =>
        fc.tuple(channels('in', a), small(1, 4)).map(([c, s]) => [[1, s, s, c]]),
      );
    case 'GroupNorm':
      return one(argsOf(prim, { groups: small(0, 3).map(String), dim: pick('2', '4', '6') }), (a) =>
        fc.tuple(channels('dim', a), pick(3, 4)).map(([c, r]) => [r === 4 ? [1, 2, 3, c] : [1, 3, c]]),
      );
    case 'InstanceNorm2d':
      return one(argsOf(prim, { dim: small(1, 4).map(String) }), (a) =>
        fc.tuple(channels('dim', a), pick(3, 4)).map(([c, r]) => [r === 4 ? [1, 2, 3, c] : [1, 3, c]]),
      );
    case 'upsample_bilinear':
      return generic(pick([[1, 2, 2, 3]], [[1, 3, 1, 2]], [[1, 3, 4]]));
    case 'expand':
      return one(
        argsOf(prim, { shape: pick([2, 1, 4], [1, 3, 4], [2, 3, 4], [3, 4], [1, 5, 4], [2, 1, -1]).map(list) }),
        () => pick([[1, 1, 4]], [[1, 3, 1]], [[3, 4]]),
      );
    case 'MaxPool2d':
    case 'AvgPool2d':
    case 'AdaptiveAvgPool2d':
      return generic(pick([[1, 5, 5, 2]], [[1, 2, 3, 1]], [[1, 6, 4, 2]], [[1, 3, 4]]));
    case 'upsample_nearest':
      return generic(pick([[1, 2, 2, 3]], [[1, 3, 1, 2]]));
    case 'attention':
      return generic(
        pick(
          [
            [1, 3, 4],
            [1, 5, 4],
            [1, 5, 6],
          ],
          [
            [1, 3, 6],
            [1, 2, 6],
            [1, 2, 2],
          ],
          [
            [1, 3, 4],
            [1, 5, 3],
            [1, 5, 6],
          ],
          [
            [1, 3, 4],
            [1, 5, 4],
            [1, 4, 6],
          ],
        ),
      );
    case 'relative_position_bias':
      return one(argsOf(prim, { window: small(0, 3).map(String) }), () => pick([[1, 2]], [[9, 2]], [[25, 2]]));
    case 'shift_window_mask':
      return generic(pick([[1, 4, 4, 2]], [[1, 6, 6, 1]], [[1, 4, 6, 2]]));
    default:
      // Element-wise functions, reductions, softmax, dropout, drop_path, Identity.
      return generic(pick([[1, 3, 4]], [[1, 2, 3, 4]], [[4]]));
  }
}

/** The case as a model: a layer member applied to the inputs, or the function called on them. */
function programText(c: Case, name: string, returns: string): string {
  const ins = c.inputs.map((s, i) => `x${i}: ${list(s)}`).join(', ');
  const args = Object.entries(c.args)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} = ${v}`);
  const xs = c.inputs.map((_, i) => `x${i}`);
  if (c.prim.kind === 'layer')
    return (
      `model ${name}() {\n  l = ${c.prim.name}(${args.join(', ')})\n  forward(${ins}) -> ${returns} { ` +
      `return l(${xs.join(', ')}) }\n}\n`
    );
  // The arithmetic records are reached through their operators (`div` is not a callable name).
  const operator = Object.entries(BINARY_PRIMITIVE).find(([, name]) => name === c.prim.name)?.[0];
  if (operator !== undefined)
    return `model ${name}() {\n  forward(${ins}) -> ${returns} { return x0 ${operator} x1 }\n}\n`;
  const tensors = c.prim.inputs[0]?.endsWith('...') ? [`[${xs.join(', ')}]`] : xs;
  return (
    `model ${name}() {\n  forward(${ins}) -> ${returns} { return ` +
    `${c.prim.name}(${[...tensors, ...args].join(', ')}) }\n}\n`
  );
}

const FOUND = /^forward returns (\[[^\]]*\]) but declares/;

/** Check's verdict: the output shape it inferred, or the errors it reported. */
function check(c: Case, dir: string, index: number): { text: string; shape?: number[]; errors?: string[] } {
  const file = path.join(dir, `case${index}.nvc`);
  const probe = programText(c, 'Case', '[999]');
  const first = compileProgramSync(file, { text: probe });
  const errors = first.diagnostics.filter((d) => d.severity === 'error');
  const found = errors.length === 1 && errors[0]!.code === 'NVC3003' ? FOUND.exec(errors[0]!.message) : null;
  if (!found) return { text: probe, errors: errors.map((d) => `${d.code} ${d.message}`) };
  const text = programText(c, 'Case', found[1]!);
  const second = compileProgramSync(file, { text });
  const again = second.diagnostics.filter((d) => d.severity === 'error');
  if (again.length) return { text, errors: again.map((d) => `${d.code} ${d.message}`) };
  return { text, shape: JSON.parse(found[1]!) as number[] };
}

afterAll(() => removeRepoDirs());

describe('primitive records: check accepts <=> build succeeds and runs with the inferred shapes', () => {
  it(`holds for ${PER_RECORD} sampled argument sets of every record`, { timeout: 1_200_000 }, async () => {
    const dir = freshRepoDir();
    const cases: Case[] = [];
    let seed = 12;
    for (const prim of PRIMITIVES.values())
      cases.push(...fc.sample(casesOf(prim), { numRuns: PER_RECORD, seed: seed++ }));
    // Cases the tfjs runtime refused before issue 14 (grouped, depthwise-grouped and strided
    // depthwise convolutions), and PyTorch's padding and dilation, always in.
    const conv = PRIMITIVES.get('Conv2d')!;
    const depthwise = PRIMITIVES.get('DepthwiseConv2d')!;
    cases.push(
      { prim: conv, args: { in: '4', out: '4', kernel: '3', groups: '2' }, inputs: [[1, 5, 5, 4]] },
      { prim: conv, args: { in: '4', out: '4', kernel: '3', groups: '4' }, inputs: [[1, 5, 5, 4]] },
      { prim: depthwise, args: { dim: '4', kernel: '3', stride: '2' }, inputs: [[1, 5, 5, 4]] },
      { prim: conv, args: { in: '2', out: '4', kernel: '1', stride: '2' }, inputs: [[1, 5, 6, 2]] },
      {
        prim: conv,
        args: { in: '2', out: '2', kernel: '3', padding: '[0, 1, 2, 1]', dilation: '2' },
        inputs: [[1, 6, 5, 2]],
      },
      { prim: depthwise, args: { dim: '3', kernel: '3', stride: '2', padding: '1' }, inputs: [[1, 7, 6, 3]] },
    );
    expect(cases.length).toBeGreaterThanOrEqual(2_000);

    const accepted: { c: Case; shape: number[]; index: number }[] = [];
    const refused: { c: Case; text: string; errors: string[] }[] = [];
    cases.forEach((c, index) => {
      const r = check(c, dir, index);
      if (r.shape) accepted.push({ c, shape: r.shape, index });
      else refused.push({ c, text: r.text, errors: r.errors! });
    });
    // Both sides of the property are exercised for every record with parameters or inputs to get wrong.
    for (const prim of PRIMITIVES.values())
      expect(
        accepted.some((a) => a.c.prim === prim),
        `${prim.name}: no sampled case is accepted`,
      ).toBe(true);
    expect(refused.length).toBeGreaterThan(200);

    // Refused by check => refused by build (each on its own: build checks first and writes nothing).
    for (const [i, r] of refused.entries()) {
      const file = path.join(dir, `refused${i}.nvc`);
      fs.writeFileSync(file, r.text);
      const built = await buildProgram(file, { outDir: path.join(dir, `refused${i}`), force: true });
      expect(built.ok, `${r.text}\n${r.errors.join('\n')}`).toBe(false);
      expect(fs.existsSync(path.join(dir, `refused${i}`, 'manifest.json'))).toBe(false);
    }

    // Accepted by check => built (in chunks of one model per case) and one forward pass has the inferred shape.
    await cpuSeeded(4);
    for (let start = 0; start < accepted.length; start += 300) {
      const chunk = accepted.slice(start, start + 300);
      const text = chunk.map((a) => programText(a.c, `Case${a.index}`, list(a.shape))).join('\n');
      const file = path.join(dir, `accepted${start}.nvc`);
      fs.writeFileSync(file, text);
      const loaded = await loadBuiltProgram(file, { outDir: path.join(dir, `accepted${start}`), force: true });
      for (const a of chunk) {
        const model = loaded.modelFactories[`Case${a.index}`]!.create();
        try {
          const where = programText(a.c, `Case${a.index}`, list(a.shape));
          let shape: number[];
          try {
            shape = nv.tf.tidy(() => {
              const inputs = Object.fromEntries(a.c.inputs.map((s, i) => [`x${i}`, nv.tf.randomNormal([...s])]));
              const out = model.forward({ training: false, rng: nv.createRng(5) }, inputs);
              return (out instanceof nv.tf.Tensor ? out : Object.values(out)[0]!).shape;
            });
          } catch (err) {
            throw new Error(`${where}: ${(err as Error).message}`);
          }
          expect(shape, where).toEqual(a.shape);
        } finally {
          model.dispose();
        }
      }
    }
  });
});
