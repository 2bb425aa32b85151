/**
 * The shape-rule half of the semantic catalogue: every way a layer or tensor function can
 * refuse its input shapes (NVC3002, "layer input shape mismatch").
 * In: nothing. Out: `shapeCatalogue`, spread into `semanticCatalogue`. Holds afterwards: a shape
 * rule (compiler/primitives.ts, the elaborator's layer shapes) states its verdict as one of these
 * entries with typed arguments; the elaborator places it at the call's span.
 */
import type { CatalogueEntry, DiagnosticKind } from './catalogue-types.js';

const layerInputShape = {
  code: 'NVC3002',
  severity: 'error',
  summary: 'layer input shape mismatch',
} as const satisfies DiagnosticKind;

export const shapeCatalogue = {
  ShapeWrongRank: { ...layerInputShape, message: '`{callee}` expects {expected}, found {found}' },
  ShapeNoBroadcast: {
    ...layerInputShape,
    message: 'shapes {left} and {right} do not broadcast: axis {axis} is {leftSize} vs {rightSize}',
  },
  ShapeReduceAxis: { ...layerInputShape, message: 'axis {axis} is out of range for a tensor of rank {rank} {shape}' },
  ShapeAxisOutOfRange: { ...layerInputShape, message: 'axis {axis} is out of range for {shape}' },
  ShapeReduceAxisRepeated: { ...layerInputShape, message: 'axis {axis} is named twice in the axes of {shape}' },
  ShapeConvChannels: {
    ...layerInputShape,
    message: '`Conv2d` expects {expected} input channels, found {found} in {shape}',
  },
  ShapeDepthwiseChannels: {
    ...layerInputShape,
    message: '`DepthwiseConv2d` expects {expected} channels, found {found} in {shape}',
  },
  ShapeSmallerThanKernel: { ...layerInputShape, message: 'input size {size} is smaller than the kernel {kernel}' },
  ShapeChannels: {
    ...layerInputShape,
    message: '`{callee}` expects {expected} channels on the last axis, found {found} in {shape}',
  },
  ShapeExpand: {
    ...layerInputShape,
    message: '`expand` cannot broadcast {from} to {to}: axis {axis} has size {size}, not 1 or {target}',
  },
  ShapeExpandRank: {
    ...layerInputShape,
    message: '`expand` cannot broadcast {from} to the shorter shape {to}',
  },
  ShapeWindowTooLarge: {
    ...layerInputShape,
    message: 'a window of {kernel} cells does not fit the input size {size}, padded to {padded}',
  },
  /** A dilated window (MaxPool2d, ConvTranspose2d with dilation) larger than the padded input. */
  ShapeDilatedWindowTooLarge: {
    ...layerInputShape,
    message: 'a window of {kernel} taps {dilation} apart spans {span} cells, more than the padded input ({padded})',
  },
  /** ConvTranspose2d whose padding cuts more than its dilated window grows the input. */
  ShapeTransposedTooSmall: {
    ...layerInputShape,
    message: 'padding {padding} cuts the whole output: a window of {kernel} taps {dilation} apart spans {span} cells',
  },
  ShapeUpsampleEmpty: {
    ...layerInputShape,
    message: 'input size {size} times scale_factor {factor} leaves {out} cells: the output needs at least 1',
  },
  ShapeLinearFeatures: {
    ...layerInputShape,
    message: '`Linear` expects {expected} input features on the last axis, found {found} in {shape}',
  },
  ShapeLayerNormAxis: {
    ...layerInputShape,
    message: '`LayerNorm` normalises the last axis of size {expected}, found {found} in {shape}',
  },
  ShapeBatchNormChannels: {
    ...layerInputShape,
    message: '`{callee}` normalises {expected} channels on the last axis, found {found} in {shape}',
  },
  ShapeVisibleNeedsNHWC: {
    ...layerInputShape,
    message: 'visible() needs an NHWC feature map [B, H, W, C], got {shape}',
  },
  ShapeReshapeSize: {
    ...layerInputShape,
    message: 'cannot reshape {from} ({fromSize} elements) to {to} ({toSize} elements)',
  },
  ShapeNotPermutation: {
    ...layerInputShape,
    message: 'perm {perm} is not a permutation of the {rank} axes of {shape}',
  },
  ShapeUntokensTarget: { ...layerInputShape, message: '`untokens` needs a 4-D target [B, H, W, C], found {shape}' },
  ShapeUntokensTokens: { ...layerInputShape, message: '`untokens` to {target} needs tokens {expected}, found {found}' },
  ShapeMatmulInner: {
    ...layerInputShape,
    message: '`matmul` inner dimensions differ: {left} vs {right} ({leftShape} x {rightShape})',
  },
  ShapeConcatAxes: {
    ...layerInputShape,
    message: '`concat` along axis {axis} needs equal other axes: {first} vs {other}',
  },
  ShapeSliceEmpty: { ...layerInputShape, message: 'slice {start}..{end} is empty or exceeds axis {axis} of {shape}' },
  ShapePatchNotDividing: { ...layerInputShape, message: 'patch {patch} does not divide the image {height} x {width}' },
  ShapeGridNotPair: { ...layerInputShape, message: '`grid` must be [h, w]' },
  ShapeGridPatches: { ...layerInputShape, message: 'grid {grid} has {patches} patches, input has {tokens}' },
  ShapePatchValues: {
    ...layerInputShape,
    message: '{values} values per patch is not a multiple of {patch} * {patch}',
  },
  ShapeAttentionWidth: { ...layerInputShape, message: 'queries have width {queries} but keys have {keys}' },
  ShapeAttentionTokens: { ...layerInputShape, message: 'keys have {keys} tokens but values have {values}' },
  ShapeHeadsNotDividing: { ...layerInputShape, message: 'heads = {heads} does not divide the query width {width}' },
  ShapeHeadsNotDividingValues: {
    ...layerInputShape,
    message: 'heads = {heads} does not divide the value width {width}',
  },
  ShapeBiasTableRows: {
    ...layerInputShape,
    message: 'a window of {window} needs a table of {rows} rows ((2w-1)^2), found {found}',
  },
  ShapeWindowNotDividing: {
    ...layerInputShape,
    message: 'window {window} does not divide the map {height} x {width}',
  },
  ShapeShiftTooLarge: { ...layerInputShape, message: 'shift {shift} must be smaller than the window {window}' },
  // Applying a layer (block, chain or primitive) to tensors, from the elaborator.
  ShapeNoNamedInputs: { ...layerInputShape, message: '`{callee}` takes no named tensor inputs' },
  ShapeInputCount: { ...layerInputShape, message: '`{callee}` takes {expected} input(s), found {found}' },
  ShapeBlockWithoutForward: { ...layerInputShape, message: '`{callee}` has no forward' },
  ShapeNoSuchInput: { ...layerInputShape, message: '`{callee}` has no input `{name}`' },
  ShapeNoSuchInputSuggest: {
    ...layerInputShape,
    message: '`{callee}` has no input `{name}` (did you mean `{suggestion}`?)',
  },
  ShapeMissingInput: { ...layerInputShape, message: '`{callee}` needs the input `{name}`' },
  ShapeInput: { ...layerInputShape, message: '`{callee}` expects `{param}` of shape {expected}, found {found}' },
  ShapeChainWithoutInput: { ...layerInputShape, message: 'a layer list needs an input' },
  ShapeChainManyOutputs: {
    ...layerInputShape,
    message: '`{callee}` returns {count} named outputs ({names}), and a layer chain passes on one value',
  },
  /** A problem found inside a chain or block member, with the member's path. */
  ShapeInsideMember: { ...layerInputShape, message: '{problem} (in `{callee}.{path}`)' },
} as const satisfies Record<string, CatalogueEntry>;

export type ShapeProblemKind = keyof typeof shapeCatalogue;
