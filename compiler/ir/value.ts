/**
 * Helpers over the IR's typed constant values (`IRValue`, compiler/ir/ir.ts).
 * In: an IRValue. Out: its JSON form, the same JSON the elaborator's `valueToJson` gives the
 * value it came from (layers as their type and arguments, symbolic dims as text).
 */
import type { IRValue } from './ir.js';

export function irValueToJson(v: IRValue): unknown {
  switch (v.kind) {
    case 'int':
    case 'float':
    case 'bool':
    case 'string':
      return v.value;
    case 'word':
      return v.name;
    case 'list':
      return v.items.map(irValueToJson);
    case 'record':
      return Object.fromEntries([...v.entries].map(([k, x]) => [k, irValueToJson(x)]));
    case 'dim':
      return v.dim.toString();
    case 'layer':
      return { layer: v.typeName, args: Object.fromEntries([...v.args].map(([k, x]) => [k, irValueToJson(x)])) };
    case 'opaque':
      return v.json;
  }
}
