/**
 * Resource limits (compiler/limits.ts, docs/reliability.md): every reproduction of issue #18's
 * "unbounded resources from small inputs" is refused with a diagnostic or message that names the
 * limit, in process, and the work done before the refusal is bounded (counted, not timed).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkSampleCount } from '../../workflow/schedule.js';
import { main } from '../../cli/main.js';
import { DEFAULT_LIMITS, FIXED_LIMITS, limits, readRegularFile } from '../../compiler/limits.js';
import { type CompileResult, compileProgramSync } from '../../compiler/pipeline.js';
import { parseSetArgs, readConfigFile } from '../../compiler/schema/overrides.js';
import type { StageSpec } from '../../runtime/train/spec.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-limits-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TINY = 'test/cli/fixtures/tiny.nvc';

function write(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

function mkfifo(name: string): string {
  const p = path.join(tmp, name);
  const r = spawnSync('mkfifo', [p]);
  expect(r.status, `mkfifo: ${String(r.stderr)}`).toBe(0);
  return p;
}

/** Compiles text as a file in the temp folder (imports resolve next to it). */
function compile(text: string, name = 'main.nvc'): CompileResult {
  return compileProgramSync(write(name, text));
}

function codes(r: CompileResult): string[] {
  return r.diagnostics.map((d) => d.code);
}

const LEAF = `block Leaf(d: int = 4) {
  l = Linear(d, d)
  forward(x: [B, d]) -> [B, d] {
    return l(x)
  }
}
`;

function modelUsing(member: string): string {
  return `model M(d: int = 4) {
  r = ${member}
  forward(x: [B, d]) -> [B, d] {
    return r(x)
  }
}
const m = M()
`;
}

/** Blocks that each use the previous one twice: 2^levels leaves from about 100 bytes a level. */
function doublingBlocks(levels: number): string {
  let text = LEAF.replace('Leaf', 'D0');
  for (let i = 1; i <= levels; i++)
    text += `block D${i}(d: int = 4) {
  a = D${i - 1}(d)
  b = D${i - 1}(d)
  forward(x: [B, d]) -> [B, d] {
    return b(a(x))
  }
}
`;
  return text + modelUsing(`D${levels}(d)`);
}

describe('source files: regular files only, read with a size cap', () => {
  it('refuses /dev/zero, a FIFO and a symlink to a device before reading them', () => {
    expect(readRegularFile('/dev/zero')).toEqual({ refused: { kind: 'not-regular', what: 'a character device' } });
    expect(readRegularFile(mkfifo('pipe.nvc'))).toEqual({
      refused: { kind: 'not-regular', what: 'a named pipe (FIFO)' },
    });
    const link = path.join(tmp, 'zero.nvc');
    fs.symlinkSync('/dev/zero', link);
    expect(readRegularFile(link)).toEqual({ refused: { kind: 'not-regular', what: 'a character device' } });
  });

  it('checks /dev/zero and a FIFO named x.nvc as NVC2009 instead of reading them', () => {
    const zero = compileProgramSync('/dev/zero');
    expect(codes(zero)).toEqual(['NVC2009']);
    expect(zero.diagnostics[0]!.message).toBe('`/dev/zero` is a character device, not a regular file');
    const fifo = compileProgramSync(mkfifo('x.nvc'));
    expect(codes(fifo)).toEqual(['NVC2009']);
    expect(fifo.diagnostics[0]!.message).toMatch(/is a named pipe \(FIFO\), not a regular file$/);
  });

  it('refuses an import of a .nvc symlink to /dev/zero and of a FIFO, at the import', () => {
    fs.symlinkSync('/dev/zero', path.join(tmp, 'devzero.nvc'));
    mkfifo('fifo-module.nvc');
    const r = compile('import { A } from "./devzero"\nimport { B } from "./fifo-module"\nconst x = 1\n', 'imports.nvc');
    expect(codes(r)).toEqual(['NVC2009', 'NVC2009']);
    expect(r.diagnostics.map((d) => d.span.start)).toEqual([18, 48]);
  });

  it('refuses a source over NVCC_MAX_SOURCE_BYTES and reads it once the limit is raised', () => {
    expect(limits().sourceBytes).toEqual({ env: 'NVCC_MAX_SOURCE_BYTES', value: DEFAULT_LIMITS.sourceBytes });
    const file = write('big.nvc', `const x = 1\n${'// padding\n'.repeat(20)}`);
    vi.stubEnv('NVCC_MAX_SOURCE_BYTES', '100');
    try {
      const r = compileProgramSync(file);
      expect(codes(r)).toEqual(['NVC2010']);
      expect(r.diagnostics[0]!.message).toMatch(/has 232 bytes, more than the limit of 100$/);
      expect(r.diagnostics[0]!.help).toEqual([
        'split it into modules, or raise the limit with the environment variable `NVCC_MAX_SOURCE_BYTES=232`',
      ]);
      vi.stubEnv('NVCC_MAX_SOURCE_BYTES', '232');
      expect(codes(compileProgramSync(file))).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('nesting depth', () => {
  it('refuses member and index chains of 3,000 as NVC1020, not a stack overflow', () => {
    const member = compile(`const a = 1\nconst x = a${'.b'.repeat(3000)}\n`);
    expect(codes(member)).toEqual(['NVC1020']);
    expect(member.diagnostics[0]!.message).toBe(
      'nesting too deep: more than 100 member, index or call suffixes in one chain',
    );
    expect(codes(compile(`const a = [1]\nconst x = a${'[0]'.repeat(3000)}\n`))).toEqual(['NVC1020']);
    expect(codes(compile(`const x = f${'(1)'.repeat(3000)}\n`))).toEqual(['NVC1020']);
  });

  it('accepts a chain of 100 suffixes (the limit itself)', () => {
    expect(codes(compile(`const a = [1]\nconst x = a${'[0]'.repeat(99)}\n`))).not.toContain('NVC1020');
  });

  it('refuses constants that each use the next one, 5,000 deep, as NVC4011', () => {
    let text = '';
    for (let i = 0; i < 5000; i++) text += `const C${i}: int = C${i + 1} + 1\n`;
    const r = compile(`${text}const C5000: int = 0\n`);
    expect(codes(r)).toEqual(['NVC4011']);
    expect(r.diagnostics[0]!.message).toBe(`nesting too deep: more than ${FIXED_LIMITS.evalDepth} nested evaluations`);
  });

  it('refuses blocks that each use the previous one, 600 deep, as NVC4011 (nested layers)', () => {
    let text = LEAF.replace('Leaf', 'N1');
    for (let i = 2; i <= 600; i++)
      text +=
        `block N${i}(d: int = 4) {\n  l = N${i - 1}(d)\n  forward(x: [B, d]) -> [B, d] {\n    return ` +
        `l(x)\n  }\n}\n`;
    const r = compile(text + modelUsing('N600(d)'));
    expect(codes(r)).toEqual(['NVC4011']);
    expect(r.diagnostics[0]!.message).toBe(
      `nesting too deep: more than ${FIXED_LIMITS.layerDepth} levels of layers inside layers`,
    );
  });
});

describe('list length', () => {
  it.each([
    ['a comprehension over 0..100000000', 'const L: int[] = [i for i in 0..100000000]', 100_000_000],
    ['linspace(0, 1, 100000000)', 'const L: float[] = linspace(0, 1, 100000000)', 100_000_000],
    ['sum over 0..50000000', 'const S: int = sum([i for i in 0..50000000])', 50_000_000],
    ['range(0, 1000000)', 'const L: int[] = range(0, 1000000)', 1_000_000],
  ])('refuses %s as NVC4010 before making any item', (_, text, count) => {
    const r = compile(`${text}\n`);
    expect(codes(r)).toEqual(['NVC4010']);
    expect(r.diagnostics[0]!.message).toBe(
      `this list would have ${count} items, more than the limit of ${DEFAULT_LIMITS.listItems}`,
    );
    expect(r.budget!.steps).toBeLessThan(100);
  });

  it('refuses a list doubled by concatenation 40 times once it passes the limit', () => {
    let text = 'const A0 = [1]\n';
    for (let i = 1; i <= 40; i++) text += `const A${i} = A${i - 1} + A${i - 1}\n`;
    const r = compile(text);
    expect(codes(r)).toEqual(['NVC4010']);
    expect(r.diagnostics[0]!.message).toMatch(/^this list would have 131072 items/);
  });

  it('takes the limit from NVCC_MAX_LIST_ITEMS', () => {
    vi.stubEnv('NVCC_MAX_LIST_ITEMS', '10');
    try {
      const r = compile('const L: int[] = [i for i in 0..11]\n');
      expect(r.diagnostics[0]!.help).toEqual([
        'raise the limit with the environment variable `NVCC_MAX_LIST_ITEMS=20`',
      ]);
      expect(codes(compile('const L: int[] = [i for i in 0..10]\n'))).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('layers after expansion and elaboration work', () => {
  const layerLimit = DEFAULT_LIMITS.layers;

  it('refuses repeat 100000 at its count, before making any copy', () => {
    const r = compile(LEAF + modelUsing('repeat 100000 Leaf(d)'));
    expect(codes(r)).toEqual(['NVC4012']);
    expect(r.diagnostics[0]!.message).toBe(`checking the program makes more than ${layerLimit} layers`);
    expect(r.budget!.layers).toBeLessThan(100_100);
    expect(r.budget!.steps).toBeLessThan(100);
  });

  it('refuses three nested repeat 100 after at most the layer limit', () => {
    const r = compile(LEAF + modelUsing('repeat 100 repeat 100 repeat 100 Leaf(d)'));
    expect(codes(r)).toEqual(['NVC4012']);
    expect(r.budget!.layers).toBeLessThanOrEqual(layerLimit + 100);
  });

  it.each([18, 40])('stops blocks that each use the previous one twice, %i levels, within the budget', (levels) => {
    const text = doublingBlocks(levels);
    expect(text.length).toBeLessThan(5000);
    const r = compile(text);
    expect(codes(r)).toEqual(['NVC4012']);
    expect(r.budget!.layers).toBe(layerLimit + 1);
  });

  it('counts a layer used twice twice: [l, l] or P(l, l) nested 60 times is refused', () => {
    const pair = 'block P(a: layer, b: layer) {\n  forward(x: [B, 4]) -> [B, 4] {\n    return b(a(x))\n  }\n}\n';
    for (const step of ['L{p} >> L{p}', 'P(L{p}, L{p})']) {
      let text = `${LEAF}${pair}const L0 = Leaf(4)\n`;
      for (let i = 1; i <= 60; i++) text += `const L${i} = ${step.replaceAll('{p}', String(i - 1))}\n`;
      const r = compile(text + modelUsing('L60'));
      expect(codes(r), step).toEqual(['NVC4012']);
      expect(r.diagnostics[0]!.help[0], step).toMatch(/NVCC_MAX_LAYERS=\d+`$/);
    }
  });

  it('refuses 3 million compile-time products as NVC4013 after the step budget', () => {
    const r = compile('const T = [[i * j for i in 0..1000] for j in 0..3000]\n');
    expect(codes(r)).toEqual(['NVC4013']);
    expect(r.budget!.steps).toBeLessThanOrEqual(DEFAULT_LIMITS.evalSteps + 1001);
  });

  it('leaves the real programs far inside every budget', () => {
    for (const file of ['examples/mednvc.nvc', 'test/compiler/fixtures/variants.nvc']) {
      const r = compileProgramSync(file);
      expect(codes(r), file).toEqual([]);
      expect(r.budget!.layers * 5, file).toBeLessThan(layerLimit);
      expect(r.budget!.steps * 100, file).toBeLessThan(DEFAULT_LIMITS.evalSteps);
    }
  });
});

describe('config files and --set values', () => {
  const known = new Set(['fit.epochs']);

  it('refuses /dev/zero and a FIFO as --config without reading them', () => {
    expect(readConfigFile('/dev/zero', known).problems.map((p) => p.message)).toEqual([
      '--config /dev/zero is a character device, not a regular file; nvcc reads only regular files',
    ]);
    const fifo = mkfifo('config.yaml');
    expect(readConfigFile(fifo, known).problems[0]!.message).toMatch(/is a named pipe \(FIFO\), not a regular file/);
  });

  it('refuses a config over the size limit, naming the variable that raises it', () => {
    vi.stubEnv('NVCC_MAX_SOURCE_BYTES', '64');
    try {
      const file = write('big.yaml', `fit:\n  epochs: 3\n${'# padding\n'.repeat(10)}`);
      expect(readConfigFile(file, known).problems[0]!.message).toBe(
        `--config ${file} has 117 bytes, more than the limit of 64 (raise it with NVCC_MAX_SOURCE_BYTES=128)`,
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it.each([
    ['flow YAML', 'deep.yaml', `a: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`],
    ['JSON', 'deep.json', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`],
    ['block YAML', 'block.yaml', Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}k:\n`).join('') + '1\n'],
  ])('refuses %s nested 10,000 (block: 1,000) deep with a message, not a stack overflow', (_, name, text) => {
    const r = readConfigFile(write(name, text), known);
    expect(r.problems.map((p) => p.message)).toEqual([
      `--config ${path.join(tmp, name)}: nested more than 64 levels deep (a fixed limit: no setting needs ` +
        `that many levels)`,
    ]);
  });

  it('refuses a --set value nested 10,000 deep', () => {
    const r = parseSetArgs([`fit.epochs=${'['.repeat(10_000)}${']'.repeat(10_000)}`]);
    expect(r.problems[0]!.message).toMatch(/nested more than 64 levels deep/);
  });

  it('refuses epochs = 1e15 from --set and 1e26 from YAML as out of range', () => {
    const fromSet = compileProgramSync(TINY, { overrides: parseSetArgs(['fit.epochs=1e15']).overrides });
    expect(fromSet.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      'NVC5008 `epochs` must be >= 1 and <= 1000000, found 1000000000000000',
    ]);
    const yaml = readConfigFile(write('epochs.yaml', 'fit:\n  epochs: 1e26\n'), known);
    const fromYaml = compileProgramSync(TINY, { overrides: yaml.overrides });
    expect(codes(fromYaml)).toEqual(['NVC5008']);
  });
});

describe('commands', () => {
  let err = '';
  beforeEach(() => {
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(
      (chunk: string | Uint8Array) => ((err += String(chunk)), true),
    );
  });
  afterEach(() => vi.restoreAllMocks());

  it('nvcc check /dev/zero: NVC2009, exit 1', async () => {
    expect(await main(['check', '/dev/zero'])).toBe(1);
    expect(err).toContain('error[NVC2009]: `/dev/zero` is a character device, not a regular file');
  });

  it('nvcc build --config /dev/zero: refused, exit 1, nothing built', async () => {
    const out = path.join(tmp, 'build-zero');
    expect(await main(['build', TINY, '--config', '/dev/zero', '--out', out])).toBe(1);
    expect(err).toContain('--config /dev/zero is a character device, not a regular file');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('nvcc schedule --set fit.epochs=1e15 --out plan.csv: refused, nothing written', async () => {
    const plan = path.join(tmp, 'plan.csv');
    expect(await main(['schedule', TINY, '--set', 'fit.epochs=1e15', '--out', plan])).toBe(1);
    expect(err).toContain('`fit.epochs` (stage fit) must be >= 1 and <= 1000000, found 1000000000000000');
    expect(fs.existsSync(plan)).toBe(false);
  });

  it('nvcc diagram --depth 3 of repeat 100000: NVC4012, exit 1', async () => {
    const file = write('repeat.nvc', LEAF + modelUsing('repeat 100000 Leaf(d)'));
    expect(await main(['diagram', file, '--depth', '3', '--format', 'dot'])).toBe(1);
    expect(err).toContain('error[NVC4012]');
  });

  it('nvcc diagram --depth 3 of repeat 1000 as svg: refused before the layout, naming the limit', async () => {
    const file = write('repeat-1000.nvc', LEAF + modelUsing('repeat 1000 Leaf(d)'));
    expect(await main(['diagram', file, '--depth', '3', '--format', 'svg'])).toBe(1);
    expect(err).toMatch(/the diagram has \d+ nodes, more than the limit of 1500 for svg and png/);
    expect(err).toMatch(/NVCC_MAX_DIAGRAM_NODES=\d+\n$/);
    expect(err).not.toContain('internal error');
  });

  it('schedule samples past the limit are refused before sampling, naming --points and the variable', () => {
    const stage = { name: 'fit', epochs: 1_000_000 } as StageSpec;
    expect(() => checkSampleCount([stage], 20)).toThrow(
      'the plan would have 20000001 samples (1000000 epochs x --points 20), more than the limit of 1000000; ' +
        'lower --points or raise the limit with the environment variable NVCC_MAX_SCHEDULE_SAMPLES=20000001',
    );
    expect(() => checkSampleCount([{ ...stage, epochs: 800 }], 20)).not.toThrow();
  });
});
