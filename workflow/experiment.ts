/**
 * Experiments (`nvcc experiment`): several variants of one program trained on the same patient
 * splits, compared in a table like Table II of the MED-NVC paper.
 * In: a .nvc program and variant names (`base` names the program without a variant). Out: one
 * run folder per variant (and fold) under DIR, and `DIR/results.md` / `DIR/results.html` with
 * model, variant, fusion, parameters, test AUC (95% CI), accuracy and wall time per row, the
 * HTML linking `DIR/compare.html` (every run's curves overlaid, workflow/compare.ts).
 * Holds afterwards: every variant is compiled and checked before the first one trains (a typo
 * in the fourth variant does not cost three trainings); variants whose dataset declarations
 * are equal get the same split (the split is a function of the declaration and its seed); with
 * `--folds k` every variant runs the k folds of one k-fold split and the row reports the mean
 * AUC over folds with a t-interval across folds; every row but the reference (`--reference`,
 * default the last variant) also reports its AUC minus the reference's on the same test
 * patients (pooled over folds) with a paired bootstrap CI and p-value, read from each run's
 * `predictions.csv`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileBuild } from '../compiler/builder/build.js';
import type { ModelIR } from '../compiler/ir/ir.js';
import type { BackendRequest } from '../runtime/backend.js';
import { type Dataset, loadDataset } from '../runtime/data/index.js';
import type { DatasetSpec } from '../runtime/data/spec.js';
import { keeping, UserError } from '../runtime/errors.js';
import { pairedBootstrapAucDifference } from '../runtime/metrics/index.js';
import type { Rng } from '../runtime/module.js';
import { type ExperimentRow, experimentTableHtml, experimentTableMarkdown } from '../runtime/report/index.js';
import { createRng } from '../runtime/rng.js';
import { writeFileAtomicSync } from '../runtime/run/index.js';
import { PREDICTIONS_FILE, parsePredictionsCsv } from '../runtime/train/evaluate.js';
import { DatasetTrainingData, imageInputNames, type RunResult, type TrainSpec } from '../runtime/train/index.js';
import { compareRuns } from './compare.js';
import { ExperimentEta, runWork } from './experiment-eta.js';
import { type CheckedProgram, checkProgram, dataBaseDir } from './program.js';
import { finalSummary, trainProgram } from './train.js';

/** What a row says about its model: encoder family and how the modalities are fused. */
export function describeModel(
  model: ModelIR,
  inputs: readonly string[],
  labGroups: ReadonlySet<string>,
): { model: string; fusion: string } {
  const types = new Set<string>();
  const walk = (n: ModelIR['root']) => {
    types.add(n.typeName);
    n.children.forEach(walk);
  };
  walk(model.root);
  const encoder = types.has('SwinEncoder') ? 'Swin' : types.has('ConvNeXtV2Encoder') ? 'ConvNeXt-V2' : undefined;
  const name = encoder ? `${model.root.typeName} (${encoder})` : model.root.typeName;
  const labs = inputs.filter((i) => labGroups.has(i));
  const images = inputs.filter((i) => !labGroups.has(i));
  if (images.length === 0) return { model: name, fusion: `only numeric (${labs.join(', ')})` };
  if (labs.length === 0) return { model: name, fusion: `only vision (${images.join(', ')})` };
  if (types.has('CrossAttention')) return { model: name, fusion: 'unidirectional cross-attention' };
  const graph = model.root.forwardKey !== undefined ? model.graphs.get(model.root.forwardKey) : undefined;
  if (graph?.ops.some((op) => op.op === 'concat')) return { model: name, fusion: 'concatenation (MLP lab branch)' };
  return { model: name, fusion: 'multimodal' };
}

/** Two-sided 97.5% quantile of Student's t for small degrees of freedom. */
function tQuantile(df: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262];
  return df >= 1 && df <= table.length ? table[df - 1]! : 1.96;
}

interface Planned {
  readonly variant: string | undefined;
  readonly label: string;
  readonly checked: CheckedProgram;
  readonly model: ModelIR;
  readonly parameters: number;
  /** runWork of the variant's program: what the experiment ETA weighs runs by. */
  readonly work: number;
}

/** The experiment's page of overlaid curves, next to results.html. */
export const COMPARE_FILE = 'compare.html';

export interface ExperimentOptions {
  readonly file: string;
  readonly variants: readonly string[];
  readonly folds?: number;
  readonly out: string;
  readonly backend?: BackendRequest;
  readonly seed?: number;
  readonly quiet?: boolean;
  /** The row the others are compared with (a label of `variants`); default the last one. */
  readonly reference?: string;
  /** Bootstrap resamples of the paired comparison; default 2000. */
  readonly comparisonResamples?: number;
  /** The command line, printed under the table. */
  readonly command: string;
  /** The command line as typed, for each run's report header. */
  readonly typed?: string;
  readonly log?: (line: string) => void;
}

export interface ExperimentResult {
  readonly rows: readonly ExperimentRow[];
  readonly markdown: string;
  readonly html: string;
}

export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (o.variants.length === 0)
    throw new UserError('--variants needs at least one variant name (`base` for the program as written)');
  if (new Set(o.variants).size !== o.variants.length) throw new UserError('--variants names a variant twice');
  if (fs.existsSync(o.out) && fs.readdirSync(o.out).length > 0)
    throw new UserError(`--out ${o.out} is not empty; choose a new folder for the experiment`);
  const reference = o.reference ?? o.variants[o.variants.length - 1]!;
  if (!o.variants.includes(reference))
    throw new UserError(`--reference ${reference} is not one of --variants (${o.variants.join(', ')})`);
  // Compile every variant first: a bad name or spec stops the experiment before any training.
  const planned: Planned[] = [];
  for (const label of o.variants) {
    const variant = label === 'base' ? undefined : label;
    const checked = await checkProgram({ file: o.file, ...(variant !== undefined ? { variant } : {}) });
    const { compiled } = await compileBuild(o.file, variant !== undefined ? { variant } : {}, 'build');
    const train = compiled!.program.trains[0]!;
    const stage = [...train.stages].reverse().find((s) => !s.mask) ?? train.stages[train.stages.length - 1]!;
    const emitted = compiled!.models.find((m) => m.model === stage.model);
    planned.push({
      variant,
      label,
      checked,
      model: stage.model,
      parameters: emitted?.parameterCount ?? 0,
      work: runWork(compiled!.program),
    });
  }
  const folds = o.folds ?? 1;
  const eta = new ExperimentEta(planned.flatMap((p) => Array.from({ length: folds }, () => p.work)));
  const runDirs: string[] = [];
  let runIndex = 0;
  const datasets = new Map<string, Dataset>();
  const rows: ExperimentRow[] = [];
  const notes: string[] = [];
  /** Test-patient scores of each row, pooled over folds: patient id -> (label, score). */
  const testScores = new Map<string, Map<string, { label: number; score: number }>>();
  for (const p of planned) {
    const lastStage = p.checked.trainSpec.stages.filter((s) => s.kind === 'supervised').at(-1);
    const { model, fusion } = describeModel(
      p.model,
      lastStage?.inputs ?? [],
      new Set(p.checked.datasetSpec.groups.map((g) => g.name)),
    );
    const aucs: number[] = [];
    const accs: number[] = [];
    let wall = 0;
    let last: RunResult | undefined;
    for (let fold = 0; fold < folds; fold++) {
      const dataset: DatasetSpec =
        folds > 1
          ? { ...p.checked.datasetSpec, split: { ...p.checked.datasetSpec.split, kfold: { k: folds, fold } } }
          : p.checked.datasetSpec;
      const key = JSON.stringify(dataset);
      let ds = datasets.get(key);
      if (!ds) {
        const kept = rows.length > 0 || fold > 0 ? `the runs finished so far are in ${o.out}` : 'nothing was written';
        ds = await keeping(kept, () => loadDataset(dataset, { baseDir: dataBaseDir(o.file) }));
        datasets.set(key, ds);
      }
      const data = new DatasetTrainingData(ds, imageInputNames(p.checked.trainSpec as TrainSpec, dataset));
      const runDir = path.join(o.out, folds > 1 ? `${p.label}-fold${fold}` : p.label);
      log(
        `\nnvcc experiment: ${p.label}${folds > 1 ? ` fold ${fold + 1}/${folds}` : ''} -> ${runDir} ` +
          `(${eta.line(runIndex)})`,
      );
      const outcome = await trainProgram({
        file: o.file,
        ...(p.variant !== undefined ? { variant: p.variant } : {}),
        out: runDir,
        data,
        ...(folds > 1 ? { datasetSpec: dataset } : {}),
        ...(o.backend ? { backend: o.backend } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.quiet ? { quiet: true } : {}),
        ...(o.typed !== undefined ? { command: o.typed } : {}),
        log,
      });
      if (outcome.result.status !== 'completed')
        throw new UserError(`the experiment was interrupted during ${p.label}; finished rows are in ${o.out}`);
      const summary = finalSummary(outcome.result);
      log(`nvcc experiment: ${p.label}: ${summary.line}`);
      if (summary.auc !== undefined) aucs.push(summary.auc);
      collectTestScores(testScores, p.label, runDir, outcome.result, data.classes);
      if (summary.accuracy !== undefined) accs.push(summary.accuracy);
      wall += outcome.wallSeconds;
      eta.finished(runIndex++, outcome.wallSeconds);
      runDirs.push(runDir);
      last = outcome.result;
    }
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    let lower: number | null = null;
    let upper: number | null = null;
    if (folds === 1 && last) {
      const ev = [...last.stages].reverse().find((s) => s.kind === 'supervised')?.evaluation as unknown as
        | { splits?: { split: string; aucCi?: { lower: number; upper: number } }[] }
        | undefined;
      const ci = ev?.splits?.find((s) => s.split === 'test')?.aucCi;
      if (ci && Number.isFinite(ci.lower)) [lower, upper] = [ci.lower, ci.upper];
    } else if (aucs.length > 1) {
      const m = mean(aucs)!;
      const sd = Math.sqrt(aucs.reduce((a, x) => a + (x - m) ** 2, 0) / (aucs.length - 1));
      const half = tQuantile(aucs.length - 1) * (sd / Math.sqrt(aucs.length));
      [lower, upper] = [m - half, m + half];
    }
    rows.push({
      model,
      variant: p.label,
      fusion,
      parameters: p.parameters,
      auc: mean(aucs),
      aucLower: lower,
      aucUpper: upper,
      accuracy: mean(accs),
      wallTimeSeconds: wall,
    });
  }
  const first = planned[0]!.checked.datasetSpec;
  const source =
    first.source.kind === 'synthetic'
      ? `the built-in synthetic PJI cohort (${first.source.patients} patients, seed ${first.source.seed}, ` +
        `${first.images.size[0]}x${first.images.size[1]})`
      : `dataset ${first.name}`;
  notes.push(
    folds > 1
      ? `Data: ${source}; ${folds}-fold cross-validation by patient (the same folds for every variant). AUC ` +
          `and ACC are means over the test folds; the interval is mean ± t(0.975, ${folds - 1}) · sd / ` +
          `√${folds} across folds.`
      : `Data: ${source}; the same patient split for every variant (train ${first.split.train}, val ` +
          `${first.split.val}, test ${first.split.test}, seed ${first.split.seed}). AUC and ACC on the test ` +
          `patients (per patient, ${first.pool}-pooled over images); 95% CI: stratified bootstrap, 1000 ` +
          `resamples. ACC at the threshold chosen on validation.`,
  );
  const resamples = o.comparisonResamples ?? 2000;
  const compared = compareWithReference(
    rows,
    testScores,
    reference,
    createRng(o.seed ?? planned[0]!.checked.trainSpec.seed).fork('experiment-comparison'),
    resamples,
  );
  if (compared.some((r) => r.comparison)) {
    notes.push(
      `ΔAUC: the row's test AUC minus ${reference}'s on the same test ` +
        `patients${folds > 1 ? ' (out-of-fold scores pooled over the folds)' : ''}; 95% CI and two-sided p ` +
        `from a paired bootstrap (${resamples} resamples, patients drawn stratified by class, both models ` +
        `scored on each draw). A CI above 0 means the row is better than ${reference} on this cohort.`,
    );
  }
  notes.push(
    'Parameters: the trained (last supervised) stage model, counted by the compiler. Wall time: build, ' +
      'training and evaluation of the row.',
  );
  const title = `Experiment: ${path.basename(o.file)}`;
  const markdown = experimentTableMarkdown(compared, { title, command: o.command, notes });
  fs.mkdirSync(o.out, { recursive: true });
  // Every run's curves overlaid on one page, linked from the table's page.
  const links: { href: string; text: string }[] = [];
  if (runDirs.length >= 2) {
    await compareRuns(runDirs, path.join(o.out, COMPARE_FILE), `${title}: every run`);
    links.push({ href: COMPARE_FILE, text: 'Training curves and test ROC curves of every run, overlaid' });
  }
  const html = experimentTableHtml(compared, { title, command: o.command, notes, links });
  writeFileAtomicSync(path.join(o.out, 'results.md'), markdown);
  writeFileAtomicSync(path.join(o.out, 'results.html'), html);
  return { rows: compared, markdown, html };
}

/** Adds a run's test-patient scores (its last supervised stage's predictions.csv) to its row's pool. */
function collectTestScores(
  pool: Map<string, Map<string, { label: number; score: number }>>,
  label: string,
  runDir: string,
  result: RunResult,
  classes: readonly string[],
): void {
  const stage = [...result.stages].reverse().find((s) => s.kind === 'supervised');
  if (!stage) return;
  const file = path.join(runDir, 'stages', stage.name, PREDICTIONS_FILE);
  if (!fs.existsSync(file)) return;
  const test = parsePredictionsCsv(fs.readFileSync(file, 'utf8'), classes, 'test', file);
  const scores = pool.get(label) ?? new Map<string, { label: number; score: number }>();
  test.patientIds.forEach((id, i) =>
    scores.set(id, { label: test.labels[i] as number, score: test.scores[i] as number }),
  );
  pool.set(label, scores);
}

/**
 * Every row but the reference gets AUC(row) - AUC(reference) with a paired bootstrap CI, on
 * the test patients both rows scored (the same patients when the rows share their splits).
 */
function compareWithReference(
  rows: readonly ExperimentRow[],
  pool: ReadonlyMap<string, ReadonlyMap<string, { label: number; score: number }>>,
  reference: string,
  rng: Rng,
  resamples: number,
): ExperimentRow[] {
  const ref = pool.get(reference);
  return rows.map((row) => {
    const own = pool.get(row.variant);
    if (row.variant === reference || !ref || !own) return row;
    const ids = [...own.keys()].filter((id) => ref.has(id)).sort();
    if (ids.length === 0) return row;
    const labels = ids.map((id) => own.get(id)!.label);
    const result = pairedBootstrapAucDifference(
      labels,
      ids.map((id) => own.get(id)!.score),
      ids.map((id) => ref.get(id)!.score),
      { rng: rng.fork(row.variant), resamples },
    );
    const d = result.difference;
    return {
      ...row,
      comparison: {
        reference,
        difference: d.estimate,
        lower: d.lower,
        upper: d.upper,
        pValue: result.pValue,
        patients: ids.length,
      },
    };
  });
}
