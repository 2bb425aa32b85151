/**
 * The stable text form of the IR (golden tests, `nvcc build --emit ir`).
 * In: a ModelIR and the source files (for line:column of origin spans). Out: text. Holds
 * afterwards: the output depends only on the IR (no addresses, no timestamps, no Map order
 * other than declaration order), so it is byte-identical across runs. A value that came from
 * the block's parameters is followed by `<- expression` (its provenance).
 *
 *   model ConvNeXtV2Block
 *   modules:
 *     <root> ConvNeXtV2Block(dim = 40, drop_path_rate = 0.0)  ; test/x.nvc:3:7 declared std/convnextv2.nvc:20:7
 *       doc "ConvNeXt-V2 block: ..."
 *       dwconv DepthwiseConv2d(dim = 40 <- dim, kernel = 7, ...) sparse primitive DepthwiseConv2d  ; std/...:22:14
 *         weight weight [7, 7, 40, 1] trunc_normal(std = 0.02)  ; std/convnextv2.nvc:22:14
 *       grn GRN(dim = 160 <- 4 * dim, ...)
 *         weight gamma [160] <- [dim] zeros no_decay  ; std/convnextv2.nvc:14:3
 *   graph ConvNeXtV2Block#1 (dim = 40, ...)
 *     %0 = input[x] : [B, H, W, 40] <- [B, H, W, dim]         ; std/convnextv2.nvc:30:11
 *     %1 = depthwise_conv2d[dwconv](%0) {kernel = 7} : [B, H, W, 40]   ; ...
 *     return %12
 */
import type { SourceFile, Span } from '../../dsl/span.js';
import type { ForwardGraph, ModelIR, ModuleNode, Op, ParamExpr } from './ir.js';
import { formatParamExpr } from './param-expr.js';
import { type Dim, formatShape } from '../symbolic.js';

function fmtJson(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(fmtJson).join(', ')}]`;
  if (v && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${k} = ${fmtJson(x)}`)
      .join(', ')}}`;
  return String(v);
}

/** `k = v`, and `k = v <- expr` where the value came from the block's parameters. */
function fmtParams(p: Readonly<Record<string, unknown>>, exprs?: (k: string) => ParamExpr | undefined): string {
  return Object.entries(p)
    .map(([k, v]) => {
      const e = exprs?.(k);
      return `${k} = ${fmtJson(v)}${e ? ` <- ${formatParamExpr(e)}` : ''}`;
    })
    .join(', ');
}

/** ` <- [B, H, W, dim]`: a shape with the axes that came from the block's parameters. */
function fromShape(shape: readonly (Dim | number)[], exprs: readonly (ParamExpr | null)[] | undefined): string {
  if (!exprs) return '';
  return ` <- [${shape.map((d, i) => (exprs[i] ? formatParamExpr(exprs[i]!) : String(d))).join(', ')}]`;
}

export function formatSpan(span: Span, files: ReadonlyMap<string, SourceFile>): string {
  const f = files.get(span.file);
  if (!f) return span.file;
  const lc = f.lineCol(span.start);
  return `${span.file}:${lc.line}:${lc.column}`;
}

function printModules(node: ModuleNode, indent: string, out: string[], files: ReadonlyMap<string, SourceFile>): void {
  const name = node.path === '' ? '<root>' : node.path.slice(node.path.lastIndexOf('.') + 1);
  const flags = [
    node.sparse ? 'sparse' : '',
    node.unmasked ? 'unmasked' : '',
    node.repeat
      ? `repeat ${node.repeat.count}` +
        `${node.repeat.countExpr ? ` <- ${formatParamExpr(node.repeat.countExpr)}` : ''}` +
        `${node.repeat.index ? ` as ${node.repeat.index}` : ''}`
      : '',
    node.primitive !== undefined ? `primitive ${node.primitive}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const params = Object.keys(node.params).length ? `(${fmtParams(node.params, (k) => node.argExprs?.get(k))})` : '';
  const declared = node.decl ? ` declared ${formatSpan(node.decl.nameSpan, files)}` : '';
  out.push(
    `${indent}${name} ${node.typeName}${params}${flags ? ' ' + flags : ''}  ; ` +
      `${formatSpan(node.span, files)}${declared}`,
  );
  if (node.decl?.doc !== undefined) out.push(`${indent}  doc ${JSON.stringify(node.decl.doc)}`);
  for (const w of node.weights) {
    const init = `${w.init.kind}${Object.keys(w.init.args).length ? `(${fmtParams(w.init.args)})` : ''}`;
    const flags = `${w.frozen ? ' frozen' : ''}${w.noDecay ? ' no_decay' : ''}`;
    out.push(
      `${indent}  weight ${w.name} [${w.shape.join(', ')}]${fromShape(w.shape, w.shapeExprs)} ${init}${flags}  ; ` +
        formatSpan(w.span, files),
    );
  }
  for (const b of node.buffers ?? []) {
    const init = `${b.init.kind}${Object.keys(b.init.args).length ? `(${fmtParams(b.init.args)})` : ''}`;
    const dtype = b.dtype === 'float32' ? '' : ` ${b.dtype}`;
    out.push(`${indent}  buffer ${b.name} [${b.shape.join(', ')}] ${init}${dtype}  ; ${formatSpan(b.span, files)}`);
  }
  for (const c of node.children) printModules(c, indent + '  ', out, files);
}

function printOp(op: Op, g: ForwardGraph, files: ReadonlyMap<string, SourceFile>): string {
  const target = op.target !== undefined ? `[${op.target}]` : '';
  const args = op.inputs.map((id, i) => (op.ports ? `${op.ports[i]}: %${id}` : `%${id}`)).join(', ');
  const attrs = Object.keys(op.attrs).length ? ` {${fmtParams(op.attrs, (k) => op.exprs?.[k])}}` : '';
  const call =
    op.op === 'input' || op.op === 'param' || op.op === 'const' ? `${op.op}${target}` : `${op.op}${target}(${args})`;
  const macs = op.macs.isConstant() && op.macs.asInt() === 0 ? '' : ` macs ${op.macs}`;
  return (
    `  %${op.id} = ${call}${attrs} : ${formatShape(op.shape)}${op.op === 'input' ? inputFrom(op, g) : ''}` +
    `${op.sparse ? ' sparse' : ''}${macs}  ; ` +
    `${formatSpan(op.span, files)}`
  );
}

function inputFrom(op: Op, g: ForwardGraph): string {
  const input = g.inputs.find((i) => i.id === op.id);
  return input ? fromShape(input.shape, input.shapeExprs) : '';
}

export function printGraph(g: ForwardGraph, index: number, files: ReadonlyMap<string, SourceFile>): string {
  const out: string[] = [];
  out.push(`graph ${g.block}#${index} ${g.key.slice(g.key.indexOf(':') + 1)}`);
  for (const op of g.ops) out.push(printOp(op, g, files));
  out.push(
    `  return ` +
      `${g.outputs
        .map(
          (o) =>
            `${g.outputs.length > 1 || o.name !== 'ou' + 't' ? `${o.name}: %${o.id}` : `%${o.id}`}` +
            fromShape(o.shape, o.shapeExprs),
        )
        .join(', ')}`,
  );
  return out.join('\n');
}

export function printModelIR(m: ModelIR, files: ReadonlyMap<string, SourceFile>): string {
  const out: string[] = [`model ${m.name}`, 'modules:'];
  printModules(m.root, '  ', out, files);
  let i = 0;
  for (const g of m.graphs.values()) out.push(printGraph(g, i++, files));
  return out.join('\n') + '\n';
}
