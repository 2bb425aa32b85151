/**
 * `nvcc` start-up and `nvcc build` through the real command line (issue 4's targets: a cold
 * build under 3 s, a cached build under 200 ms). Every figure is the median of N fresh
 * processes of `node bin/nvcc.js` (what the installed `nvcc` command runs, i.e. the bundle in
 * dist/<id>/ when it is up to date):
 *   (node)  = node -e '' (Node's own start-up on this machine now, for scale)
 *   help    = nvcc --help
 *   cold    = nvcc build FILE --out DIR, DIR empty (parse, check, emit with ts-morph,
 *             transpileModule, write);
 *   cached  = the same with the manifest up to date (`nvcc train` after `nvcc build` pays this
 *             build check too, then compiles for its own checks and trains).
 * Then the breakdown of the builder alone, from the TypeScript sources through tsx (the path of
 * vitest and NVCC_BUNDLE=0), in fresh processes: import + build cold, import + cache check, and
 * a second uncached build in the same warm process.
 * The machine is shared: the load average is printed before and after, and each CLI figure
 * with its CPU time (user + system, GNU time when present), which depends less on the load.
 * Run: npx tsx bench/build-time.ts [file] [--variant V] [--runs N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { currentBundle } from '../scripts/dist.mjs';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const file =
  args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--'))) ?? 'examples/mednvc.nvc';
const variant = flag('--variant');
const runs = Number(flag('--runs') ?? 5);
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-bench-build-'));
const buildDir = path.join(out, 'build');
const bin = path.resolve('bin/nvcc.js');
const gnuTime = fs.existsSync('/usr/bin/time');
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Sample {
  readonly wallMs: number;
  readonly cpuMs?: number;
  readonly stdout: string;
}

/** One fresh `node bin/nvcc.js ...` process (`node -e ''` with bare): wall time, and CPU time from GNU time. */
function cli(cliArgs: readonly string[], bare = false): Sample {
  const timeFile = path.join(out, 'time.txt');
  const argv = bare ? [process.execPath, '-e', ''] : [process.execPath, bin, ...cliArgs];
  const command = gnuTime ? ['/usr/bin/time', '-o', timeFile, '-f', '%U %S', ...argv] : argv;
  const started = performance.now();
  const r = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
  const wallMs = performance.now() - started;
  if (r.status !== 0) throw new Error(`nvcc ${cliArgs.join(' ')} exited ${r.status}:\n${r.stderr}`);
  let cpuMs: number | undefined;
  if (gnuTime) {
    const [user, sys] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    cpuMs = (user! + sys!) * 1000;
  }
  return { wallMs, ...(cpuMs !== undefined ? { cpuMs } : {}), stdout: r.stdout };
}

const buildArgs = ['build', file, '--out', buildDir, ...(variant ? ['--variant', variant] : [])];
const loadBefore = load();
// The first start after an edit makes the bundle; not part of any figure.
const warm = cli(['--version']);
const bare: Sample[] = [];
const help: Sample[] = [];
const cold: Sample[] = [];
const cached: Sample[] = [];
const bundleId = async () => (await currentBundle(path.resolve('.'), { write: false })).id;
let discarded = 0;
while (cold.length < runs) {
  // An edit of the sources during a round (the tree is shared) makes a new bundle, whose making
  // would be timed, and moves the generated code's runtime import, so the next build is not
  // cached: such a round is run again.
  const before = await bundleId();
  const n = cli([], true);
  const h = cli(['--help']);
  fs.rmSync(buildDir, { recursive: true, force: true });
  const c = cli(buildArgs);
  const k = cli(buildArgs);
  if ((await bundleId()) !== before) {
    if (++discarded > 2 * runs) throw new Error('the sources keep changing; no round ran on one bundle');
    continue;
  }
  if (!c.stdout.startsWith('built ')) throw new Error(`expected a cold build, got: ${c.stdout}`);
  if (!k.stdout.startsWith('up to date ')) throw new Error(`expected a cached build, got: ${k.stdout}`);
  bare.push(n);
  help.push(h);
  cold.push(c);
  cached.push(k);
}

// The builder alone, from the sources (tsx), in fresh processes.
const child = `
const t0 = performance.now();
const { buildProgram } = await import(${JSON.stringify(path.resolve('compiler/builder/build.ts'))});
const t1 = performance.now();
const opts = { outDir: process.env.OUT, ...(process.env.VARIANT ? { variant: process.env.VARIANT } : {}) };
const r = await buildProgram(process.env.FILE, { ...opts, force: process.env.FORCE === '1' });
const t2 = performance.now();
let rebuild = -1;
if (process.env.FORCE === '1') {
  const a = performance.now();
  await buildProgram(process.env.FILE, { ...opts, force: true });
  rebuild = performance.now() - a;
}
if (!r.ok) {
  console.error(JSON.stringify(r.problems.concat(r.diagnostics.map((d) => ({ message: d.message })))));
  process.exit(1);
}
console.log(JSON.stringify({ importMs: t1 - t0, buildMs: t2 - t1, totalMs: t2 - t0, cached: r.cached, rebuild }));
`;
const script = path.join(out, 'child.mts');
fs.writeFileSync(script, child);
interface Breakdown {
  importMs: number;
  buildMs: number;
  totalMs: number;
  cached: boolean;
  rebuild: number;
}
function builderOnly(force: boolean): Breakdown {
  const text = execFileSync(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      FILE: file,
      OUT: path.join(out, 'tsx-build'),
      FORCE: force ? '1' : '0',
      VARIANT: variant ?? '',
    },
    encoding: 'utf8',
  });
  return JSON.parse(text.trim().split('\n').pop()!) as Breakdown;
}
const srcCold: Breakdown[] = [];
const srcCached: Breakdown[] = [];
for (let i = 0; i < runs; i++) {
  fs.rmSync(path.join(out, 'tsx-build'), { recursive: true, force: true });
  srcCold.push(builderOnly(true));
  const c = builderOnly(false);
  if (!c.cached) throw new Error('the second build was not served from the cache');
  srcCached.push(c);
}
const loadAfter = load();

const ms = (n: number) => `${n.toFixed(0).padStart(6)} ms`;
const figure = (xs: Sample[]) =>
  `${ms(median(xs.map((s) => s.wallMs)))}${gnuTime ? `  (CPU ${median(xs.map((s) => s.cpuMs!)).toFixed(0)} ms)` : ''}`;
const bundle = await currentBundle(path.resolve('.'), { write: false });
const running =
  bundle.ready && process.env.NVCC_BUNDLE !== '0'
    ? path.relative('.', bundle.dir)
    : 'the TypeScript sources through tsx';
console.log(
  `nvcc build ${file}${variant ? ` --variant ${variant}` : ''}: median of ${runs} fresh processes; ` +
    `${os.cpus().length} cores, load average ${loadBefore} before, ${loadAfter} after; node ${process.version}`,
);
console.log(
  `real CLI (node bin/nvcc.js, running ${running}; the first ` +
    `start` +
    `${
      warm.wallMs > 1000
        ? ` made the bundle in ${(warm.wallMs / 1000).toFixed(1)} ` + `s`
        : ' found the bundle up to date'
    }${discarded ? `; ${discarded} round(s) run again after an edit of the sources` : ''})`,
);
console.log(`  (node)  ${figure(bare)}   node -e '', for scale`);
console.log(`  --help  ${figure(help)}`);
console.log(`  cold    ${figure(cold)}   target < 3000 ms`);
console.log(`  cached  ${figure(cached)}   target < 200 ms`);
console.log('builder alone, TypeScript sources through tsx');
console.log(
  `  cold    ${ms(median(srcCold.map((r) => r.totalMs)))}  (import ` +
    `${median(srcCold.map((r) => r.importMs)).toFixed(0)} ms + build ` +
    `${median(srcCold.map((r) => r.buildMs)).toFixed(0)} ms)`,
);
console.log(
  `  cached  ${ms(median(srcCached.map((r) => r.totalMs)))}  (import ` +
    `${median(srcCached.map((r) => r.importMs)).toFixed(0)} ms + check ` +
    `${median(srcCached.map((r) => r.buildMs)).toFixed(1)} ms)`,
);
console.log(`  rebuild ${ms(median(srcCold.map((r) => r.rebuild)))}  (second uncached build in a warm process)`);
fs.rmSync(out, { recursive: true, force: true });
