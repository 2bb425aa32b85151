/**
 * Variants and overrides: named edits of the program, applied to the AST before checking.
 * In: the entry module's AST, a variant name (`--variant`) and optional overrides
 * (`path -> JSON value`). Out: an edited Module AST (new nodes; the input is not mutated) and
 * NVC5010/NVC5011 diagnostics. Holds afterwards: base variants (`extends`) are applied before
 * the variant itself; every edit path resolved to an existing place, or was reported with a
 * did-you-mean. Paths:
 *   `<stage>.<setting>[.<arg>...]`, `<train>.<stage>.<setting>...`, `<train>.<setting>`,
 *   `<dataset>.<setting>...`, `<Block>.<param>` (changes the parameter's default),
 *   `<CONST>` (replaces the constant); `remove <stage>` drops a stage, `remove <path>` drops a
 *   setting or a named argument; `stage <name> before|after <stage> { ... }` inserts a stage
 *   into the train that holds `<stage>` (later edits of the chain can then edit it).
 */
import type {
  Arg,
  BlockDecl,
  Decl,
  Expr,
  Module,
  Setting,
  StageDecl,
  TrainDecl,
  VariantDecl,
  VariantEdit,
} from '../dsl/ast.js';
import type { Span } from '../dsl/span.js';
import { closest, type Reporter } from './report.js';
import { DATASET_SETTINGS, STAGE_SETTINGS, TRAIN_SETTINGS } from './settings-schema.js';

interface PathPart {
  readonly name: string;
  readonly span: Span;
}

function pathOf(e: Expr): PathPart[] | undefined {
  if (e.kind === 'Name') return [{ name: e.name, span: e.span }];
  if (e.kind === 'Member') {
    const base = pathOf(e.object);
    return base ? [...base, { name: e.property.name, span: e.property.span }] : undefined;
  }
  if (e.kind === 'Index' && e.index.kind === 'Number') {
    const base = pathOf(e.object);
    return base ? [...base, { name: String(e.index.value), span: e.index.span }] : undefined;
  }
  return undefined;
}

/** Converts a JSON override value to an expression (names for bare identifiers). */
export function jsonToExpr(v: unknown, span: Span): Expr {
  if (typeof v === 'number') return { kind: 'Number', value: v, isInt: Number.isInteger(v), raw: String(v), span };
  if (typeof v === 'boolean') return { kind: 'Bool', value: v, span };
  if (typeof v === 'string') {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) return { kind: 'Name', name: v, span };
    return { kind: 'String', value: v, span };
  }
  if (Array.isArray(v)) return { kind: 'List', items: v.map((x) => jsonToExpr(x, span)), span };
  if (v && typeof v === 'object')
    return {
      kind: 'Record',
      entries: Object.entries(v).map(([k, x]) => ({
        kind: 'Setting',
        key: { kind: 'Ident', name: k, span },
        value: jsonToExpr(x, span),
        span,
      })),
      span,
    };
  return { kind: 'Missing', span };
}

type Edit =
  | { kind: 'set'; path: PathPart[]; value: Expr; span: Span; variant: string }
  | { kind: 'remove'; path: PathPart[]; span: Span; variant: string }
  | { kind: 'add'; path: PathPart[]; stage: StageDecl; span: Span; variant: string };
/** An edit addressed by a path (everything but an added stage). */
type PathEdit = Exclude<Edit, { kind: 'add' }>;

export function applyVariant(
  module: Module,
  variant: string | undefined,
  overrides: Readonly<Record<string, unknown>> | undefined,
  reporter: Reporter,
): Module {
  const variants = new Map<string, VariantDecl>();
  for (const d of module.decls) if (d.kind === 'Variant' && !variants.has(d.name.name)) variants.set(d.name.name, d);
  const edits: Edit[] = [];
  const origin: Span = { file: module.file, start: 0, end: 0 };
  if (variant !== undefined) {
    const chain: VariantDecl[] = [];
    let cur = variants.get(variant);
    if (!cur) {
      // The mistake is on the command line, not in the file: no source line to point at.
      reporter.error(
        'NoSuchVariant',
        { file: `command line (--variant ${variant})`, start: 0, end: 0 },
        { variant, file: module.file },
        {
          help: [
            closest(variant, variants.keys()) ? `did you mean \`${closest(variant, variants.keys())}\`?` : undefined,
            variants.size ? `variants: ${[...variants.keys()].join(', ')}` : 'this file declares no variants',
          ],
        },
      );
      return module;
    }
    while (cur) {
      if (chain.includes(cur)) {
        reporter.error('VariantCycle', cur.name.span, {
          // `chain` holds bases first; the message follows `extends` from the requested variant.
          cycle: [...[...chain].reverse(), cur].map((v) => v.name.name).join(' -> '),
        });
        return module;
      }
      chain.unshift(cur);
      if (!cur.extends) break;
      const base = variants.get(cur.extends.name);
      if (!base) {
        reporter.error(
          'UnknownBaseVariant',
          cur.extends.span,
          { variant: cur.name.name, base: cur.extends.name },
          {
            help: [
              closest(cur.extends.name, variants.keys())
                ? `did you mean \`${closest(cur.extends.name, variants.keys())}\`?`
                : undefined,
            ],
          },
        );
        return module;
      }
      cur = base;
    }
    for (const v of chain)
      for (const e of v.edits) {
        if (e.kind === 'AddStageEdit') {
          edits.push({
            kind: 'add',
            path: [{ name: e.stage.name.name, span: e.stage.name.span }],
            stage: e.stage,
            span: e.span,
            variant: v.name.name,
          });
          continue;
        }
        const path = pathOf(e.path);
        if (!path) {
          reporter.error('UnknownVariantPath', e.path.span, { variant: v.name.name, path: '(not a dotted path)' });
          continue;
        }
        edits.push(toEdit(e, path, v.name.name));
      }
  }
  for (const [key, value] of Object.entries(overrides ?? {})) {
    const path = key.split('.').map((name) => ({ name, span: origin }));
    edits.push({ kind: 'set', path, value: jsonToExpr(value, origin), span: origin, variant: '--set' });
  }
  let decls = [...module.decls];
  for (const e of edits) decls = applyEdit(decls, e, reporter);
  return { ...module, decls };
}

function toEdit(e: Exclude<VariantEdit, { kind: 'AddStageEdit' }>, path: PathPart[], variant: string): Edit {
  return e.kind === 'SetEdit'
    ? { kind: 'set', path, value: e.value, span: e.span, variant }
    : { kind: 'remove', path, span: e.span, variant };
}

/** Inserts a variant's stage before or after the stage it names, in the train holding that stage. */
function addStage(decls: Decl[], e: Extract<Edit, { kind: 'add' }>, reporter: Reporter): Decl[] {
  const { placement, ...stage } = e.stage;
  const trains = decls.filter((d): d is TrainDecl => d.kind === 'Train');
  const stageNames = trains.flatMap((t) => t.stages.map((s) => s.name.name));
  if (!placement) {
    reporter.error(
      'VariantStageWithoutPlace',
      e.stage.name.span,
      { variant: e.variant, stage: stage.name.name },
      {
        help: [
          `write \`stage ${stage.name.name} before <stage> { ... }\` or \`after ` +
            `<stage>\`${stageNames.length ? ` (stages: ${stageNames.join(', ')})` : ''}`,
        ],
      },
    );
    return decls;
  }
  if (placement.position.name !== 'before' && placement.position.name !== 'after') {
    reporter.error(
      'VariantStagePosition',
      placement.position.span,
      { position: placement.position.name },
      {
        help: [`write \`stage ${stage.name.name} before ${placement.anchor.name} { ... }\``],
      },
    );
    return decls;
  }
  if (stageNames.includes(stage.name.name)) {
    reporter.error(
      'VariantStageExists',
      stage.name.span,
      { variant: e.variant, stage: stage.name.name },
      {
        help: [`edit the existing stage with \`${stage.name.name}.<setting> = ...\`, or choose another name`],
      },
    );
    return decls;
  }
  const train = trains.find((t) => t.stages.some((s) => s.name.name === placement.anchor.name));
  if (!train) {
    unknownPath({ ...e, path: [placement.anchor] }, 0, stageNames, reporter);
    return decls;
  }
  const at =
    train.stages.findIndex((s) => s.name.name === placement.anchor.name) +
    (placement.position.name === 'after' ? 1 : 0);
  return replaceDecl(decls, train, {
    ...train,
    stages: [...train.stages.slice(0, at), stage, ...train.stages.slice(at)],
  });
}

function unknownPath(e: Edit, upTo: number, candidates: Iterable<string>, reporter: Reporter): void {
  const part = e.path[upTo]!;
  const c = closest(part.name, candidates);
  reporter.error(
    'UnknownVariantPath',
    part.span,
    { variant: e.variant, path: e.path.map((p) => p.name).join('.') },
    { help: [c ? `did you mean \`${[...e.path.slice(0, upTo).map((p) => p.name), c].join('.')}\`?` : undefined] },
  );
}

function applyEdit(decls: Decl[], e: Edit, reporter: Reporter): Decl[] {
  if (e.kind === 'add') return addStage(decls, e, reporter);
  const head = e.path[0]!;
  const trains = decls.filter((d): d is TrainDecl => d.kind === 'Train');
  // `<train>.…`
  const train = trains.find((t) => t.name.name === head.name);
  if (train) return replaceDecl(decls, train, editTrain(train, e, 1, reporter));
  // `<stage>.…` in any train
  for (const t of trains)
    if (t.stages.some((s) => s.name.name === head.name)) return replaceDecl(decls, t, editTrain(t, e, 0, reporter));
  const decl = decls.find((d) => d.name.name === head.name && d.kind !== 'Variant');
  if (decl?.kind === 'Dataset') {
    if (e.path.length < 2) return (unknownPath(e, 0, [], reporter), decls);
    const settings = editSettings(decl.settings, e, 1, DATASET_SETTINGS, reporter);
    return settings ? replaceDecl(decls, decl, { ...decl, settings }) : decls;
  }
  if (decl?.kind === 'Const') {
    if (e.kind === 'remove' || e.path.length !== 1)
      return (unknownPath(e, Math.min(1, e.path.length - 1), [], reporter), decls);
    return replaceDecl(decls, decl, { ...decl, value: e.value });
  }
  if (decl?.kind === 'Block') {
    const p = e.path[1];
    const param = p && decl.params.find((x) => x.name.name === p.name);
    if (!p || !param || e.kind === 'remove' || e.path.length !== 2) {
      unknownPath(
        e,
        Math.min(1, e.path.length - 1),
        decl.params.map((x) => x.name.name),
        reporter,
      );
      return decls;
    }
    const params = decl.params.map((x) => (x === param ? { ...x, default: e.value } : x));
    return replaceDecl(decls, decl, { ...decl, params } as BlockDecl);
  }
  const names = [
    ...trains.map((t) => t.name.name),
    ...trains.flatMap((t) => t.stages.map((s) => s.name.name)),
    ...decls.filter((d) => d.kind !== 'Variant').map((d) => d.name.name),
  ];
  unknownPath(e, 0, names, reporter);
  return decls;
}

function replaceDecl(decls: Decl[], old: Decl, next: Decl): Decl[] {
  return decls.map((d) => (d === old ? next : d));
}

function editTrain(t: TrainDecl, e: PathEdit, at: number, reporter: Reporter): TrainDecl {
  const part = e.path[at];
  if (!part) {
    unknownPath(e, at - 1, [], reporter);
    return t;
  }
  const stage = t.stages.find((s) => s.name.name === part.name);
  if (stage) {
    if (e.path.length === at + 1) {
      if (e.kind === 'remove') return { ...t, stages: t.stages.filter((s) => s !== stage) };
      unknownPath(e, at, [], reporter);
      return t;
    }
    const settings = editSettings(stage.settings, e, at + 1, STAGE_SETTINGS, reporter);
    return settings ? { ...t, stages: t.stages.map((s) => (s === stage ? ({ ...s, settings } as StageDecl) : s)) } : t;
  }
  if (part.name in TRAIN_SETTINGS || t.settings.some((s) => s.key.name === part.name)) {
    const settings = editSettings(t.settings, e, at, TRAIN_SETTINGS, reporter);
    return settings ? { ...t, settings } : t;
  }
  unknownPath(e, at, [...t.stages.map((s) => s.name.name), ...Object.keys(TRAIN_SETTINGS)], reporter);
  return t;
}

function editSettings(
  settings: readonly Setting[],
  e: PathEdit,
  at: number,
  known: Readonly<Record<string, unknown>>,
  reporter: Reporter,
): Setting[] | undefined {
  const part = e.path[at]!;
  const existing = settings.find((s) => s.key.name === part.name);
  if (e.path.length === at + 1) {
    if (e.kind === 'remove') {
      if (!existing)
        return (
          unknownPath(
            e,
            at,
            settings.map((s) => s.key.name),
            reporter,
          ),
          undefined
        );
      return settings.filter((s) => s !== existing);
    }
    if (existing) return settings.map((s) => (s === existing ? { ...s, value: e.value } : s));
    if (!(part.name in known))
      return (unknownPath(e, at, [...settings.map((s) => s.key.name), ...Object.keys(known)], reporter), undefined);
    return [
      ...settings,
      { kind: 'Setting', key: { kind: 'Ident', name: part.name, span: part.span }, value: e.value, span: e.span },
    ];
  }
  if (!existing)
    return (
      unknownPath(
        e,
        at,
        settings.map((s) => s.key.name),
        reporter,
      ),
      undefined
    );
  const value = editExpr(existing.value, e, at + 1, reporter);
  return value ? settings.map((s) => (s === existing ? { ...s, value } : s)) : undefined;
}

/** Edits inside a setting value: named arguments of calls, entries of records. */
function editExpr(x: Expr, e: PathEdit, at: number, reporter: Reporter): Expr | undefined {
  const part = e.path[at]!;
  const last = e.path.length === at + 1;
  if (x.kind === 'Call') {
    const arg = x.args.find((a) => a.name?.name === part.name);
    if (last) {
      if (e.kind === 'remove')
        return arg
          ? { ...x, args: x.args.filter((a) => a !== arg) }
          : (unknownPath(e, at, argNames(x.args), reporter), undefined);
      if (arg) return { ...x, args: x.args.map((a) => (a === arg ? { ...a, value: e.value } : a)) };
      const added: Arg = {
        kind: 'Arg',
        name: { kind: 'Ident', name: part.name, span: part.span },
        value: e.value,
        span: e.span,
      };
      return { ...x, args: [...x.args, added] };
    }
    if (!arg) return (unknownPath(e, at, argNames(x.args), reporter), undefined);
    const inner = editExpr(arg.value, e, at + 1, reporter);
    return inner ? { ...x, args: x.args.map((a) => (a === arg ? { ...a, value: inner } : a)) } : undefined;
  }
  if (x.kind === 'Record') {
    const entry = x.entries.find((s) => s.key.name === part.name);
    if (last) {
      if (e.kind === 'remove')
        return entry
          ? { ...x, entries: x.entries.filter((s) => s !== entry) }
          : (unknownPath(
              e,
              at,
              x.entries.map((s) => s.key.name),
              reporter,
            ),
            undefined);
      if (entry) return { ...x, entries: x.entries.map((s) => (s === entry ? { ...s, value: e.value } : s)) };
      return {
        ...x,
        entries: [
          ...x.entries,
          { kind: 'Setting', key: { kind: 'Ident', name: part.name, span: part.span }, value: e.value, span: e.span },
        ],
      };
    }
    if (!entry)
      return (
        unknownPath(
          e,
          at,
          x.entries.map((s) => s.key.name),
          reporter,
        ),
        undefined
      );
    const inner = editExpr(entry.value, e, at + 1, reporter);
    return inner ? { ...x, entries: x.entries.map((s) => (s === entry ? { ...s, value: inner } : s)) } : undefined;
  }
  if (x.kind === 'Binary' && x.op === 'then') {
    // `schedule.cosine.to`: edit the phase named by the part.
    for (const side of ['left', 'right'] as const) {
      const phase = x[side];
      if (phase.kind === 'Call' && phase.callee.kind === 'Name' && phase.callee.name === part.name && !last) {
        const inner = editExpr(phase, e, at + 1, reporter);
        return inner ? { ...x, [side]: inner } : undefined;
      }
      if (phase.kind === 'Binary' && phase.op === 'then') {
        const inner = editExpr(phase, { ...e }, at, { error: () => undefined } as unknown as Reporter);
        if (inner) return { ...x, [side]: inner };
      }
    }
  }
  unknownPath(e, at, [], reporter);
  return undefined;
}

function argNames(args: readonly Arg[]): string[] {
  return args.flatMap((a) => (a.name ? [a.name.name] : []));
}
