/**
 * The PyTorch model emitter: ProgramIR module trees and forward graphs to `model.py`.
 * In: the models to build (stage models and top-level models, each with the key `build_model`
 * knows it by) and an origin function (`file:line:col` of a span). Reads the IR only.
 * Out: the text of `model.py` and, per model, its root class name and parameter count.
 * Holds afterwards:
 *  - one `nn.Module` class per block declaration, `__init__` taking the parameters its body
 *    reads (as the tfjs emitter does: values from them written as expressions, nodes sharing a
 *    class when their code is identical, a class per variant where a body bakes a value), and
 *    one zero-argument class per model root; weights become `nn.Parameter`s and
 *    children submodules under the exact parameter paths of the IR, so `state_dict()` keys are
 *    the IR's weight paths (docs/CONVENTIONS.md); lists and `a >> b` are `nn.ModuleList`s;
 *  - parameters are in PyTorch's layout (nvcc_layers.py); activations inside are NHWC as in the
 *    IR; a model root takes its forward inputs positionally in declared order, rank-4 ones in
 *    NCHW, and returns rank-4 outputs in NCHW (one tensor, or a tuple in declared order);
 *  - every statement is preceded by an origin comment naming the `.nvc` place it comes from;
 *  - the text depends only on the IR (no Map-order or clock dependence);
 *  - anything that `torchSupportProblems` (check.ts) refuses never reaches this emitter.
 */
import { createHash } from 'node:crypto';
import type { Span } from '../../../dsl/span.js';
import type { ForwardGraph, GraphValue, IRValue, ModelIR, ModuleNode, Op, ParamExpr } from '../../ir/ir.js';
import { formatParamExpr, paramsOfExpr } from '../../ir/param-expr.js';
import {
  bakedParams,
  declKey,
  distinguishingSuffixes,
  type ExprCode,
  plainValue,
  probeLowering,
  splittingParams,
  structuralKey,
} from '../classes.js';
import type { Dim, Shape } from '../../symbolic.js';
import { PRIMITIVES } from '../../primitives/index.js';
import { type InitSpec, type LayerLowering, pyValue, type TorchLowering } from '../../primitives/torch.js';

/** The torch rule of a primitive's record (`targets.torch`), by surface name. */
export function torchRule(name: string): TorchLowering | undefined {
  return PRIMITIVES.get(name)?.targets.torch as TorchLowering | undefined;
}

/** A problem the emitter cannot express (never expected after the torch check). */
export class TorchEmitError extends Error {
  constructor(
    message: string,
    readonly origin?: string,
  ) {
    super(message);
    this.name = 'TorchEmitError';
  }
}

export interface TorchModelEntry {
  /** The name `build_model` knows the model by (stage name, `train/stage`, or model name). */
  readonly key: string;
  readonly model: ModelIR;
}

export interface TorchEmittedModel {
  readonly key: string;
  readonly className: string;
  readonly parameterCount: number;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

export interface TorchModelCode {
  readonly text: string;
  readonly models: readonly TorchEmittedModel[];
}

export interface TorchEmitOptions {
  readonly origin: (span: Span) => string;
  /** First line(s) of the docstring of model.py (what it was built from). */
  readonly title: string;
}

const PY_KEYWORDS = new Set([
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield',
]);

/**
 * Attributes of torch.nn.Module (torch 1.13 and 2.x): a child or weight with one of these names
 * cannot be registered under it, so its state_dict key could not be the IR's path.
 */
export const TORCH_MODULE_ATTRIBUTES: ReadonlySet<string> = new Set([
  'T_destination',
  'add_module',
  'apply',
  'bfloat16',
  'buffers',
  'call_super_init',
  'children',
  'compile',
  'cpu',
  'cuda',
  'double',
  'dump_patches',
  'eval',
  'extra_repr',
  'float',
  'forward',
  'get_buffer',
  'get_extra_state',
  'get_parameter',
  'get_submodule',
  'half',
  'ipu',
  'load_state_dict',
  'modules',
  'mtia',
  'named_buffers',
  'named_children',
  'named_modules',
  'named_parameters',
  'parameters',
  'register_backward_hook',
  'register_buffer',
  'register_forward_hook',
  'register_forward_pre_hook',
  'register_full_backward_hook',
  'register_full_backward_pre_hook',
  'register_load_state_dict_post_hook',
  'register_load_state_dict_pre_hook',
  'register_module',
  'register_parameter',
  'register_state_dict_post_hook',
  'register_state_dict_pre_hook',
  'requires_grad_',
  'set_extra_state',
  'set_submodule',
  'share_memory',
  'state_dict',
  'to',
  'to_empty',
  'train',
  'training',
  'type',
  'xpu',
  'zero_grad',
]);

/** Whether a child or weight name can be a torch.nn.Module attribute (see TORCH_MODULE_ATTRIBUTES). */
export function torchMemberNameOk(name: string): boolean {
  return name.length > 0 && !name.includes('.') && !name.startsWith('_') && !TORCH_MODULE_ATTRIBUTES.has(name);
}

const PY_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names the generated module defines or imports at top level. */
const MODULE_RESERVED = [
  'annotations',
  'Dict',
  'F',
  'List',
  'Tuple',
  'Tensor',
  'nn',
  'nv',
  'torch',
  'build_model',
  'MODEL_CLASSES',
  'MODEL_INPUTS',
  'MODEL_OUTPUTS',
  'MODEL_NO_DECAY',
  'object',
  'super',
  'int',
  'float',
  'str',
  'list',
  'tuple',
  'dict',
  'getattr',
  'setattr',
  'len',
  'range',
];

/** Locals of generated forward bodies besides the SSA values `v<n>`. */
const LOCAL_RESERVED = [...MODULE_RESERVED, 'self', 'layer'];

/** One naming scope: spec names verbatim when safe, else with a `_` suffix and a counter. */
class PyNamer {
  private readonly used = new Set<string>();
  private readonly reserved: ReadonlySet<string>;

  constructor(
    reserved: readonly string[],
    private readonly generated?: RegExp,
  ) {
    this.reserved = new Set(reserved);
  }

  name(spec: string): string {
    let base = spec.replace(/[^A-Za-z0-9_]/g, '_');
    if (!PY_IDENT.test(base)) base = `_${base}`;
    const safe =
      base === spec && !PY_KEYWORDS.has(spec) && !this.reserved.has(spec) && !(this.generated?.test(spec) ?? false);
    let candidate = safe ? spec : `${base}_`;
    if (this.used.has(candidate)) {
      let i = 2;
      while (this.used.has(`${candidate}_${i}`)) i++;
      candidate = `${candidate}_${i}`;
    }
    this.used.add(candidate);
    return candidate;
  }

  claim(name: string): string {
    this.used.add(name);
    return name;
  }
}

/** Comment text: one line, no control characters. */
function commentText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');
}

/** Docstring text: a comment line that cannot end the docstring or start an escape. */
function docText(text: string): string {
  return commentText(text).replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** `self.name = expr`, or `setattr(self, 'name', expr)` for a name that is not an identifier. */
function assign(name: string, expr: string): string {
  return PY_IDENT.test(name) && !PY_KEYWORDS.has(name)
    ? `self.${name} = ${expr}`
    : `setattr(self, ${pyValue(name)}, ${expr})`;
}

/** Keyword arguments of nvcc_layers.init_ for an init spec, keys sorted. */
function initArgs(init: InitSpec): string[] {
  return [
    pyValue(init.kind),
    ...Object.keys(init.args)
      .sort()
      .map((k) => `${k}=${pyValue(init.args[k])}`),
  ];
}

/** `self.name` when the name is a plain identifier, else `getattr(self, 'name')`. */
function attr(base: string, name: string): string {
  return PY_IDENT.test(name) && !PY_KEYWORDS.has(name) ? `${base}.${name}` : `getattr(${base}, ${pyValue(name)})`;
}

const keyOf = (n: ModuleNode) => n.path.slice(n.path.lastIndexOf('.') + 1);

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

/** Surface names of primitives by IR op name. */
const PRIMITIVE_BY_IR: ReadonlyMap<string, string> = new Map([...PRIMITIVES.values()].map((p) => [p.irName, p.name]));

/** The primitive (surface name) an IR op or a primitive/function node runs, if any. */
export function primitiveNameOfOp(op: string): string | undefined {
  return PRIMITIVE_BY_IR.get(op);
}

/** Binary operators: a constant operand stays a Python number. */
const BINARY = new Set(['add', 'sub', 'mul', 'div']);

interface ClassInfo {
  name: string;
  /** Registration order (placeholder names while classes are told apart). */
  readonly id: number;
  /** The first node the class was generated for (its members all have the same code). */
  readonly node: ModuleNode;
  readonly members: ModuleNode[];
  readonly root: boolean;
  readonly graph?: ForwardGraph;
  /** The block parameters `__init__` takes, in declaration order (none for roots). */
  params: readonly string[];
}

/** While a non-root class is generated: its block parameters, as the code names them. */
interface ParamScope {
  /** Identifier of each block parameter (`__init__` argument and attribute). */
  readonly idents: Map<string, string>;
  readonly used: Set<string>;
  /** In `__init__` a parameter is its argument; elsewhere `self.<name>`. */
  where: 'init' | 'self';
  /** Parameters the class does not take (classes.ts `splittingParams`): an expression reads
   *  them as the value the node being generated has. */
  readonly baked: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, IRValue>;
}

const PY_PRECEDENCE: Readonly<Record<string, number>> = { '+': 1, '-': 1, '*': 2, '/': 2, '//': 2, '**': 4 };

/** The Python type of a block parameter's value. */
function pyParamType(v: IRValue | undefined): string {
  switch (v?.kind) {
    case 'int':
      return 'int';
    case 'float':
      return 'float';
    case 'bool':
      return 'bool';
    case 'string':
    case 'word':
      return 'str';
    case 'list':
      return `List[${v.items.length ? pyParamType(v.items[0]) : 'int'}]`;
    default:
      return 'object';
  }
}

type Lines = string[];

export class TorchModelEmitter {
  /** Classes by the text of their code (with placeholder class names). */
  private readonly classes = new Map<string, ClassInfo>();
  private readonly classOrder: ClassInfo[] = [];
  private readonly nodeClass = new Map<ModuleNode, ClassInfo>();
  private readonly rootClass = new Map<ModuleNode, ClassInfo>();
  /** Classes by the structure of a node they were generated for (classes.ts `structuralKey`). */
  private readonly byStructure = new Map<string, ClassInfo>();
  private readonly structure = new WeakMap<ModuleNode, string>();
  private readonly graphs = new Map<string, ForwardGraph>();
  /** How code refers to a class: a placeholder while classes are told apart, then its name. */
  private refName: (c: ClassInfo) => string = (c) => c.name;
  /** The parameters of the class being generated; undefined for a root (values are baked). */
  private scope: ParamScope | undefined;
  /** Per declaration (`declKey`), parameters always written as their values. */
  private baked = new Map<string, ReadonlySet<string>>();

  constructor(private readonly options: TorchEmitOptions) {}

  private origin(span: Span): string {
    return this.options.origin(span);
  }

  /**
   * Registers the class of a block node, children first. Nodes share a class exactly when the
   * code generated for them is the same, values from the block's parameters written as
   * expressions over them (see the tfjs emitter, compiler/emit/model.ts, and classes.ts).
   */
  private classFor(node: ModuleNode, root: boolean): ClassInfo {
    const known = (root ? this.rootClass : this.nodeClass).get(node);
    if (known) return known;
    // A node like one already seen (every copy of a repeat) has its class: no code to generate.
    const same = this.byStructure.get(`${root}:${structuralKey(node, this.structure)}`);
    if (same) {
      this.visitChildren(node);
      same.members.push(node);
      (root ? this.rootClass : this.nodeClass).set(node, same);
      return same;
    }
    this.visitChildren(node);
    const graph = node.forwardKey ? this.graphs.get(node.forwardKey) : undefined;
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
    const { code, params } = this.generate(draft);
    const key = createHash('sha256')
      .update(JSON.stringify([root, node.typeName, declKey(node), params, code.body]))
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

  private visitChildren(node: ModuleNode): void {
    for (const c of node.children) {
      if (c.kind === 'block') this.classFor(c, false);
      else if (c.kind === 'list' || c.kind === 'sequential') this.visitChildren(c);
    }
  }

  private classOf(node: ModuleNode, root = false): ClassInfo {
    const info = (root ? this.rootClass : this.nodeClass).get(node);
    if (!info) throw new Error(`internal: no class for ${node.typeName} at '${node.path}'`);
    return info;
  }

  /** The class's code (its body apart from docstrings, and in full) and the parameters it reads. */
  private generate(c: ClassInfo): { code: { body: Lines; text: Lines }; params: string[] } {
    const previous = this.scope;
    const scope: ParamScope | undefined = c.root
      ? undefined
      : {
          idents: new Map(),
          used: new Set(),
          where: 'init',
          baked: this.baked.get(declKey(c.node)) ?? new Set(),
          values: c.node.args,
        };
    this.scope = scope;
    try {
      const code = this.classText(c);
      const params = scope ? [...c.node.args.keys()].filter((k) => scope.used.has(k)) : [];
      return { code, params };
    } finally {
      this.scope = previous;
    }
  }

  /** Registers the classes of the models, bottom-up, in first-use order. */
  private register(entries: readonly TorchModelEntry[]): void {
    this.classes.clear();
    this.classOrder.length = 0;
    this.nodeClass.clear();
    this.rootClass.clear();
    this.byStructure.clear();
    for (const e of entries) {
      for (const [k, g] of e.model.graphs) if (!this.graphs.has(k)) this.graphs.set(k, g);
      if (e.model.root.kind !== 'block')
        throw new TorchEmitError(
          `model \`${e.model.name}\` is a ${e.model.root.kind}, not a block or model`,
          this.origin(e.model.root.span),
        );
      this.classFor(e.model.root, true);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Values from the block's parameters

  /** An expression as Python, or undefined where Python would compute it differently (`%`). */
  private exprCode(e: ParamExpr): ExprCode | undefined {
    const scope = this.scope;
    if (!scope) return undefined;
    let ok = true;
    const code = (x: ParamExpr, outer: number, right: boolean): string => {
      switch (x.kind) {
        case 'param': {
          if (scope.baked.has(x.name)) {
            const text = pyValue(plainValue(scope.values.get(x.name)));
            return text.startsWith('-') && outer > 0 ? `(${text})` : text;
          }
          scope.used.add(x.name);
          const id = scope.idents.get(x.name);
          if (id === undefined) throw new Error(`internal: no identifier for the parameter ${x.name}`);
          return scope.where === 'init' ? id : `self.${id}`;
        }
        case 'literal': {
          const text = pyValue(x.value);
          return text.startsWith('-') && outer > 0 ? `(${text})` : text;
        }
        case 'index':
          return `${code(x.list, 5, false)}[${code(x.index, 0, false)}]`;
        case 'neg': {
          const t = `-${code(x.operand, 3, false)}`;
          return outer > 3 ? `(${t})` : t;
        }
        case 'binary': {
          // Python's `%` takes the divisor's sign, the elaborator's the dividend's.
          if (x.op === '%') ok = false;
          // An exact division of ints is an int in .nvc; `/` would give Python a float.
          const op = x.op === '/' && x.int ? '//' : x.op;
          const p = PY_PRECEDENCE[op] ?? 2;
          const t =
            op === '**'
              ? `${code(x.left, p + 1, false)} ** ${code(x.right, p + 1, true)}`
              : `${code(x.left, p, false)} ${op} ${code(x.right, p + 1, true)}`;
          return outer > p || (outer === p && right) ? `(${t})` : t;
        }
      }
    };
    const used = new Set(scope.used);
    const text = code(e, 0, false);
    if (!ok) {
      scope.used.clear();
      for (const u of used) scope.used.add(u);
      return undefined;
    }
    return {
      code: text,
      atomic: e.kind === 'param' || e.kind === 'index' || (e.kind === 'literal' && !text.startsWith('-')),
    };
  }

  /** A value: its expression where the class takes the parameters it came from, else literal. */
  private slot(expr: ParamExpr | null | undefined, concrete: unknown): string {
    return (expr && this.exprCode(expr)?.code) ?? pyValue(concrete);
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
    // Only expressions Python can compute (tried on a copy of the used set, so nothing leaks).
    const map = new Map(entries.filter(([, e]) => this.writable(e)));
    if (map.size === 0) return concrete;
    return probeLowering(concrete, values, map, lower, pyValue, (e) => this.exprCode(e)!);
  }

  /** Whether the class being generated can write an expression (without recording it). */
  private writable(e: ParamExpr): boolean {
    const scope = this.scope;
    if (!scope) return false;
    const used = new Set(scope.used);
    const ok = this.exprCode(e) !== undefined;
    scope.used.clear();
    for (const u of used) scope.used.add(u);
    return ok;
  }

  emit(entries: readonly TorchModelEntry[]): TorchModelCode {
    // Classes, bottom-up, in first-use order; again with the parameters that split a
    // declaration's classes baked.
    this.register(entries);
    const split = splittingParams(this.classOrder);
    if (split.size) {
      this.baked = split;
      this.register(entries);
    }
    this.refName = (c) => c.name;
    // Names: the block name when it has one class; else, for classes taking parameters, the
    // name with the baked parameters that tell them apart (`Flatten_dim8`); else `Name_1`,
    // `Name_2`, ... in first-use order (model roots).
    const groups = new Map<string, ClassInfo[]>();
    for (const c of this.classOrder) groups.set(c.node.typeName, [...(groups.get(c.node.typeName) ?? []), c]);
    const names = new PyNamer(MODULE_RESERVED);
    for (const c of this.classOrder) {
      const group = groups.get(c.node.typeName)!;
      const suffixes =
        group.length > 1 && group.some((x) => !x.root)
          ? distinguishingSuffixes(
              group.map((x) => (x.root ? x.node.params : (bakedParams(x.members, x.params) ?? {}))),
            )
          : undefined;
      const i = group.indexOf(c);
      c.name = names.name(
        group.length === 1
          ? c.node.typeName
          : suffixes
            ? `${c.node.typeName}_${suffixes[i]}`
            : `${c.node.typeName}_${i + 1}`,
      );
    }
    const out: Lines = [
      '# Generated by nvcc build --target torch from the .nvc sources named in the origin comments.',
      '# Do not edit: change the .nvc program and rebuild.',
      `"""${docText(this.options.title)}`,
      '',
      'Parameters are in PyTorch layout under the parameter paths of the .nvc program; activations',
      'inside the modules are NHWC; a model takes and returns images in NCHW.',
      '"""',
      'from __future__ import annotations',
      '',
      'from typing import Dict, List, Tuple',
      '',
      'import torch',
      'import torch.nn.functional as F',
      'from torch import Tensor, nn',
      '',
      'try:',
      '    from . import nvcc_layers as nv',
      'except ImportError:  # model.py loaded as a top-level module, nvcc_layers.py beside it',
      '    import nvcc_layers as nv  # type: ignore[no-redef]',
    ];
    for (const c of this.classOrder) out.push('', '', ...this.generate(c).code.text);
    const models = entries.map((e) => {
      const c = this.classOf(e.model.root, true);
      const g = c.graph!;
      return {
        key: e.key,
        className: c.name,
        parameterCount: weightCount(e.model.root),
        inputs: g.inputs.map((i) => i.name),
        outputs: g.outputs.map((o) => o.name),
        noDecay: noDecayPaths(e.model.root),
      };
    });
    const dict = (f: (m: (typeof models)[number]) => string) =>
      models.length ? ['{', ...models.map((m) => `    ${pyValue(m.key)}: ${f(m)},`), '}'] : ['{}'];
    const list = (xs: readonly string[]) => `[${xs.map(pyValue).join(', ')}]`;
    const assign = (name: string, type: string, f: (m: (typeof models)[number]) => string): Lines => {
      const body = dict(f);
      return [`${name}: ${type} = ${body[0]}`, ...body.slice(1)];
    };
    out.push(
      '',
      '',
      '# The models of the program by the name the tfjs build knows them by (stage or model name).',
      ...assign('MODEL_CLASSES', 'Dict[str, type]', (m) => m.className),
      '# Forward inputs, in the order forward() takes them.',
      ...assign('MODEL_INPUTS', 'Dict[str, List[str]]', (m) => list(m.inputs)),
      '# Forward outputs, in the order forward() returns them.',
      ...assign('MODEL_OUTPUTS', 'Dict[str, List[str]]', (m) => list(m.outputs)),
      '# Parameters excluded from weight decay (biases, norms, GRN: the noDecay flags of the IR).',
      ...assign('MODEL_NO_DECAY', 'Dict[str, List[str]]', (m) => list(m.noDecay)),
      '',
      '',
      'def build_model(name: str) -> nn.Module:',
      '    """A freshly initialised model by its name (a key of MODEL_CLASSES)."""',
      '    if name not in MODEL_CLASSES:',
      "        known = ', '.join(sorted(MODEL_CLASSES))",
      "        raise KeyError(f'no model {name!r} in this build (known: {known})')",
      '    return MODEL_CLASSES[name]()',
    );
    return {
      text: `${out.join('\n')}\n`,
      models: models.map(({ noDecay: _n, ...m }) => m),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Construction

  private buildExpr(node: ModuleNode, indent: string): string {
    const origin = this.origin(node.span);
    switch (node.kind) {
      case 'primitive': {
        const lowering = torchRule(node.primitive ?? node.typeName);
        if (!lowering || !('layer' in lowering.lower))
          throw new TorchEmitError(`the torch target cannot build the layer \`${node.typeName}\``, origin);
        const inits: Record<string, InitSpec> = {};
        for (const w of node.weights) inits[w.name] = w.init;
        const layer = (params: Readonly<Record<string, unknown>>) =>
          (lowering.lower as { layer: (l: LayerLowering) => string }).layer({ params, inits, sparse: node.sparse });
        return this.probe(layer(node.params), node.params, node.argExprs, layer);
      }
      case 'function': {
        const name = node.primitive ?? primitiveNameOfOp(node.typeName) ?? node.typeName;
        const lowering = torchRule(name);
        if (!lowering || !('call' in lowering.lower))
          throw new TorchEmitError(`the torch target cannot use \`${node.typeName}\` as a layer`, origin);
        const call = lowering.lower.call;
        const fn = (attrs: Readonly<Record<string, unknown>>) =>
          `nv.Fn(${pyValue(node.typeName)}, lambda x, training: ${call({
            args: ['x'],
            attrs,
            training: 'training',
            outDims: () => {
              throw new TorchEmitError(`\`${node.typeName}\` needs a shape and cannot be a layer in a chain`, origin);
            },
          })})`;
        // Inside the lambda a parameter is read as `self.<name>` (its own `x` would hide it).
        const scope = this.scope;
        const where = scope?.where;
        if (scope) scope.where = 'self';
        try {
          return this.probe(fn(node.params), node.params, node.argExprs, fn);
        } finally {
          if (scope) scope.where = where!;
        }
      }
      case 'block': {
        const callee = this.classOf(node);
        const args = callee.params.map((k) => this.slot(node.argExprs?.get(k), node.params[k]));
        const expr = `${this.refName(callee)}(${args.join(', ')})`;
        return node.sparse && !hasSparseChild(node) ? `nv.mark_sparse(${expr})` : expr;
      }
      case 'list':
      case 'sequential': {
        if (node.children.length === 0) return 'nn.ModuleList()';
        const inner = `${indent}    `;
        const built = node.children.map((c) => this.buildExpr(c, inner));
        const count = node.repeat?.countExpr;
        const symbolic = node.kind === 'list' && count !== undefined && this.writable(count);
        if (
          node.children.every((c) => c.kind === 'block' && !c.sparse) &&
          built.every((b) => b === built[0]) &&
          (built.length > 1 || symbolic)
        ) {
          const length = symbolic ? this.slot(count, built.length) : String(built.length);
          return `nn.ModuleList([${built[0]} for _ in range(${length})])`;
        }
        const items = built.map((b) => `${inner}${b},`);
        return `nn.ModuleList([\n${items.join('\n')}\n${indent}])`;
      }
    }
  }

  /** The class's text, and its body without docstrings (what tells classes apart). */
  private classText(c: ClassInfo): { body: Lines; text: Lines } {
    const node = c.node;
    const scope = this.scope;
    // Block parameters are `__init__` arguments and attributes; members keep their names.
    const paramNames = new PyNamer([...MODULE_RESERVED, ...TORCH_MODULE_ATTRIBUTES, 'self', '_']);
    for (const w of node.weights) paramNames.claim(w.name);
    for (const b of node.buffers ?? []) paramNames.claim(b.name);
    for (const ch of node.children) paramNames.claim(keyOf(ch));
    if (scope) for (const [k, v] of node.args) if (v.kind !== 'layer') scope.idents.set(k, paramNames.name(k));
    const init: Lines = [];
    for (const w of node.weights) {
      init.push(`# ${commentText(this.origin(w.span))}`);
      const dims = w.shape.map((d, i) => this.slot(w.shapeExprs?.[i], d));
      const shape = `${dims.join(', ')}${dims.length === 1 ? ',' : ''}`;
      const grad = w.frozen ? ', requires_grad=False' : '';
      init.push(assign(w.name, `nn.Parameter(torch.empty(${shape})${grad})`));
      init.push(`nv.init_(${[attr('self', w.name), ...initArgs(w.init)].join(', ')})`);
    }
    for (const b of node.buffers ?? []) {
      init.push(`# ${commentText(this.origin(b.span))}`);
      const shape = `${b.shape.join(', ')}${b.shape.length === 1 ? ',' : ''}`;
      init.push(`self.register_buffer(${pyValue(b.name)}, torch.empty((${shape})))`);
      init.push(`nv.init_(${[attr('self', b.name), ...initArgs(b.init)].join(', ')})`);
    }
    for (const ch of node.children) {
      init.push(`# ${commentText(this.origin(ch.span))}`);
      init.push(assign(keyOf(ch), this.buildExpr(ch, '        ')));
    }
    const forward = c.graph ? this.forwardText(c) : undefined;
    const params = scope ? [...node.args.keys()].filter((k) => scope.used.has(k)) : [];
    const idents = params.map((k) => scope!.idents.get(k)!);
    const header = [
      `def __init__(self${params.map((k, i) => `, ${idents[i]}: ${pyParamType(node.args.get(k))}`).join('')}) -> None:`,
      '    super().__init__()',
      ...idents.map((id) => `    self.${id} = ${id}`),
      ...init.map((l) => (l ? `    ${l}` : '')),
    ];
    const declared = node.decl ? this.origin(node.decl.nameSpan) : undefined;
    const built = this.origin(node.span);
    const where = c.root
      ? declared === undefined || declared === built
        ? `at ${built}`
        : `declared at ${declared}, built at ${built}`
      : `declared at ${declared ?? built}`;
    const doc = [`${this.describeClass(c, params)}, ${where}.`];
    if (node.decl?.doc) doc.push('', ...node.decl.doc.split(/\r\n|[\r\n\u2028\u2029]/));
    const text: Lines = [
      `class ${this.refName(c)}(nn.Module):`,
      ...(doc.length === 1
        ? [`    """${docText(doc[0]!)}"""`]
        : [`    """${docText(doc[0]!)}`, ...doc.slice(1).map((d) => (d ? `    ${docText(d)}` : '')), '    """']),
      '',
      ...header.map((l) => (l ? `    ${l}` : '')),
    ];
    if (forward) text.push('', ...forward.lines.map((l) => (l ? `    ${l}` : '')));
    return { body: [...header, ...(forward?.body ?? [])], text };
  }

  /**
   * The class in words: a root as its model's parameters, a class taking parameters as its
   * declaration (`GRN(dim, eps, masked_pooling)`) followed by the values it is specialised for.
   */
  private describeClass(c: ClassInfo, taken: readonly string[] = c.params): string {
    if (c.root) return describeNode(c.node);
    const baked = bakedParams(c.members, taken);
    const values = baked ? Object.entries(baked).map(([k, v]) => `${k} = ${fmtParam(v)}`) : [];
    if (values.length && !taken.length) return `${c.node.typeName} with ${values.join(', ')}`;
    return `${c.node.typeName}(${taken.join(', ')})${values.length ? ` with ${values.join(', ')}` : ''}`;
  }

  // -------------------------------------------------------------------------------------------
  // Forward

  private forwardText(c: ClassInfo): { lines: Lines; body: Lines } {
    if (this.scope) this.scope.where = 'self';
    const g = c.graph!;
    const docShape = (v: GraphValue) =>
      `[${v.shape
        .map((d, i) => {
          const e = v.shapeExprs?.[i];
          return e && paramsOfExpr(e).every((p) => c.params.includes(p)) ? formatParamExpr(e) : d.toString();
        })
        .join(', ')}]`;
    const locals = new PyNamer(LOCAL_RESERVED, /^(v\d+|layer\d*)$/);
    const value = new Map<number, string>();
    const isConst = new Set<number>();
    const inputLocal = new Map<string, string>();
    for (const i of g.inputs) inputLocal.set(i.name, locals.name(i.name));
    const body: Lines = [];
    const params = g.inputs.map((i) => `${inputLocal.get(i.name)}: Tensor`);
    const doc: string[] = [`Forward pass of ${this.describeClass(c)} (${this.origin(g.span)}).`, ''];
    for (const i of g.inputs) {
      const boundary = c.root && i.shape.length === 4;
      doc.push(`${i.name}: ${docShape(i)}${boundary ? ' (given NCHW)' : ''}`);
      if (boundary) body.push(`${inputLocal.get(i.name)} = nv.nchw_to_nhwc(${inputLocal.get(i.name)})`);
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
            throw new TorchEmitError(
              `cannot bind the dimension \`${s}\` at run time: no input has an axis of exactly that size`,
              origin,
            );
          if (!symbolLocal.has(s)) {
            symbolLocal.set(s, locals.name(s));
            usedSymbols.push(s);
          }
          factors.push(symbolLocal.get(s)!);
        }
        const n = t.coef.num < 0n ? -t.coef.num : t.coef.num;
        let term = [...(n !== 1n || factors.length === 0 ? [String(n)] : []), ...factors].join(' * ');
        if (t.coef.den !== 1n) term = `${term} // ${t.coef.den}`;
        const neg = t.coef.num < 0n;
        parts.push(parts.length === 0 ? (neg ? `-${term}` : term) : neg ? `- ${term}` : `+ ${term}`);
      }
      return parts.length > 1 ? `(${parts.join(' ')})` : parts[0]!;
    };
    const opById = new Map(g.ops.map((o) => [o.id, o]));
    const statements: Lines = [];
    for (const op of g.ops) {
      const origin = this.origin(op.span);
      if (op.op === 'input') {
        const name = g.inputs.find((i) => i.id === op.id)?.name ?? op.target ?? '';
        value.set(op.id, inputLocal.get(name) ?? locals.name(name));
        continue;
      }
      if (op.op === 'param') {
        value.set(op.id, this.memberPath(c.node, op.target ?? '', origin));
        continue;
      }
      if (op.op === 'const') {
        value.set(op.id, this.slot(op.exprs?.value, op.attrs.value));
        isConst.add(op.id);
        continue;
      }
      const v = locals.claim(`v${op.id}`);
      statements.push(`# ${commentText(origin)}`);
      statements.push(...this.opLines(c, op, v, value, isConst, opById, (d) => dim(d, origin), origin, locals));
      value.set(op.id, v);
    }
    const bindings = usedSymbols.map((s) => `${symbolLocal.get(s)} = ${symbolSource.get(s)}`);
    const ret = (id: number, shape: Shape): string => {
      const v = value.get(id);
      if (v === undefined) throw new Error(`internal: output %${id} has no value`);
      const t = isConst.has(id) ? `torch.tensor(${v})` : v;
      return c.root && shape.length === 4 ? `nv.nhwc_to_nchw(${t})` : t;
    };
    for (const o of g.outputs)
      doc.push(
        `returns ${g.outputs.length > 1 || c.root ? `${o.name}: ` : ''}${docShape(o)}` +
          `${c.root && o.shape.length === 4 ? ' (NCHW)' : ''}`,
      );
    let returnType: string;
    if (g.outputs.length === 1) {
      returnType = 'Tensor';
      statements.push(`return ${ret(g.outputs[0]!.id, g.outputs[0]!.shape)}`);
    } else {
      returnType = `Tuple[${g.outputs.map(() => 'Tensor').join(', ')}]`;
      statements.push(`return (${g.outputs.map((o) => ret(o.id, o.shape)).join(', ')})`);
    }
    const signature = `def forward(self${params.length ? ', ' : ''}${params.join(', ')}) -> ${returnType}:`;
    const code = [
      ...body.map((l) => `    ${l}`),
      ...(c.node.unmasked
        ? [
            '    # unmasked: this block and everything it calls run without the patch mask',
            '    with nv.mask_context(None):',
            ...[...bindings, ...statements].map((l) => (l ? `        ${l}` : '')),
          ]
        : [...bindings, ...statements].map((l) => `    ${l}`)),
    ];
    return {
      lines: [
        signature,
        `    """${docText(doc[0]!)}`,
        ...doc.slice(1).map((d) => (d ? `    ${docText(d)}` : '')),
        '    """',
        ...code,
      ],
      body: [signature, ...code],
    };
  }

  /** The statements computing op `op` into the local `v`. */
  private opLines(
    c: ClassInfo,
    op: Op,
    v: string,
    value: ReadonlyMap<number, string>,
    isConst: ReadonlySet<number>,
    opById: ReadonlyMap<number, Op>,
    dim: (d: Dim) => string,
    origin: string,
    locals: PyNamer,
  ): Lines {
    const args = op.inputs.map((id) => {
      const a = value.get(id);
      if (a === undefined) throw new Error(`internal: %${id} used before definition in ${c.node.typeName}`);
      return a;
    });
    if (op.op === 'output') {
      const producer = opById.get(op.inputs[0]!);
      const names = (producer?.attrs.outputs as string[] | undefined) ?? [];
      const index = names.indexOf(String(op.attrs.name));
      if (index < 0) throw new TorchEmitError(`no output \`${String(op.attrs.name)}\``, origin);
      return [`${v} = ${args[0]}[${index}]`];
    }
    if (op.op === 'call') {
      const target = this.findNode(c.node, op.target ?? '');
      if (!target) throw new TorchEmitError(`cannot resolve the layer \`${op.target}\``, origin);
      const self = this.memberPath(c.node, op.target ?? '', origin);
      if (target.kind === 'block') return [`${v} = ${this.blockCall(target, self, op, args, origin, false)}`];
      if (target.kind === 'list' || target.kind === 'sequential') {
        const lines: Lines = [`${v} = ${args[0]}`];
        lines.push(...this.chain(target, self, op, args.slice(1), v, 0, origin, locals));
        return lines;
      }
      return [`${v} = ${self}(${args.join(', ')})`];
    }
    if (op.target !== undefined) return [`${v} = ${this.memberPath(c.node, op.target, origin)}(${args.join(', ')})`];
    const name = primitiveNameOfOp(op.op);
    const lowering = name ? torchRule(name) : undefined;
    if (!lowering || !('call' in lowering.lower))
      throw new TorchEmitError(`the torch target cannot lower the operation \`${op.op}\``, origin);
    const allConst = op.inputs.every((id) => isConst.has(id));
    const pyArgs = args.map((a, i) =>
      isConst.has(op.inputs[i]!) && (!BINARY.has(op.op) || (allConst && i === 0)) ? `torch.tensor(${a})` : a,
    );
    const lower = lowering.lower.call;
    const call = (attrs: Readonly<Record<string, unknown>>) =>
      lower({ args: pyArgs, attrs, training: 'self.training', outDims: () => op.shape.map(dim) });
    return [`${v} = ${this.probe(call(op.attrs), op.attrs, op.exprs, call)}`];
  }

  /** A call of a block child: positional inputs in the callee's declared order. */
  private blockCall(
    target: ModuleNode,
    self: string,
    op: Op,
    args: readonly string[],
    origin: string,
    chained: boolean,
  ): string {
    const callee = this.classOf(target);
    const g = callee.graph;
    if (!g) throw new TorchEmitError(`\`${target.typeName}\` has no forward`, origin);
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
        throw new TorchEmitError(`no value for the input \`${i.name}\` of \`${target.typeName}\``, origin);
      return a;
    });
    if (chained && g.outputs.length > 1)
      throw new TorchEmitError(
        `\`${target.typeName}\` has several named outputs and cannot sit in a layer chain`,
        origin,
      );
    return `${self}(${ordered.join(', ')})`;
  }

  /** How a list item is applied; lists whose items all share it are applied in a loop. */
  private callShape(node: ModuleNode): string {
    if (node.kind === 'block') return `block:${this.classOf(node).id}`;
    if (node.kind === 'list' || node.kind === 'sequential')
      return `list[${node.children.map((c) => this.callShape(c)).join(',')}]`;
    return 'leaf';
  }

  /**
   * Applying a list / sequential to the running value `cur` (updated in place): each item in
   * order; blocks and nested lists also receive the call's other inputs (by name), primitives
   * only the running value (the tfjs emitter's rule).
   */
  private chain(
    node: ModuleNode,
    self: string,
    op: Op,
    extraArgs: readonly string[],
    cur: string,
    depth: number,
    origin: string,
    locals: PyNamer,
  ): Lines {
    const extraPorts = op.ports ? op.ports.slice(1) : undefined;
    const item = (child: ModuleNode, itemExpr: string): Lines => {
      if (child.kind === 'block') {
        const callOp: Op = {
          ...op,
          inputs: [-1, ...op.inputs.slice(1)],
          ...(op.ports ? { ports: ['#0', ...(extraPorts ?? [])] } : {}),
        };
        return [`${cur} = ${this.blockCall(child, itemExpr, callOp, [cur, ...extraArgs], origin, true)}`];
      }
      if (child.kind === 'list' || child.kind === 'sequential')
        return this.chain(child, itemExpr, op, extraArgs, cur, depth + 1, origin, locals);
      return [`${cur} = ${itemExpr}(${cur})`];
    };
    if (node.children.length === 0) return [];
    const shapes = node.children.map((ch) => this.callShape(ch));
    // A loop holds for any length: long lists, and repeats whose count came from a block's
    // parameters (their class may build them with that count).
    if ((node.children.length > 2 || node.repeat?.countExpr !== undefined) && shapes.every((s) => s === shapes[0])) {
      const loopVar = locals.claim(depth === 0 ? 'layer' : `layer${depth}`);
      return [`for ${loopVar} in ${self}:`, ...item(node.children[0]!, loopVar).map((l) => `    ${l}`)];
    }
    return node.children.flatMap((ch, i) => item(ch, `${self}[${i}]`));
  }

  /** `self.a.b[0]` for a dotted path of children (and a final weight name). */
  private memberPath(root: ModuleNode, path: string, origin: string): string {
    let expr = 'self';
    let node: ModuleNode | undefined = root;
    for (const part of path.split('.').filter((p) => p.length > 0)) {
      if (!node) throw new TorchEmitError(`cannot resolve \`${path}\``, origin);
      if (node.kind === 'list' || node.kind === 'sequential') {
        expr += `[${Number(part)}]`;
        node = node.children[Number(part)];
        continue;
      }
      expr = attr(expr, part);
      node = node.children.find((ch) => keyOf(ch) === part);
    }
    return expr;
  }

  private findNode(root: ModuleNode, path: string): ModuleNode | undefined {
    let node: ModuleNode | undefined = root;
    for (const part of path.split('.').filter((p) => p.length > 0))
      node = node?.children.find((ch) => keyOf(ch) === part);
    return node;
  }
}

function hasSparseChild(node: ModuleNode): boolean {
  return node.children.some((c) => c.sparse || hasSparseChild(c));
}

/** Parameter paths flagged noDecay, in tree order. */
function noDecayPaths(node: ModuleNode, out: string[] = []): string[] {
  for (const w of node.weights) if (w.noDecay) out.push(node.path ? `${node.path}.${w.name}` : w.name);
  for (const c of node.children) noDecayPaths(c, out);
  return out;
}

/** Emits `model.py` for the given models. */
export function emitTorchModels(entries: readonly TorchModelEntry[], options: TorchEmitOptions): TorchModelCode {
  return new TorchModelEmitter(options).emit(entries);
}
