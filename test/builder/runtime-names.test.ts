/**
 * The primitive table and the runtime agree: every primitive's `runtime` name is exported by
 * runtime/index.ts (a class for layers, a function for functions), and the emitter knows how to
 * call every function primitive.
 */
import { describe, expect, it } from 'vitest';
import { PRIMITIVES } from '../../compiler/primitives.js';
import { FUNCTION_LOWERING } from '../../compiler/emit/model.js';
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

  it('the emitter has a lowering for every function primitive', () => {
    const missing = [...PRIMITIVES.values()]
      .filter((p) => p.kind === 'function' && !FUNCTION_LOWERING[p.irName])
      .map((p) => p.name);
    expect(missing).toEqual([]);
  });
});
