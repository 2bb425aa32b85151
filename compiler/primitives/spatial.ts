/**
 * What the records of the layers over NHWC maps share (convolutions, transposed convolution,
 * pools, resampling): the parameters they spell alike (channels, kernel, stride, dilation,
 * groups, bias), the weight with its optional bias, the shape scaffolding (a 4-D input, its
 * channels, the output [B, H', W', C']) and the tfjs layer lowering.
 * In: what a record states of its own (its name, channel message, spatial size rule). Out:
 * parameter schemas, `weightAndBias`, `spatialShape`, `tfjsLayer`. Holds afterwards: a record
 * built from these refuses a wrong rank and wrong channels with the same messages and fixes as
 * it did written out, so goldens do not move.
 */
import type { CatalogueMessage } from '../../dsl/diagnostics/catalogue.js';
import { type Dim, formatShape, type Shape } from '../symbolic.js';
import {
  always,
  B,
  boolParam,
  d,
  I,
  intParam,
  last,
  type ParamSchema,
  type ParamValue,
  type Params,
  rankError,
  type ShapeError,
  type TargetRule,
  type TfjsLayerHelpers,
  type TfjsLayerNode,
  type TfjsLowering,
  TRUNC,
  type WeightSpec,
  ZEROS,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Parameters

export const IN_CHANNELS: ParamSchema = { name: 'in', type: 'int', min: 1, doc: 'input channels' };
export const OUT_CHANNELS: ParamSchema = { name: 'out', type: 'int', min: 1, doc: 'output channels' };
export const BIAS: ParamSchema = { name: 'bias', type: 'bool', default: B(true), doc: 'add a bias' };
export const DILATION: ParamSchema = {
  name: 'dilation',
  type: 'int',
  default: I(1),
  min: 1,
  doc: 'spacing between kernel taps',
};
export const GROUPS: ParamSchema = { name: 'groups', type: 'int', default: I(1), min: 1, doc: 'channel groups' };

/** The square kernel's size, required unless given a default. */
export const kernelParam = (doc = 'square kernel size', byDefault?: ParamValue): ParamSchema => ({
  name: 'kernel',
  type: 'int',
  ...(byDefault ? { default: byDefault } : {}),
  min: 1,
  doc,
});

/** The stride (default 1; the pools' 0 stands for the kernel). */
export const strideParam = (doc = 'stride', byDefault = I(1), min = 1): ParamSchema => ({
  name: 'stride',
  type: 'int',
  default: byDefault,
  min,
  doc,
});

/** `groups` must divide both channel counts (Conv2d, ConvTranspose2d; PyTorch refuses it too). */
export function validateGroups(p: Params): { param: string; message: string } | undefined {
  const g = intParam(p, 'groups') || 1;
  if (intParam(p, 'in') % g !== 0 || intParam(p, 'out') % g !== 0)
    return {
      param: 'groups',
      message: `groups = ${g} must divide both in = ${intParam(p, 'in')} and out = ${intParam(p, 'out')}`,
    };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Weights

/** `weight` of `shape` (trunc_normal 0.02, decayed) and, when `bias` is on, `bias` [channels] (zeros, no decay). */
export function weightAndBias(p: Params, shape: readonly number[], channels: number): WeightSpec[] {
  const ws: WeightSpec[] = [{ name: 'weight', shape, init: TRUNC(0.02), noDecay: false }];
  if (boolParam(p, 'bias')) ws.push({ name: 'bias', shape: [channels], init: ZEROS, noDecay: true });
  return ws;
}

// ---------------------------------------------------------------------------------------------
// Shapes

/** The shape message of an input with other channels than the layer's (catalogue-shapes.ts). */
export type ChannelMessage = (args: { expected: number; found: string; shape: string }) => CatalogueMessage;

/** What a layer over NHWC maps states of its own; the rest is `spatialShape`'s. */
export interface SpatialRule {
  /** The channels the input must have, and the message when it has others (absent: any). */
  readonly channels?: { readonly expected: (p: Params) => number; readonly message: ChannelMessage };
  /** H' and W' from H and W, or the shape message refusing them. */
  sizes(h: Dim, w: Dim, p: Params): readonly [Dim, Dim] | CatalogueMessage;
  /** The output's channels (absent: the input's). */
  readonly outChannels?: (p: Params) => number;
}

/**
 * The shape rule of a layer over [B, H, W, C] maps: refuses another rank, then other channels
 * (with the fix `use \`Name(found, ...)\``), then the spatial sizes the rule refuses; else
 * [B, H', W', C'].
 */
export function spatialShape(name: string, rule: SpatialRule) {
  return ([x]: readonly Shape[], p: Params): Shape | ShapeError => {
    if (x!.length !== 4) return rankError(name, 'a 4-D [B, H, W, C] input', x!);
    if (rule.channels) {
      const expected = rule.channels.expected(p);
      if (!last(x!).equals(d(expected)))
        return {
          error: rule.channels.message({ expected, found: String(last(x!)), shape: formatShape(x!) }),
          input: 0,
          help: `use \`${name}(${last(x!)}, ...)\``,
        };
    }
    const hw = rule.sizes(x![1]!, x![2]!, p);
    if (!Array.isArray(hw)) return { error: hw as CatalogueMessage, input: 0 };
    const [h, w] = hw as readonly [Dim, Dim];
    return [x![0]!, h, w, rule.outChannels ? d(rule.outChannels(p)) : x![3]!];
  };
}

/** `intParam(p, name)` as a rule's getter (`channels: { expected: param('in') }`). */
export const param =
  (name: string) =>
  (p: Params): number =>
    intParam(p, name);

// ---------------------------------------------------------------------------------------------
// The tfjs lowering

/** A tfjs layer lowering that every parameter value supports. */
export function tfjsLayer(
  sparseMode: boolean,
  construct: (n: TfjsLayerNode, h: TfjsLayerHelpers) => { readonly args: string[]; readonly options: string[] },
): TargetRule<TfjsLowering> {
  return { supports: always, lower: { kind: 'layer', sparseMode, construct } };
}

/** A kernel layer's options: `kernel`, then the record's own (`own`), then `bias` and the initialisers. */
export function kernelLayerOptions(n: TfjsLayerNode, h: TfjsLayerHelpers, own: readonly string[]): string[] {
  return [`kernel: ${h.value(n.params.kernel)}`, ...own, `bias: ${h.value(n.params.bias)}`, ...h.inits()];
}
