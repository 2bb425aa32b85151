/**
 * Primitive records of the tensor functions that move, combine or attend over tensors
 * (reshape, tokens, pools, matmul, concat, patches, attention, Swin's window helpers, the patch
 * mask).
 * In: nothing. Out: `TENSOR_FUNCTIONS`, their records (see types.ts for the fields). Holds
 * afterwards: each function's shape rule, MACs and tfjs lowering are here and nowhere else.
 */
import { semantic } from '../report.js';
import {
  dimAdd,
  dimDiv,
  dimMul,
  formatShape,
  isExactInteger,
  type Shape,
  shapeSize,
  shapesEqual,
} from '../symbolic.js';
import {
  always,
  B,
  boolParam,
  broadcast,
  d,
  I,
  intListParam,
  intParam,
  normAxis,
  PLAIN,
  type PrimitiveRecord,
  rankError,
  shapeParam,
  tfjsCall,
  ZERO,
} from './types.js';

export const TENSOR_FUNCTIONS: readonly PrimitiveRecord[] = [
  {
    name: 'reshape',
    kind: 'function',
    irName: 'reshape',
    runtime: 'nv.reshape',
    inputs: ['x'],
    params: [{ name: 'shape', type: 'shape', doc: 'the new shape; dims may be symbolic (`[B, 1, 256]`)' }],
    doc: 'reshape keeping the element count',
    shape([x], p) {
      const target = shapeParam(p, 'shape');
      if (!shapeSize(target).equals(shapeSize(x!)))
        return {
          error: semantic('ShapeReshapeSize', {
            from: formatShape(x!),
            fromSize: String(shapeSize(x!)),
            to: formatShape(target),
            toSize: String(shapeSize(target)),
          }),
          input: 0,
        };
      return target;
    },
    reference: { shape: 'x -> shape (same element count)', macs: '0', pytorch: '`x.reshape(*shape)`' },
    torchAliases: ['view'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [`[${l.out.map(l.dim).join(', ')}]`]) },
  },
  {
    name: 'transpose',
    kind: 'function',
    irName: 'transpose',
    runtime: 'nv.permute',
    inputs: ['x'],
    params: [{ name: 'perm', type: 'int[]', doc: 'permutation of the axes' }],
    doc: 'permute axes',
    shape([x], p) {
      const perm = intListParam(p, 'perm');
      const sorted = [...perm].sort((a, b) => a - b);
      if (perm.length !== x!.length || sorted.some((v, i) => v !== i))
        return {
          error: semantic('ShapeNotPermutation', {
            perm: JSON.stringify(perm),
            rank: x!.length,
            shape: formatShape(x!),
          }),
          input: 0,
        };
      return perm.map((i) => x![i]!);
    },
    reference: { shape: 'x -> [x[perm[0]], x[perm[1]], ...]', macs: '0', pytorch: '`x.permute(*perm)`' },
    torchAliases: ['permute'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.perm)]) },
  },
  {
    name: 'tokens',
    kind: 'function',
    irName: 'tokens',
    runtime: 'nv.tokens',
    inputs: ['x'],
    params: [],
    doc: '[B, H, W, C] -> [B, H * W, C] (row-major)',
    shape([x]) {
      if (x!.length !== 4) return rankError('tokens', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, dimMul(x![1]!, x![2]!), x![3]!];
    },
    reference: { shape: '[B, H, W, C] -> [B, H * W, C]', macs: '0', pytorch: '`x.flatten(1, 2)` (NHWC)' },
    torchAliases: ['flatten'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall() },
  },
  {
    name: 'untokens',
    kind: 'function',
    irName: 'untokens',
    runtime: 'nv.untokens',
    inputs: ['x'],
    params: [{ name: 'shape', type: 'shape', doc: 'the grid shape [B, H, W, C]' }],
    doc: '[B, H * W, C] -> [B, H, W, C]',
    shape([x], p) {
      const t = shapeParam(p, 'shape');
      if (x!.length !== 3)
        return rankError(
          'untokens',
          'a 3-D [B, N, C] token input',
          x!,
          0,
          x!.length === 4 ? 'the input is already a grid; drop `untokens`' : undefined,
        );
      if (t.length !== 4) return { error: semantic('ShapeUntokensTarget', { shape: formatShape(t) }) };
      const want: Shape = [t[0]!, dimMul(t[1]!, t[2]!), t[3]!];
      if (!shapesEqual(want, x!))
        return {
          error: semantic('ShapeUntokensTokens', {
            target: formatShape(t),
            expected: formatShape(want),
            found: formatShape(x!),
          }),
          input: 0,
        };
      return t;
    },
    reference: {
      shape: '[B, H * W, C] -> shape = [B, H, W, C]',
      macs: '0',
      pytorch: '`x.unflatten(1, (H, W))` (NHWC)',
    },
    torchAliases: ['unflatten'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.dim(l.out[1]!), l.dim(l.out[2]!)]) },
  },
  {
    name: 'global_avg_pool',
    kind: 'function',
    irName: 'global_avg_pool',
    runtime: 'nv.globalAvgPool',
    inputs: ['x'],
    params: [],
    doc: '[B, H, W, C] -> [B, C] (mean over H and W)',
    shape([x]) {
      if (x!.length !== 4) return rankError('global_avg_pool', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, x![3]!];
    },
    reference: {
      shape: '[B, H, W, C] -> [B, C]',
      macs: '0',
      pytorch: '`x.mean(dim = (1, 2))` on NHWC; `nn.AdaptiveAvgPool2d(1)` then `flatten(1)` on NCHW',
    },
    torchAliases: ['AdaptiveAvgPool2d', 'adaptive_avg_pool2d'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall() },
  },
  {
    name: 'global_max_pool',
    kind: 'function',
    irName: 'global_max_pool',
    runtime: 'nv.globalMaxPool',
    inputs: ['x'],
    params: [],
    doc: '[B, H, W, C] -> [B, C] (max over H and W)',
    shape([x]) {
      if (x!.length !== 4) return rankError('global_max_pool', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, x![3]!];
    },
    reference: {
      shape: '[B, H, W, C] -> [B, C]',
      macs: '0',
      pytorch: '`x.amax(dim = (1, 2))` on NHWC; `nn.AdaptiveMaxPool2d(1)` then `flatten(1)` on NCHW',
    },
    torchAliases: ['AdaptiveMaxPool2d', 'adaptive_max_pool2d'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall() },
  },
  {
    name: 'matmul',
    kind: 'function',
    irName: 'matmul',
    runtime: 'nv.matmul',
    inputs: ['a', 'b'],
    params: [
      { name: 'transpose_a', type: 'bool', default: B(false), doc: 'use a with its last two axes swapped' },
      { name: 'transpose_b', type: 'bool', default: B(false), doc: 'use b with its last two axes swapped' },
    ],
    doc: 'batched matrix product over the last two axes',
    shape([a, b], p) {
      if (a!.length < 2) return rankError('matmul', 'at least 2-D operands', a!, 0);
      if (b!.length < 2) return rankError('matmul', 'at least 2-D operands', b!, 1);
      const ta = boolParam(p, 'transpose_a');
      const tb = boolParam(p, 'transpose_b');
      const [m, ka] = ta ? [a![a!.length - 1]!, a![a!.length - 2]!] : [a![a!.length - 2]!, a![a!.length - 1]!];
      const [kb, n] = tb ? [b![b!.length - 1]!, b![b!.length - 2]!] : [b![b!.length - 2]!, b![b!.length - 1]!];
      if (!ka.equals(kb))
        return {
          error: semantic('ShapeMatmulInner', {
            left: String(ka),
            right: String(kb),
            leftShape: formatShape(a!),
            rightShape: formatShape(b!),
          }),
          input: 1,
          help: 'transpose one operand with `transpose_a` / `transpose_b`',
        };
      const batch = broadcast(a!.slice(0, -2), b!.slice(0, -2));
      if ('error' in batch) return batch;
      return [...batch, m, n];
    },
    macs([a], out, p) {
      const k = boolParam(p, 'transpose_a') ? a![a!.length - 2]! : a![a!.length - 1]!;
      return dimMul(shapeSize(out), k);
    },
    reference: {
      shape:
        'a [..., M, K], b [..., K, N] -> [broadcast(...), M, N] ' +
        '(`transpose_a` / `transpose_b` swap the last two axes first)',
      macs: '(elements of the output) * K',
      pytorch: '`torch.matmul(a, b)` (with `.transpose(-2, -1)` for the flags)',
    },
    torchAliases: ['bmm', 'mm'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.transpose_a), l.value(l.attrs.transpose_b)]) },
  },
  {
    name: 'concat',
    kind: 'function',
    irName: 'concat',
    runtime: 'nv.concat',
    inputs: ['xs...'],
    params: [{ name: 'axis', type: 'int', default: I(-1), doc: 'axis to join along' }],
    doc: 'joins tensors along one axis',
    shape(xs, p) {
      const first = xs[0]!;
      const axis = normAxis(intParam(p, 'axis'), first.length);
      if (axis === undefined)
        return {
          error: semantic('ShapeAxisOutOfRange', { axis: intParam(p, 'axis'), shape: formatShape(first) }),
          input: 0,
        };
      let size = ZERO;
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        if (x.length !== first.length || x.some((dim, j) => j !== axis && !dim.equals(first[j]!)))
          return {
            error: semantic('ShapeConcatAxes', {
              axis: intParam(p, 'axis'),
              first: formatShape(first),
              other: formatShape(x),
            }),
            input: i,
          };
        size = dimAdd(size, x[axis]!);
      }
      return first.map((dim, j) => (j === axis ? size : dim));
    },
    reference: {
      shape: 'xs [..., n_i, ...] (equal elsewhere) -> [..., sum of n_i, ...] along `axis`',
      macs: '0',
      pytorch: '`torch.cat(xs, dim = axis)`',
    },
    torchAliases: ['cat'],
    diagram: PLAIN,
    targets: {
      tfjs: {
        supports: always,
        lower: { kind: 'call', call: (l) => `${l.rt}([${l.args.join(', ')}], ${l.value(l.attrs.axis)})` },
      },
    },
  },
  {
    name: 'slice',
    kind: 'function',
    irName: 'slice',
    runtime: 'nv.slice',
    inputs: ['x'],
    params: [
      { name: 'axis', type: 'int', doc: 'axis' },
      { name: 'start', type: 'int', min: 0, doc: 'first index' },
      { name: 'end', type: 'int', min: 0, doc: 'one past the last index' },
    ],
    doc: 'x[start:end] along one axis',
    shape([x], p) {
      const axis = normAxis(intParam(p, 'axis'), x!.length);
      if (axis === undefined)
        return {
          error: semantic('ShapeAxisOutOfRange', { axis: intParam(p, 'axis'), shape: formatShape(x!) }),
          input: 0,
        };
      const start = intParam(p, 'start');
      const end = intParam(p, 'end');
      const size = x![axis]!.asInt();
      if (end <= start || (size !== undefined && end > size))
        return { error: semantic('ShapeSliceEmpty', { start, end, axis, shape: formatShape(x!) }), input: 0 };
      return x!.map((dim, j) => (j === axis ? d(end - start) : dim));
    },
    reference: {
      shape: 'x -> x with `end - start` along `axis` (0 <= start < end <= size)',
      macs: '0',
      pytorch: '`x.narrow(axis, start, end - start)`, `x[..., start:end, ...]`',
    },
    torchAliases: ['narrow'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.axis), l.value(l.attrs.start), l.value(l.attrs.end)]) },
  },
  {
    name: 'patchify',
    kind: 'function',
    irName: 'patchify',
    runtime: 'nv.patchify',
    inputs: ['x'],
    params: [{ name: 'patch', type: 'int', min: 1, doc: 'patch side' }],
    doc: '[B, H, W, C] -> [B, (H / p) * (W / p), p * p * C], patches row-major, (row, col, channel) inside',
    shape([x], p) {
      if (x!.length !== 4) return rankError('patchify', 'a 4-D [B, H, W, C] input', x!);
      const pp = intParam(p, 'patch');
      const h = dimDiv(x![1]!, d(pp))!;
      const w = dimDiv(x![2]!, d(pp))!;
      if ((h.isConstant() && !isExactInteger(h)) || (w.isConstant() && !isExactInteger(w)))
        return {
          error: semantic('ShapePatchNotDividing', { patch: pp, height: String(x![1]), width: String(x![2]) }),
          input: 0,
        };
      return [x![0]!, dimMul(h, w), dimMul(d(pp * pp), x![3]!)];
    },
    reference: {
      shape: '[B, H, W, C] -> [B, (H / p) * (W / p), p * p * C] (p divides H and W)',
      macs: '0',
      pytorch: "`einops.rearrange(x, 'b (h p) (w q) c -> b (h w) (p q c)', p = p, q = p)` (NHWC)",
    },
    torchAliases: [],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.patch)]) },
  },
  {
    name: 'unpatchify',
    kind: 'function',
    irName: 'unpatchify',
    runtime: 'nv.unpatchify',
    inputs: ['x'],
    params: [
      { name: 'patch', type: 'int', min: 1, doc: 'patch side' },
      { name: 'grid', type: 'shape', doc: 'patch grid [h, w]' },
    ],
    doc: '[B, h * w, p * p * C] -> [B, h * p, w * p, C]',
    shape([x], p) {
      const pp = intParam(p, 'patch');
      const g = shapeParam(p, 'grid');
      if (x!.length !== 3) return rankError('unpatchify', 'a 3-D [B, L, p * p * C] input', x!);
      if (g.length !== 2) return { error: semantic('ShapeGridNotPair') };
      if (!dimMul(g[0]!, g[1]!).equals(x![1]!))
        return {
          error: semantic('ShapeGridPatches', {
            grid: formatShape(g),
            patches: String(dimMul(g[0]!, g[1]!)),
            tokens: String(x![1]),
          }),
          input: 0,
        };
      const c = dimDiv(x![2]!, d(pp * pp))!;
      if (c.isConstant() && !isExactInteger(c))
        return { error: semantic('ShapePatchValues', { values: String(x![2]), patch: pp }), input: 0 };
      return [x![0]!, dimMul(g[0]!, d(pp)), dimMul(g[1]!, d(pp)), c];
    },
    reference: {
      shape: '[B, h * w, p * p * C] -> [B, h * p, w * p, C] with grid = [h, w]',
      macs: '0',
      pytorch: "`einops.rearrange(x, 'b (h w) (p q c) -> b (h p) (w q) c', h = h, p = p, q = p)` (NHWC)",
    },
    torchAliases: [],
    diagram: PLAIN,
    targets: {
      tfjs: tfjsCall((l) => [
        l.value(l.attrs.patch),
        l.dim(l.out[1]!) + ` / ${l.value(l.attrs.patch)}`,
        l.dim(l.out[2]!) + ` / ${l.value(l.attrs.patch)}`,
        l.dim(l.out[3]!),
      ]),
    },
  },
  {
    name: 'upsample_nearest',
    kind: 'function',
    irName: 'upsample_nearest',
    runtime: 'nv.upsampleNearest',
    inputs: ['x'],
    params: [{ name: 'scale', type: 'int', min: 1, doc: 'integer scale factor' }],
    doc: '[B, H, W, C] -> [B, H * s, W * s, C]',
    shape([x], p) {
      if (x!.length !== 4) return rankError('upsample_nearest', 'a 4-D [B, H, W, C] input', x!);
      const s = d(intParam(p, 'scale'));
      return [x![0]!, dimMul(x![1]!, s), dimMul(x![2]!, s), x![3]!];
    },
    reference: {
      shape: '[B, H, W, C] -> [B, H * scale, W * scale, C]',
      macs: '0',
      pytorch: '`F.interpolate(x, scale_factor = scale, mode = "nearest")`, `nn.Upsample(scale_factor = scale)` (NCHW)',
    },
    torchAliases: ['Upsample', 'UpsamplingNearest2d', 'interpolate'],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.scale)]) },
  },
  {
    name: 'attention',
    kind: 'function',
    irName: 'attention',
    runtime: 'nv.multiHeadAttention',
    inputs: ['q', 'k', 'v'],
    params: [
      { name: 'heads', type: 'int', default: I(1), min: 1, doc: 'number of heads; must divide the feature width' },
    ],
    doc:
      'multi-head scaled dot-product attention: q [B, N, D], k [B, M, D], v [B, M, Dv] -> [B, N, Dv]. ' +
      'Splits D and Dv into `heads`, softmax(q k^T / sqrt(D / heads)) v per head, merges heads. ' +
      'The runtime lowers it to reshape + matmul(transpose_b) + softmax + matmul.',
    shape([q, k, v], p) {
      if (q!.length !== 3)
        return rankError(
          'attention',
          'token queries [B, N, D]',
          q!,
          0,
          q!.length === 4 ? 'insert `tokens(...)` to turn the grid into tokens' : undefined,
        );
      if (k!.length !== 3)
        return rankError(
          'attention',
          'token keys [B, M, D]',
          k!,
          1,
          k!.length === 4
            ? 'insert `tokens(...)`'
            : k!.length === 2
              ? 'insert `reshape([B, 1, ...])` to make one token'
              : undefined,
        );
      if (v!.length !== 3) return rankError('attention', 'token values [B, M, Dv]', v!, 2);
      if (!q![2]!.equals(k![2]!))
        return { error: semantic('ShapeAttentionWidth', { queries: String(q![2]), keys: String(k![2]) }), input: 1 };
      if (!k![1]!.equals(v![1]!))
        return { error: semantic('ShapeAttentionTokens', { keys: String(k![1]), values: String(v![1]) }), input: 2 };
      const b = broadcast([q![0]!], [k![0]!]);
      if ('error' in b) return b;
      const h = intParam(p, 'heads');
      const dq = q![2]!.asInt();
      if (dq !== undefined && dq % h !== 0)
        return {
          error: semantic('ShapeHeadsNotDividing', { heads: h, width: dq }),
          help: `use a head count that divides ${dq}`,
        };
      // The runtime splits the values into heads too.
      const dv = v![2]!.asInt();
      if (dv !== undefined && dv % h !== 0)
        return {
          error: semantic('ShapeHeadsNotDividingValues', { heads: h, width: dv }),
          input: 2,
          help: `use a head count that divides both ${dq ?? q![2]} and ${dv}`,
        };
      return [q![0]!, q![1]!, v![2]!];
    },
    macs([q, k, v], _out) {
      return dimAdd(shapeSize([q![0]!, q![1]!, k![1]!, q![2]!]), shapeSize([q![0]!, q![1]!, k![1]!, v![2]!]));
    },
    reference: {
      shape: 'q [B, N, D], k [B, M, D], v [B, M, Dv] -> [B, N, Dv] (heads divides D and Dv)',
      macs: 'B * N * M * D + B * N * M * Dv',
      pytorch:
        '`F.scaled_dot_product_attention` on q, k, v split into `heads` (no projections: those are Linear layers)',
    },
    torchAliases: ['scaled_dot_product_attention'],
    diagram: { settings: () => undefined, opLine: (a) => (a.heads !== undefined ? `${a.heads} heads` : undefined) },
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.heads)]) },
  },
  {
    name: 'roll',
    kind: 'function',
    irName: 'roll',
    runtime: 'nv.roll',
    inputs: ['x'],
    params: [
      { name: 'shift', type: 'int', doc: 'positions to move towards higher indices (negative: lower), cyclically' },
      {
        name: 'axes',
        type: 'int[]',
        default: { kind: 'list', items: [I(1), I(2)] },
        doc: 'axes to shift (default the H and W axes of NHWC)',
      },
    ],
    doc: "cyclic shift along axes (torch.roll's convention); Swin's shifted windows",
    shape([x], p) {
      for (const a of intListParam(p, 'axes'))
        if (normAxis(a, x!.length) === undefined)
          return { error: semantic('ShapeAxisOutOfRange', { axis: a, shape: formatShape(x!) }), input: 0 };
      return x!;
    },
    reference: { shape: 'x -> x (same shape)', macs: '0', pytorch: '`torch.roll(x, shift, dims = axes)`' },
    torchAliases: [],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.shift), l.value(l.attrs.axes)]) },
  },
  {
    name: 'relative_position_bias',
    kind: 'function',
    irName: 'relative_position_bias',
    runtime: 'nv.relativePositionBias',
    inputs: ['table'],
    params: [{ name: 'window', type: 'int', min: 1, doc: 'window side w' }],
    doc:
      "Swin's relative position bias: a table [(2w-1)^2, heads] gathered by the offset of every pair of " +
      'window positions into [heads, w*w, w*w]',
    shape([t], p) {
      const w = intParam(p, 'window');
      if (t!.length !== 2) return rankError('relative_position_bias', `a 2-D table [${(2 * w - 1) ** 2}, heads]`, t!);
      const rows = t![0]!.asInt();
      if (rows !== undefined && rows !== (2 * w - 1) ** 2)
        return {
          error: semantic('ShapeBiasTableRows', { window: w, rows: (2 * w - 1) ** 2, found: String(rows) }),
          input: 0,
        };
      return [t![1]!, d(w * w), d(w * w)];
    },
    reference: {
      shape: 'table [(2w - 1)^2, heads] -> [heads, w * w, w * w]',
      macs: '0',
      pytorch: "none: Swin's `relative_position_bias_table[relative_position_index]` (torchvision's `swin_t`)",
    },
    torchAliases: [],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.window)]) },
  },
  {
    name: 'shift_window_mask',
    kind: 'function',
    irName: 'shift_window_mask',
    runtime: 'nv.shiftWindowMask',
    inputs: ['x'],
    params: [
      { name: 'window', type: 'int', min: 1, doc: 'window side w' },
      { name: 'shift', type: 'int', min: 0, doc: 'the cyclic shift applied before windowing (0: no mask)' },
    ],
    doc:
      "additive attention mask of shifted windows for x's H x W map: [(H / w) * (W / w), w*w, w*w], -100 " +
      'between positions from different regions, 0 elsewhere (all 0 when shift = 0)',
    shape([x], p) {
      if (x!.length !== 4) return rankError('shift_window_mask', 'a 4-D [B, H, W, C] input', x!);
      const w = intParam(p, 'window');
      const h = dimDiv(x![1]!, d(w))!;
      const ww = dimDiv(x![2]!, d(w))!;
      if ((h.isConstant() && !isExactInteger(h)) || (ww.isConstant() && !isExactInteger(ww)))
        return {
          error: semantic('ShapeWindowNotDividing', { window: w, height: String(x![1]), width: String(x![2]) }),
          input: 0,
        };
      if (intParam(p, 'shift') >= w)
        return { error: semantic('ShapeShiftTooLarge', { shift: intParam(p, 'shift'), window: w }) };
      return [dimMul(h, ww), d(w * w), d(w * w)];
    },
    reference: {
      shape: '[B, H, W, C] -> [(H / w) * (W / w), w * w, w * w] (w divides H and W; shift < w)',
      macs: '0',
      pytorch: "none: the `attn_mask` Swin builds for shifted windows (torchvision's `shifted_window_attention`)",
    },
    torchAliases: [],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall((l) => [l.value(l.attrs.window), l.value(l.attrs.shift)]) },
  },
  {
    name: 'patch_mask',
    kind: 'function',
    irName: 'patch_mask',
    runtime: 'nv.patchMask',
    inputs: ['x'],
    params: [],
    doc:
      "the stage's patch mask resampled (nearest) to x's grid: [B, H, W, C] -> [B, H, W, 1], 1 = removed; " +
      'all zeros when the stage has no mask policy',
    shape([x]) {
      if (x!.length !== 4) return rankError('patch_mask', 'a 4-D [B, H, W, C] input', x!);
      return [x![0]!, x![1]!, x![2]!, d(1)];
    },
    reference: {
      shape: '[B, H, W, C] -> [B, H, W, 1]',
      macs: '0',
      pytorch: 'none (the FCMAE mask, upsampled as the official `upsample_mask`)',
    },
    torchAliases: [],
    diagram: PLAIN,
    targets: { tfjs: tfjsCall(() => ['ctx']) },
  },
];
