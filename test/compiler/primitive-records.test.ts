/**
 * The primitive records are complete: every record has every field a stage reads (schema,
 * shape rule, doc, diagram rule, a tfjs support predicate and lowering of its kind, weights and
 * MACs where the family has them), names and IR names are unique, every parameter's default
 * fits its schema, and the runtime exports the function or class it names.
 */
import { describe, expect, it } from 'vitest';
import { PRIMITIVES, primitiveByIrName } from '../../compiler/primitives/index.js';
import * as nv from '../../runtime/index.js';

const records = [...PRIMITIVES.values()];

function runtimeExport(name: string): unknown {
  let cur: unknown = nv;
  for (const part of name.replace(/^nv\./, '').split('.'))
    cur = cur === undefined || cur === null ? undefined : (cur as Record<string, unknown>)[part];
  return cur;
}

/** Layers without weights (the pools pass NHWC maps through windows; Identity returns its input). */
const WEIGHTLESS = ['Identity', 'MaxPool2d', 'AvgPool2d', 'AdaptiveAvgPool2d'];

/** Records whose MACs count (the cost convention in compiler/primitives/types.ts). */
const COUNTED = ['Conv2d', 'DepthwiseConv2d', 'ConvTranspose2d', 'Linear', 'matmul', 'attention'];

describe('primitive records', () => {
  it('are many, with unique names and IR names', () => {
    expect(records.length).toBeGreaterThan(40);
    expect(new Set(records.map((r) => r.name)).size).toBe(records.length);
    expect(new Set(records.map((r) => r.irName)).size).toBe(records.length);
    for (const r of records) expect(primitiveByIrName(r.irName), r.name).toBe(r);
  });

  for (const r of records)
    it(`${r.name}: every field, and a runtime ${r.kind === 'layer' ? 'class' : 'function'}`, () => {
      expect(r.kind === 'layer' || r.kind === 'function').toBe(true);
      expect(r.irName).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(r.runtime.startsWith('nv.')).toBe(true);
      expect(r.doc.length).toBeGreaterThan(5);
      expect(r.inputs.length).toBeGreaterThan(0);
      expect(typeof r.shape).toBe('function');
      expect(typeof r.diagram.settings).toBe('function');
      const tfjs = r.targets.tfjs;
      expect(typeof tfjs.supports).toBe('function');
      expect(tfjs.lower.kind).toBe(r.kind === 'layer' ? 'layer' : 'call');
      for (const p of r.params) {
        expect(p.doc.length, `${r.name}.${p.name}`).toBeGreaterThan(0);
        if (p.type === 'enum') expect(p.enumValues?.length, `${r.name}.${p.name}`).toBeGreaterThan(0);
        const def = p.default;
        if (def === undefined) continue;
        if (p.type === 'int') expect(def.kind, `${r.name}.${p.name}`).toBe('int');
        if (p.type === 'float') expect(def.kind, `${r.name}.${p.name}`).toBe('float');
        if (p.type === 'bool') expect(def.kind, `${r.name}.${p.name}`).toBe('bool');
        if (p.type === 'enum') expect(def.kind === 'word' && p.enumValues!.includes(def.name)).toBe(true);
        if (def.kind === 'int' || def.kind === 'float') {
          if (p.min !== undefined) expect(def.value).toBeGreaterThanOrEqual(p.min);
          if (p.above !== undefined) expect(def.value).toBeGreaterThan(p.above);
          if (p.max !== undefined) expect(def.value).toBeLessThanOrEqual(p.max);
          if (p.below !== undefined) expect(def.value).toBeLessThan(p.below);
        }
      }
      // Layers own weights; functions do not.
      expect(typeof r.weights === 'function', r.name).toBe(r.kind === 'layer' && !WEIGHTLESS.includes(r.name));
      expect(typeof r.macs === 'function', r.name).toBe(COUNTED.includes(r.name));
      const rt = runtimeExport(r.runtime);
      expect(typeof rt, r.runtime).toBe('function');
      if (r.kind === 'layer') expect((rt as { prototype: unknown }).prototype instanceof nv.Module).toBe(true);
    });
});
