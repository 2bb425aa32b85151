/**
 * Primitive records of the element-wise functions and reductions: activations, arithmetic with
 * broadcasting, softmax, stochastic depth and dropout, `visible`, mean/sum/max/min.
 * In: nothing. Out: `ELEMENTWISE`, their records (see types.ts for the fields). Holds
 * afterwards: each function's shape rule and tfjs lowering are here and nowhere else.
 */
import { semantic } from '../report.js';
import { type Dim, formatShape } from '../symbolic.js';
import {
  B,
  boolParam,
  broadcast,
  d,
  type DiagramRule,
  F,
  I,
  intListParam,
  intParam,
  normAxis,
  PLAIN,
  type ParamSchema,
  type PrimitiveRecord,
  tfjsCall,
  W,
} from './types.js';

const elementwise = (name: string, doc: string, symbol?: string): PrimitiveRecord => ({
  name,
  kind: 'function',
  irName: name,
  runtime: `nv.${name}`,
  inputs: ['a', 'b'],
  params: [],
  doc,
  shape: (s) => broadcast(s[0]!, s[1]!),
  diagram: symbol !== undefined ? { settings: () => undefined, symbol } : PLAIN,
  targets: { tfjs: tfjsCall() },
});

const unary = (name: string, doc: string, params: ParamSchema[] = []): PrimitiveRecord => ({
  name,
  kind: 'function',
  irName: name,
  runtime: `nv.${name}`,
  inputs: ['x'],
  params,
  doc,
  shape: (s) => s[0]!,
  diagram: PLAIN,
  targets: { tfjs: tfjsCall() },
});

/** Diagrams print the reduced axes of mean and sum. */
const AXES_LINE: DiagramRule = {
  settings: () => undefined,
  opLine: (a) => (Array.isArray(a.axes) ? `axes [${(a.axes as unknown[]).join(', ')}]` : undefined),
};

const reduction = (name: string, diagram: DiagramRule = PLAIN): PrimitiveRecord => ({
  name,
  kind: 'function',
  irName: name,
  runtime: `nv.${name}`,
  inputs: ['x'],
  params: [
    {
      name: 'axes',
      type: 'int[]',
      default: { kind: 'list', items: [I(-1)] },
      doc: 'axes to reduce (negative counts from the end)',
    },
    { name: 'keep', type: 'bool', default: B(false), doc: 'keep reduced axes with size 1' },
  ],
  doc: `${name} over the given axes`,
  shape(s, p) {
    const x = s[0]!;
    const axes = new Set<number>();
    for (const a of intListParam(p, 'axes')) {
      const n = normAxis(a, x.length);
      if (n === undefined)
        return {
          error: semantic('ShapeReduceAxis', { axis: a, rank: x.length, shape: formatShape(x) }),
          input: 0,
        };
      // The runtime would reduce a repeated axis twice; the rule would count it once.
      if (axes.has(n))
        return { error: semantic('ShapeReduceAxisRepeated', { axis: a, shape: formatShape(x) }), input: 0 };
      axes.add(n);
    }
    const keep = boolParam(p, 'keep');
    const out: Dim[] = [];
    x.forEach((dim, i) => {
      if (!axes.has(i)) out.push(dim);
      else if (keep) out.push(d(1));
    });
    return out;
  },
  diagram,
  targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.axes), l.value(l.attrs.keep)]) },
});

export const ELEMENTWISE: readonly PrimitiveRecord[] = [
  unary('gelu', 'exact (erf) GELU'),
  unary('relu', 'max(x, 0)'),
  unary('sigmoid', 'logistic sigmoid'),
  unary('tanh', 'hyperbolic tangent'),
  unary('sqrt', 'element-wise square root'),
  unary('rsqrt', 'element-wise 1 / sqrt(x)'),
  unary('square', 'element-wise x * x'),
  unary('exp', 'element-wise e^x'),
  unary('log', 'element-wise natural logarithm'),
  unary('abs', 'element-wise absolute value'),
  unary('neg', 'element-wise negation'),
  {
    ...unary('softmax', 'softmax along one axis', [{ name: 'axis', type: 'int', default: I(-1), doc: 'axis' }]),
    shape([x], p) {
      if (normAxis(intParam(p, 'axis'), x!.length) === undefined)
        return {
          error: semantic('ShapeAxisOutOfRange', { axis: intParam(p, 'axis'), shape: formatShape(x!) }),
          input: 0,
        };
      return x!;
    },
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.axis)]) },
  },
  {
    ...unary('drop_path', 'stochastic depth: drops whole samples with probability `rate` while training', [
      { name: 'rate', type: 'float', default: F(0), min: 0, below: 1, doc: 'drop probability' },
    ]),
    runtime: 'nv.dropPath',
    diagram: { settings: () => undefined, opLine: (a) => (a.rate !== undefined ? `rate ${a.rate}` : undefined) },
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.rate), 'ctx']) },
  },
  {
    ...unary(
      'visible',
      'x with the removed positions of the patch mask set to zero while a stage has a mask policy, x itself ' +
        'otherwise: statistics that must see only visible positions (GRN) and the masked-zero invariant of ' +
        'sparse execution use it',
    ),
    shape: ([x]) =>
      x!.length === 4 ? x! : { error: semantic('ShapeVisibleNeedsNHWC', { shape: formatShape(x!) }), input: 0 },
    targets: { tfjs: tfjsCall(() => ['ctx']) },
  },
  {
    ...unary(
      'masked_statistics',
      "statistics [B, ...] as a stage with a mask policy pools them: `sample` keeps each sample's own, " +
        '`batch` sums them over the batch and gives every sample the total (MinkowskiGRN pools every visible ' +
        'position of the batch); x itself without a mask policy',
      [
        {
          name: 'pooling',
          type: 'enum',
          enumValues: ['sample', 'batch'],
          default: W('sample'),
          doc: '`sample` or `batch`',
        },
      ],
    ),
    runtime: 'nv.maskedStatistics',
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.pooling), 'ctx']) },
  },
  {
    ...unary('dropout', 'drops elements with probability `p` while training', [
      { name: 'p', type: 'float', default: F(0), min: 0, below: 1, doc: 'drop probability' },
    ]),
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.p), 'ctx']) },
  },
  elementwise('add', 'a + b with broadcasting', '+'),
  elementwise('sub', 'a - b with broadcasting', '−'),
  elementwise('mul', 'a * b with broadcasting', '×'),
  elementwise('div', 'a / b with broadcasting', '÷'),
  elementwise('pow', 'a ** b with broadcasting'),
  reduction('mean', AXES_LINE),
  reduction('sum', AXES_LINE),
  reduction('max'),
  reduction('min'),
];
