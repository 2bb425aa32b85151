/**
 * Fuzz bench of the commands that read a program: mutated fixtures, examples and std modules
 * (bench/fuzz-inputs.ts: byte and token deletion, duplication, splicing, deep nesting, huge
 * numbers, inserted words; and, for one input in four, a mild change to a program that checks)
 * through `nvcc check`'s own compile-and-render path and, for every input that checks, the code
 * of `nvcc build`, `nvcc diagram` and `nvcc schedule` (driveInput), in worker processes.
 * Run: `nice npx tsx bench/fuzz.ts [--count 100000] [--from 0] [--seed 18] [--workers 2] [--fixtures]`
 * (`--from N`: inputs N to N + count - 1; the figures so far are also printed to stderr every
 * 5,000 inputs, as lines starting with `partial`).
 * Prints the figures docs/reliability.md reports: inputs, crashes (an exception or internal-error
 * diagnostic instead of diagnostics), inputs over 10 s of CPU or over 1 GB of memory growth, and
 * the distribution of CPU time and memory growth per input. `--fixtures` writes each offender,
 * minimised where it crashed, to test/fixtures/fuzz/ (test/compiler/fuzz-fixtures.test.ts runs
 * them). Time is CPU time of the worker (user + system), not wall time, so the figures mean the
 * same on a loaded machine; memory growth is the worker's peak resident size during the input
 * over its size before it. A worker that dies (heap limit 1.5 GB) or stalls for two minutes
 * counts its input as an offender and is replaced.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  COMMANDS,
  type Command,
  type CorpusFile,
  driveInput,
  type FuzzInput,
  loadCorpus,
  makeInput,
  REPO,
} from './fuzz-inputs.js';

interface Measured {
  readonly index: number;
  readonly cpuMs: number;
  readonly wallMs: number;
  /** Peak resident growth during the input, MB. */
  readonly growthMb: number;
  readonly strategies: readonly string[];
  /** The commands the input went through (check always; build, diagram, schedule when it checks). */
  readonly reached: readonly Command[];
  readonly crash?: string;
}

interface Offender {
  readonly index: number;
  readonly kind: 'crash' | 'over-time' | 'over-memory' | 'worker-died' | 'stalled';
  readonly detail: string;
}

const MAX_CPU_MS = 10_000;
const MAX_GROWTH_MB = 1024;
const STALL_MS = 120_000;
const BATCH = 100;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} needs a whole number`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Worker: checks the inputs it is sent and reports each one's cost.

function runWorker(seed: number): void {
  const corpus = loadCorpus();
  const run = async (indices: readonly number[]): Promise<void> => {
    for (const index of indices) {
      process.send!({ started: index });
      const input = makeInput(corpus, seed, index);
      const rss0 = process.memoryUsage().rss;
      const peak0 = process.resourceUsage().maxRSS * 1024;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const outcome = await driveInput(input);
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const peak1 = process.resourceUsage().maxRSS * 1024;
      const grown = peak1 > peak0 ? peak1 - rss0 : process.memoryUsage().rss - rss0;
      const m: Measured = {
        index,
        cpuMs: (cpu.user + cpu.system) / 1000,
        wallMs,
        growthMb: Math.max(0, grown) / 1e6,
        strategies: input.strategies,
        reached: outcome.reached,
        ...(outcome.crash !== undefined ? { crash: outcome.crash } : {}),
      };
      process.send!(m);
    }
    process.send!({ batchDone: true });
  };
  // The driver sends the next batch only after batchDone, so batches never overlap.
  process.on('message', (msg: { indices: number[] }) => void run(msg.indices));
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// Driver

function spawnWorker(seed: number): ChildProcess {
  return fork(path.join(REPO, 'bench', 'fuzz.ts'), ['--worker', String(seed)], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=1536'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

async function drive(
  from: number,
  count: number,
  seed: number,
  workers: number,
  onProgress: (all: readonly Measured[], offenders: readonly Offender[]) => void,
): Promise<{ all: Measured[]; offenders: Offender[] }> {
  const all: Measured[] = [];
  const offenders: Offender[] = [];
  let next = from;
  const end = from + count;
  const started = Date.now();
  let lastPrint = started;
  /** Inputs a dead worker had not reached; handed out again first. */
  const retry: number[] = [];
  const takeBatch = (): number[] => {
    const out = retry.splice(0, BATCH);
    while (out.length < BATCH && next < end) out.push(next++);
    return out;
  };

  const runOne = (): Promise<void> =>
    new Promise((resolve) => {
      let child = spawnWorker(seed);
      let current: number | undefined;
      let pending: number[] = [];
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          if (current !== undefined) offenders.push({ index: current, kind: 'stalled', detail: 'no result in 2 min' });
          child.kill('SIGKILL');
        }, STALL_MS);
      };
      const send = () => {
        pending = takeBatch();
        if (pending.length === 0) {
          if (timer) clearTimeout(timer);
          child.kill();
          resolve();
          return;
        }
        arm();
        child.send({ indices: pending });
      };
      const attach = () => {
        child.on('message', (msg: Measured | { started: number } | { ready: true } | { batchDone: true }) => {
          if ('ready' in msg) send();
          else if ('started' in msg) {
            current = msg.started;
            arm();
          } else if ('batchDone' in msg) send();
          else {
            current = undefined;
            pending = pending.filter((i) => i !== msg.index);
            all.push(msg);
            if (msg.crash !== undefined) offenders.push({ index: msg.index, kind: 'crash', detail: msg.crash });
            if (msg.cpuMs > MAX_CPU_MS)
              offenders.push({ index: msg.index, kind: 'over-time', detail: `${msg.cpuMs.toFixed(0)} ms CPU` });
            if (msg.growthMb > MAX_GROWTH_MB)
              offenders.push({ index: msg.index, kind: 'over-memory', detail: `${msg.growthMb.toFixed(0)} MB` });
            if (all.length % 5000 === 0) onProgress(all, offenders);
            if (Date.now() - lastPrint > 30_000) {
              lastPrint = Date.now();
              const rate = all.length / ((Date.now() - started) / 1000);
              process.stderr.write(
                `fuzz: ${all.length}/${count} inputs, ${rate.toFixed(1)}/s, offenders ${offenders.length}\n`,
              );
            }
          }
        });
        child.on('exit', (code, signal) => {
          if (pending.length === 0 && next >= end && retry.length === 0) return;
          // Died or was killed mid-batch: the input in progress is an offender; the rest go back.
          if (current !== undefined) {
            if (!offenders.some((o) => o.index === current))
              offenders.push({ index: current, kind: 'worker-died', detail: `exit ${code ?? signal}` });
            pending = pending.filter((i) => i !== current);
            current = undefined;
          }
          retry.push(...pending);
          pending = [];
          child = spawnWorker(seed);
          attach();
        });
      };
      attach();
    });

  await Promise.all(Array.from({ length: workers }, runOne));
  all.sort((a, b) => a.index - b.index);
  return { all, offenders };
}

/** Removes chunks of lines, then of characters, while the input still crashes the same way. */
async function minimise(input: FuzzInput): Promise<string> {
  const kind = async (text: string) => (await driveInput({ source: input.source, text })).crash?.split(':')[0];
  const target = await kind(input.text);
  if (target === undefined) return input.text;
  let text = input.text;
  for (const unit of ['\n', '']) {
    let parts = unit ? text.split(unit) : [...text];
    for (let chunk = Math.max(1, parts.length >> 1); chunk >= 1; chunk >>= 1) {
      for (let i = 0; i + chunk <= parts.length; ) {
        const candidate = [...parts.slice(0, i), ...parts.slice(i + chunk)];
        if ((await kind(candidate.join(unit))) === target) parts = candidate;
        else i += chunk;
      }
    }
    text = parts.join(unit);
  }
  return text;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The figures of the inputs checked so far (the bench's output; also printed every 5,000 inputs). */
function summary(
  all: readonly Measured[],
  offenders: readonly Offender[],
  run: { from: number; count: number; seed: number; workers: number; wallS: number },
  corpus: readonly CorpusFile[],
): string[] {
  const { from, count, seed, workers, wallS } = run;
  const lines: string[] = [];
  const sorted = [...all].sort((a, b) => a.index - b.index);

  const cpu = sorted.map((m) => m.cpuMs).sort((a, b) => a - b);
  const growth = sorted.map((m) => m.growthMb).sort((a, b) => a - b);
  const slowest = sorted.reduce((a, b) => (b.cpuMs > a.cpuMs ? b : a), sorted[0]!);
  const hungriest = sorted.reduce((a, b) => (b.growthMb > a.growthMb ? b : a), sorted[0]!);
  const byKind = (k: Offender['kind']) => offenders.filter((o) => o.kind === k).length;
  const strategies = new Map<string, number>();
  for (const m of sorted) for (const s of m.strategies) strategies.set(s, (strategies.get(s) ?? 0) + 1);
  const last = sorted[sorted.length - 1]!.index;
  const contiguous = all.length === last - from + 1;

  lines.push(
    `fuzz bench: seed ${seed}, inputs ${from}-${from + count - 1} from ${corpus.length} corpus files, ` +
      `${workers} workers`,
  );
  lines.push(`  mutations: ${[...strategies].map(([s, n]) => `${s} ${n}`).join(', ')}`);
  const reached = (c: Command) => sorted.filter((m) => m.reached.includes(c));
  lines.push(
    `  inputs through each command: ${COMMANDS.map((c) => {
      const through = reached(c);
      const worst = through.reduce((a, m) => Math.max(a, m.cpuMs), 0);
      return `${c} ${through.length} (slowest input ${worst.toFixed(0)} ms CPU)`;
    }).join(', ')}`,
  );
  lines.push(
    `  checked: ${all.length} inputs (${contiguous ? `all of ${from}-${last}` : `between ${from} and ${last}`}) ` +
      `in ${wallS.toFixed(0)} s wall`,
  );
  lines.push(
    `  crashes: ${byKind('crash')}; over ${MAX_CPU_MS / 1000} s CPU: ${byKind('over-time')}; ` +
      `over ${MAX_GROWTH_MB} MB: ${byKind('over-memory')}; workers died: ${byKind('worker-died')}; ` +
      `stalled: ${byKind('stalled')}`,
  );
  lines.push(
    `  CPU per input: median ${quantile(cpu, 0.5).toFixed(1)} ms, p99 ${quantile(cpu, 0.99).toFixed(0)} ms, ` +
      `max ${slowest.cpuMs.toFixed(0)} ms (input ${slowest.index}, ${slowest.wallMs.toFixed(0)} ms wall)`,
  );
  lines.push(
    `  memory growth per input: median ${quantile(growth, 0.5).toFixed(1)} MB, p99 ` +
      `${quantile(growth, 0.99).toFixed(0)} MB, ` +
      `max ${hungriest.growthMb.toFixed(0)} MB (input ${hungriest.index})`,
  );
  return lines;
}

async function mainDriver(): Promise<void> {
  const count = arg('count', 100_000);
  const from = arg('from', 0);
  const seed = arg('seed', 18);
  const workers = Math.max(1, arg('workers', 2));
  const corpus = loadCorpus();
  const t0 = Date.now();
  const { all, offenders } = await drive(from, count, seed, workers, (done, found) => {
    const wallS = (Date.now() - t0) / 1000;
    const lines = summary(done, found, { from, count, seed, workers, wallS }, corpus);
    process.stderr.write(`partial ${lines.join('\npartial ')}\n`);
  });
  if (all.length === 0) {
    console.log('fuzz bench: no input checked');
    return;
  }
  const wallS = (Date.now() - t0) / 1000;
  for (const line of summary(all, offenders, { from, count, seed, workers, wallS }, corpus)) console.log(line);
  for (const o of offenders.slice(0, 50)) {
    const input = makeInput(corpus, seed, o.index);
    console.log(`  offender ${o.index} (${o.kind}, ${o.detail}): ${input.source} after ${input.strategies.join(', ')}`);
  }

  if (process.argv.includes('--fixtures') && offenders.length > 0) {
    const dir = path.join(REPO, 'test', 'fixtures', 'fuzz');
    fs.mkdirSync(dir, { recursive: true });
    for (const o of offenders) {
      const input = makeInput(corpus, seed, o.index);
      const text = o.kind === 'crash' ? await minimise(input) : input.text;
      const header = `// fuzz seed ${seed} input ${o.index}: ${o.kind} (${o.detail}); source: ${input.source}\n`;
      fs.writeFileSync(path.join(dir, `seed${seed}-${o.index}.nvc`), header + text);
    }
    console.log(`  wrote ${offenders.length} offender(s) to test/fixtures/fuzz/`);
  }
}

if (process.argv.includes('--worker')) runWorker(Number(process.argv[process.argv.indexOf('--worker') + 1]));
else await mainDriver();
