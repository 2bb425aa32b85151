/**
 * CST to AST.
 * In: the CST from parser.ts (possibly with recovered, partial nodes), the SourceFile and its
 * doc comments. Out: an ast.ts Module and the structural syntax diagnostics only visible here
 * (stray tokens, misplaced members, keywords as names, missing separators, duplicate or
 * missing `forward`). Holds afterwards: every node promised by ast.ts is present; what the
 * parser could not read is a `Missing` expression or an Ident with an empty name; every span
 * lies inside the file (all offsets go through positions.ts).
 */
import { tokenMatcher, type CstElement, type CstNode, type IToken } from 'chevrotain';
import type * as A from './ast.js';
import type * as C from './cst-types.js';
import type { Diagnostic } from './diagnostics/diagnostic.js';
import { report, syntaxCatalogue } from './diagnostics/catalogue.js';
import { decodeStringToken } from './lexer.js';
import { chevrotainSpan, exclusiveEnd, isRealToken, tokenSpan } from './positions.js';
import { joinSpans, type SourceFile, type Span } from './span.js';
import * as T from './tokens.js';

type Children = Record<string, CstElement[] | undefined>;

// Typed access to the CST: children are looked up by keys of the node types generated from the
// grammar (cst-types.d.ts), so a rule or token renamed in parser.ts without updating this file
// fails `tsc` instead of reading `undefined` at run time.

/** Keys of a children record that hold tokens. */
type TokenKey<Ch> = { [K in keyof Ch]-?: NonNullable<Ch[K]> extends IToken[] ? K : never }[keyof Ch];
/** Keys of a children record that hold sub-rule nodes. */
type NodeKey<Ch> = { [K in keyof Ch]-?: NonNullable<Ch[K]> extends IToken[] ? never : K }[keyof Ch];
/** The node type stored under one key. */
type NodeAt<Ch, K extends keyof Ch> = NonNullable<Ch[K]> extends readonly (infer N)[] ? N : never;
/** Every sub-rule node type that can appear among a node's children. */
type ChildNode<N> = N extends { children: infer Ch } ? { [K in NodeKey<Ch>]: NodeAt<Ch, K> }[NodeKey<Ch>] : never;

/** The nodes an expression can be read from. */
type ExprNode = C.ExpressionCstNode | C.CondExprCstNode | C.PrefixExprCstNode | C.PostfixExprCstNode;
/** A flat `prefix (op prefix)*` sequence: an `expression`, a `condExpr`, or one prefix operand. */
type FlatChildren = Pick<C.ExpressionCstChildren, 'prefixExpr' | 'BinaryOperator' | 'Kw_then'>;

/** The NVC1016 entries: one per place a construct can be misplaced, each with its own fix. */
type MisplacedEntry = (typeof syntaxCatalogue)[
  | 'MisplacedOutsideBlock'
  | 'MisplacedStatementAtTop'
  | 'MisplacedStageAtTop'
  | 'MisplacedRemove'
  | 'MisplacedStatementInBlock'
  | 'MisplacedInForward'
  | 'MisplacedStage'];

function isToken(e: CstElement): e is IToken {
  return (e as IToken).tokenType !== undefined;
}

/** How a token is named in messages: `text`, "end of line", "end of file". */
export function describeFound(tok: IToken | undefined): string {
  if (tok === undefined || tok.tokenType.name === 'EOF' || !isRealToken(tok)) return 'end of file';
  if (tok.tokenType === T.Newline) return 'end of line';
  const image = tok.image.length > 24 ? tok.image.slice(0, 21) + '...' : tok.image;
  return '`' + image.replace(/`/g, "'") + '`';
}

/** First real offset inside a CST element (NaN if none). */
function startOf(e: CstElement): number {
  if (isToken(e)) return isRealToken(e) ? e.startOffset : NaN;
  const loc = e.location?.startOffset;
  if (loc !== undefined && Number.isFinite(loc) && loc >= 0) return loc;
  let best = NaN;
  for (const list of Object.values(e.children)) {
    for (const c of list ?? []) {
      const s = startOf(c);
      if (Number.isFinite(s) && !(s >= best)) best = s;
    }
  }
  return best;
}

/** Last real offset (exclusive end) inside a CST element (NaN if none). */
function endOf(e: CstElement): number {
  if (isToken(e)) return isRealToken(e) ? exclusiveEnd(e.endOffset) : NaN;
  // Chevrotain's node end is reliable unless recovery inserted tokens at the end of the node.
  const loc = e.recoveredNode ? NaN : exclusiveEnd(e.location?.endOffset);
  if (!Number.isNaN(loc)) return loc;
  let best = NaN;
  for (const list of Object.values(e.children)) {
    for (const c of list ?? []) {
      const s = endOf(c);
      if (Number.isFinite(s) && !(s <= best)) best = s;
    }
  }
  return best;
}

/** All children of a node in source order (elements without a real position go last). */
function ordered<N extends CstNode>(node: N): (IToken | ChildNode<N>)[] {
  const all: (IToken | ChildNode<N>)[] = [];
  for (const list of Object.values(node.children) as (IToken | ChildNode<N>)[][]) if (list) all.push(...list);
  const key = (e: CstElement) => {
    const s = startOf(e);
    return Number.isFinite(s) ? s : Number.MAX_SAFE_INTEGER;
  };
  return all.sort((a, b) => key(a) - key(b));
}

const declaredNameKeywordOk = new Set<string>();

export interface AstBuildResult {
  readonly module: A.Module;
  readonly diagnostics: Diagnostic[];
}

export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];
  /**
   * "no `forward`" diagnostics with the span of their block: index.ts keeps one only when no
   * other syntax error lies inside that block (a broken body often hides the forward).
   */
  readonly missingForward: { diagnostic: Diagnostic; block: Span }[] = [];

  constructor(
    private readonly file: SourceFile,
    private readonly docComments: readonly IToken[],
  ) {}

  // ------------------------------------------------------------------ helpers

  private spanOf(e: CstElement | undefined, fallback: number): Span {
    if (e === undefined) return this.file.span(this.clamp(fallback), this.clamp(fallback));
    const s = startOf(e);
    const end = endOf(e);
    if (!Number.isFinite(s)) return this.file.span(this.clamp(fallback), this.clamp(fallback));
    return chevrotainSpan(this.file, s, Number.isFinite(end) ? end - 1 : s - 1, fallback);
  }

  private clamp(n: number): number {
    return Math.max(0, Math.min(Number.isFinite(n) ? n : 0, this.file.text.length));
  }

  private node<Ch, K extends NodeKey<Ch>>(c: Ch | undefined, name: K, i = 0): NodeAt<Ch, K> | undefined {
    const e = (c as Children | undefined)?.[name as string]?.[i];
    return e !== undefined && !isToken(e) ? (e as NodeAt<Ch, K>) : undefined;
  }

  private nodes<Ch, K extends NodeKey<Ch>>(c: Ch | undefined, name: K): NodeAt<Ch, K>[] {
    const list = (c as Children | undefined)?.[name as string] ?? [];
    return list.filter((e) => !isToken(e)) as NodeAt<Ch, K>[];
  }

  private tok<Ch, K extends TokenKey<Ch>>(c: Ch | undefined, name: K, i = 0): IToken | undefined {
    const e = (c as Children | undefined)?.[name as string]?.[i];
    return e !== undefined && isToken(e) ? e : undefined;
  }

  private toks<Ch, K extends TokenKey<Ch>>(c: Ch | undefined, name: K): IToken[] {
    return ((c as Children | undefined)?.[name as string] ?? []).filter(isToken);
  }

  /** A declared name. Keywords in name position are reported (once) and kept as the name. */
  private declName(t: IToken | undefined, fallback: number, keywordAllowed = false): A.Ident {
    if (!isRealToken(t)) {
      return { kind: 'Ident', name: '', span: this.file.span(this.clamp(fallback), this.clamp(fallback)) };
    }
    const span = tokenSpan(this.file, t, fallback);
    if (!keywordAllowed && tokenMatcher(t, T.Keyword) && !declaredNameKeywordOk.has(t.image)) {
      this.diagnostics.push(report(syntaxCatalogue.KeywordAsName, span, { word: t.image }));
    }
    return { kind: 'Ident', name: t.image, span };
  }

  private missing(fallback: number): A.MissingExpr {
    return { kind: 'Missing', span: this.file.span(this.clamp(fallback), this.clamp(fallback)) };
  }

  // ------------------------------------------------------------------ module

  buildModule(cst: C.FileCstNode): A.Module {
    const imports: A.Import[] = [];
    const decls: A.Decl[] = [];
    for (const e of ordered(cst)) {
      if (isToken(e)) continue;
      switch (e.name) {
        case 'importDecl': {
          const imp = this.importDecl(e);
          if (decls.length > 0) {
            this.diagnostics.push(
              report(syntaxCatalogue.MisplacedImport, this.spanOf(this.tok(e.children, 'Kw_import') ?? e, 0)),
            );
          }
          imports.push(imp);
          break;
        }
        case 'constDecl':
          decls.push(this.constDecl(e));
          break;
        case 'blockDecl':
          decls.push(this.blockDecl(e));
          break;
        case 'interfaceDecl':
          decls.push(this.interfaceDecl(e));
          break;
        case 'datasetDecl':
          decls.push(this.datasetDecl(e));
          break;
        case 'trainDecl':
          decls.push(this.trainDecl(e));
          break;
        case 'variantDecl':
          decls.push(this.variantDecl(e));
          break;
        case 'topStray':
          this.reportStray(e, 'top');
          break;
      }
    }
    return { kind: 'Module', file: this.file.path, imports, decls, span: this.file.span(0, this.file.text.length) };
  }

  /** `///` comments directly above `start`, with only whitespace between them. */
  private docAbove(start: number): string | undefined {
    const lines: string[] = [];
    let cursor = start;
    for (let i = this.docComments.length - 1; i >= 0; i--) {
      const d = this.docComments[i]!;
      const end = exclusiveEnd(d.endOffset);
      if (end > cursor) continue;
      if (!/^[ \t]*(\r\n|\r|\n)[ \t]*$/.test(this.file.text.slice(end, cursor))) break;
      lines.unshift(d.image.slice(3).replace(/^ /, '').trimEnd());
      cursor = d.startOffset;
    }
    return lines.length > 0 ? lines.join('\n') : undefined;
  }

  // ------------------------------------------------------------------ stray tokens and separators

  private reportStray(
    e: C.StrayCstNode | C.TopStrayCstNode,
    where: 'top' | 'block' | 'body' | 'settings' | 'dataset' | 'fields' | 'variant',
    owner = '',
  ): void {
    const toks = this.toks(e.children, 'AnyToken').filter(isRealToken);
    const first = toks[0];
    if (first === undefined) return;
    const span = tokenSpan(this.file, first, 0);
    const found = describeFound(first);
    const word = first.image;
    const misplaced = (entry: MisplacedEntry): void => {
      this.diagnostics.push(report(entry, span, { word }));
    };
    const isWeightLike = first.tokenType === T.Weight || first.tokenType === T.Frozen || first.tokenType === T.BufferKw;
    const isForward = first.tokenType === T.Forward;
    const isStmt = first.tokenType === T.Let || first.tokenType === T.Return || first.tokenType === T.For;
    if (where === 'top') {
      if (isWeightLike || isForward || first.tokenType === T.Sparse) {
        misplaced(syntaxCatalogue.MisplacedOutsideBlock);
        return;
      }
      if (isStmt) {
        misplaced(syntaxCatalogue.MisplacedStatementAtTop);
        return;
      }
      if (first.tokenType === T.Stage) {
        misplaced(syntaxCatalogue.MisplacedStageAtTop);
        return;
      }
      if (first.tokenType === T.Remove) {
        misplaced(syntaxCatalogue.MisplacedRemove);
        return;
      }
      this.diagnostics.push(report(syntaxCatalogue.ExpectedDeclaration, span, { found }));
      return;
    }
    if (where === 'block') {
      if (isStmt) {
        misplaced(syntaxCatalogue.MisplacedStatementInBlock);
        return;
      }
      const second = toks[1];
      if (first.tokenType === T.Identifier && second !== undefined && startsValue(second)) {
        this.diagnostics.push(
          report(
            syntaxCatalogue.MissingSettingEquals,
            tokenSpan(this.file, second, span.end),
            { key: word, found: describeFound(second) },
            {
              replaceHelp: true,
              primaryLabel: 'expected `=` here',
              help: [`layers are declared \`${word} = Layer(...)\``],
            },
          ),
        );
        return;
      }
      const extra =
        first.tokenType === T.Identifier && second?.tokenType === T.LParen
          ? [`give the layer a name: \`name = ${word}(...)\``]
          : [];
      this.diagnostics.push(report(syntaxCatalogue.UnexpectedMember, span, { name: owner, found }, { help: extra }));
      return;
    }
    if (where === 'body') {
      if (isWeightLike || isForward) {
        misplaced(syntaxCatalogue.MisplacedInForward);
        return;
      }
      this.diagnostics.push(report(syntaxCatalogue.UnexpectedToken, span, { expected: 'a statement', found }));
      return;
    }
    if (where === 'variant' && first.tokenType !== T.Identifier) {
      this.diagnostics.push(
        report(syntaxCatalogue.UnexpectedToken, span, { expected: 'an edit `path = value` or `remove path`', found }),
      );
      return;
    }
    // settings-like bodies: `key value` without `=` is the common mistake
    const second = toks[1];
    if (tokenMatcher(first, T.Word) && second !== undefined && second.tokenType !== T.Equals) {
      if (first.tokenType === T.Stage && where !== 'settings') {
        misplaced(syntaxCatalogue.MisplacedStage);
        return;
      }
      this.diagnostics.push(
        report(
          syntaxCatalogue.MissingSettingEquals,
          tokenSpan(this.file, second, span.end),
          { key: word, found: describeFound(second) },
          {
            primaryLabel: 'expected `=` here',
          },
        ),
      );
      return;
    }
    const expected =
      where === 'fields'
        ? 'a field `name: type`'
        : where === 'dataset'
          ? 'a setting `key = value` or a field group'
          : 'a setting `key = value`';
    this.diagnostics.push(report(syntaxCatalogue.UnexpectedToken, span, { expected, found }));
  }

  /** Reports items of one body that follow each other without a newline or `;` between them. */
  private checkSeparators(body: CstNode): void {
    let prevEnd = NaN;
    let sawSeparator = true;
    for (const e of ordered(body)) {
      if (isToken(e)) {
        if (tokenMatcher(e, T.Separator) || e.tokenType === T.Comma || e.tokenType === T.LCurly) sawSeparator = true;
        continue;
      }
      if (e.name === 'stray' || e.name === 'topStray') {
        sawSeparator = true; // reported on its own
        continue;
      }
      const start = startOf(e);
      if (!sawSeparator && Number.isFinite(prevEnd) && Number.isFinite(start) && !e.recoveredNode) {
        const first = this.firstToken(e);
        this.diagnostics.push(
          report(syntaxCatalogue.MissingSeparator, this.spanOf(first ?? e, start), { found: describeFound(first) }),
        );
      }
      prevEnd = endOf(e);
      sawSeparator = false;
    }
  }

  private firstToken(e: CstElement): IToken | undefined {
    if (isToken(e)) return isRealToken(e) ? e : undefined;
    let best: IToken | undefined;
    for (const list of Object.values(e.children)) {
      for (const c of list ?? []) {
        const t = this.firstToken(c);
        if (t && (best === undefined || t.startOffset < best.startOffset)) best = t;
      }
    }
    return best;
  }

  // ------------------------------------------------------------------ declarations

  private importDecl(e: C.ImportDeclCstNode): A.Import {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const names = this.nodes(c, 'importName').map((n) => {
      const words = this.toks(n.children, 'Word');
      const nameSpan = this.spanOf(n, span.end);
      const name = this.declName(words[0], nameSpan.start);
      const alias = this.tok(n.children, 'Kw_as') ? this.declName(words[1], nameSpan.end) : undefined;
      return { kind: 'ImportName' as const, name, ...(alias ? { alias } : {}), span: nameSpan };
    });
    const str = this.tok(c, 'StringLiteral');
    const from: A.StringLit = isRealToken(str)
      ? { kind: 'String', value: decodeStringToken(str.image), span: tokenSpan(this.file, str, span.end) }
      : { kind: 'String', value: '', span: this.file.span(span.end, span.end) };
    return { kind: 'Import', names, from, span };
  }

  private constDecl(e: C.ConstDeclCstNode): A.ConstDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const name = this.declName(this.tok(c, 'Word'), span.end);
    const typeNode = this.node(c, 'typeExpr');
    const type = typeNode ? this.typeExpr(typeNode, name.span.end) : undefined;
    const value = this.exprOr(this.node(c, 'expression'), span.end);
    return { kind: 'Const', name, ...(type ? { type } : {}), value, span };
  }

  private params(list: C.ParamListCstNode | undefined, fallback: number): A.Param[] {
    if (!list) return [];
    return this.nodes(list.children, 'param').map((p) => this.param(p, fallback));
  }

  private param(p: C.ParamCstNode, fallback: number): A.Param {
    const c = p.children;
    const span = this.spanOf(p, fallback);
    const name = this.declName(this.tok(c, 'Word'), span.start);
    const typeNode = this.node(c, 'typeExpr');
    const type: A.TypeExpr = typeNode
      ? this.typeExpr(typeNode, name.span.end)
      : {
          kind: 'NamedType',
          name: { kind: 'Ident', name: '', span: this.file.span(name.span.end, name.span.end) },
          isList: false,
          span: this.file.span(name.span.end, name.span.end),
        };
    const defNode = this.node(c, 'expression');
    const def = this.tok(c, 'Equals') ? this.exprOr(defNode, span.end) : undefined;
    return { kind: 'Param', name, type, ...(def ? { default: def } : {}), span };
  }

  private blockDecl(e: C.BlockDeclCstNode): A.BlockDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const isModel = this.tok(c, 'Kw_model') !== undefined;
    const header = this.node(c, 'blockHeader')?.children;
    const name = this.declName(this.tok(header, 'Word'), span.start);
    const params = this.params(this.node(header, 'paramList'), span.start);
    const members: A.BlockMember[] = [];
    let firstForward: A.ForwardDecl | undefined;
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'weightDecl') members.push(this.weightDecl(m));
      else if (m.name === 'layerDecl') members.push(this.layerDecl(m));
      else if (m.name === 'forwardDecl') {
        const f = this.forwardDecl(m);
        if (f.name) {
          members.push(f);
          continue;
        }
        if (firstForward) {
          this.diagnostics.push(
            report(
              syntaxCatalogue.DuplicateForward,
              this.spanOf(this.tok(m.children, 'Kw_forward') ?? m, f.span.start),
              { name: name.name },
              {
                labels: [
                  {
                    span: this.file.span(firstForward.span.start, firstForward.span.start + 'forward'.length),
                    message: 'first `forward` here',
                  },
                ],
              },
            ),
          );
        } else firstForward = f;
        members.push(f);
      } else if (m.name === 'stray') this.reportStray(m, 'block', name.name);
    }
    this.checkSeparators(e);
    if (!firstForward && !e.recoveredNode && isRealToken(this.tok(c, 'RCurly'))) {
      this.missingForward.push({
        diagnostic: report(syntaxCatalogue.MissingForward, name.name ? name.span : span, { name: name.name }),
        block: span,
      });
    }
    const doc = this.docAbove(span.start);
    const unmasked = isRealToken(this.tok(c, 'Kw_unmasked'));
    return {
      kind: 'Block',
      isModel,
      name,
      params,
      members,
      ...(unmasked ? { unmasked: true as const } : {}),
      ...(doc !== undefined ? { doc } : {}),
      span,
    };
  }

  private weightDecl(e: C.WeightDeclCstNode): A.WeightDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    // `weight weight: [C]`: PyTorch names a norm's scale `weight`, so that keyword may name a weight.
    const nameTok = this.tok(c, 'Word');
    const name = this.declName(nameTok, span.end, nameTok?.tokenType === T.Weight);
    const shapeNode = this.node(c, 'tensorType');
    const shape = shapeNode
      ? this.tensorType(shapeNode, name.span.end)
      : { kind: 'TensorType' as const, dims: [], span: this.file.span(name.span.end, name.span.end) };
    const init = this.tok(c, 'Equals') ? this.exprOr(this.node(c, 'expression'), span.end) : undefined;
    return {
      kind: 'Weight',
      name,
      shape,
      ...(init ? { init } : {}),
      frozen: this.tok(c, 'Kw_frozen') !== undefined,
      ...(this.tok(c, 'Kw_buffer') !== undefined ? { buffer: true as const } : {}),
      span,
    };
  }

  private layerDecl(e: C.LayerDeclCstNode): A.LayerDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const name = this.declName(this.tok(c, 'Word'), span.start);
    const value = this.exprOr(this.node(c, 'expression'), span.end);
    return { kind: 'Layer', name, value, sparse: isRealToken(this.tok(c, 'Kw_sparse')), span };
  }

  private interfaceDecl(e: C.InterfaceDeclCstNode): A.InterfaceDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const header = this.node(c, 'blockHeader')?.children;
    const name = this.declName(this.tok(header, 'Word'), span.start);
    const params = this.params(this.node(header, 'paramList'), span.start);
    const forwards: A.ForwardRequirement[] = [];
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'forwardRequirement') {
        const f = this.forwardSignatureOf(m, this.tok(m.children, 'Word'));
        forwards.push({ ...f, kind: 'ForwardRequirement' });
      } else if (m.name === 'stray') this.reportStray(m, 'block', name.name);
    }
    this.checkSeparators(e);
    const doc = this.docAbove(span.start);
    return { kind: 'Interface', name, params, forwards, ...(doc !== undefined ? { doc } : {}), span };
  }

  private forwardDecl(e: C.ForwardDeclCstNode): A.ForwardDecl {
    const f = this.forwardSignatureOf(e, this.tok(e.children, 'Word'));
    const body = this.stmtBlock(this.node(e.children, 'stmtBlock'));
    return { kind: 'Forward', ...f, body };
  }

  /** Name, parameters and return type of a forward or a forward requirement. */
  private forwardSignatureOf(
    e: C.ForwardDeclCstNode | C.ForwardRequirementCstNode,
    nameToken: IToken | undefined,
  ): { name?: A.Ident; params: A.Param[]; returns: A.ReturnType; span: Span } {
    const span = this.spanOf(e, 0);
    // A part is always read after a dot (`enc.stage(x)`), where keywords are names too.
    const name = nameToken && isRealToken(nameToken) ? this.declName(nameToken, span.start, true) : undefined;
    const c = this.node(e.children, 'forwardSignature')?.children;
    const params = this.params(this.node(c, 'paramList'), span.start);
    const tt = this.node(c, 'tensorType');
    const no = this.node(c, 'namedOutputs');
    let returns: A.ReturnType;
    if (no)
      returns = {
        kind: 'NamedOutputs',
        outputs: this.params(this.node(no.children, 'paramList'), span.start),
        span: this.spanOf(no, span.start),
      };
    else if (tt) returns = this.tensorType(tt, span.start);
    else {
      const at = this.spanOf(this.tok(c, 'RParen') ?? this.tok(e.children, 'Kw_forward') ?? e, span.start).end;
      returns = { kind: 'TensorType', dims: [], span: this.file.span(at, at) };
    }
    return { ...(name ? { name } : {}), params: [...params], returns, span };
  }

  private datasetDecl(e: C.DatasetDeclCstNode): A.DatasetDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const name = this.declName(this.tok(c, 'Word'), span.start);
    const settings: A.Setting[] = [];
    const fieldGroups: A.FieldGroup[] = [];
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'setting') settings.push(this.setting(m));
      else if (m.name === 'fieldGroup') fieldGroups.push(this.fieldGroup(m));
      else if (m.name === 'stray') this.reportStray(m, 'dataset');
    }
    this.checkSeparators(e);
    return { kind: 'Dataset', name, settings, fieldGroups, span };
  }

  private fieldGroup(e: C.FieldGroupCstNode): A.FieldGroup {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const name = this.declName(this.tok(c, 'Word'), span.start, true);
    const fields: A.FieldDecl[] = [];
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'fieldDecl') fields.push(this.fieldDecl(m));
      else if (m.name === 'stray') this.reportStray(m, 'fields');
    }
    this.checkSeparators(e);
    return { kind: 'FieldGroup', name, fields, span };
  }

  private fieldDecl(e: C.FieldDeclCstNode): A.FieldDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const names = this.toks(c, 'Word').map((t) => this.declName(t, span.start));
    if (names.length === 0) names.push(this.declName(undefined, span.start));
    const typeTok = this.tok(c, 'Identifier');
    const type: A.Ident = isRealToken(typeTok)
      ? { kind: 'Ident', name: typeTok.image, span: tokenSpan(this.file, typeTok, span.end) }
      : { kind: 'Ident', name: '', span: this.file.span(span.end, span.end) };
    const modifiers = this.nodes(c, 'postfixExpr').map((p) => this.postfix(p, span.end));
    return { kind: 'Field', names, type, modifiers, span };
  }

  private setting(e: C.SettingCstNode): A.Setting {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const key = this.declName(this.tok(c, 'Word'), span.start, true);
    const value = this.exprOr(this.node(c, 'expression'), span.end);
    return { kind: 'Setting', key, value, span };
  }

  private settingsBody(e: C.StageDeclCstNode | C.RecordExprCstNode, where: 'settings'): A.Setting[] {
    const out: A.Setting[] = [];
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'setting') out.push(this.setting(m));
      else if (m.name === 'stray') this.reportStray(m, where);
    }
    return out;
  }

  private trainDecl(e: C.TrainDeclCstNode): A.TrainDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const words = this.toks(c, 'Word');
    const name = this.declName(words[0], span.start);
    const onTok = this.tok(c, 'Kw_on');
    const dataset = this.declName(words[1], onTok ? this.spanOf(onTok, span.start).end : span.start);
    const settings: A.Setting[] = [];
    const stages: A.StageDecl[] = [];
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'setting') settings.push(this.setting(m));
      else if (m.name === 'stageDecl') {
        const stage = this.stageDecl(m);
        if (stage.placement) {
          this.diagnostics.push(
            report(
              syntaxCatalogue.UnexpectedToken,
              stage.placement.position.span,
              { expected: '`{`', found: `\`${stage.placement.position.name}\`` },
              {
                help: [
                  `a stage in a train runs where it is written; \`${stage.placement.position.name} ` +
                    `${stage.placement.anchor.name}\` places a stage that a variant adds`,
                ],
              },
            ),
          );
          const { placement: _placement, ...plain } = stage;
          stages.push(plain);
        } else stages.push(stage);
      } else if (m.name === 'stray') this.reportStray(m, 'settings');
    }
    this.checkSeparators(e);
    return { kind: 'Train', name, dataset, settings, stages, span };
  }

  private stageDecl(e: C.StageDeclCstNode): A.StageDecl {
    const span = this.spanOf(e, 0);
    const [nameTok, positionTok, anchorTok] = this.toks(e.children, 'Word');
    const name = this.declName(nameTok, span.start);
    const settings = this.settingsBody(e, 'settings');
    this.checkSeparators(e);
    const placement =
      positionTok && anchorTok
        ? { position: this.declName(positionTok, span.start), anchor: this.declName(anchorTok, span.start) }
        : undefined;
    return { kind: 'Stage', name, settings, ...(placement ? { placement } : {}), span };
  }

  private variantDecl(e: C.VariantDeclCstNode): A.VariantDecl {
    const c = e.children;
    const span = this.spanOf(e, 0);
    const words = this.toks(c, 'Word');
    const name = this.declName(words[0], span.start);
    const ext = this.tok(c, 'Kw_extends') ? this.declName(words[1], span.start) : undefined;
    const edits: A.VariantEdit[] = [];
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'removeEdit') {
        const s = this.spanOf(m, span.start);
        edits.push({ kind: 'RemoveEdit', path: this.pathExpr(this.node(m.children, 'path'), s.end), span: s });
      } else if (m.name === 'setEdit') {
        const s = this.spanOf(m, span.start);
        edits.push({
          kind: 'SetEdit',
          path: this.pathExpr(this.node(m.children, 'path'), s.start),
          value: this.exprOr(this.node(m.children, 'expression'), s.end),
          span: s,
        });
      } else if (m.name === 'stageDecl') {
        const stage = this.stageDecl(m);
        edits.push({ kind: 'AddStageEdit', stage, span: stage.span });
      } else if (m.name === 'stray') this.reportStray(m, 'variant');
    }
    this.checkSeparators(e);
    const doc = this.docAbove(span.start);
    return {
      kind: 'Variant',
      name,
      ...(ext ? { extends: ext } : {}),
      edits,
      ...(doc !== undefined ? { doc } : {}),
      span,
    };
  }

  private pathExpr(p: C.PathCstNode | undefined, fallback: number): A.Expr {
    if (!p) return this.missing(fallback);
    const head = this.tok(p.children, 'Identifier');
    let expr: A.Expr = isRealToken(head)
      ? { kind: 'Name', name: head.image, span: tokenSpan(this.file, head, fallback) }
      : this.missing(fallback);
    for (const s of ordered(p)) {
      if (isToken(s)) continue;
      expr = this.applySuffix(expr, s);
    }
    return expr;
  }

  // ------------------------------------------------------------------ types

  private typeExpr(e: C.TypeExprCstNode, fallback: number): A.TypeExpr {
    const tt = this.node(e.children, 'tensorType');
    if (tt) return this.tensorType(tt, fallback);
    const nt = this.node(e.children, 'namedType');
    const span = this.spanOf(nt ?? e, fallback);
    const id = nt ? this.tok(nt.children, 'Identifier') : undefined;
    const name: A.Ident = isRealToken(id)
      ? { kind: 'Ident', name: id.image, span: tokenSpan(this.file, id, span.start) }
      : { kind: 'Ident', name: '', span: this.file.span(span.start, span.start) };
    return { kind: 'NamedType', name, isList: nt ? this.tok(nt.children, 'LBracket') !== undefined : false, span };
  }

  private tensorType(e: C.TensorTypeCstNode, fallback: number): A.TensorType {
    const span = this.spanOf(e, fallback);
    const list = this.node(e.children, 'exprList');
    const dims = list ? this.nodes(list.children, 'expression').map((x) => this.expr(x, span.end)) : [];
    return { kind: 'TensorType', dims, span };
  }

  // ------------------------------------------------------------------ statements

  private stmtBlock(e: C.StmtBlockCstNode | undefined): A.Stmt[] {
    if (!e) return [];
    const out: A.Stmt[] = [];
    for (const m of ordered(e)) {
      if (isToken(m)) continue;
      if (m.name === 'statement') {
        const s = this.statement(m);
        if (s) out.push(s);
      } else if (m.name === 'stray') this.reportStray(m, 'body');
    }
    this.checkSeparators(e);
    return out;
  }

  private statement(e: C.StatementCstNode): A.Stmt | undefined {
    const inner = ordered(e).find((x) => !isToken(x)) as ChildNode<C.StatementCstNode> | undefined;
    if (!inner) return undefined;
    const span = this.spanOf(inner, startOf(e));
    switch (inner.name) {
      case 'letStmt': {
        const c = inner.children;
        const name = this.declName(this.tok(c, 'Word'), span.start);
        const tt = this.node(c, 'tensorType');
        const type = tt ? this.tensorType(tt, name.span.end) : undefined;
        return {
          kind: 'Let',
          name,
          ...(type ? { type } : {}),
          value: this.exprOr(this.node(c, 'expression'), span.end),
          span,
        };
      }
      case 'returnStmt':
        return { kind: 'Return', value: this.exprOr(this.node(inner.children, 'expression'), span.end), span };
      case 'forStmt': {
        const c = inner.children;
        const variable = this.declName(this.tok(c, 'Word'), span.start);
        return {
          kind: 'For',
          variable,
          range: this.exprOr(this.node(c, 'expression'), variable.span.end),
          body: this.stmtBlock(this.node(c, 'stmtBlock')),
          span,
        };
      }
      case 'assignStmt': {
        const c = inner.children;
        const name = this.declName(this.tok(c, 'Word'), span.start);
        return { kind: 'Assign', name, value: this.exprOr(this.node(c, 'expression'), span.end), span };
      }
      case 'exprStmt':
        return { kind: 'ExprStmt', expr: this.exprOr(this.node(inner.children, 'expression'), span.end), span };
    }
    return undefined;
  }

  // ------------------------------------------------------------------ expressions

  private exprOr(e: ExprNode | undefined, fallback: number): A.Expr {
    return e ? this.expr(e, fallback) : this.missing(fallback);
  }

  expr(e: ExprNode, fallback: number): A.Expr {
    switch (e.name) {
      case 'expression':
      case 'condExpr':
        return this.flatExpr(e, fallback);
      case 'prefixExpr':
        return this.flatExpr({ children: { prefixExpr: [e] } }, fallback);
      case 'postfixExpr':
        return this.postfix(e, fallback);
      default:
        return this.missing(fallback);
    }
  }

  /**
   * Applies precedence to a flat `prefix (op prefix)*` sequence (Pratt parsing). Levels, lowest
   * first: `then`, `|>`, `>>`, `or`, `and`, prefix `not`, comparisons, `..`, `+ -`,
   * `* / // %`, prefix `-`, `**` (right-associative); all other binary operators associate left.
   */
  private flatExpr(e: { readonly children: FlatChildren }, fallback: number): A.Expr {
    const operands = this.nodes(e.children, 'prefixExpr');
    const ops: IToken[] = [...this.toks(e.children, 'BinaryOperator'), ...this.toks(e.children, 'Kw_then')];
    ops.sort((a, b) => (isRealToken(a) ? a.startOffset : Infinity) - (isRealToken(b) ? b.startOffset : Infinity));
    if (operands.length === 0) return this.missing(fallback);
    const items = operands.map((p) => {
      const prefixes = [...this.toks(p.children, 'Minus'), ...this.toks(p.children, 'Kw_not')].filter(isRealToken);
      prefixes.sort((a, b) => a.startOffset - b.startOffset);
      return { node: p, prefixes };
    });
    let k = 0; // next operand
    let pi = 0; // next prefix of operand k
    let lastEnd = fallback;

    const parseUnary = (): A.Expr => {
      const item = items[k];
      if (item === undefined) return this.missing(lastEnd);
      if (pi < item.prefixes.length) {
        const opTok = item.prefixes[pi++]!;
        const opSpan = tokenSpan(this.file, opTok, lastEnd);
        lastEnd = opSpan.end;
        const isNot = opTok.tokenType === T.Not;
        const operand = parseBinary(isNot ? PREC_COMPARE : PREC_POWER);
        return { kind: 'Unary', op: isNot ? 'not' : '-', operand, span: joinSpans(opSpan, operand.span) };
      }
      const post = this.node(item.node.children, 'postfixExpr');
      const value = post ? this.postfix(post, lastEnd) : this.missing(lastEnd);
      lastEnd = value.span.end;
      k++;
      pi = 0;
      return value;
    };

    const parseBinary = (minPrec: number): A.Expr => {
      let left = parseUnary();
      for (;;) {
        const opTok = ops[k - 1];
        if (opTok === undefined || k - 1 < 0 || k >= items.length + 1) break;
        const op = operatorText(opTok);
        const prec = precedence.get(op) ?? 0;
        if (prec < minPrec) break;
        const opSpan = tokenSpan(this.file, opTok, left.span.end);
        lastEnd = opSpan.end;
        // consume the operator: the next operand is items[k]
        ops[k - 1] = undefined as unknown as IToken;
        const right = k < items.length ? parseBinary(op === '**' ? prec : prec + 1) : this.missing(opSpan.end);
        const span = joinSpans(left.span, joinSpans(opSpan, right.span));
        if (op === '|>') left = { kind: 'Pipe', value: left, fn: right, opSpan, span };
        else if (op === '..') left = { kind: 'Range', from: left, to: right, span };
        else left = { kind: 'Binary', op: op as A.BinaryOp, left, right, opSpan, span };
      }
      return left;
    };

    return parseBinary(0);
  }

  private postfix(e: C.PostfixExprCstNode, fallback: number): A.Expr {
    let expr = this.primary(this.node(e.children, 'primary'), fallback);
    for (const s of ordered(e)) {
      if (isToken(s) || s.name === 'primary') continue;
      expr = this.applySuffix(expr, s);
    }
    return expr;
  }

  private applySuffix(expr: A.Expr, s: C.MemberSuffixCstNode | C.IndexSuffixCstNode | C.CallSuffixCstNode): A.Expr {
    const sSpan = this.spanOf(s, expr.span.end);
    const span = joinSpans(expr.span, sSpan);
    if (s.name === 'memberSuffix') {
      const w = this.tok(s.children, 'Word');
      const property: A.Ident = isRealToken(w)
        ? { kind: 'Ident', name: w.image, span: tokenSpan(this.file, w, sSpan.end) }
        : { kind: 'Ident', name: '', span: this.file.span(sSpan.end, sSpan.end) };
      return { kind: 'Member', object: expr, property, span };
    }
    if (s.name === 'indexSuffix') {
      return { kind: 'Index', object: expr, index: this.exprOr(this.node(s.children, 'expression'), sSpan.end), span };
    }
    if (s.name === 'callSuffix') {
      const args = this.nodes(s.children, 'arg').map((a): A.Arg => {
        const aSpan = this.spanOf(a, sSpan.end);
        const hasName = this.tok(a.children, 'Equals') !== undefined;
        const name = hasName ? this.declName(this.tok(a.children, 'Word'), aSpan.start, true) : undefined;
        return {
          kind: 'Arg',
          ...(name ? { name } : {}),
          value: this.exprOr(this.node(a.children, 'expression'), aSpan.end),
          span: aSpan,
        };
      });
      return { kind: 'Call', callee: expr, args, span };
    }
    return expr;
  }

  private primary(e: C.PrimaryCstNode | undefined, fallback: number): A.Expr {
    if (!e) return this.missing(fallback);
    const c = e.children;
    const span = this.spanOf(e, fallback);
    const num = this.tok(c, 'NumberLiteral');
    if (isRealToken(num)) {
      const raw = num.image;
      const value = Number(raw);
      return { kind: 'Number', value: Number.isFinite(value) ? value : 0, isInt: /^\d+$/.test(raw), raw, span };
    }
    const str = this.tok(c, 'StringLiteral');
    if (isRealToken(str)) return { kind: 'String', value: decodeStringToken(str.image), span };
    if (isRealToken(this.tok(c, 'Kw_true'))) return { kind: 'Bool', value: true, span };
    if (isRealToken(this.tok(c, 'Kw_false'))) return { kind: 'Bool', value: false, span };
    const id = this.tok(c, 'Identifier') ?? this.tok(c, 'Kw_dataset') ?? this.tok(c, 'Kw_weight');
    if (isRealToken(id)) return { kind: 'Name', name: id.image, span };
    const list = this.node(c, 'listExpr');
    if (list) return this.listExpr(list, span);
    const rec = this.node(c, 'recordExpr');
    if (rec) {
      const entries = this.settingsBody(rec, 'settings');
      return { kind: 'Record', entries, span };
    }
    const paren = this.node(c, 'parenExpr');
    if (paren) {
      const settings = this.nodes(paren.children, 'setting');
      if (settings.length > 0) return { kind: 'Record', entries: settings.map((s) => this.setting(s)), span };
      const inner = this.node(paren.children, 'expression');
      if (!inner) return this.missing(span.start + 1 <= span.end ? span.start + 1 : span.start);
      const value = this.expr(inner, span.end);
      // Parentheses are not a node; the inner span widens to include them for diagnostics.
      return { ...value, span };
    }
    const rep = this.node(c, 'repeatExpr');
    if (rep) {
      const rc = rep.children;
      const countNode = this.node(rc, 'postfixExpr');
      const count = countNode ? this.postfix(countNode, span.start) : this.missing(span.start);
      const index = this.tok(rc, 'Kw_as') ? this.declName(this.tok(rc, 'Word'), count.span.end) : undefined;
      const body = this.exprOr(this.node(rc, 'prefixExpr'), span.end);
      return { kind: 'Repeat', count, ...(index ? { index } : {}), body, span };
    }
    const cond = this.node(c, 'ifExpr');
    if (cond) {
      const parts = this.nodes(cond.children, 'condExpr');
      const test = this.exprOr(parts[0], span.start);
      const then = this.exprOr(parts[1], test.span.end);
      return { kind: 'Conditional', test, then, otherwise: this.exprOr(parts[2], span.end), span };
    }
    return this.missing(fallback);
  }

  private listExpr(e: C.ListExprCstNode, span: Span): A.Expr {
    const c = e.children;
    const exprs = this.nodes(c, 'expression');
    if (this.tok(c, 'Kw_for')) {
      const element = this.exprOr(exprs[0], span.start);
      const variable = this.declName(this.tok(c, 'Word'), element.span.end);
      return { kind: 'Comprehension', element, variable, range: this.exprOr(exprs[1], span.end), span };
    }
    return { kind: 'List', items: exprs.map((x) => this.expr(x, span.end)), span };
  }
}

/** A token that can begin a value in `key value` (the `=` forgotten). */
function startsValue(t: IToken): boolean {
  return (
    t.tokenType === T.Identifier ||
    t.tokenType === T.NumberLiteral ||
    t.tokenType === T.StringLiteral ||
    t.tokenType === T.LBracket ||
    t.tokenType === T.LCurly ||
    t.tokenType === T.Minus ||
    t.tokenType === T.True ||
    t.tokenType === T.False
  );
}

/** The operator a token stands for (also for tokens inserted by recovery, which have no image). */
function operatorText(t: IToken): string {
  if (t.tokenType === T.Then) return 'then';
  if (t.tokenType === T.And) return 'and';
  if (t.tokenType === T.Or) return 'or';
  if (t.tokenType === T.SlashSlash) return '//';
  return (t.tokenType.LABEL ?? t.image).replace(/`/g, '');
}

const PREC_COMPARE = 7;
const PREC_POWER = 12;
const precedence = new Map<string, number>([
  ['then', 1],
  ['|>', 2],
  ['>>', 3],
  ['or', 4],
  ['and', 5],
  // 6: prefix `not`
  ['==', PREC_COMPARE],
  ['!=', PREC_COMPARE],
  ['<', PREC_COMPARE],
  ['<=', PREC_COMPARE],
  ['>', PREC_COMPARE],
  ['>=', PREC_COMPARE],
  ['..', 8],
  ['+', 9],
  ['-', 9],
  ['*', 10],
  ['/', 10],
  ['//', 10],
  ['%', 10],
  // 11: prefix `-`
  ['**', PREC_POWER],
]);
