/**
 * Program-level checking: models, datasets, trains with stages, cross-declaration checks.
 * In: the entry module's scope and an Elaborator. Out: a ProgramIR (compiler/ir/ir.ts) plus
 * diagnostics: settings (NVC5006-5009), stage hand-over (NVC5001/5002), lab width (NVC5003),
 * mask patch vs image size and stride (NVC5004/5005), stage inputs (NVC5012), field types
 * (NVC5013). Holds afterwards: every stage's model is instantiated and shape-checked; every
 * setting is evaluated to JSON; hand-overs list exactly the weights that move between stages.
 */
import type { DatasetDecl, Expr, Setting, StageDecl, TrainDecl } from '../dsl/ast.js';
import type { Span } from '../dsl/span.js';
import type { Elaborator, HandOverRecord } from './elaborate/index.js';
import type { DatasetIR, FieldIR, HandOverIR, ModelIR, ProgramIR, StageIR, TrainIR } from './ir/ir.js';
import { buildModelIR } from './ir/build.js';
import { didYouMean, type Reporter } from './report.js';
import { Scope, type ModuleScope } from './scope.js';
import {
  checkSetting,
  DATASET_SETTINGS,
  STAGE_SETTINGS,
  TRAIN_SETTINGS,
  type SettingType,
  VALIDATION_METRICS,
} from './settings.js';
import { dimDiv, formatShape } from './symbolic.js';
import { formatValue, valueToJson, type LayerInstance, type Value } from './values.js';

/** Every parameter below a layer: dotted path -> shape. */
export function parameterShapes(layer: LayerInstance, prefix = ''): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const w of layer.weights) out.set(prefix + w.name, w.shape);
  for (const [k, c] of layer.children) for (const [p, s] of parameterShapes(c, `${prefix}${k}.`)) out.set(p, s);
  return out;
}

function findChild(layer: LayerInstance, path: string): LayerInstance | undefined {
  let cur: LayerInstance | undefined = layer;
  for (const part of path.split('.').filter(Boolean)) cur = cur?.children.get(part);
  return cur;
}

export class ProgramChecker {
  private readonly datasets = new Map<string, { ir: DatasetIR; decl: DatasetDecl }>();

  constructor(
    readonly entry: ModuleScope,
    readonly el: Elaborator,
    readonly reporter: Reporter,
  ) {}

  check(variant?: string): ProgramIR {
    const models: ModelIR[] = [];
    const datasets: DatasetIR[] = [];
    const trains: TrainIR[] = [];
    const scope = new Scope(undefined, this.entry, 'module');
    for (const d of this.entry.module.ast.decls) {
      if (d.kind === 'Block' && d.isModel && d.params.every((p) => p.default !== undefined)) {
        const v = this.el.instantiateBlock(d, this.entry.module.path, [], new Map(), d.name.span, d.name.span, {
          scope,
        });
        if (v.kind === 'layer') models.push(buildModelIR(d.name.name, v.layer));
      } else if (d.kind === 'Block') {
        // Check blocks that are never instantiated when all their parameters have defaults.
        if (d.params.every((p) => p.default !== undefined))
          this.el.instantiateBlock(d, this.entry.module.path, [], new Map(), d.name.span, d.name.span, { scope });
      } else if (d.kind === 'Const') {
        const v = this.el.eval({ kind: 'Name', name: d.name.name, span: d.name.span }, { scope });
        if (v.kind === 'layer' && v.layer.kind === 'block') models.push(buildModelIR(d.name.name, v.layer));
      } else if (d.kind === 'Dataset') {
        const ir = this.checkDataset(d);
        this.datasets.set(d.name.name, { ir, decl: d });
        datasets.push(ir);
      }
    }
    for (const d of this.entry.module.ast.decls) if (d.kind === 'Train') trains.push(this.checkTrain(d));
    return { file: this.entry.module.path, ...(variant ? { variant } : {}), models, datasets, trains };
  }

  // -------------------------------------------------------------------------------------------

  private evalSettings(
    settings: readonly Setting[],
    schema: Readonly<Record<string, SettingType>>,
    where: string,
    scope: Scope,
    skip: ReadonlySet<string> = new Set(),
  ): Map<string, { value: Value; setting: Setting }> {
    const out = new Map<string, { value: Value; setting: Setting }>();
    for (const s of settings) {
      const name = s.key.name;
      const prev = out.get(name);
      if (prev) {
        this.reporter.error(
          'DuplicateDefinition',
          s.key.span,
          { name, scope: where },
          { labels: [{ span: prev.setting.key.span, message: 'first defined here' }] },
        );
        continue;
      }
      const type = schema[name];
      if (!type) {
        this.reporter.error(
          'UnknownSetting',
          s.key.span,
          { where, name },
          { help: [didYouMean(name, Object.keys(schema)), `${where} settings: ${Object.keys(schema).join(', ')}`] },
        );
        continue;
      }
      if (skip.has(name)) {
        out.set(name, { value: { kind: 'error' }, setting: s });
        continue;
      }
      const value = this.el.eval(s.value, { scope, settings: true });
      if (checkSetting(name, value, type, s.value.span, this.reporter)) out.set(name, { value, setting: s });
      else out.set(name, { value: { kind: 'error' }, setting: s });
    }
    return out;
  }

  private checkDataset(d: DatasetDecl): DatasetIR {
    const scope = new Scope(undefined, this.entry, 'dataset');
    const settings = this.evalSettings(d.settings, DATASET_SETTINGS, `dataset \`${d.name.name}\``, scope);
    for (const req of ['label'])
      if (!settings.has(req))
        this.reporter.error('MissingSetting', d.name.span, { where: `dataset \`${d.name.name}\``, name: req });
    const groups: Record<string, FieldIR[]> = {};
    const seen = new Map<string, Span>();
    for (const g of d.fieldGroups) {
      const fields: FieldIR[] = [];
      for (const f of g.fields) {
        const type = f.type.name;
        if (type !== 'number' && type !== 'binary' && type !== 'category') {
          this.reporter.error(
            'UnknownFieldType',
            f.type.span,
            { name: type },
            { help: [didYouMean(type, ['number', 'binary', 'category'])] },
          );
          continue;
        }
        const mods = f.modifiers.map((m) => this.el.eval(m, { scope, settings: true }));
        const levelsValue = mods.find((m) => m.kind === 'list');
        const levels = levelsValue?.kind === 'list' ? levelsValue.items.map((i) => String(valueToJson(i))) : undefined;
        if (type === 'category' && (!levels || levels.length < 2)) {
          this.reporter.error(
            'MissingSetting',
            f.type.span,
            { where: `category field \`${f.names.map((n) => n.name).join(', ')}\``, name: 'levels' },
            { help: ['list the levels: `category [hip, knee]`'] },
          );
          continue;
        }
        const indicator = mods.some(
          (m) =>
            m.kind === 'config' &&
            m.name === 'missing' &&
            m.positional.some((p) => p.kind === 'word' && p.name === 'indicator'),
        );
        const width = type === 'category' ? levels!.length : 1 + (indicator ? 1 : 0);
        for (const n of f.names) {
          const prev = seen.get(n.name);
          if (prev) {
            this.reporter.error(
              'DuplicateDefinition',
              n.span,
              { name: n.name, scope: `dataset \`${d.name.name}\`` },
              { labels: [{ span: prev, message: 'first defined here' }] },
            );
            continue;
          }
          seen.set(n.name, n.span);
          fields.push({
            name: n.name,
            type,
            modifiers: mods.filter((m) => m.kind !== 'list').map(valueToJson),
            ...(levels ? { levels } : {}),
            width,
          });
        }
      }
      groups[g.name.name] = fields;
    }
    return {
      name: d.name.name,
      settings: Object.fromEntries([...settings].map(([k, v]) => [k, valueToJson(v.value)])),
      fieldGroups: groups,
      span: d.span,
    };
  }

  private checkTrain(t: TrainDecl): TrainIR {
    const scope = new Scope(undefined, this.entry, 'train');
    const settings = this.evalSettings(t.settings, TRAIN_SETTINGS, `train \`${t.name.name}\``, scope);
    const dataset = this.datasets.get(t.dataset.name);
    if (!dataset) {
      const b = this.entry.names.get(t.dataset.name);
      this.reporter.error(
        'UnknownName',
        t.dataset.span,
        { name: t.dataset.name },
        {
          help: [
            didYouMean(t.dataset.name, [...this.datasets.keys()]),
            b ? `\`${t.dataset.name}\` is a ${b.kind}, not a dataset` : undefined,
          ],
        },
      );
    }
    const stages: StageIR[] = [];
    const stageModels = new Map<string, LayerInstance>();
    const stageSpans = new Map<string, Span>();
    const later = new Set(t.stages.map((s) => s.name.name));
    const failed = new Set<string>();
    for (const s of t.stages) {
      later.delete(s.name.name);
      const prev = stageSpans.get(s.name.name);
      if (prev) {
        this.reporter.error(
          'DuplicateDefinition',
          s.name.span,
          { name: s.name.name, scope: `train \`${t.name.name}\`` },
          { labels: [{ span: prev, message: 'first defined here' }] },
        );
        continue;
      }
      stageSpans.set(s.name.name, s.name.span);
      const checked = this.checkStage(s, scope, stageModels, later, dataset?.ir, failed);
      if (checked) {
        stages.push(checked.ir);
        stageModels.set(s.name.name, checked.model);
      } else failed.add(s.name.name);
    }
    return {
      name: t.name.name,
      dataset: t.dataset.name,
      settings: Object.fromEntries([...settings].map(([k, v]) => [k, valueToJson(v.value)])),
      stages,
      span: t.span,
    };
  }

  /**
   * `keep_best = val.<metric>` (or `min(...)` / `max(...)` around it) names a metric the trainer
   * computes for this stage: one of its `metrics`, or `val.loss`; a masked stage only the loss.
   */
  private checkKeepBest(settings: ReadonlyMap<string, { value: Value; setting: Setting }>): void {
    const keep = settings.get('keep_best');
    if (!keep || keep.value.kind === 'error') return;
    const v = keep.value;
    const inner = v.kind === 'config' && (v.name === 'min' || v.name === 'max') ? v.positional[0] : v;
    const span = inner && 'span' in inner && inner.span ? (inner.span as Span) : keep.setting.value.span;
    const written = inner?.kind === 'word' ? inner.name : formatValue(inner ?? v);
    const metric = /^val\.(.+)$/.exec(written)?.[1];
    if (metric === undefined || !(VALIDATION_METRICS as readonly string[]).includes(metric)) {
      const all = VALIDATION_METRICS.map((m) => `val.${m}`);
      this.reporter.error(
        'KeepBestUnknownMetric',
        span,
        { metric: written, metrics: all.join(', ') },
        { help: [didYouMean(written, all)] },
      );
      return;
    }
    if (settings.has('mask')) {
      if (metric !== 'loss') this.reporter.error('KeepBestMasked', span, { metric: written });
      return;
    }
    const metrics = settings.get('metrics')?.value;
    const computed = metrics?.kind === 'list' ? metrics.items.flatMap((m) => (m.kind === 'word' ? [m.name] : [])) : [];
    if (metric !== 'loss' && metrics?.kind !== 'error' && !computed.includes(metric))
      this.reporter.error('KeepBestNotComputed', span, {
        metric: written,
        name: metric,
        metrics: computed.length ? `now [${computed.join(', ')}]` : 'none now',
      });
  }

  private checkStage(
    s: StageDecl,
    trainScope: Scope,
    earlier: Map<string, LayerInstance>,
    later: ReadonlySet<string>,
    dataset: DatasetIR | undefined,
    failed: ReadonlySet<string>,
  ): { ir: StageIR; model: LayerInstance } | undefined {
    const scope = new Scope(trainScope, this.entry, 'stage');
    // A stage that already failed is an error value: references to it report nothing more.
    for (const name of failed) scope.define(name, { kind: 'error' }, s.name.span);
    for (const [name, layer] of earlier)
      scope.define(name, { kind: 'stageref', stage: name, path: [], layer, span: s.name.span }, s.name.span);
    const settings = this.evalSettings(
      s.settings,
      STAGE_SETTINGS,
      `stage \`${s.name.name}\``,
      scope,
      new Set(['model']),
    );
    this.checkKeepBest(settings);
    const modelSetting = s.settings.find((x) => x.key.name === 'model');
    if (!modelSetting) {
      this.reporter.error(
        'MissingSetting',
        s.name.span,
        { where: `stage \`${s.name.name}\``, name: 'model' },
        { help: ['add `model = MyModel(...)`'] },
      );
      return undefined;
    }
    const handOvers: HandOverRecord[] = [];
    const mv = this.evalModel(modelSetting.value, scope, handOvers, later);
    if (!mv) return undefined;
    const model = mv;
    // Explicit hand-overs: `init = { enc = pretrain.encoder }`.
    const init = settings.get('init');
    if (init && init.value.kind === 'record') {
      for (const [to, v] of init.value.entries) {
        const entry = (
          init.setting.value.kind === 'Record' ? init.setting.value.entries.find((e) => e.key.name === to) : undefined
        )!;
        if (v.kind !== 'stageref') {
          if (v.kind === 'word') this.reportStageRef(v.name, entry.value.span, later, earlier);
          else if (v.kind !== 'error') this.reporter.error('InitNotStageLayer', entry.value.span, { target: to });
          continue;
        }
        handOvers.push({ to, fromStage: v.stage, fromPath: v.path.join('.'), span: entry.value.span });
      }
    }
    const handOverIR: HandOverIR[] = [];
    for (const h of handOvers) {
      const source = earlier.get(h.fromStage);
      const src = source && findChild(source, h.fromPath);
      const dst = findChild(model, h.to);
      if (!src) continue;
      if (!dst) {
        this.reporter.error(
          'HandOverTargetMissing',
          h.span,
          { target: h.to, stage: h.fromStage, path: h.fromPath },
          { help: [didYouMean(h.to, model.children.keys())] },
        );
        continue;
      }
      const a = parameterShapes(src);
      const b = parameterShapes(dst);
      const notes: string[] = [];
      for (const [p, shape] of b) {
        const other = a.get(p);
        if (!other)
          notes.push(`\`${h.to}.${p}\` ${JSON.stringify(shape)} has no source in \`${h.fromStage}.${h.fromPath}\``);
        else if (other.join(',') !== shape.join(','))
          notes.push(`\`${h.to}.${p}\`: receives [${other.join(', ')}] but needs [${shape.join(', ')}]`);
      }
      for (const [p, shape] of a)
        if (!b.has(p))
          notes.push(`\`${h.fromStage}.${h.fromPath}.${p}\` [${shape.join(', ')}] has no destination in \`${h.to}\``);
      if (notes.length > 0) {
        const shown = notes.slice(0, 8);
        if (notes.length > shown.length) shown.push(`... and ${notes.length - shown.length} more`);
        this.reporter.error(
          'HandOverMismatch',
          h.span,
          { from: `${h.fromStage}.${h.fromPath}`, to: h.to, count: notes.length },
          { notes: shown, help: ['hand over between layers built with the same block and widths'] },
        );
      }
      handOverIR.push({ to: h.to, fromStage: h.fromStage, fromPath: h.fromPath });
    }
    // Freeze paths.
    const frozen: string[] = [];
    const freeze = settings.get('freeze');
    if (freeze?.value.kind === 'list') {
      freeze.value.items.forEach((item, i) => {
        if (item.kind !== 'word') return;
        const span =
          freeze.setting.value.kind === 'List' ? freeze.setting.value.items[i]!.span : freeze.setting.value.span;
        if (!findChild(model, item.name) && !parameterShapes(model).has(item.name)) {
          this.reporter.error(
            'UnknownMember',
            span,
            { owner: `the model \`${model.typeName}\``, name: item.name },
            { help: [didYouMean(item.name, allPaths(model))] },
          );
        } else frozen.push(item.name);
      });
    }
    this.checkInputs(s, model, settings, dataset);
    const modelIR = buildModelIR(s.name.name, model);
    const json = Object.fromEntries(
      [...settings].filter(([k]) => k !== 'model').map(([k, v]) => [k, valueToJson(v.value)]),
    );
    const mask = settings.get('mask');
    const ir: StageIR = {
      name: s.name.name,
      model: modelIR,
      settings: json,
      ...(mask && mask.value.kind === 'config' ? { mask: valueToJson(mask.value) as Record<string, unknown> } : {}),
      handOver: handOverIR,
      frozen,
      span: s.span,
    };
    return { ir, model };
  }

  private reportStageRef(
    name: string,
    span: Span,
    later: ReadonlySet<string>,
    earlier: ReadonlyMap<string, LayerInstance>,
  ): void {
    const head = name.split('.')[0]!;
    if (later.has(head)) this.reporter.error('StageComesLater', span, { stage: head });
    else this.reporter.error('NoEarlierStage', span, { stage: head }, { help: [didYouMean(head, earlier.keys())] });
  }

  private evalModel(
    e: Expr,
    scope: Scope,
    handOvers: HandOverRecord[],
    later: ReadonlySet<string>,
  ): LayerInstance | undefined {
    // References to later stages (`finetune.encoder` inside an earlier stage) get NVC5002.
    let laterRef = false;
    const visit = (x: unknown): void => {
      if (!x || typeof x !== 'object') return;
      const node = x as Expr;
      if (
        node.kind === 'Member' &&
        node.object.kind === 'Name' &&
        later.has(node.object.name) &&
        !scope.lookupLocal(node.object.name)
      ) {
        this.reportStageRef(node.object.name, node.span, later, new Map());
        laterRef = true;
        return;
      }
      for (const [k, v] of Object.entries(x))
        if (k !== 'span' && k !== 'opSpan') Array.isArray(v) ? v.forEach(visit) : visit(v);
    };
    visit(e);
    if (laterRef) return undefined;
    // Words inside the model call that name later stages get a specific message.
    const v = this.el.eval(e, { scope, handOvers });
    if (v.kind === 'layer') return v.layer;
    if (v.kind === 'stageref') return v.layer;
    if (v.kind === 'word') {
      if (later.has(v.name.split('.')[0]!)) this.reportStageRef(v.name, v.span, later, new Map());
      else this.el.unknownWord(v);
    } else if (v.kind !== 'error')
      this.reporter.error('WrongSettingType', e.span, {
        name: 'model',
        expected: 'a model instance such as `MEDNVC(...)`',
        found: v.kind,
      });
    return undefined;
  }

  /** Stage inputs vs the model's forward, lab widths, image sizes and mask patch checks. */
  private checkInputs(
    s: StageDecl,
    model: LayerInstance,
    settings: Map<string, { value: Value; setting: Setting }>,
    dataset: DatasetIR | undefined,
  ): void {
    const g = model.forward;
    if (!g) return;
    const inputsSetting = settings.get('inputs');
    const names =
      inputsSetting?.value.kind === 'list'
        ? inputsSetting.value.items.map((i) => (i.kind === 'word' ? i.name : ''))
        : g.inputs.map((i) => i.name);
    const at = inputsSetting?.setting.value.span ?? s.name.span;
    if (names.length !== g.inputs.length) {
      this.reporter.error('StageInputCount', at, {
        model: model.typeName,
        count: g.inputs.length,
        names: g.inputs.map((i) => i.name).join(', '),
        given: names.length,
      });
      return;
    }
    const groups = dataset?.fieldGroups ?? {};
    const imageSize = (() => {
      const images = dataset?.settings.images as Record<string, unknown> | undefined;
      const size = images?.size;
      return Array.isArray(size) && size.length === 2 ? (size as number[]) : undefined;
    })();
    names.forEach((name, i) => {
      const input = g.inputs[i]!;
      const group = groups[name];
      if (group) {
        const width = group.reduce((n, f) => n + f.width, 0);
        const last = input.shape[input.shape.length - 1]!.asInt();
        if (input.shape.length !== 2 || last === undefined || last !== width) {
          this.reporter.error(
            'LabWidthMismatch',
            at,
            { dataset: dataset!.name, group: name, width, expected: formatShape(input.shape) },
            {
              labels: [
                {
                  span: forwardParamSpan(model, input.name),
                  message: `\`${input.name}\` is declared ${formatShape(input.shape)}`,
                },
              ],
              notes: [`\`${name}\` encodes ${group.map((f) => `${f.name} ${f.width}`).join(', ')}`],
              help: [`make the model's lab width ${width} (e.g. \`labs = ${width}\`) or change the dataset's fields`],
            },
          );
        }
      } else if (input.shape.length === 4) {
        if (imageSize && dataset) {
          const [h, w] = [input.shape[1]!.asInt(), input.shape[2]!.asInt()];
          if ((h !== undefined && h !== imageSize[0]) || (w !== undefined && w !== imageSize[1]))
            this.reporter.error('StageImageSize', at, {
              model: model.typeName,
              height: String(h),
              width: String(w),
              input: input.name,
              dataset: dataset.name,
              sizeHeight: imageSize[0]!,
              sizeWidth: imageSize[1]!,
            });
        }
      } else if (dataset) {
        this.reporter.error(
          'StageMissingModality',
          at,
          { dataset: dataset.name, name, input: input.name, shape: formatShape(input.shape) },
          { help: [didYouMean(name, Object.keys(groups))] },
        );
      }
    });
    // Mask policy checks.
    const mask = settings.get('mask');
    if (mask?.value.kind === 'config') {
      const patchValue = mask.value.args.get('patch');
      const patch = patchValue?.kind === 'int' ? patchValue.value : undefined;
      if (patch === undefined) return;
      const imgIdx = g.inputs.findIndex((x) => x.shape.length === 4);
      const img = g.inputs[imgIdx];
      if (imageSize?.some((n) => n % patch !== 0))
        this.reporter.error(
          'MaskPatchNotDividing',
          mask.setting.value.span,
          { patch, size: `${imageSize[0]}x${imageSize[1]}` },
          {
            help: [
              `use a patch that divides ${imageSize[0]}, e.g. ` +
                `${[32, 16, 8].find((p) => imageSize.every((n) => n % p === 0)) ?? 1}`,
            ],
          },
        );
      const out = g.outputs[0];
      if (img && out && out.shape.length === 4) {
        const ratio = dimDiv(img.shape[1]!, out.shape[1]!);
        const stride = ratio?.asInt();
        if (stride !== undefined && stride !== patch)
          this.reporter.error(
            'MaskPatchStride',
            mask.setting.value.span,
            { patch, stride },
            {
              labels: [{ span: model.span, message: `this model maps ${img.shape[1]} rows to ${out.shape[1]}` }],
              help: [`use \`patch = ${stride}\``],
            },
          );
      }
    }
  }
}

function forwardParamSpan(model: LayerInstance, name: string): Span {
  const fwd = model.decl?.members.find((m) => m.kind === 'Forward');
  return (fwd?.kind === 'Forward' ? fwd.params.find((p) => p.name.name === name)?.span : undefined) ?? model.span;
}

function allPaths(layer: LayerInstance, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, c] of layer.children) {
    out.push(prefix + k);
    out.push(...allPaths(c, `${prefix}${k}.`));
  }
  return out;
}
