/**
 * `nvcc build examples/mednvc.nvc` timings (targets: cold under 3 s, cached under 200 ms).
 * Each figure is measured in a fresh Node process (tsx), so module loading is included:
 *   cold    = import the builder + build into an empty folder (compile, override schema,
 *             emit with ts-morph, transpileModule, write);
 *   cached  = import the builder + a build that finds the manifest up to date (what
 *             `nvcc train` after `nvcc build` pays);
 *   rebuild = a second uncached build in the same (warm) process.
 * Also prints the end-to-end `node bin/nvcc.js build` wall time (CLI start-up included; the CLI
 * loads every subcommand, so this figure is dominated by start-up on a busy machine).
 * Run: npx tsx bench/build-time.ts [file] [--variant V] [--runs N]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const file = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--'))) ?? 'examples/mednvc.nvc';
const variant = flag('--variant');
const runs = Number(flag('--runs') ?? 3);
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-bench-build-'));

const child = `
const t0 = performance.now();
const { buildProgram } = await import(${JSON.stringify(path.resolve('compiler/builder/build.ts'))});
const t1 = performance.now();
const opts = { outDir: process.env.OUT, ...(process.env.VARIANT ? { variant: process.env.VARIANT } : {}) };
const r = await buildProgram(process.env.FILE, { ...opts, force: process.env.FORCE === '1' });
const t2 = performance.now();
let rebuild = -1;
if (process.env.FORCE === '1') { const a = performance.now(); await buildProgram(process.env.FILE, { ...opts, force: true }); rebuild = performance.now() - a; }
if (!r.ok) { console.error(JSON.stringify(r.problems.concat(r.diagnostics.map((d) => ({ message: d.message }))))); process.exit(1); }
const u = process.cpuUsage();
console.log(JSON.stringify({ importMs: t1 - t0, buildMs: t2 - t1, totalMs: t2 - t0, cached: r.cached, rebuild, cpuMs: (u.user + u.system) / 1000 }));
`;
const script = path.join(out, 'child.mts');
fs.writeFileSync(script, child);

function runChild(force: boolean): { importMs: number; buildMs: number; totalMs: number; cached: boolean; rebuild: number; cpuMs: number } {
  const text = execFileSync(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, FILE: file, OUT: path.join(out, 'build'), FORCE: force ? '1' : '0', VARIANT: variant ?? '' },
    encoding: 'utf8',
  });
  return JSON.parse(text.trim().split('\n').pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cold: ReturnType<typeof runChild>[] = [];
const cached: ReturnType<typeof runChild>[] = [];
for (let i = 0; i < runs; i++) {
  fs.rmSync(path.join(out, 'build'), { recursive: true, force: true });
  cold.push(runChild(true));
  const c = runChild(false);
  if (!c.cached) throw new Error('the second build was not served from the cache');
  cached.push(c);
}
const cliStart = performance.now();
execFileSync(process.execPath, ['bin/nvcc.js', 'build', file, '--out', path.join(out, 'build'), ...(variant ? ['--variant', variant] : [])], { encoding: 'utf8' });
const cliMs = performance.now() - cliStart;

const f = (n: number) => `${n.toFixed(0).padStart(6)} ms`;
console.log(`nvcc build ${file}${variant ? ` --variant ${variant}` : ''} (median of ${runs} fresh processes; ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)})`);
console.log(`  cold    ${f(median(cold.map((r) => r.totalMs)))}  (import ${median(cold.map((r) => r.importMs)).toFixed(0)} ms + build ${median(cold.map((r) => r.buildMs)).toFixed(0)} ms; process CPU ${median(cold.map((r) => r.cpuMs)).toFixed(0)} ms incl. the tsx loader and the rebuild below)   target < 3000 ms`);
console.log(`  cached  ${f(median(cached.map((r) => r.totalMs)))}  (import ${median(cached.map((r) => r.importMs)).toFixed(0)} ms + check ${median(cached.map((r) => r.buildMs)).toFixed(1)} ms)   target < 200 ms`);
console.log(`  rebuild ${f(median(cold.map((r) => r.rebuild)))}  (second uncached build in a warm process)`);
console.log(`  CLI     ${f(cliMs)}  (node bin/nvcc.js build, cached, including CLI start-up)`);
fs.rmSync(out, { recursive: true, force: true });
