/**
 * What the torch target refuses beyond the records' own rules: `nvcc check --target torch` and
 * `nvcc build --target torch` (after the elaborator has run every record's `targets.torch`
 * support predicate, which reports NVC4020 at the argument, e.g. `Conv2d` with groups = 2).
 * In: a checked ProgramIR. Out: NVC5101 diagnostics, one per place (layer, weight, op) the torch
 * target cannot express, in source order. Reads the IR only. Holds afterwards: a program with
 * no such diagnostic (and no NVC4020) emits (emitTorchModels) without a refusal, so no
 * unsupported construct reaches Python.
 *
 * Refused here: a child or weight whose name is an attribute of torch.nn.Module (`training`,
 * `forward`, ...) or starts with `_`, since it could not be registered under its parameter path;
 * a weight initializer nvcc_layers does not know; a primitive whose record has no torch rule.
 */
import { type CatalogueMessage, message, messageText, reportMessage } from '../../../dsl/diagnostics/catalogue.js';
import { semanticCatalogue } from '../../../dsl/diagnostics/catalogue-semantic.js';
import type { Diagnostic } from '../../../dsl/diagnostics/diagnostic.js';
import type { Span } from '../../../dsl/span.js';
import type { ModelIR, ModuleNode, ProgramIR } from '../../ir/ir.js';
import { supportsInit } from '../../primitives/torch.js';
import { primitiveNameOfOp, torchMemberNameOk, torchRule } from './model.js';

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
  const checkUse = (primitive: string, span: Span) => {
    if (!torchRule(primitive)) refuse(span, message(semanticCatalogue.TorchNoLowering, { primitive }));
  };
  const visit = (node: ModuleNode): void => {
    if (node.kind === 'primitive' || node.kind === 'function')
      checkUse(node.primitive ?? primitiveNameOfOp(node.typeName) ?? node.typeName, node.span);
    for (const w of [...node.weights, ...(node.buffers ?? [])]) {
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
        if (name && op.target === undefined) checkUse(name, op.span);
      }
  }
  return out.sort((a, b) =>
    a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : a.span.start - b.span.start,
  );
}
