/**
 * Runs `node bin/nvcc.js` as a user does (a fresh process, the bundle when there is one) and
 * reports what it loaded: every resolved module, through the loader hook in
 * test/support/record-loads.mjs, with bundle chunks translated back to the sources in them
 * (dist/<id>/meta.json).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RECORDER = path.join(REPO, 'test', 'support', 'record-loads.mjs');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolved module URLs, in load order, without node: builtins. */
  readonly urls: readonly string[];
  /**
   * What was loaded: local sources as package-relative paths (`cli/main.ts`, also when they
   * came from a bundle chunk) and npm packages by name (`@tensorflow/tfjs`).
   */
  readonly modules: ReadonlySet<string>;
  /** The bundle folder the run used (dist/<id>, package-relative), if any. */
  readonly bundle?: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Package root whose bin/nvcc.js runs (default: this repository). */
  readonly root?: string;
}

function packageOf(url: string): string | undefined {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return m?.[1];
}

export function runCli(args: readonly string[], options: CliOptions = {}): CliRun {
  const root = options.root ?? REPO;
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-loads-')), 'loads.txt');
  fs.writeFileSync(log, '');
  const env: NodeJS.ProcessEnv = { ...process.env, NVCC_LOAD_LOG: log, ...options.env };
  // vitest's own variables must not leak into the CLI (it is not a test process).
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k === 'NODE_OPTIONS') delete env[k];
  const r = spawnSync(
    process.execPath,
    ['--import', pathToFileURL(RECORDER).href, path.join(root, 'bin', 'nvcc.js'), ...args],
    {
      cwd: options.cwd ?? root,
      env,
      encoding: 'utf8',
    },
  );
  const urls = [
    ...new Set(
      fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((u) => u && !u.startsWith('node:')),
    ),
  ];
  fs.rmSync(path.dirname(log), { recursive: true, force: true });
  const modules = new Set<string>();
  let bundle: string | undefined;
  const metas = new Map<string, Record<string, string[]>>();
  for (const url of urls) {
    const pkg = packageOf(url);
    if (pkg) {
      modules.add(pkg);
      continue;
    }
    if (!url.startsWith('file:')) continue;
    const rel = path
      .relative(root, fileURLToPath(url.replace(/\?.*$/, '')))
      .split(path.sep)
      .join('/');
    const inBundle = /^dist\/([0-9a-f]{16})\/(.*)$/.exec(rel);
    if (!inBundle) {
      modules.add(rel);
      continue;
    }
    bundle = `dist/${inBundle[1]}`;
    let meta = metas.get(bundle);
    if (!meta) {
      meta = (
        JSON.parse(fs.readFileSync(path.join(root, bundle, 'meta.json'), 'utf8')) as {
          outputs: Record<string, string[]>;
        }
      ).outputs;
      metas.set(bundle, meta);
    }
    for (const source of meta[inBundle[2]!] ?? []) modules.add(source);
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, urls, modules, ...(bundle ? { bundle } : {}) };
}

/** Packages no command needs before it compiles or trains (none may load for --help). */
export const HEAVY_PACKAGES = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  'sharp',
  'vega',
  'vega-lite',
  'elkjs',
  'ts-morph',
  'typescript',
  'ajv',
  'yaml',
  'chevrotain',
] as const;
