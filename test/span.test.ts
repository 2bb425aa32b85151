import { describe, expect, it } from 'vitest';
import { SourceFile } from '../dsl/span.js';

describe('SourceFile', () => {
  it('maps offsets to 1-based line and column across \\n, \\r\\n and \\r line ends', () => {
    const f = new SourceFile('a.nvc', 'ab\ncd\r\nef\rgh');
    expect(f.lineCol(0)).toEqual({ line: 1, column: 1 });
    expect(f.lineCol(3)).toEqual({ line: 2, column: 1 });
    expect(f.lineCol(7)).toEqual({ line: 3, column: 1 });
    expect(f.lineCol(10)).toEqual({ line: 4, column: 1 });
    expect(f.lineText(2)).toBe('cd');
    expect(f.lineCol(999)).toEqual({ line: 4, column: 3 });
  });
});
