/**
 * The typed AST of a .nvc file: the contract between the parser (dsl/) and the compiler.
 * In: produced by dsl/cst-to-ast.ts from Chevrotain's CST. Out: consumed by compiler/.
 * Holds afterwards: every node carries the span of the source it came from; where the parser
 * recovered from an error, the missing piece is a `Missing` expression or an Ident with an
 * empty name, never `undefined` where the interface promises a node. Nodes are plain,
 * readonly, JSON-serialisable data (no parent pointers, no methods).
 *
 * Surface syntax each node comes from is given in its comment; docs/language.md is the
 * reference.
 */
import type { Span } from './span.js';

export interface Ident {
  readonly kind: 'Ident';
  readonly name: string;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Module and declarations

/** A whole file. */
export interface Module {
  readonly kind: 'Module';
  readonly file: string;
  readonly imports: readonly Import[];
  readonly decls: readonly Decl[];
  readonly span: Span;
}

/** `import { A, B as C } from "std/convnextv2"` */
export interface Import {
  readonly kind: 'Import';
  readonly names: readonly ImportName[];
  readonly from: StringLit;
  readonly span: Span;
}

export interface ImportName {
  readonly kind: 'ImportName';
  readonly name: Ident;
  /** `as` alias, when given. */
  readonly alias?: Ident;
  readonly span: Span;
}

export type Decl = BlockDecl | InterfaceDecl | ConstDecl | DatasetDecl | TrainDecl | VariantDecl;

/**
 * `block Name(params) { members }` and `model Name(params) { members }`.
 * A model is a block whose forward inputs and outputs are the program's named, typed data.
 */
export interface BlockDecl {
  readonly kind: 'Block';
  readonly isModel: boolean;
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly members: readonly BlockMember[];
  /**
   * `block Name(...) unmasked { ... }`: the block and everything it calls never run masked (the
   * mask context is removed on entry), e.g. a decoder that runs densely over mask tokens.
   */
  readonly unmasked?: true;
  /** Text of `///` doc comments directly above the declaration, if any. */
  readonly doc?: string;
  readonly span: Span;
}

/**
 * `interface Name(params) { forward [name](params) -> Type }`: what a block must provide to be
 * passed where the interface is a parameter's type (its parameters or constant members of these
 * names and types, and forwards of these names and signatures).
 */
export interface InterfaceDecl {
  readonly kind: 'Interface';
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly forwards: readonly ForwardRequirement[];
  readonly doc?: string;
  readonly span: Span;
}

/** A forward an interface requires (no body). */
export interface ForwardRequirement {
  readonly kind: 'ForwardRequirement';
  readonly name?: Ident;
  readonly params: readonly Param[];
  readonly returns: ReturnType;
  readonly span: Span;
}

/** `name: Type = default` in a block/model/forward parameter list. */
export interface Param {
  readonly kind: 'Param';
  readonly name: Ident;
  readonly type: TypeExpr;
  readonly default?: Expr;
  readonly span: Span;
}

/** `const name: Type = value` at top level. */
export interface ConstDecl {
  readonly kind: 'Const';
  readonly name: Ident;
  readonly type?: TypeExpr;
  readonly value: Expr;
  readonly span: Span;
}

export type BlockMember = WeightDecl | LayerDecl | ForwardDecl;

/**
 * `weight gamma: [dim] = zeros` (optionally `frozen weight ...`), or `buffer running: [dim] =
 * zeros`: state saved with the weights that is never trained nor counted as a parameter.
 */
export interface WeightDecl {
  readonly kind: 'Weight';
  readonly name: Ident;
  readonly shape: TensorType;
  readonly init?: Expr;
  readonly frozen: boolean;
  /** Declared with `buffer` (absent for weights). */
  readonly buffer?: true;
  readonly span: Span;
}

/** `dw = DepthwiseConv2d(dim, kernel = 7) sparse` : a named sub-layer. */
export interface LayerDecl {
  readonly kind: 'Layer';
  readonly name: Ident;
  readonly value: Expr;
  /** The `sparse` modifier: runs masked while a stage has a mask policy, dense otherwise. */
  readonly sparse: boolean;
  readonly span: Span;
}

/**
 * `forward(x: [B, H, W, C], labs: [B, 14]) -> [B, 2] { body }`; outputs may be named. A named
 * forward (`forward stage(x: [...], i: int) -> [...] { body }`) is a part of the block that
 * callers run with `layer.stage(x, i = 2)`.
 */
export interface ForwardDecl {
  readonly kind: 'Forward';
  /** The part's name; absent for the block's own forward. */
  readonly name?: Ident;
  readonly params: readonly Param[];
  readonly returns: ReturnType;
  readonly body: readonly Stmt[];
  readonly span: Span;
}

/** `-> [B, 2]` or `-> (logits: [B, 2], features: [B, 768])` */
export type ReturnType = TensorType | NamedOutputs;

export interface NamedOutputs {
  readonly kind: 'NamedOutputs';
  readonly outputs: readonly Param[];
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Data, training and variants. Their bodies are uniform `key = value` settings so that every
// tunable value has a dotted path (`finetune.optimizer.lr`) usable by variants and `--set`.

/**
 * `dataset PJI { source = ..., labs { crp: number log1p standardize ... }, split = ... }`
 */
export interface DatasetDecl {
  readonly kind: 'Dataset';
  readonly name: Ident;
  readonly settings: readonly Setting[];
  readonly fieldGroups: readonly FieldGroup[];
  readonly span: Span;
}

/** `labs { field* }` : a named group of typed columns inside a dataset. */
export interface FieldGroup {
  readonly kind: 'FieldGroup';
  readonly name: Ident;
  readonly fields: readonly FieldDecl[];
  readonly span: Span;
}

/** `crp: number log1p standardize` or `diabetes, anemia: binary` or `joint: category [hip, knee]` */
export interface FieldDecl {
  readonly kind: 'Field';
  readonly names: readonly Ident[];
  readonly type: Ident;
  /** Transform words, calls and lists after the type, in order. */
  readonly modifiers: readonly Expr[];
  readonly span: Span;
}

/** `key = value` */
export interface Setting {
  readonly kind: 'Setting';
  readonly key: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `train Name on Dataset { settings; stage name { settings } ... }` */
export interface TrainDecl {
  readonly kind: 'Train';
  readonly name: Ident;
  readonly dataset: Ident;
  readonly settings: readonly Setting[];
  readonly stages: readonly StageDecl[];
  readonly span: Span;
}

export interface StageDecl {
  readonly kind: 'Stage';
  readonly name: Ident;
  readonly settings: readonly Setting[];
  /** `stage images before finetune { ... }`: where a stage added by a variant goes. */
  readonly placement?: StagePlacement;
  readonly span: Span;
}

/** `before finetune` / `after pretrain`; `position` is the word as written (checked later). */
export interface StagePlacement {
  readonly position: Ident;
  readonly anchor: Ident;
}

/** `variant demo extends base { path = value; remove path; stage s before t { ... } }` */
export interface VariantDecl {
  readonly kind: 'Variant';
  readonly name: Ident;
  readonly extends?: Ident;
  readonly edits: readonly VariantEdit[];
  readonly doc?: string;
  readonly span: Span;
}

export type VariantEdit = SetEdit | RemoveEdit | AddStageEdit;

/** `stage images before finetune { ... }` inside a variant: inserts a whole stage. */
export interface AddStageEdit {
  readonly kind: 'AddStageEdit';
  readonly stage: StageDecl;
  readonly span: Span;
}

/** `finetune.modality_dropout.p = 0` ; the path is a dotted/indexed chain of names. */
export interface SetEdit {
  readonly kind: 'SetEdit';
  readonly path: Expr;
  readonly value: Expr;
  readonly span: Span;
}

/** `remove stage pretrain` / `remove pretrain` */
export interface RemoveEdit {
  readonly kind: 'RemoveEdit';
  readonly path: Expr;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Types

export type TypeExpr = NamedType | TensorType;

/** `int`, `float`, `bool`, `string`, `int[]`, `ConvNeXtV2Encoder` */
export interface NamedType {
  readonly kind: 'NamedType';
  readonly name: Ident;
  /** `int[]`: a list of the element type. */
  readonly isList: boolean;
  readonly span: Span;
}

/** `[B, H / 4, 28, 4 * dim]` : dims are expressions over symbols and parameters. */
export interface TensorType {
  readonly kind: 'TensorType';
  readonly dims: readonly Expr[];
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Statements (forward bodies)

export type Stmt = LetStmt | AssignStmt | ReturnStmt | ForStmt | ExprStmt;

/** `let v: [B, 28, 28, C] = expr` (annotation optional; checked when given) */
export interface LetStmt {
  readonly kind: 'Let';
  readonly name: Ident;
  readonly type?: TensorType;
  readonly value: Expr;
  readonly span: Span;
}

/** `x = expr` : rebinding a name introduced by `let` or a parameter. */
export interface AssignStmt {
  readonly kind: 'Assign';
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `return expr` or `return (logits = a, features = b)` (a Record expression) */
export interface ReturnStmt {
  readonly kind: 'Return';
  readonly value: Expr;
  readonly span: Span;
}

/** `for i in 0..4 { body }` : unrolled at compile time; bounds must be constant. */
export interface ForStmt {
  readonly kind: 'For';
  readonly variable: Ident;
  readonly range: Expr;
  readonly body: readonly Stmt[];
  readonly span: Span;
}

export interface ExprStmt {
  readonly kind: 'ExprStmt';
  readonly expr: Expr;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Expressions

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | NameExpr
  | ListExpr
  | RecordExpr
  | RangeExpr
  | BinaryExpr
  | UnaryExpr
  | CallExpr
  | MemberExpr
  | IndexExpr
  | PipeExpr
  | RepeatExpr
  | ConditionalExpr
  | ComprehensionExpr
  | MissingExpr;

/** `7`, `4.0`, `1e-6`; `isInt` is true when written without `.` or exponent. */
export interface NumberLit {
  readonly kind: 'Number';
  readonly value: number;
  readonly isInt: boolean;
  readonly raw: string;
  readonly span: Span;
}

/** `"text"` with escapes decoded. */
export interface StringLit {
  readonly kind: 'String';
  readonly value: string;
  readonly span: Span;
}

export interface BoolLit {
  readonly kind: 'Bool';
  readonly value: boolean;
  readonly span: Span;
}

export interface NameExpr {
  readonly kind: 'Name';
  readonly name: string;
  readonly span: Span;
}

/** `[a, b, c]` : lists, shapes and axis lists. */
export interface ListExpr {
  readonly kind: 'List';
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** `{ negative = 0, positive = 1 }` / `(logits = a, features = b)` in return */
export interface RecordExpr {
  readonly kind: 'Record';
  readonly entries: readonly Setting[];
  readonly span: Span;
}

/** `0..4` : half-open integer range. */
export interface RangeExpr {
  readonly kind: 'Range';
  readonly from: Expr;
  readonly to: Expr;
  readonly span: Span;
}

export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '//'
  | '%'
  | '**'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'and'
  | 'or'
  /** `a >> b`: sequential composition of layers (apply a, then b). */
  | '>>'
  /** `warmup(...) then cosine(...)`: schedule chaining. */
  | 'then';

export interface BinaryExpr {
  readonly kind: 'Binary';
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
  /** Span of the operator token, for diagnostics about the operation itself. */
  readonly opSpan: Span;
  readonly span: Span;
}

export interface UnaryExpr {
  readonly kind: 'Unary';
  readonly op: '-' | 'not';
  readonly operand: Expr;
  readonly span: Span;
}

/** `f(a, b, name = c)` */
export interface CallExpr {
  readonly kind: 'Call';
  readonly callee: Expr;
  readonly args: readonly Arg[];
  readonly span: Span;
}

export interface Arg {
  readonly kind: 'Arg';
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `enc.dims` */
export interface MemberExpr {
  readonly kind: 'Member';
  readonly object: Expr;
  readonly property: Ident;
  readonly span: Span;
}

/** `dims[1]`, `stages[i]` */
export interface IndexExpr {
  readonly kind: 'Index';
  readonly object: Expr;
  readonly index: Expr;
  readonly span: Span;
}

/**
 * `x |> f` applies f to x; `x |> f(a = 1)` is `f(x, a = 1)` when f is a primitive function,
 * and `f(a = 1)(x)` when f constructs a layer. The compiler decides; the parser only records.
 */
export interface PipeExpr {
  readonly kind: 'Pipe';
  readonly value: Expr;
  readonly fn: Expr;
  readonly opSpan: Span;
  readonly span: Span;
}

/** `repeat depth Block(dim)` or `repeat depth as j Block(dim, drop_path = rates[j])` */
export interface RepeatExpr {
  readonly kind: 'Repeat';
  readonly count: Expr;
  readonly index?: Ident;
  readonly body: Expr;
  readonly span: Span;
}

/** `if cond then a else b` */
export interface ConditionalExpr {
  readonly kind: 'Conditional';
  readonly test: Expr;
  readonly then: Expr;
  readonly otherwise: Expr;
  readonly span: Span;
}

/** `[expr for i in 0..4]` */
export interface ComprehensionExpr {
  readonly kind: 'Comprehension';
  readonly element: Expr;
  readonly variable: Ident;
  readonly range: Expr;
  readonly span: Span;
}

/** Placeholder the parser inserts where it recovered from a syntax error. */
export interface MissingExpr {
  readonly kind: 'Missing';
  readonly span: Span;
}

export type Node =
  | Module
  | Import
  | ImportName
  | Ident
  | Decl
  | Param
  | BlockMember
  | NamedOutputs
  | FieldGroup
  | FieldDecl
  | Setting
  | StageDecl
  | VariantEdit
  | TypeExpr
  | Stmt
  | Expr
  | Arg;
