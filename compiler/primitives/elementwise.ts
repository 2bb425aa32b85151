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

/** The PyTorch side of a record: its equivalent, and the names PyTorch users write for it. */
interface TorchSide {
  readonly pytorch: string;
  readonly aliases?: readonly string[];
}

const elementwise = (name: string, doc: string, torch: TorchSide, symbol?: string): PrimitiveRecord => ({
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
  reference: {
    shape: 'a, b -> broadcast(a, b) (NumPy rules, aligned from the right)',
    macs: '0',
    pytorch: torch.pytorch,
  },
  torchAliases: torch.aliases ?? [],
});

const unary = (name: string, doc: string, torch: TorchSide, params: ParamSchema[] = []): PrimitiveRecord => ({
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
  reference: { shape: 'x -> x (same shape)', macs: '0', pytorch: torch.pytorch },
  torchAliases: torch.aliases ?? [],
});

/** Diagrams print the reduced axes of mean and sum. */
const AXES_LINE: DiagramRule = {
  settings: () => undefined,
  opLine: (a) => (Array.isArray(a.axes) ? `axes [${(a.axes as unknown[]).join(', ')}]` : undefined),
};

const reduction = (name: string, torch: TorchSide, diagram: DiagramRule = PLAIN): PrimitiveRecord => ({
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
  reference: {
    shape: 'x -> x without the reduced axes (`keep = true`: each reduced axis kept with size 1)',
    macs: '0',
    pytorch: torch.pytorch,
  },
  torchAliases: torch.aliases ?? [],
});

export const ELEMENTWISE: readonly PrimitiveRecord[] = [
  unary('gelu', 'exact (erf) GELU', { pytorch: '`F.gelu(x)`, `nn.GELU()`', aliases: ['GELU'] }),
  unary('relu', 'max(x, 0)', { pytorch: '`torch.relu(x)`, `nn.ReLU()`', aliases: ['ReLU'] }),
  unary('sigmoid', 'logistic sigmoid', { pytorch: '`torch.sigmoid(x)`, `nn.Sigmoid()`', aliases: ['Sigmoid'] }),
  unary('tanh', 'hyperbolic tangent', { pytorch: '`torch.tanh(x)`, `nn.Tanh()`', aliases: ['Tanh'] }),
  unary('relu6', 'min(max(x, 0), 6)', { pytorch: '`F.relu6(x)`, `nn.ReLU6()`', aliases: ['ReLU6'] }),
  unary('silu', 'x * sigmoid(x) (swish)', { pytorch: '`F.silu(x)`, `nn.SiLU()`', aliases: ['SiLU', 'swish'] }),
  unary('hardswish', 'x * relu6(x + 3) / 6', {
    pytorch: '`F.hardswish(x)`, `nn.Hardswish()`',
    aliases: ['Hardswish', 'hard_swish'],
  }),
  unary('hardsigmoid', 'relu6(x + 3) / 6', {
    pytorch: '`F.hardsigmoid(x)`, `nn.Hardsigmoid()`',
    aliases: ['Hardsigmoid', 'hard_sigmoid'],
  }),
  {
    ...unary(
      'leaky_relu',
      'x where x >= 0, negative_slope * x elsewhere',
      { pytorch: '`F.leaky_relu(x, negative_slope)`, `nn.LeakyReLU(negative_slope)`', aliases: ['LeakyReLU'] },
      [{ name: 'negative_slope', type: 'float', default: F(0.01), doc: 'slope for negative inputs' }],
    ),
    runtime: 'nv.leakyRelu',
    diagram: {
      settings: () => undefined,
      opLine: (a) => (a.negative_slope !== undefined ? `slope ${a.negative_slope}` : undefined),
    },
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.negative_slope ?? 0.01)]) },
  },
  unary('sqrt', 'element-wise square root', { pytorch: '`torch.sqrt(x)`' }),
  unary('rsqrt', 'element-wise 1 / sqrt(x)', { pytorch: '`torch.rsqrt(x)`' }),
  unary('square', 'element-wise x * x', { pytorch: '`torch.square(x)`' }),
  unary('exp', 'element-wise e^x', { pytorch: '`torch.exp(x)`' }),
  unary('log', 'element-wise natural logarithm', { pytorch: '`torch.log(x)`' }),
  unary('abs', 'element-wise absolute value', { pytorch: '`torch.abs(x)`' }),
  unary('neg', 'element-wise negation', { pytorch: '`torch.neg(x)`, `-x`', aliases: ['negative'] }),
  {
    ...unary(
      'softmax',
      'softmax along one axis',
      { pytorch: '`torch.softmax(x, dim = axis)`, `nn.Softmax(dim)`', aliases: ['Softmax'] },
      [{ name: 'axis', type: 'int', default: I(-1), doc: 'axis' }],
    ),
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
    ...unary(
      'drop_path',
      'stochastic depth: drops whole samples with probability `rate` while training',
      {
        pytorch: '`torchvision.ops.stochastic_depth(x, rate, "row", training)`, timm\'s `DropPath(rate)`',
        aliases: ['DropPath', 'StochasticDepth', 'stochastic_depth'],
      },
      [{ name: 'rate', type: 'float', default: F(0), min: 0, below: 1, doc: 'drop probability' }],
    ),
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
      { pytorch: 'none' },
    ),
    reference: { shape: '[B, H, W, C] -> [B, H, W, C]', macs: '0', pytorch: 'none (`nv.visible` in the torch target)' },
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
      { pytorch: "none (MinkowskiEngine's `MinkowskiGRN` pools like `batch`)" },
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
    ...unary(
      'dropout',
      'drops elements with probability `p` while training',
      {
        pytorch: '`F.dropout(x, p, training)`, `nn.Dropout(p)`',
        aliases: ['Dropout'],
      },
      [{ name: 'p', type: 'float', default: F(0), min: 0, below: 1, doc: 'drop probability' }],
    ),
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.p), 'ctx']) },
  },
  elementwise('add', 'a + b with broadcasting', { pytorch: '`a + b`, `torch.add(a, b)`' }, '+'),
  elementwise('sub', 'a - b with broadcasting', { pytorch: '`a - b`, `torch.sub`', aliases: ['subtract'] }, '−'),
  elementwise('mul', 'a * b with broadcasting', { pytorch: '`a * b`, `torch.mul(a, b)`', aliases: ['multiply'] }, '×'),
  elementwise(
    'div',
    'a / b with broadcasting',
    { pytorch: '`a / b`, `torch.div(a, b)`', aliases: ['divide', 'true_divide'] },
    '÷',
  ),
  elementwise('pow', 'a ** b with broadcasting', { pytorch: '`a ** b`, `torch.pow(a, b)`' }),
  reduction('mean', { pytorch: '`torch.mean(x, dim = axes, keepdim = keep)`' }, AXES_LINE),
  reduction('sum', { pytorch: '`torch.sum(x, dim = axes, keepdim = keep)`' }, AXES_LINE),
  reduction('max', { pytorch: '`torch.amax(x, dim = axes, keepdim = keep)`', aliases: ['amax'] }),
  reduction('min', { pytorch: '`torch.amin(x, dim = axes, keepdim = keep)`', aliases: ['amin'] }),
];
