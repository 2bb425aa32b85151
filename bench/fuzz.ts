/**
 * Fuzz bench of the commands that read a program: mutated fixtures, examples and std modules
 * (bench/fuzz-inputs.ts: byte and token deletion, duplication, splicing, deep nesting, huge
 * numbers, inserted words; and, for one input in four, a mild change to a program that checks)
 * through `nvcc check`'s own compile-and-render path and, for every input that checks, the code
 * of `nvcc build`, `nvcc diagram` and `nvcc schedule` (driveInput), in long-lived worker
 * processes that take 100 inputs at a time.
 * Run: `nice -n 19 npx tsx bench/fuzz.ts [--count 100000] [--from 0] [--seed 18] [--workers 2]
 * [--state FILE] [--fixtures] [--report] [--retry-lost]` (`--from N`: inputs N to N + count - 1;
 * `--report`: print the figures of the state file so far and run nothing, e.g. while a campaign
 * runs; `--retry-lost`: run again the inputs whose worker a watchdog killed or that died).
 * The campaign is resumable: every input's result is appended to a state file
 * (bench/fuzz-state.ts; default bench/out/fuzz-seed<seed>.jsonl, keyed by seed and corpus
 * digest), and a run measures only the inputs of its range not yet in it, so runs stopped at any
 * moment (SIGINT, SIGKILL, the end of a session) add up to the figures of one uninterrupted run.
 * The figures of the whole range so far are printed at the end, and to stderr every 5,000 inputs
 * (lines starting with `partial`).
 * Prints the figures docs/reliability.md reports: inputs, crashes (an exception or internal-error
 * diagnostic instead of diagnostics), inputs over 10 s of CPU or over 1 GB of memory growth, and
 * the distribution of CPU time and memory growth per input. `--fixtures` writes each offender,
 * minimised where it crashed, to test/fixtures/fuzz/ (test/compiler/fuzz-fixtures.test.ts runs
 * them). Time is CPU time of the worker (user + system), not wall time, so the figures mean the
 * same on a loaded machine; memory growth is the worker's peak resident size during the input
 * over its size before it. Watchdogs, from the driver: a worker whose input has used 30 s of
 * CPU, whose resident size passes 3 GB, or that neither gives a result nor uses CPU for 5 minutes
 * is killed, and its input counts as an offender (as does one whose worker dies: heap limit
 * 1.5 GB); the worker is replaced and the rest of its batch handed out again.
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
  warmUp,
} from './fuzz-inputs.js';
import {
  type Campaign,
  defaultStatePath,
  type Measured,
  type Offender,
  type OffenderKind,
  offendersOf,
  openCampaign,
  pendingInputs,
  StateWriter,
} from './fuzz-state.js';

const MAX_CPU_MS = 10_000;
const MAX_GROWTH_MB = 1024;
/** Driver-side watchdogs (an input past them is an offender whatever it would have done). */
const WATCHDOG_CPU_MS = 30_000;
const WATCHDOG_RSS_BYTES = 3 * 1024 ** 3;
const STALL_MS = 300_000;
const BATCH = 100;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} needs a whole number`);
  return n;
}

function stringArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

// ---------------------------------------------------------------------------------------------
// Worker: checks the inputs it is sent and reports each one's cost.

async function runWorker(seed: number): Promise<void> {
  const corpus = loadCorpus();
  // Start-up work (the clean-corpus list, the build and diagram modules) before the first input,
  // so that it is charged to no input and no watchdog runs meanwhile.
  await warmUp(corpus);
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
        cpuMs: Math.round((cpu.user + cpu.system) / 100) / 10,
        wallMs: Math.round(wallMs),
        growthMb: Math.round(Math.max(0, grown) / 1e5) / 10,
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
  // The driver is gone (stopped or killed): stop rather than linger.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// Driver

function spawnWorker(seed: number): ChildProcess {
  return fork(path.join(REPO, 'bench', 'fuzz.ts'), ['--worker', String(seed)], {
    // A larger young generation: the compiler makes many short-lived objects per input.
    execArgv: ['--import', 'tsx', '--max-old-space-size=1536', '--max-semi-space-size=32'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** CPU milliseconds (user + system) and resident bytes of a process, from /proc (Linux). */
function processUsage(pid: number): { cpuMs: number; rss: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssPages = Number(fields[21]);
    return { cpuMs: ticks * 10, rss: rssPages * 4096 };
  } catch {
    return undefined;
  }
}

/** Runs `indices` over `workers` long-lived workers, recording every result in the state. */
async function drive(
  indices: readonly number[],
  seed: number,
  workers: number,
  writer: StateWriter,
  onResult: () => void,
): Promise<void> {
  let next = 0;
  /** Inputs a dead worker had not reached; handed out again first. */
  const retry: number[] = [];
  const takeBatch = (): number[] => {
    const out = retry.splice(0, BATCH);
    while (out.length < BATCH && next < indices.length) out.push(indices[next++]!);
    return out;
  };

  const runOne = (): Promise<void> =>
    new Promise((resolve) => {
      let child: ChildProcess;
      let current: number | undefined;
      let cpuAtStart = 0;
      /** When the worker last gave a result or used CPU: a stall is neither for 5 minutes. */
      let lastProgress = Date.now();
      let lastCpuMs = 0;
      let pending: number[] = [];
      /** Why the driver killed the worker (its input's offender kind), when it did. */
      let killedFor: { kind: OffenderKind; detail: string } | undefined;
      let finished = false;
      const watchdog = setInterval(() => {
        if (current === undefined || killedFor || child.pid === undefined) return;
        const usage = processUsage(child.pid);
        // Under a loaded machine and `nice` an input may wait long for CPU: only a worker that
        // neither answers nor computes is stalled.
        if (usage && usage.cpuMs > lastCpuMs) {
          lastCpuMs = usage.cpuMs;
          lastProgress = Date.now();
        }
        if (usage && usage.cpuMs - cpuAtStart > WATCHDOG_CPU_MS)
          killedFor = { kind: 'over-time', detail: `killed after ${WATCHDOG_CPU_MS / 1000} s of CPU` };
        else if (usage && usage.rss > WATCHDOG_RSS_BYTES)
          killedFor = { kind: 'over-memory', detail: `killed at ${(usage.rss / 1e9).toFixed(1)} GB resident` };
        else if (Date.now() - lastProgress > STALL_MS)
          killedFor = { kind: 'stalled', detail: `no result in ${STALL_MS / 60_000} min` };
        if (killedFor) child.kill('SIGKILL');
      }, 1000);
      const send = () => {
        pending = takeBatch();
        if (pending.length === 0) {
          finished = true;
          clearInterval(watchdog);
          child.kill();
          resolve();
          return;
        }
        lastProgress = Date.now();
        child.send({ indices: pending });
      };
      const start = () => {
        child = spawnWorker(seed);
        current = undefined;
        lastCpuMs = 0;
        killedFor = undefined;
        child.on('message', (msg: Measured | { started: number } | { ready: true } | { batchDone: true }) => {
          if ('ready' in msg || 'batchDone' in msg) send();
          else if ('started' in msg) {
            current = msg.started;
            cpuAtStart = (child.pid !== undefined && processUsage(child.pid)?.cpuMs) || 0;
            lastProgress = Date.now();
          } else {
            current = undefined;
            pending = pending.filter((i) => i !== msg.index);
            writer.measured(msg);
            onResult();
          }
        });
        child.on('exit', (code, signal) => {
          if (finished) return;
          // Died or was killed mid-batch: the input in progress is an offender; the rest go back.
          if (current !== undefined) {
            const index = current;
            writer.lost({
              index,
              kind: killedFor?.kind ?? 'worker-died',
              detail: killedFor?.detail ?? `exit ${code ?? signal}`,
            });
            pending = pending.filter((i) => i !== index);
            onResult();
          }
          retry.push(...pending);
          pending = [];
          start();
        });
      };
      start();
    });

  await Promise.all(Array.from({ length: workers }, runOne));
  writer.flush();
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

/** The figures of the range's inputs run so far, over every run of the campaign. */
function summary(
  campaign: Campaign,
  run: { from: number; count: number; seed: number; stateFile: string },
  corpus: readonly CorpusFile[],
): string[] {
  const { from, count, seed, stateFile } = run;
  const inRange = (i: number) => i >= from && i < from + count;
  const lines: string[] = [];
  const sorted = [...campaign.measured.values()].filter((m) => inRange(m.index)).sort((a, b) => a.index - b.index);
  const offenders = offendersOf(campaign, MAX_CPU_MS, MAX_GROWTH_MB).filter((o) => inRange(o.index));
  const done = sorted.length + [...campaign.lost.keys()].filter(inRange).length;
  const wallS = [...campaign.runWallS.values()].reduce((a, b) => a + b, 0);
  lines.push(
    `fuzz bench: seed ${seed}, inputs ${from}-${from + count - 1} from ${corpus.length} corpus files, ` +
      `state ${path.relative(REPO, stateFile)}`,
  );
  lines.push(
    `  run: ${done} of ${count} inputs (${pendingInputs(campaign, from, count).length} to go) ` +
      `in ${campaign.runWallS.size} run(s), ${wallS.toFixed(0)} s wall in all`,
  );
  if (sorted.length === 0) return lines;

  const cpu = sorted.map((m) => m.cpuMs).sort((a, b) => a - b);
  const growth = sorted.map((m) => m.growthMb).sort((a, b) => a - b);
  const slowest = sorted.reduce((a, b) => (b.cpuMs > a.cpuMs ? b : a), sorted[0]!);
  const hungriest = sorted.reduce((a, b) => (b.growthMb > a.growthMb ? b : a), sorted[0]!);
  const byKind = (k: Offender['kind']) => offenders.filter((o) => o.kind === k).length;
  const strategies = new Map<string, number>();
  for (const m of sorted) for (const s of m.strategies) strategies.set(s, (strategies.get(s) ?? 0) + 1);
  const totalCpuS = cpu.reduce((a, b) => a + b, 0) / 1000;

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
    `  crashes: ${byKind('crash')}; over ${MAX_CPU_MS / 1000} s CPU: ${byKind('over-time')}; ` +
      `over ${MAX_GROWTH_MB} MB: ${byKind('over-memory')}; workers died: ${byKind('worker-died')}; ` +
      `stalled: ${byKind('stalled')}`,
  );
  lines.push(
    `  CPU per input: mean ${((totalCpuS * 1000) / sorted.length).toFixed(1)} ms, ` +
      `median ${quantile(cpu, 0.5).toFixed(1)} ms, p99 ${quantile(cpu, 0.99).toFixed(0)} ms, ` +
      `max ${slowest.cpuMs.toFixed(0)} ms (input ${slowest.index}, ${slowest.wallMs.toFixed(0)} ms wall); ` +
      `${totalCpuS.toFixed(0)} s CPU in all`,
  );
  lines.push(
    `  memory growth per input: median ${quantile(growth, 0.5).toFixed(1)} MB, p99 ` +
      `${quantile(growth, 0.99).toFixed(0)} MB, ` +
      `max ${hungriest.growthMb.toFixed(0)} MB (input ${hungriest.index})`,
  );
  for (const o of offenders.slice(0, 50)) {
    const input = makeInput(corpus, seed, o.index);
    lines.push(`  offender ${o.index} (${o.kind}, ${o.detail}): ${input.source} after ${input.strategies.join(', ')}`);
  }
  return lines;
}

async function mainDriver(): Promise<void> {
  const count = arg('count', 100_000);
  const from = arg('from', 0);
  const seed = arg('seed', 18);
  const workers = Math.max(1, arg('workers', 2));
  const stateFile = path.resolve(stringArg('state') ?? defaultStatePath(REPO, seed));
  const corpus = loadCorpus();
  const campaign = openCampaign(stateFile, seed, corpus);
  const writer = new StateWriter(stateFile, campaign);
  const figures = { from, count, seed, stateFile };
  if (process.argv.includes('--report')) {
    for (const line of summary(campaign, figures, corpus)) console.log(line);
    return;
  }
  const todo = pendingInputs(campaign, from, count, process.argv.includes('--retry-lost'));
  const runId = new Date().toISOString();
  const t0 = Date.now();
  let sinceReport = 0;
  let lastWall = t0;
  const stop = () => {
    writer.runWall(runId, (Date.now() - t0) / 1000);
    writer.flush();
    process.exit(130);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stderr.write(
    `fuzz: ${count - todo.length} of ${count} inputs already in ${stateFile}, ${todo.length} to run on ` +
      `${workers} workers\n`,
  );
  await drive(todo, seed, workers, writer, () => {
    if (Date.now() - lastWall > 30_000) {
      lastWall = Date.now();
      writer.runWall(runId, (lastWall - t0) / 1000);
      const left = pendingInputs(campaign, from, count).length;
      process.stderr.write(`fuzz: ${count - left}/${count} inputs, ${left} to go\n`);
    }
    if (++sinceReport >= 5000) {
      sinceReport = 0;
      process.stderr.write(`partial ${summary(campaign, figures, corpus).join('\npartial ')}\n`);
    }
  });
  writer.runWall(runId, (Date.now() - t0) / 1000);
  writer.flush();
  for (const line of summary(campaign, figures, corpus)) console.log(line);

  const offenders = offendersOf(campaign, MAX_CPU_MS, MAX_GROWTH_MB).filter(
    (o) => o.index >= from && o.index < from + count,
  );
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

if (process.argv.includes('--worker')) await runWorker(Number(process.argv[process.argv.indexOf('--worker') + 1]));
else await mainDriver();
