/**
 * What the torch target refuses: `nvcc check --target torch` and `nvcc build --target torch`.
 * In: a checked ProgramIR. Out: NVC5101 diagnostics, one per place (layer, weight or op) the
 * torch target cannot express with the tfjs engine's semantics, in source order. Reads the IR
 * only. Holds afterwards: a program with no such diagnostic emits (emitTorchModels) without a
 * refusal, so no unsupported construct reaches Python.
 *
 * Refused: a primitive whose lowering's `supports(params)` is false (lowering.ts); a child or
 * weight whose name is an attribute of torch.nn.Module (`training`, `forward`, ...) or starts
 * with `_`, since it could not be registered under its parameter path; a weight initializer
 * nvcc_layers does not know.
 */
import { report } from '../../../dsl/diagnostics/catalogue.js';
import { semanticCatalogue } from '../../../dsl/diagnostics/catalogue-semantic.js';
import type { Diagnostic } from '../../../dsl/diagnostics/diagnostic.js';
import type { Span } from '../../../dsl/span.js';
import type { ModelIR, ModuleNode, ProgramIR } from '../../ir/ir.js';
import { supportsInit, TORCH_LOWERING } from './lowering.js';
import { primitiveNameOfOp, torchMemberNameOk } from './model.js';

/** Every model a build emits: the stage models, then the top-level models. */
export function programModels(program: ProgramIR): ModelIR[] {
  return [...program.trains.flatMap((t) => t.stages.map((s) => s.model)), ...program.models];
}

export function torchSupportProblems(program: ProgramIR): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const refuse = (span: Span, detail: string, fix: string) => {
    const key = `${span.file}:${span.start}:${span.end}:${detail}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(report(semanticCatalogue.TargetUnsupported, span, { target: 'torch', detail, fix }));
  };
  const visit = (node: ModuleNode): void => {
    if (node.kind === 'primitive') {
      const lowering = TORCH_LOWERING[node.primitive ?? node.typeName];
      if (!lowering)
        refuse(node.span, `the torch target has no lowering of \`${node.typeName}\``, 'use the tfjs target');
      else if (!lowering.supports(node.params)) {
        const why = lowering.refusal?.(node.params);
        refuse(node.span, why?.detail ?? `unsupported \`${node.typeName}\``, why?.fix ?? 'use the tfjs target');
      }
    }
    for (const w of node.weights) {
      if (node.kind === 'block' && !torchMemberNameOk(w.name))
        refuse(
          node.span,
          `the weight \`${w.name}\` of \`${node.typeName}\` would shadow torch.nn.Module's own \`${w.name}\``,
          `rename the weight \`${w.name}\``,
        );
      if (!supportsInit(w.init))
        refuse(
          node.span,
          `the initializer \`${w.init.kind}\` of \`${w.name}\` is unknown to the torch target`,
          'use another initializer',
        );
    }
    for (const c of node.children) {
      const key = c.path.slice(c.path.lastIndexOf('.') + 1);
      if (node.kind === 'block' && !torchMemberNameOk(key))
        refuse(
          c.span,
          `the layer \`${key}\` of \`${node.typeName}\` would shadow torch.nn.Module's own \`${key}\``,
          `rename the layer \`${key}\`; parameter paths become state_dict keys`,
        );
      visit(c);
    }
  };
  for (const m of programModels(program)) {
    visit(m.root);
    for (const g of m.graphs.values())
      for (const op of g.ops) {
        const name = primitiveNameOfOp(op.op);
        if (!name || op.target !== undefined) continue;
        const lowering = TORCH_LOWERING[name];
        if (!lowering) refuse(op.span, `the torch target has no lowering of \`${name}\``, 'use the tfjs target');
        else if (!lowering.supports(op.attrs)) {
          const why = lowering.refusal?.(op.attrs);
          refuse(op.span, why?.detail ?? `unsupported \`${name}\``, why?.fix ?? 'use the tfjs target');
        }
      }
  }
  return out.sort((a, b) =>
    a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : a.span.start - b.span.start,
  );
}
