/**
 * `nvcc build`: from a .nvc file to a build folder of typed TypeScript, its in-process
 * JavaScript, a training entry point and a manifest; and `loadBuiltProgram` for `nvcc train`.
 * In: an entry path, a variant, overrides (`path -> value`, validated against the program's
 * override schema first) and an output folder. Out: in the folder `model.ts` / `model.js` /
 * `model.d.ts` (one class per block instantiation and model), `train.ts` / `train.js` /
 * `train.d.ts` (a ModelFactory per stage and per top-level model, the lowered TrainSpec and
 * DatasetSpec), `manifest.json`, `config.resolved.json` and a `package.json` that makes the
 * folder an npm package (exports `.` = the model classes, `./train` = the training entry, with
 * their declarations; nvcc as a peer dependency). Holds afterwards:
 *  - generated code imports the runtime as `nvcc/runtime` (nvcc's package export, which ships
 *    declarations), so the folder type-checks and runs in any project that depends on nvcc;
 *  - the files depend only on the sources, variant, overrides and the compiler version:
 *    byte-identical across runs, machines and output folders; origins name files relative to
 *    the entry file's folder (`mednvc.nvc:42:5`) or the std library (`std/convnextv2.nvc:30:13`);
 *  - a second build with the same inputs finds the manifest's cache key unchanged and writes
 *    nothing (`cached: true`);
 *  - a refused build (diagnostics, bad overrides, unsupported constructs) writes nothing;
 *  - loadBuiltProgram hands out generated classes that extend the running process's own
 *    runtime `Module` (one runtime instance: it imports a copy of the JavaScript whose
 *    `nvcc/runtime` import names the running runtime's entry file), or throws.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from '../../dsl/diagnostics/diagnostic.js';
import type { SourceFile, Span } from '../../dsl/span.js';
import type { DatasetSpec } from '../../runtime/data/spec.js';
import type { ModelFactory, TrainSpec } from '../../runtime/train/spec.js';
import type { ModelIR, ProgramIR } from '../ir/ir.js';
import { readRegularFile } from '../limits.js';
import { STD_DIR } from '../loader.js';
import { UserError } from '../../runtime/errors.js';
import { packagePath } from '../../runtime/package-root.js';
import type { CompileResult } from '../pipeline.js';
import type { EmittedModel } from '../emit/model.js';
import type { StageModel } from './lower.js';
import type { JsonSchema, OverrideSchema } from '../schema/overrides.js';

/**
 * The compiler, emitters and schema code, loaded on first use: a cached build needs none of
 * them (nor TypeScript, ts-morph, chevrotain or ajv), which keeps `nvcc train` after `nvcc build`
 * fast.
 */
async function heavy() {
  const [pipeline, emitModel, emitTrain, lower, overrides] = await Promise.all([
    import('../pipeline.js'),
    import('../emit/model.js'),
    import('../emit/train.js'),
    import('./lower.js'),
    import('../schema/overrides.js'),
  ]);
  return { ...pipeline, ...emitModel, ...emitTrain, ...lower, ...overrides };
}

/** Bumped whenever the generated code's shape changes (part of every cache key). */
export const EMIT_FORMAT = 4;

/**
 * The bundle's folder relative to the package root (`dist/<id>`), defined by the bundler
 * (scripts/bundle.mjs) when this code runs from the bundle; undefined under tsx or vitest.
 */
declare const NVCC_BUNDLE_DIR: string | undefined;
const BUNDLE_DIR = typeof NVCC_BUNDLE_DIR === 'string' ? NVCC_BUNDLE_DIR : undefined;

/**
 * The import specifier of the runtime in generated code: nvcc's package export (package.json
 * `exports["./runtime"]`), resolved by whatever project depends on nvcc.
 */
export const RUNTIME_IMPORT = 'nvcc/runtime';

/**
 * The runtime module this process runs, which `loadBuiltProgram` gives generated code in place
 * of RUNTIME_IMPORT. From the bundle it is the bundle's own runtime entry, whose chunks the
 * running CLI shares: the trainer and the generated classes then use one runtime instance (one
 * `Module` class, one set of registered kernels). From the sources it is runtime/index.js,
 * which tsx and vitest map to runtime/index.ts.
 */
export const RUNTIME_ENTRY = BUNDLE_DIR
  ? packagePath(BUNDLE_DIR, 'runtime', 'index.js')
  : packagePath('runtime', 'index.js');

function packageVersion(): string {
  try {
    return (
      (JSON.parse(fs.readFileSync(packagePath('package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0'
    );
  } catch {
    return '0.0.0';
  }
}

/**
 * Part of every build's cache key and manifest. From the bundle it names the bundle too, whose id
 * hashes the compiler's sources: a build made by an older compiler is then never reused, even
 * when an emitter change forgot to bump EMIT_FORMAT (under tsx/vitest there is no bundle id).
 */
export const COMPILER_VERSION = `nvcc ${packageVersion()} (emit format ${EMIT_FORMAT}${
  BUNDLE_DIR ? `, compiler ${path.basename(BUNDLE_DIR)}` : ''
})`;

export interface BuildOptions {
  readonly variant?: string;
  /** `path -> value` overrides (from `--set` and `--config`), validated before compiling. */
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** Output folder; default `build/<file-stem>[-<variant>]` under the working directory. */
  readonly outDir?: string;
  /** Rebuild even when the cache key matches. */
  readonly force?: boolean;
}

export interface SourceEntry {
  /** Label used in origins: relative to the entry's folder, or `std/...`. */
  readonly file: string;
  readonly sha256: string;
}

export interface BuildManifest {
  readonly format: number;
  readonly compiler: string;
  readonly entry: string;
  readonly variant: string | null;
  readonly overrides: Readonly<Record<string, unknown>>;
  /** sha256 over every source file (entry and imports, std included), in label order. */
  readonly specHash: string;
  readonly sources: readonly SourceEntry[];
  /** sha256 over specHash, compiler, variant and overrides. */
  readonly cacheKey: string;
  readonly models: Readonly<
    Record<
      string,
      { readonly className: string; readonly parameters: number; readonly stage?: string; readonly train?: string }
    >
  >;
  readonly files: readonly string[];
}

export interface BuildProblem {
  readonly message: string;
  /** `file:line:col` when the problem has a place in the source. */
  readonly origin?: string;
}

export interface BuildResult {
  readonly ok: boolean;
  readonly outDir: string;
  readonly cached: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly files: ReadonlyMap<string, SourceFile>;
  /** Refusals that are not .nvc diagnostics (overrides, unsupported constructs). */
  readonly problems: readonly BuildProblem[];
  readonly manifest?: BuildManifest;
  /** Present when the build compiled (not when it was served from the cache). */
  readonly compiled?: CompiledBuild;
}

export interface CompiledBuild {
  readonly program: ProgramIR;
  readonly modelTs: string;
  readonly trainTs: string;
  readonly models: readonly EmittedModel[];
  readonly trainSpecs: readonly TrainSpec[];
  readonly datasetSpecs: readonly DatasetSpec[];
  readonly resolvedConfig: Readonly<Record<string, unknown>>;
  readonly overrideSchema: JsonSchema;
}

/**
 * Default output folder, relative to the working directory: `build/<stem>[-<variant>]`, and
 * with overrides `build/<stem>[-<variant>]-set-<hash of the overrides>`. Builds that differ
 * only in their overrides get their own folders so that runs of a sweep started side by side
 * (`nvcc train --set lr=... &`) cannot import each other's train.js; runs with the same
 * overrides write the same bytes and can share one.
 */
export function defaultOutDir(
  entry: string,
  variant?: string,
  overrides: Readonly<Record<string, unknown>> = {},
): string {
  const stem = path.basename(entry).replace(/\.nvc$/, '');
  const set = Object.keys(overrides).length > 0 ? `-set-${sha256(canonicalJson(overrides)).slice(0, 10)}` : '';
  return path.join('build', `${stem}${variant ? `-${variant}` : ''}${set}`);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted (for hashes of option objects). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** Maps compiler display paths to stable labels and back. */
export class SourceLabels {
  private readonly entryDir: string;

  constructor(entryAbs: string) {
    this.entryDir = path.dirname(entryAbs);
  }

  /** Label of a display path (cwd-relative or absolute, as the loader produces). */
  label(display: string): string {
    const abs = path.resolve(display);
    const std = path.relative(STD_DIR, abs);
    if (!std.startsWith('..') && !path.isAbsolute(std)) return `std/${std.split(path.sep).join('/')}`;
    return path.relative(this.entryDir, abs).split(path.sep).join('/');
  }

  /** Absolute path of a label. */
  absolute(label: string): string {
    if (label.startsWith('std/')) return path.join(STD_DIR, ...label.slice(4).split('/'));
    return path.resolve(this.entryDir, ...label.split('/'));
  }
}

function cacheKeyOf(
  specHash: string,
  variant: string | undefined,
  overrides: Readonly<Record<string, unknown>>,
): string {
  return sha256(canonicalJson({ specHash, compiler: COMPILER_VERSION, variant: variant ?? null, overrides }));
}

function specHashOf(sources: readonly SourceEntry[]): string {
  return sha256(sources.map((s) => `${s.file}\0${s.sha256}\n`).join(''));
}

const OUTPUT_FILES = [
  'package.json',
  'model.ts',
  'model.js',
  'model.d.ts',
  'train.ts',
  'train.js',
  'train.d.ts',
  'config.resolved.json',
  'overrides.schema.json',
  'manifest.json',
] as const;

/** The manifest of an up-to-date build in outDir, or undefined. */
export function cachedManifest(entry: string, options: BuildOptions, outDir: string): BuildManifest | undefined {
  const manifestPath = path.join(outDir, 'manifest.json');
  let manifest: BuildManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as BuildManifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== EMIT_FORMAT || manifest.compiler !== COMPILER_VERSION || !Array.isArray(manifest.sources))
    return undefined;
  const labels = new SourceLabels(path.resolve(entry));
  if (manifest.entry !== labels.label(entry)) return undefined;
  const sources: SourceEntry[] = [];
  for (const s of manifest.sources) {
    const read = readRegularFile(labels.absolute(s.file));
    if ('refused' in read) return undefined;
    const text = read.text;
    sources.push({ file: s.file, sha256: sha256(text) });
  }
  const key = cacheKeyOf(specHashOf(sources), options.variant, options.overrides ?? {});
  if (key !== manifest.cacheKey) return undefined;
  for (const f of OUTPUT_FILES) if (!fs.existsSync(path.join(outDir, f))) return undefined;
  return manifest;
}

/** `label:line:col` of a span, as generated code names it. */
export function spanOrigin(span: Span, files: ReadonlyMap<string, SourceFile>, labels: SourceLabels): string {
  const f = files.get(span.file);
  if (!f) return labels.label(span.file);
  const lc = f.lineCol(span.start);
  return `${labels.label(span.file)}:${lc.line}:${lc.column}`;
}

/** The program's override schema (compiled with the variant, without overrides). */
export async function overrideSchemaOf(
  entry: string,
  variant?: string,
  /** The targets whose support predicates the program is checked against (default tfjs). */
  targets?: readonly string[],
  /** The entry's text, instead of the file's (the fuzz bench's mutated inputs). */
  text?: string,
  /** The caller's own compile of the same entry, text, variant and targets, reused as is. */
  compiled?: CompileResult,
): Promise<{ result: CompileResult; schema?: OverrideSchema }> {
  const { compileProgramSync, entryModule, deriveOverrideSchema } = await heavy();
  const result =
    compiled ??
    compileProgramSync(entry, {
      ...(variant !== undefined ? { variant } : {}),
      ...(targets ? { targets } : {}),
      ...(text !== undefined ? { text } : {}),
    });
  if (!result.program) return { result };
  const ast = entryModule(entry, variant, {}, text);
  if (!ast) return { result };
  return { result, schema: deriveOverrideSchema(result.program, ast) };
}

/**
 * Compiles and emits without touching the disk. The third argument, where the caller will write
 * the build, is kept for callers: nothing in the output depends on it any more (generated code
 * imports the runtime by package name).
 */
export async function compileBuild(
  entry: string,
  /**
   * `text`: the entry's text instead of the file's; `checked`: the caller's compile of that entry
   * and text with the same variant and no overrides, reused instead of compiling again (bench/fuzz.ts
   * drives build both ways, after its own check).
   */
  options: BuildOptions & { readonly text?: string; readonly checked?: CompileResult },
  _outDir?: string,
): Promise<{ result: CompileResult; compiled?: CompiledBuild; problems: BuildProblem[]; sources: SourceEntry[] }> {
  const {
    compileProgramSync,
    validateOverrides,
    emitModels,
    lowerTrain,
    lowerDataset,
    entryModule,
    deriveOverrideSchema,
    resolvedValues,
    emitTrainModule,
    EmitError,
    LowerError,
  } = await heavy();
  const overrides = options.overrides ?? {};
  const labels = new SourceLabels(path.resolve(entry));
  const problems: BuildProblem[] = [];
  const sourcesOf = (r: CompileResult) =>
    [...r.files.values()]
      .map((f) => ({ file: labels.label(f.path), sha256: sha256(f.text) }))
      .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  // Overrides are checked against the schema of the program they edit, before anything else.
  const text = options.text;
  const base = await overrideSchemaOf(entry, options.variant, undefined, text, options.checked);
  if (!base.result.program || !base.schema) return { result: base.result, problems, sources: sourcesOf(base.result) };
  if (Object.keys(overrides).length) {
    const refused = validateOverrides(base.schema, overrides);
    if (refused.length)
      return {
        result: base.result,
        problems: refused.map((p) => ({ message: p.message })),
        sources: sourcesOf(base.result),
      };
  }
  const result = Object.keys(overrides).length
    ? compileProgramSync(entry, {
        ...(options.variant !== undefined ? { variant: options.variant } : {}),
        ...(text !== undefined ? { text } : {}),
        overrides,
      })
    : base.result;
  const sources = sourcesOf(result);
  if (!result.program) return { result, problems, sources };
  const program = result.program;
  const origin = (span: Span) => spanOrigin(span, result.files, labels);
  try {
    const stageModels: ModelIR[] = program.trains.flatMap((t) => t.stages.map((s) => s.model));
    const models = [...stageModels, ...program.models];
    const emitted = emitModels(models, result.files, { runtimeImport: RUNTIME_IMPORT, origin });
    const classOf = new Map(emitted.models.map((m) => [m.model, m.className]));
    const singleTrain = program.trains.length <= 1;
    const trainSpecs = program.trains.map((t) => {
      const stageModelsByName = new Map<string, StageModel>();
      for (const s of t.stages)
        stageModelsByName.set(s.name, {
          factory: singleTrain ? s.name : `${t.name}/${s.name}`,
          className: classOf.get(s.model)!,
        });
      return lowerTrain(t, stageModelsByName);
    });
    const datasetSpecs = program.datasets.map(lowerDataset);
    // Without overrides the program and entry module are the ones base.schema was derived from.
    const resolvedAst = Object.keys(overrides).length
      ? entryModule(entry, options.variant, overrides, text)
      : undefined;
    const resolvedSchema = resolvedAst ? deriveOverrideSchema(program, resolvedAst) : base.schema;
    const resolvedConfig = {
      entry: labels.label(entry),
      variant: options.variant ?? null,
      overrides,
      values: resolvedValues(resolvedSchema),
    };
    const trainTs = emitTrainModule({
      program,
      emitted: emitted.models,
      trainSpecs,
      datasetSpecs,
      runtimeImport: RUNTIME_IMPORT,
      origin,
      singleTrain,
      resolvedConfig,
    });
    return {
      result,
      problems,
      sources,
      compiled: {
        program,
        modelTs: emitted.text,
        trainTs,
        models: emitted.models,
        trainSpecs,
        datasetSpecs,
        resolvedConfig,
        overrideSchema: base.schema.schema,
      },
    };
  } catch (err) {
    if (err instanceof EmitError || err instanceof LowerError) {
      problems.push({
        message: err.message,
        ...(err instanceof EmitError && err.origin ? { origin: err.origin } : {}),
      });
      return { result, problems, sources };
    }
    throw err;
  }
}

/**
 * TypeScript -> JavaScript with TypeScript's own transpileModule (types erased, nothing
 * checked). The TypeScript instance is the one ts-morph already loaded for the emitter, so a
 * build parses one copy of the compiler, not two.
 */
async function transpile(text: string, fileName: string): Promise<string> {
  // ts-morph is CommonJS: `default` is its module.exports both under Node's interop and in the
  // bundle, where it is loaded with require() and has no named exports (scripts/bundle.mjs).
  const { ts } = (await import('ts-morph')).default;
  const out = ts.transpileModule(text, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ES2022,
      target: ts.ScriptTarget.ES2022,
      useDefineForClassFields: true,
      removeComments: false,
    },
  });
  return out.outputText;
}

/**
 * The declaration file of a generated module (TypeScript's transpileDeclaration: no type
 * checking, which the generated code allows since every exported member has a written type).
 */
async function declarations(text: string, fileName: string): Promise<string> {
  const { ts } = (await import('ts-morph')).default;
  const out = ts.transpileDeclaration(text, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true },
  });
  if (out.diagnostics?.length)
    throw new Error(
      `declarations of the generated ${fileName}: ` +
        `${out.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('; ')}`,
    );
  return out.outputText;
}

/** An npm package name from the entry stem and variant (lowercase, URL-safe). */
export function packageNameOf(entry: string, variant?: string): string {
  const stem = `${path.basename(entry).replace(/\.nvc$/, '')}${variant ? `-${variant}` : ''}`;
  const name = stem
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '')
    .slice(0, 200);
  return name.length > 0 ? name : 'nvcc-model';
}

/**
 * The build folder's package.json: an ES module package whose main export is the model classes
 * and whose `./train` export is the training entry, each with its declarations. nvcc is a peer
 * dependency: the model's classes must extend the one runtime the project also runs.
 */
function buildPackageJson(entry: string, variant: string | undefined): string {
  const pkg = {
    name: packageNameOf(entry, variant),
    version: '0.0.0',
    private: true,
    description: `Model code generated by ${COMPILER_VERSION} from ${path.basename(entry)}`,
    type: 'module',
    types: './model.d.ts',
    exports: {
      '.': { types: './model.d.ts', default: './model.js' },
      './train': { types: './train.d.ts', default: './train.js' },
      './package.json': './package.json',
    },
    peerDependencies: { nvcc: `^${packageVersion()}` },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Builds (or finds cached) the program into its output folder. */
export async function buildProgram(entry: string, options: BuildOptions = {}): Promise<BuildResult> {
  const outDir = options.outDir ?? defaultOutDir(entry, options.variant, options.overrides);
  const empty = new Map<string, SourceFile>();
  if (!options.force) {
    const manifest = cachedManifest(entry, options, outDir);
    if (manifest) return { ok: true, outDir, cached: true, diagnostics: [], files: empty, problems: [], manifest };
  }
  const { result, compiled, problems, sources } = await compileBuild(entry, options, outDir);
  const errors = result.diagnostics.some((d) => d.severity === 'error');
  if (errors || !compiled)
    return { ok: false, outDir, cached: false, diagnostics: result.diagnostics, files: result.files, problems };
  const labels = new SourceLabels(path.resolve(entry));
  const specHash = specHashOf(sources);
  const overrides = options.overrides ?? {};
  const models: Record<string, { className: string; parameters: number; stage?: string; train?: string }> = {};
  const stageOf = new Map<ModelIR, { train: string; stage: string }>();
  for (const t of compiled.program.trains)
    for (const s of t.stages) stageOf.set(s.model, { train: t.name, stage: s.name });
  for (const m of compiled.models) {
    const st = stageOf.get(m.model);
    const key = st ? (compiled.program.trains.length > 1 ? `${st.train}/${st.stage}` : st.stage) : m.model.name;
    // defineProperty, not assignment: a model named `__proto__` must be an entry of its own, not the prototype.
    Object.defineProperty(models, key, {
      value: {
        className: m.className,
        parameters: m.parameterCount,
        ...(st ? { train: st.train, stage: st.stage } : {}),
      },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const manifest: BuildManifest = {
    format: EMIT_FORMAT,
    compiler: COMPILER_VERSION,
    entry: labels.label(entry),
    variant: options.variant ?? null,
    overrides,
    specHash,
    sources,
    cacheKey: cacheKeyOf(specHash, options.variant, overrides),
    models,
    files: [...OUTPUT_FILES],
  };
  const modelJs = await transpile(compiled.modelTs, 'model.ts');
  const trainJs = await transpile(compiled.trainTs, 'train.ts');
  const modelDts = await declarations(compiled.modelTs, 'model.ts');
  const trainDts = await declarations(compiled.trainTs, 'train.ts');
  try {
    fs.mkdirSync(outDir, { recursive: true });
    // The manifest goes last: a folder with a manifest is complete.
    fs.rmSync(path.join(outDir, 'manifest.json'), { force: true });
    // The generated .js files are ES modules; the package.json says so (a build folder outside
    // the repository has no package.json of ours above it) and makes the folder a package.
    writeAtomic(path.join(outDir, 'package.json'), buildPackageJson(entry, options.variant));
    writeAtomic(path.join(outDir, 'model.ts'), compiled.modelTs);
    writeAtomic(path.join(outDir, 'model.js'), modelJs);
    writeAtomic(path.join(outDir, 'model.d.ts'), modelDts);
    writeAtomic(path.join(outDir, 'train.ts'), compiled.trainTs);
    writeAtomic(path.join(outDir, 'train.js'), trainJs);
    writeAtomic(path.join(outDir, 'train.d.ts'), trainDts);
    writeAtomic(path.join(outDir, 'config.resolved.json'), JSON.stringify(compiled.resolvedConfig, null, 2) + '\n');
    writeAtomic(path.join(outDir, 'overrides.schema.json'), JSON.stringify(compiled.overrideSchema, null, 2) + '\n');
    writeAtomic(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      outDir,
      cached: false,
      diagnostics: result.diagnostics,
      files: result.files,
      problems: [{ message: `cannot write the build folder ${outDir}: ${reason}` }],
    };
  }
  return {
    ok: true,
    outDir,
    cached: false,
    diagnostics: result.diagnostics,
    files: result.files,
    problems: [],
    manifest,
    compiled,
  };
}

export interface LoadedProgram {
  /** Stage name (or `train/stage` when the file has several trains) -> factory. */
  readonly factories: Readonly<Record<string, ModelFactory>>;
  /** Top-level model name -> factory (models built with their defaults). */
  readonly modelFactories: Readonly<Record<string, ModelFactory>>;
  /** The file's (first) train declaration, lowered; undefined when it has none. */
  readonly trainSpec?: TrainSpec;
  readonly trainSpecs: Readonly<Record<string, TrainSpec>>;
  /** The dataset the train declaration reads (or the first dataset). */
  readonly datasetSpec?: DatasetSpec;
  readonly datasetSpecs: Readonly<Record<string, DatasetSpec>>;
  /** The resolved configuration of the build (also in config.resolved.json): write it next to every run. */
  readonly resolvedConfig: Readonly<Record<string, unknown>>;
  readonly manifest: BuildManifest;
  readonly outDir: string;
  readonly cached: boolean;
}

/** A build that was refused (a user error): `result` holds the diagnostics and problems to show. */
export class BuildRefused extends UserError {
  constructor(
    message: string,
    readonly result: BuildResult,
  ) {
    super(message);
    this.name = 'BuildRefused';
  }
}

interface TrainModule {
  factories: Record<string, ModelFactory>;
  modelFactories: Record<string, ModelFactory>;
  trainSpecs: Record<string, TrainSpec>;
  datasetSpecs: Record<string, DatasetSpec>;
  resolvedConfig: Record<string, unknown>;
}

/**
 * Checks that the generated classes extend this process's own runtime `Module`: a second copy
 * of the runtime (generated code importing another bundle or the sources) would split
 * `instanceof` checks, registered kernels and the RNG between the trainer and the model.
 * model.js is the instance train.js imported (same URL).
 */
async function assertSharedRuntime(outDir: string): Promise<void> {
  const [{ Module }, generated] = await Promise.all([
    import('../../runtime/module.js'),
    import(pathToFileURL(path.resolve(outDir, 'model.js')).href) as Promise<Record<string, unknown>>,
  ]);
  const classes = Object.values(generated).filter(
    (v): v is abstract new (...args: never[]) => unknown => typeof v === 'function' && 'prototype' in v,
  );
  const foreign = classes.filter((c) => !(c.prototype instanceof Module));
  if (foreign.length) {
    throw new Error(
      `the generated code in ${outDir} uses another copy of the nvcc runtime than the running nvcc ` +
        `(${foreign.map((c) => c.name).join(', ')} ${foreign.length === 1 ? 'does' : 'do'} not extend its ` +
        `Module; the running nvcc imports generated code against ${RUNTIME_ENTRY})`,
    );
  }
}

/**
 * A private copy of the build's JavaScript that this process imports: model.js and train.js with
 * their `nvcc/runtime` import pointing at the running runtime's entry file. Node would resolve
 * `nvcc/runtime` from the build folder's position (to no nvcc at all, or to another copy of the
 * runtime than the one running), and it caches an ES module by URL for the life of the process,
 * so a rebuilt folder imported again by the same URL would run the old code; a fresh copy per
 * load has neither problem. Code that imports the runtime otherwise (edited by hand) is copied
 * unchanged and refused by assertSharedRuntime. Also what the worker threads of `nvcc train
 * --threads` import (runtime/train/parallel.ts); the caller removes the folder.
 */
export function loadableCopyOf(outDir: string): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'nvcc-load-'));
  // A relative specifier, as vitest's module runner and Node both resolve it (to the .ts source
  // under vitest and tsx, which map `.js` imports to `.ts`).
  const runtimeSpecifier = path.relative(copy, RUNTIME_ENTRY).split(path.sep).join('/');
  fs.writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
  for (const f of ['model.js', 'train.js']) {
    const text = fs.readFileSync(path.join(outDir, f), 'utf8');
    fs.writeFileSync(
      path.join(copy, f),
      text.replace(`from ${JSON.stringify(RUNTIME_IMPORT)};`, `from ${JSON.stringify(runtimeSpecifier)};`),
    );
  }
  return copy;
}

/**
 * Builds (or reuses) the program and imports its generated code in-process.
 * Throws BuildRefused (with the diagnostics or problems) when the program does not build.
 */
export async function loadBuiltProgram(entry: string, options: BuildOptions = {}): Promise<LoadedProgram> {
  const built = await buildProgram(entry, options);
  if (!built.ok || !built.manifest) {
    const first =
      built.problems[0]?.message ?? built.diagnostics.find((d) => d.severity === 'error')?.message ?? 'build failed';
    throw new BuildRefused(`nvcc build ${entry}: ${first}`, built);
  }
  const importDir = loadableCopyOf(built.outDir);
  let mod: TrainModule;
  try {
    mod = (await import(pathToFileURL(path.join(importDir, 'train.js')).href)) as TrainModule;
    await assertSharedRuntime(importDir);
  } finally {
    // Everything the generated code imports is loaded by now; the copy is not needed again.
    fs.rmSync(importDir, { recursive: true, force: true });
  }
  const trainSpecs = mod.trainSpecs;
  const firstTrain = Object.values(trainSpecs)[0];
  const datasetSpec = firstTrain ? mod.datasetSpecs[firstTrain.dataset] : Object.values(mod.datasetSpecs)[0];
  return {
    factories: mod.factories,
    modelFactories: mod.modelFactories,
    ...(firstTrain ? { trainSpec: firstTrain } : {}),
    trainSpecs,
    ...(datasetSpec ? { datasetSpec } : {}),
    datasetSpecs: mod.datasetSpecs,
    resolvedConfig: mod.resolvedConfig,
    manifest: built.manifest,
    outDir: built.outDir,
    cached: built.cached,
  };
}
