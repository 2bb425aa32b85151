/**
 * The PyTorch model emitter: ProgramIR module trees and forward graphs to `model.py`.
 * In: the models to build (stage models and top-level models, each with the key `build_model`
 * knows it by) and an origin function (`file:line:col` of a span). Reads the IR only.
 * Out: the text of `model.py` and, per model, its root class name and parameter count.
 * Holds afterwards:
 *  - one `nn.Module` class per distinct block instantiation (structural key: type, params,
 *    weights, sparse flags, children) and per model root; weights become `nn.Parameter`s and
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
import type { ForwardGraph, ModelIR, ModuleNode, Op } from '../../ir/ir.js';
import { formatShape, type Dim, type Shape } from '../../symbolic.js';
import { PRIMITIVES } from '../../primitives/index.js';
import { type InitSpec, pyValue, type TorchLowering } from '../../primitives/torch.js';

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
  readonly node: ModuleNode;
  readonly root: boolean;
  readonly graph?: ForwardGraph;
}

type Lines = string[];

export class TorchModelEmitter {
  private readonly classes = new Map<string, ClassInfo>();
  private readonly classOrder: ClassInfo[] = [];
  private readonly sigs = new WeakMap<ModuleNode, string>();
  private readonly graphs = new Map<string, ForwardGraph>();

  constructor(private readonly options: TorchEmitOptions) {}

  private origin(span: Span): string {
    return this.options.origin(span);
  }

  private sig(node: ModuleNode): string {
    let s = this.sigs.get(node);
    if (s === undefined) {
      const text = JSON.stringify([
        node.kind,
        node.typeName,
        node.runtime ?? null,
        node.forwardKey ?? null,
        node.params,
        node.weights,
        node.sparse,
        node.unmasked ?? false,
        node.children.map((c) => [keyOf(c), this.sig(c)]),
      ]);
      s = createHash('sha256').update(text).digest('hex');
      this.sigs.set(node, s);
    }
    return s;
  }

  private classFor(node: ModuleNode, root: boolean): void {
    const key = `${this.sig(node)}${root ? ':root' : ''}`;
    if (this.classes.has(key)) return;
    this.visitChildren(node);
    const graph = node.forwardKey ? this.graphs.get(node.forwardKey) : undefined;
    const info: ClassInfo = { name: '', node, root, ...(graph ? { graph } : {}) };
    this.classes.set(key, info);
    this.classOrder.push(info);
  }

  private visitChildren(node: ModuleNode): void {
    for (const c of node.children) {
      if (c.kind === 'block') this.classFor(c, false);
      else if (c.kind === 'list' || c.kind === 'sequential') this.visitChildren(c);
    }
  }

  private classOf(node: ModuleNode, root = false): ClassInfo {
    const info = this.classes.get(`${this.sig(node)}${root ? ':root' : ''}`);
    if (!info) throw new Error(`internal: no class for ${node.typeName} at '${node.path}'`);
    return info;
  }

  emit(entries: readonly TorchModelEntry[]): TorchModelCode {
    for (const e of entries) {
      for (const [k, g] of e.model.graphs) if (!this.graphs.has(k)) this.graphs.set(k, g);
      if (e.model.root.kind !== 'block')
        throw new TorchEmitError(
          `model \`${e.model.name}\` is a ${e.model.root.kind}, not a block or model`,
          this.origin(e.model.root.span),
        );
      this.classFor(e.model.root, true);
    }
    // Names: the block name when it has one class, else `Name_1`, `Name_2`, ... in first-use order.
    const total = new Map<string, number>();
    for (const c of this.classOrder) total.set(c.node.typeName, (total.get(c.node.typeName) ?? 0) + 1);
    const seen = new Map<string, number>();
    const names = new PyNamer(MODULE_RESERVED);
    for (const c of this.classOrder) {
      const n = (seen.get(c.node.typeName) ?? 0) + 1;
      seen.set(c.node.typeName, n);
      c.name = names.name(total.get(c.node.typeName) === 1 ? c.node.typeName : `${c.node.typeName}_${n}`);
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
    for (const c of this.classOrder) out.push('', '', ...this.classText(c));
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
        return lowering.lower.layer({ params: node.params, inits, sparse: node.sparse });
      }
      case 'function': {
        const name = node.primitive ?? primitiveNameOfOp(node.typeName) ?? node.typeName;
        const lowering = torchRule(name);
        if (!lowering || !('call' in lowering.lower))
          throw new TorchEmitError(`the torch target cannot use \`${node.typeName}\` as a layer`, origin);
        const expr = lowering.lower.call({
          args: ['x'],
          attrs: node.params,
          training: 'training',
          outDims: () => {
            throw new TorchEmitError(`\`${node.typeName}\` needs a shape and cannot be a layer in a chain`, origin);
          },
        });
        return `nv.Fn(${pyValue(node.typeName)}, lambda x, training: ${expr})`;
      }
      case 'block': {
        const expr = `${this.classOf(node).name}()`;
        return node.sparse && !hasSparseChild(node) ? `nv.mark_sparse(${expr})` : expr;
      }
      case 'list':
      case 'sequential': {
        if (node.children.length > 1 && node.children.every((c) => c.kind === 'block' && !c.sparse)) {
          const first = this.classOf(node.children[0]!).name;
          if (node.children.every((c) => this.classOf(c).name === first))
            return `nn.ModuleList([${first}() for _ in range(${node.children.length})])`;
        }
        if (node.children.length === 0) return 'nn.ModuleList()';
        const inner = `${indent}    `;
        const items = node.children.map((c) => `${inner}${this.buildExpr(c, inner)},`);
        return `nn.ModuleList([\n${items.join('\n')}\n${indent}])`;
      }
    }
  }

  private classText(c: ClassInfo): Lines {
    const node = c.node;
    const init: Lines = ['super().__init__()'];
    for (const w of node.weights) {
      init.push(`# ${commentText(this.origin(w.span))}`);
      const shape = `${w.shape.join(', ')}${w.shape.length === 1 ? ',' : ''}`;
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
    const declared = node.decl ? this.origin(node.decl.nameSpan) : undefined;
    const built = this.origin(node.span);
    const where =
      declared === undefined || declared === built ? `at ${built}` : `declared at ${declared}, built at ${built}`;
    const doc = [`${describeNode(node)}, ${where}.`];
    if (node.decl?.doc) doc.push('', ...node.decl.doc.split(/\r\n|[\r\n\u2028\u2029]/));
    const lines: Lines = [
      `class ${c.name}(nn.Module):`,
      ...(doc.length === 1
        ? [`    """${docText(doc[0]!)}"""`]
        : [`    """${docText(doc[0]!)}`, ...doc.slice(1).map((d) => (d ? `    ${docText(d)}` : '')), '    """']),
      '',
      '    def __init__(self) -> None:',
      ...init.map((l) => (l ? `        ${l}` : '')),
    ];
    if (c.graph) lines.push('', ...this.forwardText(c).map((l) => (l ? `    ${l}` : '')));
    return lines;
  }

  // -------------------------------------------------------------------------------------------
  // Forward

  private forwardText(c: ClassInfo): Lines {
    const g = c.graph!;
    const locals = new PyNamer(LOCAL_RESERVED, /^(v\d+|layer\d*)$/);
    const value = new Map<number, string>();
    const isConst = new Set<number>();
    const inputLocal = new Map<string, string>();
    for (const i of g.inputs) inputLocal.set(i.name, locals.name(i.name));
    const body: Lines = [];
    const params = g.inputs.map((i) => `${inputLocal.get(i.name)}: Tensor`);
    const doc: string[] = [`Forward pass of ${describeNode(c.node)} (${this.origin(g.span)}).`, ''];
    for (const i of g.inputs) {
      const boundary = c.root && i.shape.length === 4;
      doc.push(`${i.name}: ${formatShape(i.shape)}${boundary ? ' (given NCHW)' : ''}`);
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
        value.set(op.id, pyValue(op.attrs.value));
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
        `returns ${g.outputs.length > 1 || c.root ? `${o.name}: ` : ''}${formatShape(o.shape)}` +
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
    return [
      `def forward(self${params.length ? ', ' : ''}${params.join(', ')}) -> ${returnType}:`,
      `    """${docText(doc[0]!)}`,
      ...doc.slice(1).map((d) => (d ? `    ${docText(d)}` : '')),
      '    """',
      ...body.map((l) => `    ${l}`),
      ...(c.node.unmasked
        ? [
            '    # unmasked: this block and everything it calls run without the patch mask',
            '    with nv.mask_context(None):',
            ...[...bindings, ...statements].map((l) => (l ? `        ${l}` : '')),
          ]
        : [...bindings, ...statements].map((l) => `    ${l}`)),
    ];
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
    const expr = lowering.lower.call({
      args: pyArgs,
      attrs: op.attrs,
      training: 'self.training',
      outDims: () => op.shape.map(dim),
    });
    return [`${v} = ${expr}`];
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
    if (node.kind === 'block') return `block:${this.classOf(node).name}`;
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
    if (node.children.length > 2 && shapes.every((s) => s === shapes[0])) {
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
