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
import { type CatalogueMessage, message, messageText, reportMessage } from '../../../dsl/diagnostics/catalogue.js';
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
  const refuse = (span: Span, msg: CatalogueMessage) => {
    const key = `${span.file}:${span.start}:${span.end}:${messageText(msg)}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(reportMessage(msg, span));
  };
  const checkUse = (primitive: string, params: Readonly<Record<string, unknown>>, span: Span) => {
    const lowering = TORCH_LOWERING[primitive];
    if (!lowering) refuse(span, message(semanticCatalogue.TorchNoLowering, { primitive }));
    else if (!lowering.supports(params) && lowering.refusal) refuse(span, lowering.refusal(params));
    else if (!lowering.supports(params)) refuse(span, message(semanticCatalogue.TorchNoLowering, { primitive }));
  };
  const visit = (node: ModuleNode): void => {
    if (node.kind === 'primitive' || node.kind === 'function')
      checkUse(node.primitive ?? primitiveNameOfOp(node.typeName) ?? node.typeName, node.params, node.span);
    for (const w of node.weights) {
      if (node.kind === 'block' && !torchMemberNameOk(w.name))
        refuse(w.span, message(semanticCatalogue.TorchReservedWeightName, { name: w.name, owner: node.typeName }));
      if (!supportsInit(w.init))
        refuse(w.span, message(semanticCatalogue.TorchUnknownInitializer, { init: w.init.kind, name: w.name }));
    }
    for (const c of node.children) {
      const key = c.path.slice(c.path.lastIndexOf('.') + 1);
      if (node.kind === 'block' && !torchMemberNameOk(key))
        refuse(c.span, message(semanticCatalogue.TorchReservedLayerName, { name: key, owner: node.typeName }));
      visit(c);
    }
  };
  for (const m of programModels(program)) {
    visit(m.root);
    for (const g of m.graphs.values())
      for (const op of g.ops) {
        const name = primitiveNameOfOp(op.op);
        if (name && op.target === undefined) checkUse(name, op.attrs, op.span);
      }
  }
  return out.sort((a, b) =>
    a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : a.span.start - b.span.start,
  );
}
