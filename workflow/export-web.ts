/**
 * A finished run as a static web page (`nvcc export RUN --web OUT`).
 * In: a run folder whose training finished (config.json, metrics.json, data-stats.json,
 * program.json, the stage's weights), the stage (default: the last supervised one, as `nvcc
 * predict` picks it) and an output folder. Out: OUT/index.html (lab form, X-ray input, result,
 * the run's metrics), app.js (the page script with the run's model code and the browser runtime
 * bundled by esbuild), weights.safetensors (the weights `nvcc predict` loads), diagram.svg
 * (`nvcc diagram --stage S`), tfjs's wasm binaries and app.js.LEGAL.txt (the bundled packages'
 * licence comments).
 * Holds afterwards: the page requests nothing outside its folder and computes what `nvcc
 * predict` computes (workflow/web/page.ts); OUT appears complete or not at all (the files are
 * written to a sibling folder that is renamed into place), and a non-empty OUT is replaced only
 * with `force`; a run that has not finished, or an OUT that cannot be written, is refused with the
 * path and nothing is written; the run folder is only read.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Plugin } from 'esbuild';
import { drawnNodesRefusal, renderDiagram } from '../compiler/diagram/render.js';
import { selectDiagram } from '../compiler/diagram/select.js';
import { compileProgramSync } from '../compiler/pipeline.js';
import { systemErrorOf, UserError } from '../runtime/errors.js';
import { packagePath } from '../runtime/package-root.js';
import { LOCK_FILE } from '../runtime/run/lock.js';
import { recordedPath } from '../runtime/run/recorded.js';
import { RUN_FILES } from '../runtime/run/rundir.js';
import { DATA_STATS_FILE, imageInputNames, readDataStats } from '../runtime/train/dataset-adapter.js';
import { readRunConfig } from '../runtime/train/evaluate.js';
import type { StageResult } from '../runtime/train/state.js';
import { programOfRun, resolveRunTarget } from './run-folder.js';
import { PROGRAM_FILE, type ProgramRecord } from './train.js';
import { renderPageHtml } from './web/html.js';
import type { PageSplitMetrics, WebPageData } from './web/page-data.js';

export interface WebExportOptions {
  /** The folder to write (created; must be empty or absent unless `force`). */
  readonly out: string;
  readonly stage?: string;
  /** Replace a non-empty OUT. */
  readonly force?: boolean;
  /** Progress and warnings (default stderr). */
  readonly log?: (line: string) => void;
}

export interface WebExport {
  readonly out: string;
  readonly stage: string;
  readonly files: readonly { readonly name: string; readonly bytes: number }[];
}

/** tfjs's wasm binaries: plain, SIMD, and threaded SIMD (used only on a cross-origin-isolated page). */
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
export const WEB_FILES = {
  page: 'index.html',
  script: 'app.js',
  weights: 'weights.safetensors',
  diagram: 'diagram.svg',
};

/** The finished run's parts the page needs, or a refusal that says what is missing. */
function finishedRun(runDir: string, stageName: string | undefined) {
  const shown = runDir;
  const has = (f: string) => fs.existsSync(path.join(runDir, f));
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) throw new UserError(`${shown}: no such run folder`);
  if (!has(PROGRAM_FILE) && !has(RUN_FILES.configJson))
    throw new UserError(`${shown} is not a run folder made by \`nvcc train\` (no ${PROGRAM_FILE}, no config.json)`);
  if (!has(RUN_FILES.metrics)) {
    const why = has(LOCK_FILE)
      ? 'its training is still running, or was interrupted'
      : 'its training was interrupted before the end';
    throw new UserError(
      `${shown} is not a finished run: it has no ${RUN_FILES.metrics} (${why}); ` +
        `finish it with \`nvcc train --resume ${shown}\`, then export`,
    );
  }
  if (!has(PROGRAM_FILE))
    throw new UserError(`${shown} has no ${PROGRAM_FILE}, so the model code of the run cannot be rebuilt`);
  const config = readRunConfig(runDir);
  const stats = readDataStats(runDir);
  if (!stats)
    throw new UserError(
      `${shown} has no ${DATA_STATS_FILE}: the run did not record its training statistics, so the page could ` +
        'not encode lab values and images as the training did',
    );
  const stages = config.spec.stages;
  const stage =
    stageName === undefined
      ? [...stages].reverse().find((s) => s.kind === 'supervised')
      : stages.find((s) => s.name === stageName);
  if (!stage)
    throw new UserError(
      stageName === undefined
        ? `${shown} has no supervised stage: the page shows a probability, which a masked stage does not give`
        : `the run has no stage '${stageName}' (stages: ${stages.map((s) => s.name).join(', ')})`,
    );
  if (stage.kind !== 'supervised')
    throw new UserError(`stage '${stage.name}' is self-supervised; it gives no class probabilities to show`);
  let summary: { stages?: StageResult[] };
  const metricsFile = path.join(runDir, RUN_FILES.metrics);
  try {
    summary = JSON.parse(fs.readFileSync(metricsFile, 'utf8')) as typeof summary;
  } catch {
    throw new UserError(`${metricsFile} is not valid JSON`);
  }
  const result = (summary.stages ?? []).find((s) => s.name === stage.name);
  if (!result)
    throw new UserError(
      `stage '${stage.name}' has not finished in ${shown} (${RUN_FILES.metrics} has no result for it)`,
    );
  const weights = recordedPath(path.join('stages', stage.name, 'weights.safetensors'), {
    runDir,
    recordedIn: path.join(runDir, RUN_FILES.configJson),
    what: `the weights of stage '${stage.name}'`,
    kind: 'file',
    roots: [],
    mayBeMissing: true,
  });
  if (!fs.existsSync(weights))
    throw new UserError(`${weights} does not exist: stage '${stage.name}' left no final weights in this run`);
  return { config, stats, stage, result, weights };
}

interface EvaluationJson {
  threshold?: number | null;
  thresholdRule?: string;
  splits?: {
    split: string;
    nPatients: number;
    nPositive: number;
    auc?: number | null;
    aucCi?: { lower?: number | null; upper?: number | null };
    accuracy?: number | null;
    sensitivity?: number | null;
    specificity?: number | null;
  }[];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function metricsOf(evaluation: EvaluationJson | undefined): PageSplitMetrics[] {
  return (evaluation?.splits ?? []).map((s) => ({
    split: s.split,
    patients: s.nPatients,
    positives: s.nPositive,
    auc: num(s.auc),
    aucLower: num(s.aucCi?.lower),
    aucUpper: num(s.aucCi?.upper),
    accuracy: num(s.accuracy),
    sensitivity: num(s.sensitivity),
    specificity: num(s.specificity),
  }));
}

/** `nvcc/runtime` in generated code is the browser entry, as the package's `browser` condition says. */
function browserRuntime(): Plugin {
  const entry = packagePath('runtime', 'browser.ts');
  return {
    name: 'nvcc-browser-runtime',
    setup(build) {
      build.onResolve({ filter: /^nvcc\/runtime$/ }, () => ({ path: entry }));
    },
  };
}

/**
 * DICOM in the page: runtime/data/dicom.ts reads uncompressed and RLE pixel data itself; the
 * compressed syntaxes need codec packages that load WebAssembly from disk, and a deflated data set
 * needs node:zlib. Those are replaced by modules that refuse with what to do instead.
 */
function dicomWithoutCodecs(): Plugin {
  const refusal = (what: string) =>
    `${what} is not decoded by this page: convert the file to PNG (or score it with nvcc predict)`;
  return {
    name: 'nvcc-dicom-without-codecs',
    setup(build) {
      build.onResolve({ filter: /^(@cornerstonejs\/|dcmjs-codecs$)/ }, (args) => ({
        path: args.path,
        namespace: 'nvcc-refused',
      }));
      build.onResolve({ filter: /^node:zlib$/ }, () => ({ path: 'zlib', namespace: 'nvcc-refused' }));
      build.onLoad({ filter: /.*/, namespace: 'nvcc-refused' }, (args) => {
        const message = refusal(args.path === 'zlib' ? 'a deflated DICOM data set' : 'compressed DICOM pixel data');
        const fail = `() => { throw new Error(${JSON.stringify(message)}); }`;
        return {
          contents: `export default ${fail};\nexport const inflateRawSync = ${fail};\nexport const Decoder = ${fail};`,
          loader: 'js',
        };
      });
    },
  };
}

/** The page script: the build's model factories and workflow/web/page.ts, one ES module for the browser. */
async function bundlePage(buildDir: string): Promise<{ script: Uint8Array; legal?: Uint8Array }> {
  const { build } = await import('esbuild');
  const root = packagePath();
  const entry = [
    `import { factories } from ${JSON.stringify(path.join(buildDir, 'train.ts'))};`,
    `import { startPage } from ${JSON.stringify(path.join(root, 'workflow', 'web', 'page.ts'))};`,
    'startPage(factories);',
  ].join('\n');
  const result = await build({
    stdin: { contents: entry, resolveDir: root, sourcefile: 'nvcc-web-entry.ts', loader: 'ts' },
    absWorkingDir: root,
    bundle: true,
    write: false,
    outdir: '/',
    entryNames: 'app',
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    minify: true,
    legalComments: 'external',
    logLevel: 'silent',
    plugins: [browserRuntime(), dicomWithoutCodecs()],
  });
  const script = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (!script) throw new Error('esbuild wrote no page script');
  const legal = result.outputFiles.find((f) => f.path.endsWith('.LEGAL.txt'));
  return { script: script.contents, ...(legal ? { legal: legal.contents } : {}) };
}

/** The stage's model drawn as `nvcc diagram --stage S` draws it, or why not. */
async function diagramOf(
  record: ProgramRecord,
  programFile: string,
  stage: string,
): Promise<string | { missing: string }> {
  const rel = path.relative(process.cwd(), programFile) || programFile;
  const compiled = compileProgramSync(rel, {
    ...(record.variant !== null ? { variant: record.variant } : {}),
    ...(Object.keys(record.overrides ?? {}).length ? { overrides: record.overrides as Record<string, unknown> } : {}),
  });
  if (!compiled.program) return { missing: `no diagram: ${rel} no longer checks` };
  const chosen = selectDiagram(compiled.program, { depth: 0, stage });
  if ('error' in chosen) return { missing: `no diagram: ${chosen.error}` };
  const refusal = drawnNodesRefusal(chosen.graph, 'svg');
  if (refusal) return { missing: `no diagram: ${refusal}` };
  return String(await renderDiagram(chosen.graph, { format: 'svg', direction: 'TB', theme: 'paper', style: 'full' }));
}

/** Whether `dir` holds anything (false for a missing folder); a file in the way is refused. */
function nonEmpty(dir: string): boolean {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) return false;
  if (!stat.isDirectory()) throw new UserError(`${dir} exists and is not a folder; name a folder for the page`);
  return fs.readdirSync(dir).length > 0;
}

/** Runs a file-system step; an OS refusal becomes a SystemError naming the path. */
function onDisk<T>(where: string, action: 'read' | 'write', body: () => T): T {
  try {
    return body();
  } catch (err) {
    const system = systemErrorOf(err, { path: where, action, kept: 'nothing was written' });
    if (system) throw system;
    throw err;
  }
}

/** Writes the page of the run in `target` (a run folder) to `options.out`. */
export async function exportWebPage(target: string, options: WebExportOptions): Promise<WebExport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const out = path.resolve(options.out);
  if (nonEmpty(out) && !options.force)
    throw new UserError(
      `${options.out} is not empty; name an empty or new folder, or pass --force to replace what is there`,
    );
  const { runDir } = resolveRunTarget(target);
  const run = finishedRun(runDir, options.stage);
  const { config, stats, stage, result } = run;
  const record = JSON.parse(fs.readFileSync(path.join(runDir, PROGRAM_FILE), 'utf8')) as ProgramRecord;
  const programFile = recordedPath(record.file, {
    runDir,
    recordedIn: path.join(runDir, PROGRAM_FILE),
    what: 'the program file',
    kind: 'file',
  });
  const program = await programOfRun(runDir, log);
  const className = program.manifest.models[stage.model.factory]?.className ?? stage.model.className;
  const weightBytes = onDisk(run.weights, 'read', () => fs.readFileSync(run.weights));
  const [bundle, diagram] = await Promise.all([
    bundlePage(path.resolve(program.outDir)),
    diagramOf(record, programFile, stage.name),
  ]);
  const evaluation = result.evaluation as EvaluationJson | undefined;
  const threshold = typeof evaluation?.threshold === 'number' ? evaluation.threshold : 0.5;
  const data: WebPageData = {
    format: 1,
    run: {
      name: config.spec.name,
      folder: path.basename(runDir),
      variant: record.variant,
      program: path.basename(programFile),
    },
    stage: {
      name: stage.name,
      factory: stage.model.factory,
      className,
      inputs: stage.inputs,
      imageInputs: imageInputNames({ ...config.spec, stages: [stage] }, config.dataset),
    },
    dataset: {
      name: config.dataset.name,
      classes: config.dataset.label.classes,
      // The lab groups this stage reads (an images-only stage asks for no lab values).
      groups: config.dataset.groups.filter((g) => stage.inputs.includes(g.name)),
      images: {
        size: config.dataset.images.size,
        channels: config.dataset.images.channels,
        fit: config.dataset.images.fit,
        normalize: config.dataset.images.normalize,
        dicom: config.dataset.images.dicom,
      },
    },
    stats,
    pooling: stage.pooling ?? config.spec.pooling ?? config.dataset.pool,
    threshold,
    thresholdSource:
      typeof evaluation?.threshold === 'number'
        ? `chosen on validation (${evaluation.thresholdRule ?? 'rule not recorded'})`
        : 'fixed 0.5 (the run recorded no validation threshold)',
    metrics: metricsOf(evaluation),
    weights: {
      file: WEB_FILES.weights,
      bytes: weightBytes.length,
      sha256: createHash('sha256').update(weightBytes).digest('hex'),
    },
    diagram: typeof diagram === 'string' ? { file: WEB_FILES.diagram } : diagram,
  };
  const files = new Map<string, Uint8Array | string>([
    [WEB_FILES.page, renderPageHtml(data, WEB_FILES.script)],
    [WEB_FILES.script, bundle.script],
    [WEB_FILES.weights, weightBytes],
  ]);
  if (bundle.legal) files.set(`${WEB_FILES.script}.LEGAL.txt`, bundle.legal);
  if (typeof diagram === 'string') files.set(WEB_FILES.diagram, diagram);
  // The package's main file lies in its dist/ folder, beside the binaries.
  const wasmDir = path.dirname(createRequire(packagePath('package.json')).resolve('@tensorflow/tfjs-backend-wasm'));
  for (const name of WASM_FILES) {
    const from = path.join(wasmDir, name);
    files.set(
      name,
      onDisk(from, 'read', () => fs.readFileSync(from)),
    );
  }
  writeFolderAtomically(out, files, options.force === true);
  return {
    out,
    stage: stage.name,
    files: [...files].map(([name, content]) => ({
      name,
      bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.length,
    })),
  };
}

/**
 * Writes `files` into a new sibling of `out`, then puts it in `out`'s place: a reader sees the old
 * folder or the complete new one. A replaced folder is removed only after the new one is in place.
 */
function writeFolderAtomically(out: string, files: ReadonlyMap<string, Uint8Array | string>, replace: boolean): void {
  const parent = path.dirname(out);
  onDisk(parent, 'write', () => fs.mkdirSync(parent, { recursive: true }));
  // mkdir (not mkdtemp, which makes the folder private): the page is to be served, so the umask decides.
  const staging = path.join(parent, `.${path.basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  onDisk(staging, 'write', () => fs.mkdirSync(staging));
  let old: string | undefined;
  try {
    for (const [name, content] of files) {
      const file = path.join(staging, name);
      onDisk(file, 'write', () => fs.writeFileSync(file, content));
    }
    if (fs.existsSync(out)) {
      if (fs.readdirSync(out).length === 0) onDisk(out, 'write', () => fs.rmdirSync(out));
      else if (replace) {
        old = `${staging}-old`;
        const moved = old;
        onDisk(out, 'write', () => fs.renameSync(out, moved));
      } else throw new UserError(`${out} is not empty; pass --force to replace what is there`);
    }
    onDisk(out, 'write', () => fs.renameSync(staging, out));
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    // The old page goes back where it was when the new one could not take its place.
    if (old && !fs.existsSync(out) && fs.existsSync(old)) fs.renameSync(old, out);
    throw err;
  }
  if (old) fs.rmSync(old, { recursive: true, force: true });
}
