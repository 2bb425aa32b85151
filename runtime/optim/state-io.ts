/**
 * Optimizer state <-> safetensors, for checkpoints and exact resume.
 * In: an OptimizerState (host slots + step + hyper-parameters). Out: one safetensors file whose
 * tensors are the slots (`<param path>#<slot>`) and whose `__metadata__` holds kind, step and
 * hyper-parameters as JSON strings. Holds afterwards: readOptimizerState(writeOptimizerState(s))
 * is equal to s bit for bit.
 */
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  type HostTensor,
} from '../io/safetensors.js';
import { refuseNonFinite } from '../io/weights.js';
import { writeFileAtomicSync } from '../run/atomic.js';
import type { OptimizerState } from './optimizer.js';

export function encodeOptimizerState(state: OptimizerState): Uint8Array {
  return encodeSafetensors(state.slots, {
    format: 'nvcc-optimizer-state',
    kind: state.kind,
    step: String(state.step),
    hyper: JSON.stringify(state.hyper),
  });
}

export function writeOptimizerState(path: string, state: OptimizerState): void {
  writeFileAtomicSync(path, encodeOptimizerState(state));
}

export function decodeOptimizerState(bytes: Uint8Array, source = '<buffer>'): OptimizerState {
  return fromFile(parseSafetensors(bytes, source), source);
}

export function readOptimizerState(path: string): OptimizerState {
  return fromFile(readSafetensors(path), path);
}

function fromFile(file: ReturnType<typeof parseSafetensors>, source: string): OptimizerState {
  const m = file.metadata;
  if (m.format !== 'nvcc-optimizer-state' || !m.kind || m.step === undefined)
    throw new SafetensorsError(source, 'not an nvcc optimizer state file');
  const step = Number(m.step);
  if (!Number.isInteger(step) || step < 0) throw new SafetensorsError(source, `invalid step '${m.step}'`);
  let hyper: Record<string, number>;
  try {
    hyper = JSON.parse(m.hyper ?? '{}') as Record<string, number>;
  } catch {
    throw new SafetensorsError(source, `its hyper-parameters are not valid JSON`);
  }
  const slots = new Map<string, HostTensor>();
  for (const [k, e] of file.tensors) slots.set(k, e.tensor);
  refuseNonFinite(slots, source);
  return { kind: m.kind, step, hyper, slots };
}
