/**
 * The README's main job, timed: `npm run demo` (build and train MED-NVC's demo profile on the
 * built-in synthetic cohort), optionally from a fresh clone with `npm install` first.
 *
 *   npx tsx bench/main-job.ts                 # npm run demo in this checkout
 *   npx tsx bench/main-job.ts --clone DIR     # git clone . DIR && npm install && npm run demo
 *
 * Prints: wall time of each command, peak resident memory of the demo process tree (sampled
 * from /proc every 200 ms, summed over the process and its children), the test AUC and the
 * report path the demo printed, and the load average before and after (the figures depend on
 * what else the machine runs).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';

const args = process.argv.slice(2);
const cloneAt = args.includes('--clone') ? args[args.indexOf('--clone') + 1] : undefined;
const repo = resolve(new URL('..', import.meta.url).pathname);

/** Resident set size (kB) of pid and all its descendants. */
function treeRssKb(root: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1] ?? -1);
      rss.set(Number(entry), Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    total += rss.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

interface Timed {
  readonly seconds: number;
  /** User + system CPU seconds of the command's process tree (GNU time), when available. */
  readonly cpuSeconds?: number;
  readonly peakMb: number;
  readonly output: string;
  readonly code: number;
}

function run(command: string, cwd: string): Promise<Timed> {
  return new Promise((done) => {
    const started = Date.now();
    // GNU time reports the CPU time of the whole tree: the figure that does not depend on load.
    const timeFile = `/tmp/nvcc-main-job-time-${process.pid}-${Date.now()}`;
    const gnuTime = existsSync('/usr/bin/time');
    const wrapped = gnuTime ? `/usr/bin/time -o ${timeFile} -f '%U %S' sh -c ${JSON.stringify(command)}` : command;
    const child = spawn('sh', ['-c', wrapped], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let peak = 0;
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
      process.stderr.write(d);
    });
    const timer = setInterval(() => {
      if (child.pid) peak = Math.max(peak, treeRssKb(child.pid));
    }, 200);
    child.on('close', (code) => {
      clearInterval(timer);
      let cpuSeconds: number | undefined;
      if (gnuTime && existsSync(timeFile)) {
        const m = /([\d.]+) ([\d.]+)\s*$/.exec(readFileSync(timeFile, 'utf8'));
        if (m) cpuSeconds = Number(m[1]) + Number(m[2]);
      }
      done({
        seconds: (Date.now() - started) / 1000,
        ...(cpuSeconds !== undefined ? { cpuSeconds } : {}),
        peakMb: peak / 1024,
        output,
        code: code ?? 1,
      });
    });
  });
}

const before = loadavg();
const rows: [string, Timed][] = [];
let cwd = repo;
if (cloneAt) {
  if (existsSync(cloneAt)) {
    process.stderr.write(`${cloneAt} exists; choose a new folder for the clone\n`);
    process.exit(1);
  }
  rows.push(['git clone', await run(`git clone -q ${JSON.stringify(repo)} ${JSON.stringify(cloneAt)}`, repo)]);
  cwd = resolve(cloneAt);
  rows.push(['npm install', await run('npm install --no-audit --no-fund', cwd)]);
}
const demo = await run('npm run demo', cwd);
rows.push(['npm run demo', demo]);
const after = loadavg();

const auc = /test split \(\d+ patients\): AUC (\d+\.\d+)% \(95% CI ([\d.]+)%-([\d.]+)%\)/.exec(demo.output);
const report = /nvcc: report (\S+)/.exec(demo.output)?.[1];
console.log('\nmain job figures');
for (const [name, t] of rows)
  console.log(
    `  ${name.padEnd(14)} ${t.seconds.toFixed(1).padStart(7)} s wall   ` +
      `${t.cpuSeconds !== undefined ? `${t.cpuSeconds.toFixed(1).padStart(7)} s CPU` : '      ? s CPU'}   ` +
      `peak RSS ${t.peakMb.toFixed(0).padStart(5)} MB   exit ${t.code}`,
  );
console.log(
  `  total          ${rows
    .reduce((s, [, t]) => s + t.seconds, 0)
    .toFixed(1)
    .padStart(7)} s`,
);
console.log(`  test AUC       ${auc ? `${auc[1]}% (95% CI ${auc[2]}%-${auc[3]}%)` : 'not found in the output'}`);
console.log(`  report         ${report ?? 'not found in the output'}`);
console.log(
  `  load average   ${before.map((x) => x.toFixed(1)).join(' ')} before, ` +
    `${after.map((x) => x.toFixed(1)).join(' ')} after (2 cores)`,
);
process.exit(demo.code);
