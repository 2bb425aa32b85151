/**
 * The model emitter: ProgramIR module trees and forward graphs to TypeScript classes.
 * In: the models of a checked ProgramIR (stage models and top-level models) and the source
 * files (for origins). Out: the text of `model.ts` (built with ts-morph in an in-memory
 * project) and, per model, its root class name and parameter count. Holds afterwards:
 *  - one class per block declaration, `extends nv.Module`, named after it (`GRN`), whose
 *    constructor takes the declaration's parameters its body reads (readonly fields, in
 *    declaration order): values that came from them (IR provenance) are written as expressions
 *    (`new nv.Linear(dim, 4 * dim)`), and block nodes share a class exactly when the code so
 *    generated for them is identical (each node's code is exact for it: classes.ts). Where a
 *    body bakes a value (a reshape's target shape, a list written out item by item) there is a
 *    class per variant, its parameter baked and naming it (`Flatten_dim8`); model roots are
 *    zero-argument classes named after their model when a block roots several
 *    (`ConvNeXtV2_convnextv2_atto`); `GRN$1`, `GRN$2` only when nothing tells classes apart.
 *    The constructor registers weights and children under the exact parameter paths of the IR
 *    (docs/CONVENTIONS.md), so `namedParameters()` lists exactly the IR's weights;
 *  - `forward(ctx, ...)` is typed by rank, its doc comment gives the symbolic shapes; models
 *    take and return named records;
 *  - every forward statement is wrapped in `nv.at(origin, rank, ...)` (the origin written once,
 *    as its first argument), so a runtime failure is reported against its `.nvc` location;
 *    constructor statements are preceded by an origin comment;
 *  - an op pattern with a fused runtime form (fusion.ts: std/convnextv2.nvc's GRN) is one
 *    statement, `nv.grnBlock(...)`, at the pattern's last op, instead of one per op;
 *  - `sparse` layers are built with their sparse mode on: they run masked exactly when the
 *    stage puts a mask in ctx.mask, and densely otherwise (one definition, both behaviours);
 *  - spec text reaches the code only through names.ts (mangled identifiers, JSON strings,
 *    escaped comments); the text depends only on the IR (no Map-order or clock dependence).
 */
import { createHash } from 'node:crypto';
import {
  IndentationText,
  Project,
  type ClassDeclarationStructure,
  type ImportDeclarationStructure,
  type OptionalKind,
  StructureKind,
} from 'ts-morph';
import type { SourceFile as NvcSource, Span } from '../../dsl/span.js';
import type { ForwardGraph, GraphValue, IRValue, ModelIR, ModuleNode, Op, ParamExpr } from '../ir/ir.js';
import { formatParamExpr, paramsOfExpr } from '../ir/param-expr.js';
import { findFusions, type Fusion } from './fusion.js';
import { PRIMITIVES, type PrimitiveRecord, primitiveByIrName, type TfjsCall } from '../primitives/index.js';
import { formatShape, type Dim, type Shape } from '../symbolic.js';
import {
  commentText,
  jsString,
  jsValue,
  LOCAL_RESERVED,
  MEMBER_RESERVED,
  MODULE_RESERVED,
  Namer,
  propertyAccess,
  propertyKey,
} from './names.js';
import {
  bakedParams,
  declKey,
  distinguishingSuffixes,
  type ExprCode,
  plainValue,
  probeLowering,
  splittingParams,
  structuralKey,
} from './classes.js';

/** A problem the emitter cannot express in runtime code (reported as a build error). */
export class EmitError extends Error {
  constructor(
    message: string,
    readonly origin?: string,
  ) {
    super(message);
    this.name = 'EmitError';
  }
}

export interface EmittedModel {
  /** The IR model (stage model or top-level model). */
  readonly model: ModelIR;
  /** The generated root class. */
  readonly className: string;
  /** Parameter count from the IR weights. */
  readonly parameterCount: number;
}

export interface ModelCode {
  readonly text: string;
  readonly models: readonly EmittedModel[];
}

/** The import specifier generated files use for the runtime entry point. */
export interface EmitOptions {
  readonly runtimeImport: string;
  /** `file:line:col` of a span, with the file as generated code should name it. */
  readonly origin: (span: Span) => string;
}

interface ClassInfo {
  name: string;
  /** Registration order (placeholder names while classes are told apart). */
  readonly id: number;
  /** The first node the class was generated for (its members all have the same code). */
  readonly node: ModuleNode;
  /** Every node the class serves. */
  readonly members: ModuleNode[];
  /** Takes and returns named records (a model root used by the trainer). */
  readonly root: boolean;
  readonly graph?: ForwardGraph;
  /** The block parameters the constructor takes, in declaration order (none for roots). */
  params: readonly string[];
}

/** While a non-root class is generated: its block parameters, as the code names them. */
interface ParamScope {
  /** Identifier of each block parameter (constructor parameter and readonly field). */
  readonly idents: ReadonlyMap<string, string>;
  /** The parameters the code read so far. */
  readonly used: Set<string>;
  /** In the constructor a parameter is its argument; in `forward` it is `this.<name>`. */
  where: 'ctor' | 'forward';
  /** Parameters the class does not take (classes.ts `splittingParams`): an expression reads
   *  them as the value the node being generated has. */
  readonly baked: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, IRValue>;
}

const JS_PRECEDENCE: Readonly<Record<string, number>> = { '+': 1, '-': 1, '*': 2, '/': 2, '%': 2, '**': 4 };

/** The TypeScript type of a block parameter's value. */
function paramType(v: IRValue | undefined): string {
  switch (v?.kind) {
    case 'int':
    case 'float':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'string':
    case 'word':
      return 'string';
    case 'list': {
      const item = v.items.length ? paramType(v.items[0]) : 'number';
      return `readonly ${item.includes(' ') ? `(${item})` : item}[]`;
    }
    default:
      return 'unknown';
  }
}

const TENSOR_TYPE = [
  'nv.tf.Scalar',
  'nv.tf.Tensor1D',
  'nv.tf.Tensor2D',
  'nv.tf.Tensor3D',
  'nv.tf.Tensor4D',
  'nv.tf.Tensor5D',
  'nv.tf.Tensor<nv.tf.Rank.R6>',
];

function tensorType(shape: Shape): string {
  return TENSOR_TYPE[shape.length] ?? 'nv.tf.Tensor';
}

function checkRank(shape: Shape, origin: string): number {
  if (shape.length > 6)
    throw new EmitError(`tensors of rank ${shape.length} are not supported by the runtime (at most 6)`, origin);
  return shape.length;
}

function weightCount(node: ModuleNode): number {
  let n = 0;
  for (const w of node.weights) n += w.shape.reduce((a, b) => a * b, 1);
  for (const c of node.children) n += weightCount(c);
  return n;
}

function fmtParam(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(fmtParam).join(', ')}]`;
  if (v && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${k} = ${fmtParam(x)}`)
      .join(', ')}}`;
  return String(v);
}

function describeNode(node: ModuleNode): string {
  const params = Object.entries(node.params);
  return `${node.typeName}${params.length ? `(${params.map(([k, v]) => `${k} = ${fmtParam(v)}`).join(', ')})` : ''}`;
}

/** Builds init expressions for IR init specs. */
function initExpr(
  init: { readonly kind: string; readonly args: Readonly<Record<string, number>> },
  origin: string,
): string {
  const a = init.args;
  const num = (k: string, d: number) => jsValue(a[k] ?? d);
  switch (init.kind) {
    case 'zeros':
      return 'nv.init.zeros()';
    case 'ones':
      return 'nv.init.ones()';
    case 'constant':
      return `nv.init.constant(${num('value', 0)})`;
    case 'normal':
      return `nv.init.normal(${num('std', 1)}, ${num('mean', 0)})`;
    case 'uniform':
      return `nv.init.uniform(${num('low', 0)}, ${num('high', 1)})`;
    case 'trunc_normal': {
      const opts = Object.entries(a).map(([k, v]) => `${propertyKey(k)}: ${jsValue(v)}`);
      return `nv.init.truncNormal({ ${opts.join(', ')} })`;
    }
    default:
      throw new EmitError(`the runtime has no initializer \`${init.kind}\``, origin);
  }
}

const isTruncNormal02 = (w: ModuleNode['weights'][number] | undefined) =>
  !!w && w.init.kind === 'trunc_normal' && Object.keys(w.init.args).length === 1 && w.init.args.std === 0.02;
const isZeros = (w: ModuleNode['weights'][number] | undefined) => !!w && w.init.kind === 'zeros';

/** The primitive record of a node, or a build error naming the node. */
function recordOf(node: ModuleNode, origin: string): PrimitiveRecord {
  const prim = node.primitive !== undefined ? PRIMITIVES.get(node.primitive) : undefined;
  if (!prim) throw new EmitError(`the emitter does not know how to build the layer \`${node.typeName}\``, origin);
  return prim;
}

/** Refuses parameters the tfjs target cannot run (check refuses them first; see supports). */
function checkSupported(prim: PrimitiveRecord, node: ModuleNode, origin: string): void {
  const refusal = prim.targets.tfjs.supports(node.args);
  if (refusal) throw new EmitError(refusal.message, origin);
}

/** Layer constructors: the runtime class and its arguments, from the primitive's tfjs lowering. */
function primitiveLayer(node: ModuleNode, origin: string): { type: string; expr: string } {
  const prim = recordOf(node, origin);
  const lower = prim.targets.tfjs.lower;
  if (lower.kind !== 'layer')
    throw new EmitError(`the emitter does not know how to build the layer \`${node.typeName}\``, origin);
  checkSupported(prim, node, origin);
  const rt = node.runtime ?? `nv.${node.typeName}`;
  const weight = node.weights.find((w) => w.name === 'weight');
  const bias = node.weights.find((w) => w.name === 'bias');
  const built = lower.construct(node, {
    value: (v) => jsValue(v),
    string: jsString,
    inits: () => [
      ...(weight && !isTruncNormal02(weight) ? [`weightInit: ${initExpr(weight.init, origin)}`] : []),
      ...(bias && !isZeros(bias) ? [`biasInit: ${initExpr(bias.init, origin)}`] : []),
    ],
    fail: (message) => {
      throw new EmitError(message, origin);
    },
  });
  const opts = [...built.options];
  // Layers without a sparse mode act per position: masked positions stay put.
  if (node.sparse && lower.sparseMode) opts.push('sparse: true');
  if (node.weights.some((w) => w.frozen))
    throw new EmitError(
      `frozen weights inside the primitive layer \`${node.typeName}\` are not supported; freeze it in the ` +
        `stage instead`,
      origin,
    );
  const o = opts.length ? `{ ${opts.join(', ')} }` : '';
  const args = [...built.args, o].filter(Boolean).join(', ');
  return { type: rt, expr: `new ${rt}(${args})` };
}

/** A function primitive's call expression, from its tfjs lowering. */
function callExpr(prim: PrimitiveRecord, call: Omit<TfjsCall, 'rt' | 'value'>, origin: string): string {
  const lower = prim.targets.tfjs.lower;
  if (lower.kind !== 'call') throw new EmitError(`the emitter cannot lower the operation \`${prim.irName}\``, origin);
  return lower.call({ ...call, rt: prim.runtime, value: (v) => jsValue(v) });
}

/** Binary primitives whose first operand must be a tensor (a constant there becomes a scalar). */
const BINARY = new Set(['add', 'sub', 'mul', 'div', 'pow']);

/** Emits the model classes of a program. */
export class ModelEmitter {
  /** Classes by the text of their code (with placeholder class names). */
  private readonly classes = new Map<string, ClassInfo>();
  private readonly classOrder: ClassInfo[] = [];
  /** The class of each block node, and of each model root. */
  private readonly nodeClass = new Map<ModuleNode, ClassInfo>();
  private readonly rootClass = new Map<ModuleNode, ClassInfo>();
  /** Classes by the structure of a node they were generated for (classes.ts `structuralKey`). */
  private readonly byStructure = new Map<string, ClassInfo>();
  private readonly structure = new WeakMap<ModuleNode, string>();
  private readonly moduleNames = new Namer(MODULE_RESERVED);
  private readonly graphs = new Map<string, ForwardGraph>();
  /** How code refers to a class: a placeholder while classes are told apart, then its name. */
  private refName: (c: ClassInfo) => string = (c) => c.name;
  /** While classes are told apart (placeholder names, no member-dependent types). */
  private keying = false;
  /** Per declaration (`declKey`), parameters always written as their values. */
  private baked = new Map<string, ReadonlySet<string>>();
  /** The parameters of the class being generated; undefined for a root (values are baked). */
  private scope: ParamScope | undefined;
  /** The (first) model declaration each root class is built for. */
  private readonly rootModel = new Map<ClassInfo, string>();

  constructor(
    readonly _files: ReadonlyMap<string, NvcSource>,
    private readonly options: EmitOptions,
  ) {}

  private origin(span: Span): string {
    return this.options.origin(span);
  }

  /**
   * Registers the class of a block node (children first, so the class list reads bottom-up).
   * Nodes share a class exactly when the code generated for them is the same: each node's
   * code is correct for it, values from the block's parameters written as expressions over
   * them (classes.ts), so the shared code is correct for all of them.
   */
  private classFor(node: ModuleNode, root: boolean, graphs: ReadonlyMap<string, ForwardGraph>): ClassInfo {
    const known = (root ? this.rootClass : this.nodeClass).get(node);
    if (known) return known;
    // A node like one already seen (every copy of a repeat) has its class: no code to generate.
    const same = this.byStructure.get(`${root}:${structuralKey(node, this.structure)}`);
    if (same) {
      this.visitChildren(node, graphs);
      same.members.push(node);
      (root ? this.rootClass : this.nodeClass).set(node, same);
      return same;
    }
    this.visitChildren(node, graphs);
    const graph = node.forwardKey ? graphs.get(node.forwardKey) : undefined;
    const draft: ClassInfo = {
      name: '',
      id: this.classOrder.length,
      node,
      members: [node],
      root,
      ...(graph ? { graph } : {}),
      params: [],
    };
    this.refName = (c) => `$${c.id}$`;
    this.keying = true;
    const { structure, params } = this.generate(draft);
    this.keying = false;
    const key = createHash('sha256')
      .update(JSON.stringify([root, node.typeName, declKey(node), params, withoutDocs(structure)]))
      .digest('hex');
    let info = this.classes.get(key);
    if (info) info.members.push(node);
    else {
      info = { ...draft, params };
      this.classes.set(key, info);
      this.classOrder.push(info);
    }
    (root ? this.rootClass : this.nodeClass).set(node, info);
    this.byStructure.set(`${root}:${structuralKey(node, this.structure)}`, info);
    return info;
  }

  private visitChildren(node: ModuleNode, graphs: ReadonlyMap<string, ForwardGraph>): void {
    for (const c of node.children) {
      if (c.kind === 'block') this.classFor(c, false, graphs);
      else if (c.kind === 'list' || c.kind === 'sequential') this.visitChildren(c, graphs);
    }
  }

  private classOf(node: ModuleNode, root = false): ClassInfo {
    const info = (root ? this.rootClass : this.nodeClass).get(node);
    if (!info) throw new Error(`internal: no class for ${node.typeName} at '${node.path}'`);
    return info;
  }

  /** The class's structure and the block parameters its code reads (declaration order). */
  private generate(c: ClassInfo): { structure: OptionalKind<ClassDeclarationStructure>; params: string[] } {
    const previous = this.scope;
    const scope: ParamScope | undefined = c.root
      ? undefined
      : {
          idents: new Map(),
          used: new Set(),
          where: 'ctor',
          baked: this.baked.get(declKey(c.node)) ?? new Set(),
          values: c.node.args,
        };
    this.scope = scope;
    try {
      const structure = this.classStructure(c);
      const params = scope ? [...c.node.args.keys()].filter((k) => scope.used.has(k)) : [];
      return { structure, params };
    } finally {
      this.scope = previous;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Values from the block's parameters

  /** An expression over the block's parameters as TypeScript (records the parameters read). */
  private exprCode(e: ParamExpr): ExprCode {
    const scope = this.scope!;
    const code = (x: ParamExpr, outer: number, right: boolean): string => {
      switch (x.kind) {
        case 'param': {
          if (scope.baked.has(x.name)) {
            const text = jsValue(plainValue(scope.values.get(x.name)));
            return text.startsWith('-') && outer > 0 ? `(${text})` : text;
          }
          scope.used.add(x.name);
          const id = scope.idents.get(x.name);
          if (id === undefined) throw new Error(`internal: no identifier for the parameter ${x.name}`);
          return scope.where === 'ctor' ? id : `this.${id}`;
        }
        case 'literal': {
          const text = jsValue(x.value);
          return text.startsWith('-') && outer > 0 ? `(${text})` : text;
        }
        case 'index':
          return `${code(x.list, 5, false)}[${code(x.index, 0, false)}]`;
        case 'neg': {
          const t = `-${code(x.operand, 3, false)}`;
          return outer > 3 ? `(${t})` : t;
        }
        case 'binary': {
          if (x.op === '//') return `Math.floor(${code(x.left, 2, false)} / ${code(x.right, 3, true)})`;
          const p = JS_PRECEDENCE[x.op]!;
          const t =
            x.op === '**'
              ? `${code(x.left, p + 1, false)} ** ${code(x.right, p + 1, true)}`
              : `${code(x.left, p, false)} ${x.op} ${code(x.right, p + 1, true)}`;
          return outer > p || (outer === p && right) ? `(${t})` : t;
        }
      }
    };
    const text = code(e, 0, false);
    const atomic = e.kind === 'param' || e.kind === 'index' || (e.kind === 'literal' && !text.startsWith('-'));
    return { code: text, atomic: atomic || (e.kind === 'binary' && e.op === '//') };
  }

  /** A value: its expression where the class takes the parameters it came from, else literal. */
  private slot(expr: ParamExpr | null | undefined, concrete: unknown): string {
    return expr && this.usable(expr) ? this.exprCode(expr).code : jsValue(concrete);
  }

  /** Whether an expression can be written in the class being generated (not in a root). */
  private usable(_expr: ParamExpr): boolean {
    return !!this.scope;
  }

  /** A lowering's code, with values from the block's parameters as expressions where exact. */
  private probe(
    concrete: string,
    values: Readonly<Record<string, unknown>>,
    exprs: ReadonlyMap<string, ParamExpr> | Readonly<Record<string, ParamExpr>> | undefined,
    lower: (values: Readonly<Record<string, unknown>>) => string,
  ): string {
    if (!this.scope || !exprs) return concrete;
    const entries = exprs instanceof Map ? [...exprs] : Object.entries(exprs);
    const map = new Map(entries.filter(([, e]) => this.usable(e)));
    if (map.size === 0) return concrete;
    return probeLowering(
      concrete,
      values,
      map,
      lower,
      (v) => jsValue(v),
      (e) => this.exprCode(e),
    );
  }

  /** Registers the classes of the models, bottom-up, in first-use order. */
  private register(models: readonly ModelIR[]): void {
    this.classes.clear();
    this.classOrder.length = 0;
    this.nodeClass.clear();
    this.rootClass.clear();
    this.byStructure.clear();
    this.rootModel.clear();
    for (const m of models) {
      for (const [k, g] of m.graphs) if (!this.graphs.has(k)) this.graphs.set(k, g);
      if (m.root.kind !== 'block')
        throw new EmitError(`model \`${m.name}\` is a ${m.root.kind}, not a block or model`, this.origin(m.root.span));
      const root = this.classFor(m.root, true, m.graphs);
      if (!this.rootModel.has(root)) this.rootModel.set(root, m.name);
    }
  }

  emit(models: readonly ModelIR[]): ModelCode {
    // 1. Classes, bottom-up, in first-use order; again with the parameters that split a
    // declaration's classes baked.
    this.register(models);
    const split = splittingParams(this.classOrder, declKey);
    if (split.size) {
      this.baked = split;
      this.register(models);
    }
    this.refName = (c) => c.name;
    // 2. Names: the bare declaration name when it has one class, else the name with the
    // parameters that tell its classes apart: for a model root its parameters (`depth2`), for a
    // class taking parameters those it was specialised for; else the model (roots), else `$1`...
    const groups = new Map<string, ClassInfo[]>();
    for (const c of this.classOrder) groups.set(c.node.typeName, [...(groups.get(c.node.typeName) ?? []), c]);
    for (const [typeName, group] of groups) {
      const suffixes =
        group.length > 1
          ? (distinguishingSuffixes(
              group.map((c) => (c.root ? c.node.params : (bakedParams(c.members, c.params) ?? {}))),
            ) ?? modelSuffixes(group, this.rootModel))
          : undefined;
      let base: string | undefined;
      group.forEach((c, i) => {
        const name =
          group.length === 1
            ? this.moduleNames.name(typeName)
            : suffixes
              ? this.moduleNames.name(suffixes[i] === typeName ? typeName : `${typeName}_${suffixes[i]}`)
              : `${(base ??= this.moduleNames.name(typeName)).endsWith('$') ? base : `${base}$`}${i + 1}`;
        (c as { name: string }).name = name;
      });
    }
    // 3. Text: one in-memory source file built from structures in a single pass.
    const statements: (string | OptionalKind<ClassDeclarationStructure> | OptionalKind<ImportDeclarationStructure>)[] =
      [{ kind: StructureKind.ImportDeclaration, namespaceImport: 'nv', moduleSpecifier: this.options.runtimeImport }];
    for (const c of this.classOrder) {
      if (c.root) statements.push(...this.rootTypes(c));
      statements.push(this.generate(c).structure);
    }
    const project = new Project({
      useInMemoryFileSystem: true,
      skipLoadingLibFiles: true,
      manipulationSettings: { indentationText: IndentationText.TwoSpaces },
    });
    const file = project.createSourceFile('model.ts', { statements: statements as never }, { overwrite: true });
    const text =
      '// Generated by nvcc build from the .nvc sources named in the origins. Do not edit:\n' +
      '// change the .nvc program and rebuild.\n' +
      file.getFullText();
    return {
      text: text.endsWith('\n') ? text : text + '\n',
      models: models.map((m) => ({
        model: m,
        className: this.classOf(m.root, true).name,
        parameterCount: weightCount(m.root),
      })),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Types and construction

  /** The TypeScript type of a child module. */
  private typeOf(node: ModuleNode): string {
    switch (node.kind) {
      case 'primitive':
        return node.runtime ?? `nv.${node.typeName}`;
      case 'function':
        return 'nv.Lambda';
      case 'block':
        return this.refName(this.classOf(node));
      case 'list':
      case 'sequential': {
        const types = node.children.map((c) => this.typeOf(c));
        if (types.length > 0 && types.every((t) => t === types[0])) return `nv.ModuleList<${types[0]}>`;
        return `nv.TupleList<[${types.join(', ')}]>`;
      }
    }
  }

  private homogeneous(node: ModuleNode): boolean {
    const types = node.children.map((c) => this.typeOf(c));
    return types.length > 0 && types.every((t) => t === types[0]);
  }

  /**
   * A list of copies of one block built alike (`repeat n Block(dim)`), written as `n` copies:
   * with several items, or with one where the count comes from the block's parameters.
   */
  private copies(node: ModuleNode, built: readonly string[]): boolean {
    const first = node.children[0];
    return (
      !!first &&
      first.kind === 'block' &&
      !first.sparse &&
      this.homogeneous(node) &&
      built.every((b) => b === built[0]) &&
      (built.length > 1 || this.symbolicCount(node))
    );
  }

  /** The list's length is a parameter of the class (its forward must not assume a length). */
  private symbolicCount(node: ModuleNode): boolean {
    const count = node.repeat?.countExpr;
    return node.kind === 'list' && count !== undefined && this.usable(count) && node.children.length > 0;
  }

  /**
   * Whether the forward applies a list as a fold over its items, which holds for any length:
   * long lists, and repeats whose count came from a block's parameters (their class may build
   * them with that count; the list may belong to a child block's class).
   */
  private folded(node: ModuleNode): boolean {
    return this.homogeneous(node) && (node.children.length > 2 || node.repeat?.countExpr !== undefined);
  }

  /** The expression constructing a child module. */
  private buildExpr(node: ModuleNode, indent: string): string {
    const origin = this.origin(node.span);
    switch (node.kind) {
      case 'primitive':
        return this.probe(
          primitiveLayer(node, origin).expr,
          node.params,
          node.argExprs,
          (values) => primitiveLayer({ ...node, params: values }, origin).expr,
        );
      case 'function': {
        const prim = recordOf(node, origin);
        if (prim.targets.tfjs.lower.kind !== 'call')
          throw new EmitError(`the emitter cannot call \`${prim.name}\` as a layer`, origin);
        checkSupported(prim, node, origin);
        if (prim.inputs.length !== 1)
          throw new EmitError(
            `\`${prim.name}\` takes ${prim.inputs.length} inputs and cannot be used as a layer in a chain`,
            origin,
          );
        const lambda = (attrs: Readonly<Record<string, unknown>>) =>
          `new nv.Lambda((ctx, x) => ${callExpr(
            prim,
            {
              args: ['x'],
              attrs,
              out: [],
              inShapes: [],
              dim: () => {
                throw new EmitError(`\`${prim.name}\` needs a shape and cannot be used as a layer in a chain`, origin);
              },
            },
            origin,
          )}, ${jsString(prim.name)})`;
        // Inside the lambda a parameter is read as `this.<name>` (its own `x` and `ctx` would hide it).
        const scope = this.scope;
        const where = scope?.where;
        if (scope) scope.where = 'forward';
        try {
          return this.probe(lambda(node.params), node.params, node.argExprs, lambda);
        } finally {
          if (scope) scope.where = where!;
        }
      }
      case 'block': {
        const callee = this.classOf(node);
        const args = callee.params.map((k) => this.slot(node.argExprs?.get(k), node.params[k]));
        const expr = `new ${this.refName(callee)}(${args.join(', ')})`;
        return node.sparse && !this.hasSparseChild(node) ? `nv.Sparse(${expr})` : expr;
      }
      case 'list':
      case 'sequential': {
        const inner = indent + '  ';
        const built = node.children.map((c) => this.buildExpr(c, inner));
        if (this.copies(node, built)) {
          const count = this.symbolicCount(node)
            ? this.slot(node.repeat?.countExpr, node.children.length)
            : String(node.children.length);
          return `new nv.ModuleList(Array.from({ length: ${count} }, () => ${built[0]}))`;
        }
        const items = built.map((b) => `${inner}${b},`);
        const ctor = this.homogeneous(node) ? 'nv.ModuleList' : 'nv.TupleList';
        return `new ${ctor}([\n${items.join('\n')}\n${indent}])`;
      }
    }
  }

  private hasSparseChild(node: ModuleNode): boolean {
    return node.children.some((c) => c.sparse || this.hasSparseChild(c));
  }

  private classStructure(c: ClassInfo): OptionalKind<ClassDeclarationStructure> {
    const node = c.node;
    const members = new Namer(MEMBER_RESERVED);
    const memberName = new Map<string, string>();
    const list = this.orderedMembers(node);
    for (const m of list) memberName.set(m.key, members.name(m.key));
    // Block parameters are constructor parameters and readonly fields, named after the members
    // (their names never clash in .nvc); `nv` would hide the runtime inside the constructor.
    const scope = this.scope;
    if (scope)
      for (const [k, v] of node.args)
        if (v.kind !== 'layer') (scope.idents as Map<string, string>).set(k, members.name(k === 'nv' ? 'nv_' : k));

    const props: string[] = [];
    const ctor: string[] = ['super();'];
    for (const m of list) {
      const prop = memberName.get(m.key)!;
      if (m.kind === 'weight') {
        const w = node.weights[m.index]!;
        const origin = this.origin(w.span);
        props.push(`readonly ${prop}: nv.tf.Variable;`);
        const opts = [w.noDecay ? 'noDecay: true' : '', w.frozen ? 'trainable: false' : ''].filter(Boolean);
        ctor.push(`// ${commentText(origin)}`);
        const shape = `[${w.shape.map((d, i) => this.slot(w.shapeExprs?.[i], d)).join(', ')}]`;
        ctor.push(
          `this.${prop} = this.param(${jsString(w.name)}, ${shape}, ` +
            `${initExpr(w.init, origin)}${opts.length ? `, { ${opts.join(', ')} }` : ''});`,
        );
      } else if (m.kind === 'buffer') {
        const b = node.buffers![m.index]!;
        const origin = this.origin(b.span);
        props.push(`readonly ${prop}: nv.tf.Variable;`);
        ctor.push(`// ${commentText(origin)}`);
        ctor.push(
          `this.${prop} = this.buffer(${jsString(b.name)}, ${jsValue(b.shape)}, ${initExpr(b.init, origin)}` +
            `${b.dtype === 'float32' ? '' : `, ${jsString(b.dtype)}`});`,
        );
      } else {
        const ch = node.children[m.index]!;
        props.push(`readonly ${prop}: ${this.typeOf(ch)};`);
        ctor.push(`// ${commentText(this.origin(ch.span))}`);
        ctor.push(`this.${prop} = this.child(${jsString(m.key)}, ${this.buildExpr(ch, '')});`);
      }
    }
    const forward = c.graph ? this.forwardMethod(c, memberName) : undefined;
    const params = scope ? [...node.args.keys()].filter((k) => scope.used.has(k)) : [];
    const declSpan = node.decl?.nameSpan;
    const doc = [
      `${commentText(this.describeClass(c, params))}` +
        `${declSpan ? `, declared at ${commentText(this.origin(declSpan))}` : ''}.`,
    ];
    const declDoc = node.decl?.doc;
    if (declDoc) doc.push('', ...declDoc.split(/\r\n|[\r\n\u2028\u2029]/).map((l) => commentText(l)));
    const structure: OptionalKind<ClassDeclarationStructure> = {
      kind: StructureKind.Class,
      name: c.name,
      isExported: true,
      extends: 'nv.Module',
      docs: [doc.join('\n')],
      properties: [],
      members: [],
    } as OptionalKind<ClassDeclarationStructure>;
    const body = { props, ctor, forward };
    (structure as { members?: unknown }).members = undefined;
    structure.properties = [];
    structure.ctors = [
      {
        parameters: params.map((k) => ({
          name: scope!.idents.get(k)!,
          type: this.paramTypeOf(c, k),
          isReadonly: true,
        })),
        statements: body.ctor,
      },
    ];
    structure.methods = body.forward ? [body.forward] : [];
    // Property declarations are written as text so that their order follows the members.
    structure.properties = props.map((p) => {
      const m = /^readonly (\S+): (.*);$/.exec(p)!;
      return { name: m[1]!, type: m[2]!, isReadonly: true, hasExclamationToken: false };
    });
    return structure;
  }

  /**
   * The type of a constructor parameter. A string is typed by the values the class is built
   * with (`"sample"`): runtime functions take their options as string unions, which a plain
   * `string` would not satisfy. Only once the class's members are all known (not while
   * classes are told apart, so that the type does not tell them apart).
   */
  private paramTypeOf(c: ClassInfo, k: string): string {
    const v = c.node.args.get(k);
    if (this.keying || (v?.kind !== 'string' && v?.kind !== 'word')) return paramType(v);
    const values = [...new Set(c.members.map((m) => JSON.stringify(plainValue(m.args.get(k)))))];
    return values.map((x) => (x === undefined ? 'string' : jsString(JSON.parse(x) as string))).join(' | ');
  }

  /**
   * The class in words: a root as its model's parameters (`ConvNeXtV2(depths = [2, 2, 6, 2], ...)`),
   * a class taking parameters as its declaration (`GRN(dim, eps, masked_pooling)`) followed by the
   * values it is specialised for (`with depth = 1`). `taken`: the constructor's parameters while
   * they are being found (the class's own once registered).
   */
  private describeClass(c: ClassInfo, taken: readonly string[] = c.params): string {
    if (c.root) return describeNode(c.node);
    const baked = bakedParams(c.members, taken);
    const values = baked ? Object.entries(baked).map(([k, v]) => `${k} = ${fmtParam(v)}`) : [];
    if (values.length && !taken.length) return `${c.node.typeName} with ${values.join(', ')}`;
    return `${c.node.typeName}(${taken.join(', ')})${values.length ? ` with ${values.join(', ')}` : ''}`;
  }

  /** Input/output record types of a model root. */
  private rootTypes(c: ClassInfo): string[] {
    const g = c.graph;
    if (!g) return [];
    const out: string[] = [];
    const ins = g.inputs.map(
      (i) => `  readonly ${propertyKey(i.name)}: ${tensorType(i.shape)}; // ${commentText(formatShape(i.shape))}`,
    );
    out.push(
      `/** Inputs of ${commentText(c.node.typeName)}.forward. */\nexport type ${c.name}$Inputs = ` +
        `{\n${ins.join('\n')}\n};`,
    );
    if (this.namedOutputs(g)) {
      const outs = g.outputs.map(
        (o) => `  readonly ${propertyKey(o.name)}: ${tensorType(o.shape)}; // ${commentText(formatShape(o.shape))}`,
      );
      out.push(
        `/** Outputs of ${commentText(c.node.typeName)}.forward. */\nexport type ${c.name}$Outputs = ` +
          `{\n${outs.join('\n')}\n};`,
      );
    }
    return out;
  }

  private namedOutputs(g: ForwardGraph): boolean {
    return g.outputs.length > 1 || g.outputs[0]?.name !== 'out';
  }

  // ---------------------------------------------------------------------------------------------
  // Forward

  private forwardMethod(c: ClassInfo, memberName: ReadonlyMap<string, string>) {
    if (this.scope) this.scope.where = 'forward';
    const g = c.graph!;
    // Shapes in the doc comment: for a class taking parameters, in terms of them.
    const docShape = (v: GraphValue) =>
      commentText(
        `[${v.shape
          .map((d, i) => {
            const e = v.shapeExprs?.[i];
            return e && paramsOfExpr(e).every((p) => c.params.includes(p)) ? formatParamExpr(e) : d.toString();
          })
          .join(', ')}]`,
      );
    const locals = new Namer(LOCAL_RESERVED, /^v\d+$/);
    const value = new Map<number, string>();
    const rankOf = new Map<number, number>();
    const consts = new Map<number, string>();
    const statements: string[] = [];
    const params: { name: string; type: string }[] = [{ name: 'ctx', type: 'nv.ForwardContext' }];
    const docLines: string[] = [];
    const inputLocal = new Map<string, string>();
    for (const i of g.inputs) inputLocal.set(i.name, locals.name(i.name));
    if (c.root) {
      params.push({ name: 'inputs', type: `${c.name}$Inputs` });
      for (const i of g.inputs) {
        const read =
          i.name === '__proto__'
            ? `nv.own(inputs, ${jsString(i.name)}) as ${tensorType(i.shape)}`
            : `inputs${propertyAccess(i.name)}`;
        statements.push(`const ${inputLocal.get(i.name)} = ${read};`);
        docLines.push(`@param inputs.${commentText(i.name)} ${commentText(formatShape(i.shape))}`);
      }
    } else {
      for (const i of g.inputs) {
        params.push({ name: inputLocal.get(i.name)!, type: tensorType(i.shape) });
        docLines.push(
          `@param ${inputLocal.get(i.name)} ` +
            `${docShape(i)}` +
            `${inputLocal.get(i.name) !== i.name ? ` (\`${commentText(i.name)}\`)` : ''}`,
        );
      }
    }
    // Symbols are bound from the first input axis that is exactly that symbol.
    const symbolSource = new Map<string, string>();
    for (const i of g.inputs)
      i.shape.forEach((d, axis) => {
        const s = d.asSymbol();
        if (s !== undefined && !symbolSource.has(s)) symbolSource.set(s, `${inputLocal.get(i.name)}.shape[${axis}]`);
      });
    const symbolLocal = new Map<string, string>();
    const usedSymbols: string[] = [];
    const dim = (d: Dim, origin: string): string => {
      const k = d.asInt();
      if (k !== undefined) return String(k);
      const parts: string[] = [];
      for (const t of d.terms) {
        const factors: string[] = [];
        for (const s of t.symbols) {
          if (!symbolSource.has(s))
            throw new EmitError(
              `cannot bind the dimension \`${s}\` at run time: no input has an axis of exactly that size`,
              origin,
            );
          if (!symbolLocal.has(s)) {
            symbolLocal.set(s, locals.name(s));
            usedSymbols.push(s);
          }
          factors.push(symbolLocal.get(s)!);
        }
        const num = t.coef.num < 0n ? -t.coef.num : t.coef.num;
        let term = [...(num !== 1n || factors.length === 0 ? [String(num)] : []), ...factors].join(' * ');
        if (t.coef.den !== 1n) term = `${term} / ${t.coef.den}`;
        parts.push(
          parts.length === 0 ? (t.coef.num < 0n ? `-${term}` : term) : t.coef.num < 0n ? `- ${term}` : `+ ${term}`,
        );
      }
      return parts.length > 1 ? `(${parts.join(' ')})` : parts[0]!;
    };
    const fusions = findFusions(g);
    const dropped = new Set(fusions.flatMap((f) => [...f.dropped]));
    const fusedAt = new Map(fusions.map((f) => [f.output, f] as const));
    for (const op of g.ops) {
      const origin = this.origin(op.span);
      if (dropped.has(op.id)) continue;
      if (op.op === 'input') {
        const name = g.inputs.find((i) => i.id === op.id)?.name ?? op.target ?? '';
        value.set(op.id, inputLocal.get(name) ?? locals.name(name));
        rankOf.set(op.id, op.shape.length);
        continue;
      }
      if (op.op === 'param') {
        value.set(op.id, this.memberPath(c.node, op.target ?? '', memberName, origin));
        continue;
      }
      if (op.op === 'const') {
        const code = this.slot(op.exprs?.value, op.attrs.value);
        consts.set(op.id, code);
        value.set(op.id, code);
        continue;
      }
      const fused = fusedAt.get(op.id);
      const expr = fused
        ? fusedExpr(
            fused,
            value,
            this.slot(g.ops.find((o) => o.id === fused.statistics)?.exprs?.pooling, fused.pooling),
          )
        : this.opExpr(c, op, value, consts, memberName, (d) => dim(d, origin), origin);
      const v = locals.claim(`v${op.id}`);
      if (yieldsRecord(op)) {
        statements.push(`const ${v} = nv.atRecord(${jsString(origin)}, ${expr});`);
        value.set(op.id, v);
        continue;
      }
      const rank = checkRank(op.shape, origin);
      statements.push(`const ${v} = nv.at(${jsString(origin)}, ${rank}, ${expr});`);
      value.set(op.id, v);
      rankOf.set(op.id, rank);
    }
    const bindings = usedSymbols.map((s) => `const ${symbolLocal.get(s)} = ${symbolSource.get(s)};`);
    const ret = (id: number, shape: Shape) => {
      const v = value.get(id);
      if (v === undefined) throw new Error(`internal: output %${id} has no value`);
      if (consts.has(id)) return `nv.tf.scalar(${v})`;
      if (!rankOf.has(id)) return `nv.rank(${v}, ${shape.length})`; // a weight returned as is
      return v;
    };
    let returnType: string;
    if (c.root && this.namedOutputs(g)) {
      returnType = `${c.name}$Outputs`;
      const safe = g.outputs.every((o) => o.name !== '__proto__');
      statements.push(
        safe
          ? `return { ${g.outputs.map((o) => `${propertyKey(o.name)}: ${ret(o.id, o.shape)}`).join(', ')} };`
          : `return nv.record([` +
              `${g.outputs.map((o) => `[${jsString(o.name)}, ${ret(o.id, o.shape)}]`).join(', ')}]) as ` +
              `unknown as ${returnType};`,
      );
      for (const o of g.outputs) docLines.push(`@returns ${commentText(o.name)}: ${docShape(o)}`);
    } else if (g.outputs.length === 1) {
      const o = g.outputs[0]!;
      returnType = tensorType(o.shape);
      statements.push(`return ${ret(o.id, o.shape)};`);
      docLines.push(`@returns ${docShape(o)}`);
    } else {
      returnType = `{ ${g.outputs.map((o) => `readonly ${propertyKey(o.name)}: ${tensorType(o.shape)}`).join('; ')} }`;
      statements.push(
        `return { ${g.outputs.map((o) => `${propertyKey(o.name)}: ${ret(o.id, o.shape)}`).join(', ')} };`,
      );
      for (const o of g.outputs) docLines.push(`@returns ${commentText(o.name)}: ${docShape(o)}`);
    }
    return {
      name: 'forward',
      docs: [
        [
          `Forward pass of ${commentText(this.describeClass(c))} (${commentText(this.origin(g.span))}).`,
          ...docLines,
        ].join('\n'),
      ],
      parameters: params,
      returnType,
      statements: [
        // An `unmasked` block and everything it calls run without the stage's patch mask.
        ...(c.node.unmasked ? ['// unmasked: the mask context ends here', 'ctx = nv.unmasked(ctx);'] : []),
        ...statements.slice(0, c.root ? g.inputs.length : 0),
        ...bindings,
        ...statements.slice(c.root ? g.inputs.length : 0),
      ],
    };
  }

  /** `this.a.b.items[0]` for a dotted path of children (and a final weight name). */
  private memberPath(root: ModuleNode, path: string, memberName: ReadonlyMap<string, string>, origin: string): string {
    let expr = 'this';
    let node: ModuleNode | undefined = root;
    const parts = path.split('.').filter((p) => p.length > 0);
    parts.forEach((part, i) => {
      if (!node) throw new EmitError(`cannot resolve \`${path}\``, origin);
      if (node.kind === 'list' || node.kind === 'sequential') {
        expr += `.items[${Number(part)}]`;
        node = node.children[Number(part)];
        return;
      }
      const child: ModuleNode | undefined = node.children.find(
        (c) => c.path.slice(c.path.lastIndexOf('.') + 1) === part,
      );
      const names = node === root ? memberName : this.memberNames(node);
      const prop = names.get(part);
      if (prop === undefined) throw new EmitError(`cannot resolve \`${path}\``, origin);
      expr += `.${prop}`;
      if (!child && i !== parts.length - 1) throw new EmitError(`cannot resolve \`${path}\``, origin);
      node = child;
    });
    return expr;
  }

  /**
   * Weights and children in declaration order: the IR's child order, with each weight placed
   * before the first child declared after it in the same file.
   */
  private orderedMembers(node: ModuleNode): { key: string; kind: 'weight' | 'buffer' | 'child'; index: number }[] {
    const out: { key: string; kind: 'weight' | 'buffer' | 'child'; index: number }[] = [];
    const pending = [
      ...node.weights.map((w, i) => ({ key: w.name, kind: 'weight' as const, index: i, span: w.span })),
      ...(node.buffers ?? []).map((b, i) => ({ key: b.name, kind: 'buffer' as const, index: i, span: b.span })),
    ].sort((a, b) => a.span.start - b.span.start);
    node.children.forEach((ch, i) => {
      while (
        pending.length &&
        pending[0]!.span &&
        pending[0]!.span.file === ch.span.file &&
        pending[0]!.span.start < ch.span.start
      ) {
        const w = pending.shift()!;
        out.push({ key: w.key, kind: w.kind, index: w.index });
      }
      out.push({ key: ch.path.slice(ch.path.lastIndexOf('.') + 1), kind: 'child', index: i });
    });
    for (const w of pending) out.push({ key: w.key, kind: w.kind, index: w.index });
    return out;
  }

  /** Member names of a block node's class (same scheme as classStructure). */
  private memberNames(node: ModuleNode): Map<string, string> {
    const c = this.classOf(node);
    const out = new Map<string, string>();
    const members = new Namer(MEMBER_RESERVED);
    for (const m of this.orderedMembers(c.node)) out.set(m.key, members.name(m.key));
    return out;
  }

  private findNode(root: ModuleNode, path: string): ModuleNode | undefined {
    let node: ModuleNode | undefined = root;
    for (const part of path.split('.').filter((p) => p.length > 0)) {
      node = node?.children.find((c) => c.path.slice(c.path.lastIndexOf('.') + 1) === part);
    }
    return node;
  }

  private opExpr(
    c: ClassInfo,
    op: Op,
    value: ReadonlyMap<number, string>,
    consts: ReadonlyMap<number, string>,
    memberName: ReadonlyMap<string, string>,
    dim: (d: Dim) => string,
    origin: string,
  ): string {
    const args = op.inputs.map((id) => {
      const v = value.get(id);
      if (v === undefined) throw new Error(`internal: %${id} used before definition in ${c.node.typeName}`);
      return v;
    });
    const shapeOf = (id: number) => c.graph!.ops.find((o) => o.id === id)?.shape ?? [];
    if (op.op === 'output') {
      const name = String(op.attrs.name);
      return name === '__proto__'
        ? `() => nv.own(${args[0]}, ${jsString(name)})`
        : `() => ${args[0]}${propertyAccess(name)}`;
    }
    if (op.op === 'call') {
      const target = this.findNode(c.node, op.target ?? '');
      if (!target) throw new EmitError(`cannot resolve the layer \`${op.target}\``, origin);
      const self = this.memberPath(c.node, op.target ?? '', memberName, origin);
      if (target.kind === 'block') return `() => ${this.blockCall(target, self, op, args, origin)}`;
      if (target.kind === 'list' || target.kind === 'sequential')
        return `() => ${this.chain(target, self, op, args, 0, origin)}`;
      if (target.kind === 'function' || target.kind === 'primitive')
        return `() => ${self}.forward(ctx, ${args.join(', ')})`;
      throw new EmitError(`cannot call \`${op.target}\``, origin);
    }
    if (op.target !== undefined) {
      // A primitive layer applied to its input(s).
      const self = this.memberPath(c.node, op.target, memberName, origin);
      return `() => ${self}.forward(ctx, ${args.join(', ')})`;
    }
    const prim = primitiveByIrName(op.op);
    if (!prim) throw new EmitError(`the emitter cannot lower the operation \`${op.op}\``, origin);
    const tensorArgs = args.map((a, i) =>
      consts.has(op.inputs[i]!) && (i === 0 || !BINARY.has(op.op)) ? `nv.tf.scalar(${a})` : a,
    );
    const call = (attrs: Readonly<Record<string, unknown>>) =>
      callExpr(prim, { args: tensorArgs, attrs, out: op.shape, inShapes: op.inputs.map(shapeOf), dim }, origin);
    return `() => ${this.probe(call(op.attrs), op.attrs, op.exprs, call)}`;
  }

  /** A call of a block child: positional inputs in the callee's declared order. */
  private blockCall(
    target: ModuleNode,
    self: string,
    op: Op,
    args: readonly string[],
    origin: string,
    chained = false,
  ): string {
    const callee = this.classOf(target);
    const g = callee.graph;
    if (!g) throw new EmitError(`\`${target.typeName}\` has no forward`, origin);
    const byName = new Map<string, string>();
    args.forEach((a, i) => {
      const port = op.ports?.[i];
      const name =
        port === undefined || port.startsWith('#')
          ? g.inputs[port === undefined ? i : Number(port.slice(1))]?.name
          : port;
      if (name !== undefined) byName.set(name, a);
    });
    const ordered = g.inputs.map((i) => {
      const a = byName.get(i.name);
      if (a === undefined)
        throw new EmitError(`no value for the input \`${i.name}\` of \`${target.typeName}\``, origin);
      return chained ? `nv.rank(${a}, ${i.shape.length})` : a;
    });
    const result = `${self}.forward(ctx, ${ordered.join(', ')})`;
    if (callee.root) throw new Error('internal: a root class is never a child');
    // A lone call yields the record, read by `output` ops; a chain never holds such a block.
    if (chained && g.outputs.length > 1)
      throw new EmitError(`\`${target.typeName}\` has several named outputs and cannot sit in a layer chain`, origin);
    return result;
  }

  /**
   * Applying a list / sequential: each item in order to the running value; blocks and nested
   * lists also receive the call's other inputs (by name), primitives only the running value.
   */
  private chain(
    node: ModuleNode,
    self: string,
    op: Op,
    args: readonly string[],
    depth: number,
    origin: string,
  ): string {
    const t = depth === 0 ? 't' : `t${depth}`;
    const extraArgs = args.slice(1);
    const extraOp: Op = { ...op, inputs: op.inputs.slice(1), ...(op.ports ? { ports: op.ports.slice(1) } : {}) };
    const item = (child: ModuleNode, itemExpr: string, cur: string): string => {
      if (child.kind === 'block') {
        const callOp: Op = {
          ...op,
          inputs: [-1, ...extraOp.inputs],
          ...(op.ports ? { ports: ['#0', ...(extraOp.ports ?? [])] } : {}),
        };
        return this.blockCall(child, itemExpr, callOp, [cur, ...extraArgs], origin, true);
      }
      if (child.kind === 'list' || child.kind === 'sequential')
        return this.chain(child, itemExpr, op, [cur, ...extraArgs], depth + 1, origin);
      return `${itemExpr}.forward(ctx, ${cur})`;
    };
    if (node.children.length === 0) return args[0]!;
    if (this.folded(node)) {
      const m = depth === 0 ? 'm' : `m${depth}`;
      return `${self}.items.reduce<nv.tf.Tensor>((${t}, ${m}) => ${item(node.children[0]!, m, t)}, ${args[0]})`;
    }
    if (node.children.length === 1) return item(node.children[0]!, `${self}.items[0]`, args[0]!);
    const lines: string[] = [];
    // ts-morph indents continuation lines by the statement's own indentation.
    const pad = '  '.repeat(depth + 1);
    lines.push(`((${t}: nv.tf.Tensor) => {`);
    node.children.forEach((ch, i) => lines.push(`${pad}${t} = ${item(ch, `${self}.items[${i}]`, t)};`));
    lines.push(`${pad}return ${t};`);
    lines.push(`${'  '.repeat(depth)}})(${args[0]})`);
    return lines.join('\n');
  }
}

/** Emits `model.ts` for the given models. */
export function emitModels(
  models: readonly ModelIR[],
  files: ReadonlyMap<string, NvcSource>,
  options: EmitOptions,
): ModelCode {
  return new ModelEmitter(files, options).emit(models);
}

/** Per instantiation, the name of the model it is the root of (`convnextv2_atto`), when all are roots. */
function modelSuffixes(group: readonly ClassInfo[], rootModel: ReadonlyMap<ClassInfo, string>): string[] | undefined {
  const names = group.map((c) => rootModel.get(c));
  if (names.some((n) => n === undefined || !/^[A-Za-z0-9_]{1,48}$/.test(n))) return undefined;
  return new Set(names).size === names.length ? (names as string[]) : undefined;
}

/** The runtime call of a fused pattern (compiler/emit/fusion.ts). */
function fusedExpr(f: Fusion, value: ReadonlyMap<number, string>, pooling: string): string {
  const v = (id: number) => {
    const e = value.get(id);
    if (e === undefined) throw new Error(`internal: fused operand %${id} has no value`);
    return e;
  };
  return `() => nv.grnBlock(${v(f.x)}, ${v(f.gamma)}, ${v(f.beta)}, ${v(f.epsConst)}, ${pooling}, ctx)`;
}

/** A class structure without its doc comments (what tells classes apart). */
function withoutDocs(structure: unknown): string {
  return JSON.stringify(structure, (k, v) => (k === 'docs' ? undefined : v));
}

/** A call of a block with named outputs: its value is the record, read by `output` ops. */
function yieldsRecord(op: Op): boolean {
  return op.op === 'call' && Array.isArray(op.attrs.outputs);
}
