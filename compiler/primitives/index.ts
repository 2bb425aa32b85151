/**
 * The primitive registry: one record per built-in layer and tensor function.
 * In: the record families (layers.ts, elementwise.ts, tensor.ts). Out: `PRIMITIVES` by surface
 * name, `primitiveByIrName` for IR ops, the binary operators' primitives and the targets
 * `nvcc check` checks for. Holds afterwards: names and IR names are unique; check, summary,
 * build, diagram and the override schema know a primitive only through its record here, so
 * adding a primitive is adding one record (and its runtime function). See docs/architecture.md.
 */
import { BATCH_NORMS } from './batchnorm.js';
import { ELEMENTWISE } from './elementwise.js';
import { LAYERS } from './layers.js';
import { GROUP_NORMS } from './groupnorm.js';
import { POOLING } from './pooling.js';
import { RESAMPLING } from './resampling.js';
import { TENSOR_FUNCTIONS } from './tensor.js';
import { TORCH_RULES } from './torch.js';
import type { PrimitiveRecord } from './types.js';

export * from './types.js';

// The torch target's rules live in one table (torch.ts) and join each record here.
const ALL: readonly PrimitiveRecord[] = [
  ...LAYERS,
  ...BATCH_NORMS,
  ...POOLING,
  ...RESAMPLING,
  ...GROUP_NORMS,
  ...ELEMENTWISE,
  ...TENSOR_FUNCTIONS,
].map((p) => (TORCH_RULES[p.name] ? { ...p, targets: { ...p.targets, torch: TORCH_RULES[p.name] } } : p));

export const PRIMITIVES: ReadonlyMap<string, PrimitiveRecord> = new Map(ALL.map((p) => [p.name, p]));

const BY_IR_NAME: ReadonlyMap<string, PrimitiveRecord> = new Map(ALL.map((p) => [p.irName, p]));

/** The record of an IR op name (`conv2d`, `gelu`). */
export function primitiveByIrName(irName: string): PrimitiveRecord | undefined {
  return BY_IR_NAME.get(irName);
}

/** The module prefixes PyTorch code writes before a layer or function name, longest first. */
const TORCH_PREFIXES = ['torch.nn.functional.', 'torch.nn.', 'nn.functional.', 'torch.', 'nn.', 'F.'];

/** Heads of a dotted name that mean "PyTorch wrote this" (`nn.GELU`, `torch.cat`, `F.gelu`). */
export const TORCH_NAMESPACES: ReadonlySet<string> = new Set(['torch', 'nn', 'F']);

/**
 * The records a PyTorch name stands for: `nn.GELU` and `GELU` give `gelu` (its `torchAliases`),
 * `F.gelu` and `torch.matmul` the record of that name. Only records that exist are returned.
 */
export function primitivesForTorchName(written: string): PrimitiveRecord[] {
  const prefix = TORCH_PREFIXES.find((p) => written.startsWith(p));
  const bare = prefix ? written.slice(prefix.length) : written;
  return ALL.filter((r) => r.torchAliases.includes(bare) || (prefix !== undefined && r.name === bare));
}

/** Binary operators in forward bodies map onto these primitives. */
export const BINARY_PRIMITIVE: Readonly<Record<string, string>> = {
  '+': 'add',
  '-': 'sub',
  '*': 'mul',
  '/': 'div',
  '**': 'pow',
};

/** The targets a program is checked for when none is named: today's only code generator. */
export const DEFAULT_TARGETS: readonly string[] = ['tfjs'];
