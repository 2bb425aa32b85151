/**
 * Installs local package tarballs into a fresh project with npm and no network.
 * In: a project folder, the tarballs (from `npm pack --json`) and the registry packages they
 * depend on. Out: `npm ci --offline` run in the folder against a package-lock.json that names
 * the tarballs by `file:` path and the registry packages by the exact versions and integrity
 * hashes of this repository's own package-lock.json. Holds afterwards: npm took every registry
 * package from its cache by integrity (the same tarballs `npm ci` of this repository fetched;
 * a package missing there fails the install with ENOTCACHED, naming it); nothing was fetched.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface PackedTarball {
  readonly name: string;
  readonly version: string;
  readonly filename: string;
  readonly integrity: string;
  /** The package's own package.json (dependencies, peerDependencies, engines). */
  readonly manifest: Readonly<Record<string, unknown>>;
}

interface LockEntry {
  version: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

/** `npm pack` of a package folder into dest. */
export function npmPack(folder: string, dest: string): PackedTarball {
  const out = execFileSync('npm', ['pack', folder, '--json', '--pack-destination', dest, '--ignore-scripts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(out) as { name: string; version: string; filename: string; integrity: string }[];
  if (!info) throw new Error(`npm pack ${folder}: no output`);
  const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as Record<string, unknown>;
  return {
    name: info.name,
    version: info.version,
    filename: path.join(dest, info.filename),
    integrity: info.integrity,
    manifest,
  };
}

/** The registry tarball URL of a package version (npm leaves `resolved` out of the lock). */
function tarballUrl(name: string, version: string): string {
  const base = name.includes('/') ? name.split('/')[1]! : name;
  return `https://registry.npmjs.org/${name}/-/${base}-${version}.tgz`;
}

/**
 * The entries of `lock` that Node's resolution reaches from the given top-level packages, at
 * their paths in that tree (a closed subtree: every dependency resolves inside it).
 */
function closure(lock: Record<string, LockEntry>, roots: readonly string[]): Map<string, LockEntry> {
  const out = new Map<string, LockEntry>();
  const resolve = (from: string, name: string): string | undefined => {
    for (let dir = from; ; ) {
      const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (lock[candidate]) return candidate;
      if (!dir) return undefined;
      const cut = dir.lastIndexOf('/node_modules/');
      dir = cut < 0 ? '' : dir.slice(0, cut);
    }
  };
  const visit = (at: string): void => {
    if (out.has(at)) return;
    const entry = lock[at]!;
    out.set(at, entry);
    const optionalPeers = new Set(
      Object.entries(entry.peerDependenciesMeta ?? {})
        .filter(([, m]) => m.optional)
        .map(([n]) => n),
    );
    const names = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n)),
    ];
    for (const n of names) {
      const found = resolve(at, n);
      if (!found) throw new Error(`package-lock.json: ${n} (needed by ${at}) is not installed`);
      visit(found);
    }
    for (const n of Object.keys(entry.optionalDependencies ?? {})) {
      const found = resolve(at, n);
      if (found) visit(found);
    }
  };
  for (const r of roots) {
    const at = resolve('', r);
    if (!at) throw new Error(`package-lock.json has no ${r}`);
    visit(at);
  }
  return out;
}

/**
 * Writes package.json and package-lock.json in `project` (dependencies: the tarballs) and runs
 * `npm ci --offline` there. `repoLock` is the package-lock.json that pins the registry packages.
 */
export function installOffline(project: string, tarballs: readonly PackedTarball[], repoLock: string): void {
  const lock = (JSON.parse(fs.readFileSync(repoLock, 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const dependencies = Object.fromEntries(
    tarballs.map((t) => [t.name, `file:${path.relative(project, t.filename).split(path.sep).join('/')}`]),
  );
  const registryRoots = tarballs.flatMap((t) =>
    Object.keys((t.manifest.dependencies as Record<string, string> | undefined) ?? {}).filter(
      (d) => !tarballs.some((x) => x.name === d),
    ),
  );
  const packages: Record<string, unknown> = {
    '': { name: path.basename(project), version: '0.0.0', dependencies },
  };
  for (const t of tarballs) {
    const m = t.manifest;
    packages[`node_modules/${t.name}`] = {
      version: t.version,
      resolved: dependencies[t.name],
      integrity: t.integrity,
      ...(m.dependencies ? { dependencies: m.dependencies } : {}),
      ...(m.peerDependencies ? { peerDependencies: m.peerDependencies } : {}),
      ...(m.engines ? { engines: m.engines } : {}),
    };
  }
  for (const [at, entry] of closure(lock, registryRoots)) {
    // Flags describe the repository's tree (dev, optional, peer), not this project's.
    const { dev: _d, optional: _o, devOptional: _do, peer: _p, ...kept } = entry;
    packages[at] = {
      ...kept,
      resolved: kept.resolved ?? tarballUrl(at.slice(at.lastIndexOf('node_modules/') + 13), entry.version),
    };
  }
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify(
      { name: path.basename(project), version: '0.0.0', private: true, type: 'module', dependencies },
      null,
      2,
    ),
  );
  fs.writeFileSync(
    path.join(project, 'package-lock.json'),
    JSON.stringify(
      { name: path.basename(project), version: '0.0.0', lockfileVersion: 3, requires: true, packages },
      null,
      2,
    ),
  );
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
}
