/**
 * Inputs of the fuzz bench (bench/fuzz.ts) and its smoke test (test/compiler/fuzz-smoke.test.ts).
 * In: a seed and an input number. Out: one mutated program (`FuzzInput`: the corpus file it
 * came from, the strategies applied, the text); `checkInput`, which runs it through the
 * product's own check path (compileProgramSync, then the diagnostic renderer) and says whether
 * it crashed; and `driveInput`, which also runs every input that checks through the code of
 * `nvcc build` (compileBuild: lowering and TypeScript emission), `nvcc diagram` (selectDiagram
 * at depth 0 and 3, DOT and Mermaid, and SVG at depth 0 within the node limit) and
 * `nvcc schedule` (text and CSV plans at 20 points per epoch). Holds afterwards: input `i` of
 * seed `s` is the same text on every machine and in every process, so an offender is replayed by
 * its number alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileBuild } from '../compiler/builder/build.js';
import { drawnNodesRefusal, renderDiagram } from '../compiler/diagram/render.js';
import type { DiagramGraph } from '../compiler/diagram/graph.js';
import { selectDiagram } from '../compiler/diagram/select.js';
import type { ProgramIR } from '../compiler/ir/ir.js';
import { type CompileResult, compileProgramSync } from '../compiler/pipeline.js';
import { renderDiagnostics } from '../dsl/diagnostics/render.js';
import { NvccError } from '../runtime/errors.js';
import { renderSchedule } from '../workflow/schedule.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Corpus files larger than this are left out (the 1 MiB module that tests the size limit). */
const MAX_CORPUS_BYTES = 64 * 1024;

export interface CorpusFile {
  /** Relative to the repository root, as the check path shows it. */
  readonly path: string;
  readonly text: string;
}

function nvcFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...nvcFiles(rel));
    else if (entry.isFile() && entry.name.endsWith('.nvc')) out.push(rel);
  }
  return out;
}

/** Every .nvc file of the fixtures, examples and std, sorted (the corpus order is part of the seed). */
export function loadCorpus(): CorpusFile[] {
  return ['test', 'examples', 'std']
    .flatMap(nvcFiles)
    .sort()
    .filter((p) => fs.statSync(path.join(REPO, p)).size <= MAX_CORPUS_BYTES)
    .map((p) => ({ path: p.split(path.sep).join('/'), text: fs.readFileSync(path.join(REPO, p), 'utf8') }));
}

/** mulberry32: a small, fast 32-bit generator; enough for choosing mutations. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Choices {
  private readonly next: () => number;
  constructor(seed: number, index: number) {
    this.next = generator(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const TOKEN = /[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:e[+-]?\d+)?|"[^"\n]*"|\/\/[^\n]*|\S/g;

function tokens(text: string): { start: number; end: number }[] {
  return [...text.matchAll(TOKEN)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
}

const HUGE_NUMBERS = [
  '1e308',
  '1e999',
  '99999999999999999999',
  '1e15',
  '100000000',
  '9007199254740993',
  '4294967296',
  '-2147483649',
  '0',
  '-1',
  '1e-320',
  '0.1e400',
];

const WORDS = [
  'repeat',
  'for',
  'in',
  'if',
  'then',
  'else',
  'block',
  'model',
  'forward',
  'return',
  'let',
  'const',
  'import',
  'stage',
  'train',
  'dataset',
  'variant',
  'weight',
  'sparse',
  '->',
  '>>',
  '|>',
  '..',
  '**',
  '=',
  ',',
  ';',
  '\n',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  '.',
  'x',
  'B',
  'Linear(4, 4)',
  'linspace(0, 1, 100000000)',
  'range(100000000)',
];

/** Deep nesting around a spot: brackets, suffix chains, prefixes, repeats, conditionals. */
function nest(c: Choices): [string, string] {
  const depth = c.pick([50, 101, 300, 1000, 3000, 10000]);
  switch (c.int(7)) {
    case 0:
      return ['('.repeat(depth), ')'.repeat(depth)];
    case 1:
      return ['['.repeat(depth), ']'.repeat(depth)];
    case 2:
      return ['', '.b'.repeat(depth)];
    case 3:
      return ['', '[0]'.repeat(depth)];
    case 4:
      return ['-'.repeat(depth), ''];
    case 5:
      return ['repeat 2 '.repeat(depth), ''];
    default:
      return ['if true then '.repeat(depth), ' else 0'.repeat(depth)];
  }
}

/** Mutations that mostly break a program: its check path is what they exercise. */
const BREAKING = ['delete-bytes', 'delete-token', 'duplicate', 'splice', 'nest', 'huge-number', 'insert-word'] as const;
/**
 * Mutations of a program that checks which mostly keep it checking (a number changed, a line
 * repeated or two swapped), so build, diagram and schedule see many programs, not only the few
 * that survive a breaking mutation.
 */
const MILD = ['tweak-number', 'duplicate-line', 'swap-lines'] as const;
export const STRATEGIES = [...BREAKING, ...MILD] as const;
export type Strategy = (typeof STRATEGIES)[number];

const TWEAKED_NUMBERS = ['0', '1', '2', '3', '7', '16', '64', '100', '1000', '0.5', '1e-9', '100000'];

function mutateOnce(text: string, strategy: Strategy, c: Choices, corpus: readonly CorpusFile[]): string {
  const at = c.int(text.length + 1);
  switch (strategy) {
    case 'delete-bytes':
      return text.slice(0, at) + text.slice(at + 1 + c.int(16));
    case 'delete-token': {
      const ts = tokens(text);
      if (ts.length === 0) return text;
      const t = c.pick(ts);
      return text.slice(0, t.start) + text.slice(t.end);
    }
    case 'duplicate': {
      const len = 1 + c.int(Math.min(400, text.length + 1));
      const from = c.int(Math.max(1, text.length - len));
      const piece = text.slice(from, from + len);
      const times = c.pick([1, 2, 8, 64]);
      return text.slice(0, at) + piece.repeat(times) + text.slice(at);
    }
    case 'splice': {
      const other = c.pick(corpus).text;
      const from = c.int(other.length + 1);
      const piece = other.slice(from, from + 1 + c.int(600));
      return text.slice(0, at) + piece + text.slice(at + c.int(200));
    }
    case 'nest': {
      const ts = tokens(text).filter((t) => /^[A-Za-z0-9_]/.test(text.slice(t.start, t.end)));
      if (ts.length === 0) return text;
      const t = c.pick(ts);
      const [open, close] = nest(c);
      return text.slice(0, t.start) + open + text.slice(t.start, t.end) + close + text.slice(t.end);
    }
    case 'huge-number': {
      const ts = tokens(text).filter((t) => /^\d/.test(text.slice(t.start, t.end)));
      if (ts.length === 0) return text.slice(0, at) + c.pick(HUGE_NUMBERS) + text.slice(at);
      const t = c.pick(ts);
      return text.slice(0, t.start) + c.pick(HUGE_NUMBERS) + text.slice(t.end);
    }
    case 'insert-word':
      return `${text.slice(0, at)} ${c.pick(WORDS)} ${text.slice(at)}`;
    case 'tweak-number': {
      const ts = tokens(text).filter((t) => /^\d/.test(text.slice(t.start, t.end)));
      if (ts.length === 0) return text;
      const t = c.pick(ts);
      const old = Number(text.slice(t.start, t.end));
      const value = c.int(3) === 0 ? String(old * c.pick([2, 10, 100])) : c.pick(TWEAKED_NUMBERS);
      return text.slice(0, t.start) + value + text.slice(t.end);
    }
    case 'duplicate-line':
    case 'swap-lines': {
      const lines = text.split('\n');
      const i = c.int(lines.length);
      if (strategy === 'duplicate-line') lines.splice(i, 0, lines[i]!);
      else if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
      return lines.join('\n');
    }
  }
}

/** Corpus files that check without an error (computed once per process; the same everywhere). */
let cleanCorpus: { of: readonly CorpusFile[]; clean: readonly CorpusFile[] } | undefined;
function cleanFiles(corpus: readonly CorpusFile[]): readonly CorpusFile[] {
  if (cleanCorpus?.of !== corpus) {
    const clean = corpus.filter((f) => {
      try {
        return compileProgramSync(f.path, { text: f.text }).program !== undefined;
      } catch {
        return false;
      }
    });
    cleanCorpus = { of: corpus, clean };
  }
  return cleanCorpus.clean;
}

/**
 * Does a worker's start-up work once, outside any input: the clean-corpus list, and one clean
 * program through every command (loading the emitter, ts-morph and ELK).
 */
export async function warmUp(corpus: readonly CorpusFile[]): Promise<void> {
  const clean = cleanFiles(corpus);
  const file = clean.find((f) => f.path === 'examples/mednvc.nvc') ?? clean[0];
  if (file) await driveInput({ source: file.path, text: file.text });
}

export interface FuzzInput {
  readonly index: number;
  /** The corpus file it was made from (its path is the entry path, so imports resolve). */
  readonly source: string;
  readonly strategies: readonly Strategy[];
  readonly text: string;
}

/**
 * Input `index` of `seed`: three in four are one corpus file with one to three breaking
 * mutations; one in four is a corpus file that checks with one mild mutation.
 */
export function makeInput(corpus: readonly CorpusFile[], seed: number, index: number): FuzzInput {
  const c = new Choices(seed, index);
  const mild = c.int(4) === 0;
  const file = c.pick(mild ? cleanFiles(corpus) : corpus);
  let text = file.text;
  const strategies: Strategy[] = [];
  const count = mild ? 1 : 1 + c.int(3);
  for (let i = 0; i < count; i++) {
    const s = c.pick(mild ? MILD : BREAKING);
    strategies.push(s);
    text = mutateOnce(text, s, c, corpus);
  }
  return { index, source: file.path, strategies, text };
}

export interface CheckOutcome {
  /** Undefined when the input was handled: diagnostics (or none) and no exception. */
  readonly crash?: string;
  readonly codes: readonly string[];
}

/**
 * Runs one input through `nvcc check`'s path: compile from the entry path with the mutated text,
 * then render the diagnostics. A crash is an exception escaping either, an internal-error
 * diagnostic (NVC1099) or a diagnostic whose span lies outside the file it names.
 */
export function checkInput(input: Pick<FuzzInput, 'source' | 'text'>): CheckOutcome {
  return checkCompiled(input).outcome;
}

function checkCompiled(input: Pick<FuzzInput, 'source' | 'text'>): {
  outcome: CheckOutcome;
  compiled?: CompileResult & { program: ProgramIR };
} {
  try {
    const r = compileProgramSync(input.source, { text: input.text });
    renderDiagnostics(r.diagnostics, (p) => r.files.get(p), { color: false });
    const codes = r.diagnostics.map((d) => d.code);
    if (codes.includes('NVC1099')) {
      const d = r.diagnostics.find((x) => x.code === 'NVC1099')!;
      return { outcome: { crash: `internal parser error: ${d.message}`, codes } };
    }
    for (const d of r.diagnostics) {
      const f = r.files.get(d.span.file);
      if (f && (d.span.start < 0 || d.span.end > f.text.length || d.span.start > d.span.end))
        return { outcome: { crash: `${d.code} span ${d.span.start}-${d.span.end} outside ${d.span.file}`, codes } };
    }
    return { outcome: { codes }, ...(r.program ? { compiled: { ...r, program: r.program } } : {}) };
  } catch (err) {
    return { outcome: { crash: crashOf(err), codes: [] } };
  }
}

function crashOf(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  return `${e.name}: ${e.message.split('\n')[0]}`;
}

/**
 * Graphs this process has drawn as SVG (by their JSON text; at most 2,000 kept). Layout and
 * drawing are a pure function of the graph, so a graph drawn once without a crash cannot crash
 * when drawn again; many mild mutations (a training setting changed, two lines swapped) leave the
 * graph as it was, and its layout (ELK, most of the diagram's cost) is not repeated for them.
 */
const drawnGraphs = new Set<string>();
export const svgDrawings = { drawn: 0, repeated: 0 };

async function renderSvgOnce(graph: DiagramGraph): Promise<void> {
  const key = JSON.stringify(graph);
  if (drawnGraphs.has(key)) {
    svgDrawings.repeated++;
    return;
  }
  await renderDiagram(graph, { format: 'svg', direction: 'LR', theme: 'paper' });
  svgDrawings.drawn++;
  if (drawnGraphs.size >= 2000) drawnGraphs.delete(drawnGraphs.values().next().value!);
  drawnGraphs.add(key);
}

/** The commands an input can reach: every input is checked; one that checks goes further. */
export const COMMANDS = ['check', 'build', 'diagram', 'schedule'] as const;
export type Command = (typeof COMMANDS)[number];

export interface DriveOutcome extends CheckOutcome {
  /** The commands the input went through (a crash stops it at the one that crashed). */
  readonly reached: readonly Command[];
}

/**
 * A refusal the user can act on (a UserError naming a limit, a stage that has no model) is an
 * answer; an internal error or any other exception is a crash.
 */
function isAnswer(err: unknown): boolean {
  return err instanceof NvccError && err.kind !== 'internal';
}

/**
 * `checkInput`, then, for an input that checks, the code of `nvcc build`, `nvcc diagram` and
 * `nvcc schedule` on the same text, in process, writing nothing.
 */
export async function driveInput(input: Pick<FuzzInput, 'source' | 'text'>): Promise<DriveOutcome> {
  const { outcome, compiled } = checkCompiled(input);
  const reached: Command[] = ['check'];
  if (outcome.crash !== undefined || !compiled) return { ...outcome, reached };
  const program = compiled.program;
  const step = async (command: Command, run: () => Promise<void>): Promise<string | undefined> => {
    reached.push(command);
    try {
      await run();
      return undefined;
    } catch (err) {
      return isAnswer(err) ? undefined : `${command}: ${crashOf(err)}`;
    }
  };
  let trainSpec: Parameters<typeof renderSchedule>[0] | undefined;
  const build = await step('build', async () => {
    // The check's compile of the same text is the one build would make: reused, not repeated.
    const b = await compileBuild(input.source, { text: input.text, checked: compiled });
    const internal = b.result.diagnostics.find((d) => d.code === 'NVC1099');
    if (internal) throw new Error(`internal error diagnostic: ${internal.message}`);
    trainSpec = b.compiled?.trainSpecs[0];
  });
  if (build) return { ...outcome, crash: build, reached };
  const diagram = await step('diagram', async () => {
    for (const depth of [0, 3]) {
      const chosen = selectDiagram(program, { depth, dims: new Map() });
      if ('error' in chosen) continue;
      for (const format of ['dot', 'mermaid'] as const)
        await renderDiagram(chosen.graph, { format, direction: 'LR', theme: 'paper' });
      if (depth === 0 && !drawnNodesRefusal(chosen.graph, 'svg')) await renderSvgOnce(chosen.graph);
    }
  });
  if (diagram) return { ...outcome, crash: diagram, reached };
  if (!trainSpec) return { ...outcome, reached };
  const train = trainSpec;
  const schedule = await step('schedule', async () => {
    await renderSchedule(train, 'text', { points: 20 });
    await renderSchedule(train, 'csv', { points: 20 });
  });
  return { ...outcome, ...(schedule ? { crash: schedule } : {}), reached };
}
