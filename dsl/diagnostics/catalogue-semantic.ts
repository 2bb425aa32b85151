/**
 * The semantic half of the diagnostic catalogue (NVC2xxx names/imports, NVC3xxx shapes,
 * NVC4xxx arguments/types, NVC5xxx cross-declaration checks), reported by compiler/.
 * In: nothing (and the shape-rule entries of catalogue-shapes.ts). Out: `semanticCatalogue`,
 * merged into `catalogue` by catalogue.ts. Holds afterwards: every message compiler/ emits is
 * one entry here, with its own template; entries of one kind share a code; the fixture harness
 * checks that every code has a fixture under test/fixtures/diagnostics/.
 */
import type { CatalogueEntry, DiagnosticKind } from './catalogue-types.js';
import { shapeCatalogue } from './catalogue-shapes.js';

// Kinds with several specific messages: each message below is its own entry under one code.
const moduleNotFound = {
  code: 'NVC2003',
  severity: 'error',
  summary: 'module not found',
} as const satisfies DiagnosticKind;
const notCallable = {
  code: 'NVC4007',
  severity: 'error',
  summary: 'value used as the wrong kind',
} as const satisfies DiagnosticKind;
const invalidConstant = {
  code: 'NVC4008',
  severity: 'error',
  summary: 'invalid constant expression',
} as const satisfies DiagnosticKind;
const forwardMissing = {
  code: 'NVC4009',
  severity: 'error',
  summary: 'forward missing or incomplete',
} as const satisfies DiagnosticKind;
const badStageReference = {
  code: 'NVC5002',
  severity: 'error',
  summary: 'bad stage reference',
} as const satisfies DiagnosticKind;
const badVariant = { code: 'NVC5011', severity: 'error', summary: 'bad variant' } as const satisfies DiagnosticKind;
const nestingTooDeep = {
  code: 'NVC4011',
  severity: 'error',
  summary: 'evaluation nested too deeply',
} as const satisfies DiagnosticKind;
const modelInputMismatch = {
  code: 'NVC5012',
  severity: 'error',
  summary: 'model input not provided',
} as const satisfies DiagnosticKind;

const targetUnsupported = {
  code: 'NVC5101',
  severity: 'error',
  summary: 'not supported by the build target',
} as const satisfies DiagnosticKind;

// Its own constant so that the literal (whose placeholders type the message's arguments) fits in 120 columns.
const stageImageSizeMessage =
  '`{model}` expects {height}x{width} images for `{input}`, dataset `{dataset}` resizes to {sizeHeight}x{sizeWidth}';
/** A block passed where a parameter's type is an interface lacks something the interface names. */
const interfaceKind = {
  code: 'NVC4021',
  severity: 'error',
  summary: 'interface not provided',
} as const satisfies DiagnosticKind;
export const semanticCatalogue = {
  // 2xxx: names and imports -------------------------------------------------------------------
  UnknownName: { code: 'NVC2001', severity: 'error', summary: 'unknown name', message: 'unknown name `{name}`' },
  /** The name is declared by a std module the file does not import. */
  UnknownNameNotImported: {
    code: 'NVC2001',
    severity: 'error',
    summary: 'unknown name',
    message: 'unknown name `{name}`',
    help: '`{name}` is exported by {module}: add `import { {name} } from "{module}"`',
  },
  DuplicateDefinition: {
    code: 'NVC2002',
    severity: 'error',
    summary: 'duplicate definition',
    message: '`{name}` is defined more than once in this {scope}',
    help: 'rename one of the definitions',
  },
  ModuleNotFound: {
    ...moduleNotFound,
    message: 'cannot find module `{path}`',
    note: 'imports are relative to the importing file (`./blocks`) or start with `std/`',
  },
  /** The file named on the command line (or given to the compiler) does not exist. */
  EntryFileNotFound: { ...moduleNotFound, message: 'cannot find module `{path}`', help: 'check the path' },
  NotExported: {
    code: 'NVC2004',
    severity: 'error',
    summary: 'name not exported',
    message: 'module `{module}` declares no `{name}`',
  },
  ImportCycle: {
    code: 'NVC2005',
    severity: 'error',
    summary: 'import cycle',
    message: 'import cycle: {cycle}',
    help: 'move the shared declarations into a module both can import',
  },
  UnknownMember: {
    code: 'NVC2006',
    severity: 'error',
    summary: 'unknown member',
    message: '{owner} has no member `{name}`',
  },
  AssignUndeclared: {
    code: 'NVC2007',
    severity: 'error',
    summary: 'assignment to an undeclared name',
    message: 'cannot assign to `{name}`: it is not a parameter or `let` of this forward',
    help: 'introduce it with `let {name} = ...`',
  },
  RecursiveDefinition: {
    code: 'NVC2008',
    severity: 'error',
    summary: 'recursive definition',
    message: '`{name}` is defined in terms of itself',
  },
  SourceNotRegularFile: {
    code: 'NVC2009',
    severity: 'error',
    summary: 'source is not a regular file',
    message: '`{path}` is {what}, not a regular file',
    help: 'nvcc reads sources only from regular files; save the module as a `.nvc` file and import that',
  },
  SourceTooLarge: {
    code: 'NVC2010',
    severity: 'error',
    summary: 'source file too large',
    message: '`{path}` has {size} bytes, more than the limit of {limit}',
    help: 'split it into modules, or raise the limit with the environment variable `{raise}`',
  },
  PartReadsWeight: {
    code: 'NVC2011',
    severity: 'error',
    summary: 'a named forward reads a weight',
    message: 'named forward `{part}` reads {what} `{name}` of its block',
    help:
      "a named forward runs in its caller's graph and sees the block's parameters and layers, not its " +
      '{what}s: move the use of `{name}` into a layer (a child block) and call that layer here',
  },
  // 3xxx: shapes ------------------------------------------------------------------------------
  ArgumentShapeMismatch: {
    code: 'NVC3001',
    severity: 'error',
    summary: 'argument shape mismatch',
    message: '`{callee}` expects `{param}` of shape {expected}, found {found}',
  },
  // NVC3002 (a layer refuses its input shapes): see catalogue-shapes.ts.
  ...shapeCatalogue,
  ReturnShapeMismatch: {
    code: 'NVC3003',
    severity: 'error',
    summary: 'return shape mismatch',
    message: 'forward returns {found} but declares {expected}',
  },
  AnnotationMismatch: {
    code: 'NVC3004',
    severity: 'error',
    summary: 'annotation mismatch',
    message: '`{name}` is annotated {expected} but has shape {found}',
  },
  NoBroadcast: {
    code: 'NVC3005',
    severity: 'error',
    summary: 'shapes do not broadcast',
    message: '`{op}` cannot combine {left} and {right}',
    help: 'element-wise operators need equal sizes or 1 on each axis, aligned from the right',
  },
  NonIntegerDim: {
    code: 'NVC3006',
    severity: 'error',
    summary: 'non-integer dimension',
    message: '{what} is {value}, not a positive whole number',
  },
  // 4xxx: arguments and types -----------------------------------------------------------------
  InterfaceNeedsBlock: {
    ...interfaceKind,
    message: 'interface `{iface}` is provided by blocks; `{found}` is not a block',
  },
  InterfaceMissingMember: {
    ...interfaceKind,
    message: '`{block}` does not provide `{member}: {type}`, which interface `{iface}` requires',
    help: 'give `{block}` a parameter or constant member `{member}`, or pass a block that has one',
  },
  InterfaceMemberType: {
    ...interfaceKind,
    message: '`{block}.{member}` is not of type `{type}`, which interface `{iface}` requires',
  },
  InterfaceMissingForward: {
    ...interfaceKind,
    message: '`{block}` has no {forward}, which interface `{iface}` requires',
  },
  InterfaceForwardSignature: {
    ...interfaceKind,
    message: '`{block}` declares {found}, but interface `{iface}` requires {expected}',
  },
  UnknownNamedArgument: {
    code: 'NVC4001',
    severity: 'error',
    summary: 'unknown named argument',
    message: '`{callee}` has no parameter `{name}`',
  },
  MissingArgument: {
    code: 'NVC4002',
    severity: 'error',
    summary: 'missing required argument',
    message: '`{callee}` needs the argument `{name}`',
  },
  WrongArgumentType: {
    code: 'NVC4003',
    severity: 'error',
    summary: 'wrong argument type',
    message: '`{name}` of `{callee}` expects {expected}, found {found}',
  },
  OutOfRange: {
    code: 'NVC4004',
    severity: 'error',
    summary: 'value out of range',
    message: '`{name}` of `{callee}` must be {range}, found {value}',
  },
  TooManyArguments: {
    code: 'NVC4005',
    severity: 'error',
    summary: 'too many arguments',
    message: '`{callee}` takes at most {max} positional argument(s), found {count}',
  },
  DuplicateArgument: {
    code: 'NVC4006',
    severity: 'error',
    summary: 'argument given twice',
    message: 'argument `{name}` of `{callee}` is given twice',
  },
  TensorOperatorUndefined: { ...notCallable, message: 'operator `{op}` is not defined on tensors' },
  NotIndexable: { ...notCallable, message: 'cannot index {found}' },
  LayerConstructedInForward: {
    ...notCallable,
    message: 'layers are constructed as block members, not inside a forward body',
  },
  BlockInstantiatedInForward: {
    ...notCallable,
    message: 'blocks are instantiated as block members, not inside a forward body',
  },
  LayerAppliedOutsideForward: { ...notCallable, message: 'layers are applied to tensors inside a forward body' },
  FunctionAppliedOutsideForward: {
    ...notCallable,
    message: '`{name}` is applied to tensors only inside a forward body',
  },
  ValueNotCallable: { ...notCallable, message: '{found} is not callable' },
  ExpectedLayer: { ...notCallable, message: 'expected a layer, found {found}' },
  SparseNotLayer: { ...notCallable, message: 'only layers can be `sparse`; `{name}` is {found}' },
  NotNeedsBool: { ...invalidConstant, message: 'cannot evaluate at compile time: `not` needs a bool, found {found}' },
  CannotNegate: { ...invalidConstant, message: 'cannot evaluate at compile time: cannot negate {found}' },
  ConditionNotBool: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: the condition must be a constant bool, found {found}',
  },
  ComprehensionRangeNotList: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: `for ... in` needs a constant list or range, found {found}',
  },
  ForRangeNotList: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: a `for` loop needs a constant range or list, found {found}',
  },
  NotConstantInt: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: {what} must be a constant int, found {found}',
  },
  InexactDimDivision: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: {left} / {right} is not an exact division of dimensions',
  },
  OperatorNotOnDims: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: operator `{op}` is not defined on dimensions',
  },
  OperatorNotOnNumbers: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: operator `{op}` is not defined on numbers',
  },
  OperatorNotOnValues: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: operator `{op}` is not defined on {left} and {right}',
  },
  DivisionByZero: { ...invalidConstant, message: 'cannot evaluate at compile time: division by zero' },
  IndexNotInt: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: an index must be a constant int, found {found}',
  },
  IndexOutOfRange: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: index {index} is out of range for a list of {length}',
  },
  LayerIndexOutOfRange: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: index {index} is out of range for a list of {length} layers',
  },
  HelperNamedArguments: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: `{name}` takes no named arguments',
  },
  HelperLinspaceArguments: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: `linspace(start, stop, count)` needs two numbers and a non-negative int',
  },
  HelperLenArguments: { ...invalidConstant, message: 'cannot evaluate at compile time: `len` needs a list' },
  HelperReduceArguments: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: `{name}` needs a non-empty list of numbers',
  },
  HelperCumsumArguments: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: `cumsum` needs a list of numbers',
  },
  HelperTakeArguments: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: `take(list, n)` needs a list and an int',
  },
  HelperRangeArguments: {
    ...invalidConstant,
    message: 'cannot evaluate at compile time: `range(n)` or `range(a, b)` needs ints',
  },
  HelperIntArguments: { ...invalidConstant, message: 'cannot evaluate at compile time: `int` needs a number' },
  HelperFloatArguments: { ...invalidConstant, message: 'cannot evaluate at compile time: `float` needs a number' },
  UnknownHelper: { ...invalidConstant, message: 'cannot evaluate at compile time: unknown helper `{name}`' },
  ForwardWithoutReturn: { ...forwardMissing, message: 'the forward of `{block}` has no `return`' },
  ForwardReturnsNonTensor: { ...forwardMissing, message: '`{block}` must return a tensor, found {found}' },
  ReturnWithoutOutput: { ...forwardMissing, message: 'the return value has no output `{name}`' },
  // 401x: resource limits (compiler/limits.ts; docs/reliability.md) -------------------------
  ListTooLong: {
    code: 'NVC4010',
    severity: 'error',
    summary: 'compile-time list too long',
    message: 'this list would have {count} items, more than the limit of {limit}',
    help: 'raise the limit with the environment variable `{raise}`',
  },
  EvaluationTooDeep: {
    ...nestingTooDeep,
    message: 'nesting too deep: more than {limit} nested evaluations',
    help: 'shorten the chain of constants or blocks that each use the next one',
    note: 'the limit of {limit} is fixed: it keeps the compiler within its stack',
  },
  LayersTooDeep: {
    ...nestingTooDeep,
    message: 'nesting too deep: more than {limit} levels of layers inside layers',
    help: 'shorten the chain of blocks or layer lists that each contain the next one',
    note: 'the limit of {limit} is fixed: it keeps the compiler, the emitter and the diagram within their stacks',
  },
  TooManyLayers: {
    code: 'NVC4012',
    severity: 'error',
    summary: 'too many layers after expansion',
    message: 'checking the program makes more than {limit} layers',
    help: 'raise the limit with the environment variable `{raise}`',
    note: 'layers are counted after `repeat` and block calls are expanded, once per use; this call crossed the limit',
  },
  ElaborationTooLong: {
    code: 'NVC4013',
    severity: 'error',
    summary: 'too much compile-time work',
    message: 'checking the program takes more than {limit} evaluation steps',
    help: 'raise the limit with the environment variable `{raise}`',
    note: 'steps are expressions evaluated and list items made; this expression crossed the limit',
  },
  // 402x: code-generation targets (the primitive records' support predicates) -----------------
  UnsupportedOnTarget: {
    code: 'NVC4020',
    severity: 'error',
    summary: 'not supported by the target',
    message: '`{callee}` with `{name} = {value}` is not supported by the {target} target',
  },
  // 403x: masked execution (compiler/mask-tokens.ts) ----------------------------------------
  MaskTokensMasked: {
    code: 'NVC4030',
    severity: 'warning',
    summary: 'mask tokens go through a masked layer',
    message: '{layer} runs masked, but its input holds mask tokens at the removed positions',
    help: 'declare the block `unmasked` if it runs densely over the tokens (as the official FCMAE decoder)',
    note: 'masked layers zero the removed positions or leave them out of their statistics: the tokens are lost',
  },
  // 5xxx: declarations, stages, data, variants -----------------------------------------------
  HandOverMismatch: {
    code: 'NVC5001',
    severity: 'error',
    summary: 'hand-over shape mismatch',
    message: 'weights from `{from}` do not fit `{to}`: {count} parameter(s) differ',
  },
  InitNotStageLayer: {
    ...badStageReference,
    message: "`init.{target}` must name an earlier stage's layer such as `pretrain.encoder`",
  },
  HandOverTargetMissing: {
    ...badStageReference,
    message: 'the model has no sub-layer `{target}` to receive `{stage}.{path}`',
  },
  StageComesLater: {
    ...badStageReference,
    message: 'stage `{stage}` comes later; weights can only come from an earlier stage',
  },
  NoEarlierStage: { ...badStageReference, message: 'no earlier stage `{stage}`' },
  StageModelNoSubLayer: {
    ...badStageReference,
    message: 'the model of stage `{stage}` has no sub-layer `{path}`',
  },
  LabWidthMismatch: {
    code: 'NVC5003',
    severity: 'error',
    summary: 'lab width mismatch',
    message: 'dataset `{dataset}` encodes `{group}` as {width} values but the model expects {expected}',
  },
  MaskPatchNotDividing: {
    code: 'NVC5004',
    severity: 'error',
    summary: 'mask patch does not divide the image',
    message: 'mask patch {patch} does not divide the image size {size}',
  },
  MaskPatchStride: {
    code: 'NVC5005',
    severity: 'error',
    summary: 'mask patch differs from encoder stride',
    message: "mask patch {patch} differs from the model's total stride {stride}",
    note: 'the mask is resampled onto the feature grid, so each patch must map to exactly one output cell',
  },
  UnknownSetting: {
    code: 'NVC5006',
    severity: 'error',
    summary: 'unknown setting',
    message: 'unknown {where} setting `{name}`',
  },
  WrongSettingType: {
    code: 'NVC5007',
    severity: 'error',
    summary: 'wrong setting type',
    message: '`{name}` expects {expected}, found {found}',
  },
  /** `keep_best = val.aucc`: the metric is not one the trainer computes. */
  KeepBestUnknownMetric: {
    code: 'NVC5007',
    severity: 'error',
    summary: 'wrong setting type',
    message: '`keep_best` names `{metric}`, which is not a validation metric',
    note: 'the metrics are {metrics}; `min(...)` or `max(...)` around one sets the direction',
  },
  /** `keep_best = val.auc` in a stage whose `metrics` leave out auc. */
  KeepBestNotComputed: {
    code: 'NVC5007',
    severity: 'error',
    summary: 'wrong setting type',
    message: '`keep_best = {metric}`, but this stage does not compute `{name}`',
    help: "add `{name}` to the stage's `metrics` ({metrics})",
  },
  /** A masked (pretraining) stage validates its loss only. */
  KeepBestMasked: {
    code: 'NVC5007',
    severity: 'error',
    summary: 'wrong setting type',
    message: '`keep_best = {metric}` in a masked stage, which computes `val.loss` only',
    help: 'use `keep_best = val.loss`',
  },
  SettingOutOfRange: {
    code: 'NVC5008',
    severity: 'error',
    summary: 'setting out of range',
    message: '`{name}` must be {range}, found {value}',
  },
  MissingSetting: {
    code: 'NVC5009',
    severity: 'error',
    summary: 'missing setting',
    message: '{where} needs a `{name}` setting',
  },
  UnknownVariantPath: {
    code: 'NVC5010',
    severity: 'error',
    summary: 'unknown variant path',
    message: 'variant `{variant}` edits `{path}`, which does not exist',
  },
  NoSuchVariant: { ...badVariant, message: 'no variant `{variant}` in {file}' },
  VariantCycle: { ...badVariant, message: 'variants extend each other in a cycle: {cycle}' },
  UnknownBaseVariant: { ...badVariant, message: 'variant `{variant}` extends unknown variant `{base}`' },
  VariantStageWithoutPlace: {
    ...badVariant,
    message: 'variant `{variant}` adds stage `{stage}` without saying where it runs',
  },
  VariantStagePosition: {
    ...badVariant,
    message: 'a stage is placed `before` or `after` another stage, not `{position}`',
  },
  VariantStageExists: {
    ...badVariant,
    message: 'variant `{variant}` adds stage `{stage}`, but the program already has a stage of that name',
  },
  StageInputCount: {
    ...modelInputMismatch,
    message: 'the model `{model}` takes {count} input(s) ({names}), the stage gives {given}',
  },
  StageImageSize: {
    ...modelInputMismatch,
    message: stageImageSizeMessage,
  },
  StageMissingModality: {
    ...modelInputMismatch,
    message: 'dataset `{dataset}` has no modality `{name}` for the input `{input}` {shape}',
  },
  UnknownFieldType: {
    code: 'NVC5013',
    severity: 'error',
    summary: 'unknown field type',
    message: 'unknown field type `{name}`',
    help: 'field types are `number`, `binary` and `category`',
  },
  // 51xx: a build target cannot express a checked program --------------------------------------
  TorchReservedLayerName: {
    ...targetUnsupported,
    message: "the layer `{name}` of `{owner}` would shadow torch.nn.Module's own `{name}`",
    help: 'rename the layer: parameter paths become state_dict keys',
  },
  TorchReservedWeightName: {
    ...targetUnsupported,
    message: "the weight `{name}` of `{owner}` would shadow torch.nn.Module's own `{name}`",
    help: 'rename the weight: parameter paths become state_dict keys',
  },
  TorchUnknownInitializer: {
    ...targetUnsupported,
    message: 'the torch target has no initializer `{init}` (weight `{name}`)',
    help: 'use zeros, ones, constant, normal, uniform or trunc_normal',
  },
  TorchNoLowering: {
    ...targetUnsupported,
    message: 'the torch target has no lowering of the primitive `{primitive}`',
    help: 'build this program with the tfjs target',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type SemanticCode = keyof typeof semanticCatalogue;
