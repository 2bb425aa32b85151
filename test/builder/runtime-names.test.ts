/**
 * The primitive table and the runtime agree: every primitive's `runtime` name is exported by
 * runtime/index.ts (a class for layers, a function for functions), and every record's tfjs
 * lowering matches its kind.
 */
import { describe, expect, it } from 'vitest';
import { PRIMITIVES } from '../../compiler/primitives/index.js';
import * as nv from '../../runtime/index.js';

function resolveRuntime(name: string): unknown {
  expect(name.startsWith('nv.'), name).toBe(true);
  let cur: unknown = nv;
  for (const part of name.slice(3).split('.'))
    cur = cur === undefined || cur === null ? undefined : (cur as Record<string, unknown>)[part];
  return cur;
}

describe('primitive runtime names', () => {
  it('every primitive names an export of runtime/index.ts', () => {
    const missing: string[] = [];
    for (const p of PRIMITIVES.values()) {
      const v = resolveRuntime(p.runtime);
      if (typeof v !== 'function') missing.push(`${p.name} -> ${p.runtime}`);
    }
    expect(missing).toEqual([]);
    expect(PRIMITIVES.size).toBeGreaterThan(30);
  });

  it('layer primitives name constructible Module classes', () => {
    for (const p of PRIMITIVES.values()) {
      if (p.kind !== 'layer') continue;
      const cls = resolveRuntime(p.runtime) as { prototype: unknown };
      expect(cls.prototype instanceof nv.Module, p.runtime).toBe(true);
    }
  });

  it('every record has a tfjs lowering of its kind (a constructor for layers, a call for functions)', () => {
    const wrong = [...PRIMITIVES.values()]
      .filter((p) => p.targets.tfjs.lower.kind !== (p.kind === 'layer' ? 'layer' : 'call'))
      .map((p) => p.name);
    expect(wrong).toEqual([]);
  });
});
