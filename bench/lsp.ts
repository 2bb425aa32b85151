/**
 * Bench of `nvcc lsp` as an editor uses it: a warm server with examples/mednvc.nvc and std open,
 * then repeated edits of the example. Prints, per measure, the median and maximum over the runs:
 * time from sending an edit to the base program's diagnostics for it, time to the variants'
 * diagnostics, time to a hover answer (a forward value's shape, a primitive), and the server's
 * resident memory (from /proc). Targets (issue #16): diagnostics < 150 ms, hover < 50 ms.
 * Beside each wall time, the CPU time the server's threads ran in that interval and the time its
 * main thread waited for a free core (/proc/<pid>/task/<tid>/schedstat): on a loaded machine the
 * wall time is roughly that CPU time plus that wait plus the client's share, and the CPU time is
 * the figure that carries over to an idle machine. Hovers are timed three ways: asked at once
 * after the edit's diagnostics (before the variants start), while the variants are compiled
 * (it waits for the variant compile in progress), and on an idle server.
 * Run: `npx tsx bench/lsp.ts [--runs 20] [--cpu-prof DIR]`; the load average is printed before and after.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { VARIANTS_AFTER_MS } from '../lsp/server.js';
import { LspClient, positionOf, uriOf } from '../test/lsp/client.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 20;
const profileArg = process.argv.indexOf('--cpu-prof');
/** `--cpu-prof DIR`: the server writes a V8 CPU profile there when it exits. */
const PROFILE = profileArg >= 0 ? process.argv[profileArg + 1] : undefined;
const EXAMPLE = 'examples/mednvc.nvc';
const original = fs.readFileSync(EXAMPLE, 'utf8');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * CPU time the process's threads have run (all threads: the collector's too), and the time its
 * main thread, which answers the requests, waited for a core, in ms (Linux schedstat).
 */
function schedMs(pid: number): { cpu: number; wait: number } {
  let cpu = 0;
  let wait = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const [run, queued] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      cpu += run! / 1e6;
      if (tid === String(pid)) wait += queued! / 1e6;
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return { cpu, wait };
}

/** Wall time, server CPU time and server run-queue wait of one interval. */
interface Sample {
  wall: number;
  cpu: number;
  wait: number;
}

async function timed(pid: number, run: () => Promise<unknown>): Promise<Sample> {
  const s0 = schedMs(pid);
  const t0 = performance.now();
  await run();
  const wall = performance.now() - t0;
  const s1 = schedMs(pid);
  return { wall, cpu: s1.cpu - s0.cpu, wait: s1.wait - s0.wait };
}

function serverRssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const client = new LspClient(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []);
  const pid = client.proc.pid!;
  await client.initialize();
  let version = 1;
  client.open(EXAMPLE, original, version);
  for (const std of fs.readdirSync('std').filter((n) => n.endsWith('.nvc')))
    client.open(`std/${std}`, fs.readFileSync(`std/${std}`, 'utf8'), 1);
  await client.diagnostics(EXAMPLE, 1);
  const base: Sample[] = [];
  const variants: Sample[] = [];
  const hoverValue: Sample[] = [];
  const hoverPrimitive: Sample[] = [];
  const hoverIdle: Sample[] = [];
  const hoverDuringVariants: Sample[] = [];
  const hoverValueAt = () =>
    client.request('textDocument/hover', {
      textDocument: { uri: uriOf(EXAMPLE) },
      position: positionOf(text, 'let q =', 4),
    });
  let text = original;
  for (let i = 0; i < RUNS; i++) {
    // an edit that changes a value the shapes depend on, then back
    const next =
      i % 2 === 0 ? original.replace('const FUSION_HEADS: int = 8', 'const FUSION_HEADS: int = 4') : original;
    const previous = text;
    text = next;
    const v = ++version;
    base.push(
      await timed(pid, async () => {
        client.change(EXAMPLE, next, v, previous);
        await client.diagnostics(EXAMPLE, v);
      }),
    );
    // asked at once, as an editor does
    hoverValue.push(await timed(pid, hoverValueAt));
    hoverPrimitive.push(
      await timed(pid, () =>
        client.request('textDocument/hover', {
          textDocument: { uri: uriOf(EXAMPLE) },
          position: positionOf(text, 'LayerNorm(enc.dims[3]', 2),
        }),
      ),
    );
  }
  // variants: a problem only one variant has makes the server publish a second time, after all 16
  for (let i = 0; i < Math.min(RUNS, 6); i++) {
    const broken = original.replace(
      'variant no_random_throw { finetune.modality_dropout.p = 0 }',
      `variant no_random_throw { finetune.modality_dropout.pp${i} = 0 }`,
    );
    const previous = text;
    text = broken;
    const v = ++version;
    if (i % 2 === 1) {
      // a hover that arrives while the variants are being compiled
      client.change(EXAMPLE, broken, v, previous);
      await client.diagnostics(EXAMPLE, v);
      await new Promise((resolve) => setTimeout(resolve, VARIANTS_AFTER_MS + 60));
      hoverDuringVariants.push(await timed(pid, hoverValueAt));
      await client.diagnostics(EXAMPLE, v, (p) => p.diagnostics.length > 0);
      continue;
    }
    variants.push(
      await timed(pid, async () => {
        client.change(EXAMPLE, broken, v, previous);
        await client.diagnostics(EXAMPLE, v, (p) => p.diagnostics.length > 0);
      }),
    );
    hoverIdle.push(await timed(pid, hoverValueAt));
  }
  const rss = serverRssMb(pid);
  await client.close();
  const stat = (xs: number[]) =>
    `${median(xs).toFixed(1).padStart(7)} ${Math.max(...xs)
      .toFixed(1)
      .padStart(7)}`;
  const columns = (cells: string[]) => cells.map((c) => c.padStart(15)).join('   ');
  const row = (name: string, xs: Sample[]) => {
    const cells = [stat(xs.map((x) => x.wall)), stat(xs.map((x) => x.cpu)), stat(xs.map((x) => x.wait))];
    return `${name.padEnd(52)} ${columns(cells)}`;
  };
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`nvcc lsp bench: ${RUNS} edits of ${EXAMPLE} (full-size program), std open`);
  console.log(`load average before ${load(loadBefore)}, after ${load(os.loadavg())}, ${os.cpus().length} cores`);
  console.log(`${''.padEnd(52)} ${columns(['wall ms', 'server CPU ms', 'main waiting ms'])}`);
  console.log(`${''.padEnd(52)} ${columns(['median     max', 'median     max', 'median     max'])}`);
  console.log(row('edit -> base diagnostics (target < 150 ms)', base));
  console.log(row(`edit -> every variant checked (${VARIANTS_AFTER_MS} ms quiet first)`, variants));
  console.log(row('hover after the edit, a value (target < 50 ms)', hoverValue));
  console.log(row('hover after the edit, a primitive (target < 50 ms)', hoverPrimitive));
  console.log(row('hover while variants are compiled, a value', hoverDuringVariants));
  console.log(row('hover on an idle server, a value', hoverIdle));
  console.log(`server resident memory after the runs: ${rss.toFixed(0)} MB`);
}

await main();
