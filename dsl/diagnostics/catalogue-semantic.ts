/**
 * The semantic half of the diagnostic catalogue (NVC2xxx names/imports, NVC3xxx shapes,
 * NVC4xxx arguments/types, NVC5xxx cross-declaration checks), reported by compiler/.
 * In: nothing. Out: `semanticCatalogue`, merged into `catalogue` by catalogue.ts. Holds
 * afterwards: every code compiler/ emits is listed here exactly once; the fixture harness
 * checks that every code has a fixture under test/fixtures/diagnostics/.
 */
import type { CatalogueEntry } from './catalogue-types.js';

export const semanticCatalogue = {
  // 2xxx: names and imports -------------------------------------------------------------------
  UnknownName: { code: 'NVC2001', severity: 'error', summary: 'unknown name', message: 'unknown name `{name}`' },
  DuplicateDefinition: {
    code: 'NVC2002',
    severity: 'error',
    summary: 'duplicate definition',
    message: '`{name}` is defined more than once in this {scope}',
    help: 'rename one of the definitions',
  },
  ModuleNotFound: {
    code: 'NVC2003',
    severity: 'error',
    summary: 'module not found',
    message: 'cannot find module `{path}`',
    note: 'imports are relative to the importing file (`./blocks`) or start with `std/`',
  },
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
  // 3xxx: shapes ------------------------------------------------------------------------------
  ArgumentShapeMismatch: {
    code: 'NVC3001',
    severity: 'error',
    summary: 'argument shape mismatch',
    message: '`{callee}` expects `{param}` of shape {expected}, found {found}',
  },
  LayerInputShape: { code: 'NVC3002', severity: 'error', summary: 'layer input shape mismatch', message: '{detail}' },
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
  NotCallable: { code: 'NVC4007', severity: 'error', summary: 'value used as the wrong kind', message: '{detail}' },
  InvalidConstant: {
    code: 'NVC4008',
    severity: 'error',
    summary: 'invalid constant expression',
    message: 'cannot evaluate at compile time: {detail}',
  },
  ForwardMissing: { code: 'NVC4009', severity: 'error', summary: 'forward missing or incomplete', message: '{detail}' },
  // 5xxx: declarations, stages, data, variants -----------------------------------------------
  HandOverMismatch: {
    code: 'NVC5001',
    severity: 'error',
    summary: 'hand-over shape mismatch',
    message: 'weights from `{from}` do not fit `{to}`: {count} parameter(s) differ',
  },
  BadStageReference: { code: 'NVC5002', severity: 'error', summary: 'bad stage reference', message: '{detail}' },
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
  BadVariant: { code: 'NVC5011', severity: 'error', summary: 'bad variant', message: '{detail}' },
  ModelInputMismatch: { code: 'NVC5012', severity: 'error', summary: 'model input not provided', message: '{detail}' },
  UnknownFieldType: {
    code: 'NVC5013',
    severity: 'error',
    summary: 'unknown field type',
    message: 'unknown field type `{name}`',
    help: 'field types are `number`, `binary` and `category`',
  },
} as const satisfies Record<string, CatalogueEntry>;

export type SemanticCode = keyof typeof semanticCatalogue;
