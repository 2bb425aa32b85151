import { describe, expect, it } from 'vitest';
import { closestNames, didYouMean, typoDistance } from '../../dsl/diagnostics/suggest.js';

const layers = ['LayerNorm', 'Linear', 'Conv2d', 'DepthwiseConv2d', 'GRN', 'gelu', 'DropPath'];

describe('did-you-mean', () => {
  it('suggests the closest name for a typo', () => {
    expect(didYouMean('LayerNrom', layers)).toEqual(['did you mean `LayerNorm`?']);
    expect(didYouMean('Conv2D', ['Conv2d', 'Conv1d'])[0]).toBe('did you mean `Conv2d`? names are case-sensitive');
  });

  it('says when only the letter case differs, and ranks that first', () => {
    expect(closestNames('layernorm', layers)[0]).toEqual({ name: 'LayerNorm', distance: 0, caseOnly: true });
    expect(didYouMean('grn', layers)).toEqual(['did you mean `GRN`? names are case-sensitive']);
  });

  it('lists runner-up candidates', () => {
    expect(didYouMean('dims', ['dim', 'dims_', 'depths'])).toEqual(['did you mean `dim`? (or `dims_`)']);
  });

  it('suggests nothing for unrelated names or the name itself', () => {
    expect(didYouMean('Transformer', layers)).toEqual([]);
    expect(didYouMean('GRN', ['GRN'])).toEqual([]);
    expect(didYouMean('x', [])).toEqual([]);
  });

  it('is deterministic for ties (alphabetical)', () => {
    expect(closestNames('ab', ['ac', 'aa']).map((s) => s.name)).toEqual(['aa', 'ac']);
  });
});

describe('transposed letters', () => {
  it('count as one edit, so `dmeo` suggests `demo`', () => {
    expect(typoDistance('dmeo', 'demo')).toBe(1);
    expect(typoDistance('abcd', 'abdc')).toBe(1);
    expect(typoDistance('kitten', 'sitting')).toBe(3);
    expect(typoDistance('ca', 'abc')).toBe(3); // optimal string alignment: no edit of a swapped pair
    expect(didYouMean('dmeo', ['demo', 'demo_mlp_labs'])).toEqual(['did you mean `demo`?']);
  });
});
