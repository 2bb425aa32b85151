/**
 * The grammar of .nvc as a pure Chevrotain CstParser (no semantic actions).
 * In: the filtered token vector from lexer.ts. Out: a CST plus Chevrotain recognition errors
 * (turned into diagnostics by syntax-errors.ts). Holds afterwards: the parser never throws on
 * user input except RangeError on pathological nesting, which index.ts guards against; bodies
 * of declarations use `stray` alternatives so that one bad line never swallows the rest of the
 * file. One instance is created at module load and reused (`input =` resets it).
 *
 * Grammar (EBNF, also in docs/language.md):
 *   file        = { decl | SEP | stray } ;
 *   decl        = import | const | block | dataset | train | variant ;
 *   import      = "import" "{" importName { "," importName } [","] "}" "from" STRING ;
 *   block       = ("block" | "model") NAME [ "(" [params] ")" ] ["unmasked"] "{" { member | SEP } "}" ;
 *   member      = weight | forward | layer ;
 *   weight      = ( ["frozen"] "weight" | "buffer" ) NAME ":" tensorType [ "=" expr ] ;
 *   layer       = NAME "=" expr ["sparse"] ;
 *   forward     = "forward" "(" [params] ")" "->" (tensorType | "(" params ")") stmtBlock ;
 *   stmt        = "let" NAME [":" tensorType] "=" expr | "return" expr
 *               | "for" NAME "in" expr stmtBlock | NAME "=" expr | expr ;
 *   expr        = prefix { binop prefix } ;   (precedence applied in cst-to-ast.ts)
 *   prefix      = { "-" | "not" } postfix ;  postfix = primary { call | member | index } ;
 */
import {
  CstParser,
  EOF,
  VERSION,
  tokenMatcher,
  type IOrAlt,
  type IParserErrorMessageProvider,
  type IToken,
  type TokenType,
} from 'chevrotain';
import { excludeFromResyncSets, type ResyncAdjustment } from './chevrotain-adapter.js';
import type { FileCstNode } from './cst-types.js';
import * as T from './tokens.js';

/** Structured error text: syntax-errors.ts decodes it into a catalogue diagnostic. */
export interface EncodedParseError {
  readonly kind: 'mismatch' | 'noViableAlt' | 'earlyExit' | 'notAllInput';
  readonly expected: string[];
  readonly ruleName: string;
}

const encode = (e: EncodedParseError) => JSON.stringify(e);

const firstTokenNames = (paths: TokenType[][][]): string[] => {
  const names = new Set<string>();
  for (const alt of paths) for (const path of alt) if (path[0]) names.add(path[0].name);
  return [...names];
};

const messageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, ruleName }) =>
    encode({ kind: 'mismatch', expected: [expected.name], ruleName }),
  buildNotAllInputParsedMessage: () => encode({ kind: 'notAllInput', expected: [], ruleName: 'file' }),
  buildNoViableAltMessage: ({ expectedPathsPerAlt, ruleName }) =>
    encode({ kind: 'noViableAlt', expected: firstTokenNames(expectedPathsPerAlt), ruleName }),
  buildEarlyExitMessage: ({ expectedIterationPaths, ruleName }) =>
    encode({ kind: 'earlyExit', expected: firstTokenNames([expectedIterationPaths]), ruleName }),
};

const openers = new Set<TokenType>([T.LParen, T.LBracket, T.LCurly]);
const closers = new Set<TokenType>([T.RParen, T.RBracket, T.RCurly]);

export interface NvcParserOptions {
  /** Keep `stray` out of error re-sync (default true); false only to compare recovery without it. */
  readonly localRecovery?: boolean;
}

export class NvcParser extends CstParser {
  /**
   * Whether error recovery stays local. The `stray` alternatives start with AnyToken, which
   * would put "any token" into the follow set of every body. Chevrotain's between-rule recovery
   * re-syncs to the first follow-set match, scanning outer rules first, so AnyToken would make
   * every error unwind to the top level and drop the whole declaration. Chevrotain has no public
   * way to shape re-sync sets; chevrotain-adapter.ts removes AnyToken from them, checked
   * against the installed version.
   */
  readonly localRecovery: ResyncAdjustment;

  constructor(options: NvcParserOptions = {}) {
    super(T.allTokens as TokenType[], {
      recoveryEnabled: true,
      maxLookahead: 2,
      nodeLocationTracking: 'onlyOffset',
      errorMessageProvider: messageProvider,
    });
    this.localRecovery =
      options.localRecovery === false
        ? { applied: false, chevrotainVersion: VERSION, reason: 'turned off by the caller' }
        : excludeFromResyncSets(this, T.AnyToken);
    this.performSelfAnalysis();
  }

  private notAt(type: TokenType): boolean {
    return this.LA(1).tokenType !== type;
  }

  /**
   * `{ item* }` inside a rule: separators between the items, and anything else taken by `stray`
   * (reported, never eating the closing `}`), so one bad line in a body spoils nothing after it.
   * `orOccurrence` is the OR's index within the calling rule (2 when the rule has an OR before).
   */
  private bracedItems(items: IOrAlt<unknown>[], orOccurrence = 1): void {
    this.CONSUME(T.LCurly);
    this.MANY({
      GATE: () => this.notAt(T.RCurly),
      DEF: () => {
        this.or(orOccurrence, [
          { ALT: () => this.CONSUME(T.Separator) },
          ...items,
          { IGNORE_AMBIGUITIES: true, ALT: () => this.SUBRULE(this.stray) },
        ]);
      },
    });
    this.CONSUME(T.RCurly);
  }

  // ----------------------------------------------------------------------- top level

  public file = this.RULE('file', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.importDecl) },
        { ALT: () => this.SUBRULE(this.constDecl) },
        { ALT: () => this.SUBRULE(this.blockDecl) },
        { ALT: () => this.SUBRULE(this.interfaceDecl) },
        { ALT: () => this.SUBRULE(this.datasetDecl) },
        { ALT: () => this.SUBRULE(this.trainDecl) },
        { ALT: () => this.SUBRULE(this.variantDecl) },
        { ALT: () => this.CONSUME(T.Separator) },
        { IGNORE_AMBIGUITIES: true, ALT: () => this.SUBRULE(this.topStray) },
      ]);
    });
  });

  /**
   * Skips a run of tokens that starts no valid item: up to the next separator or closing `}`
   * at bracket depth 0. `stray` is used inside braces (never eats the closing `}`); `topStray`
   * at top level, where a stray `}` is skipped too.
   */
  private skipStray(insideBraces: boolean): void {
    let depth = 0;
    let first = true;
    let firstColumn = 0;
    let lastLine = 0;
    this.AT_LEAST_ONE({
      GATE: () => {
        const next = this.LA(1);
        if (next.tokenType === EOF) return false;
        if (first) return !(insideBraces && next.tokenType === T.RCurly);
        // An unbalanced bracket must not swallow the file: a token on a new line that is not
        // indented deeper than the stray start begins something new.
        if ((next.startLine ?? 0) > lastLine && (next.startColumn ?? 0) <= firstColumn) return false;
        if (depth > 0) return true;
        return !tokenMatcher(next, T.Separator) && next.tokenType !== T.RCurly;
      },
      DEF: () => {
        const tok = this.CONSUME(T.AnyToken);
        this.ACTION(() => {
          if (first) firstColumn = tok.startColumn ?? 0;
          lastLine = tok.endLine ?? tok.startLine ?? lastLine;
          first = false;
          if (openers.has(tok.tokenType)) depth++;
          else if (closers.has(tok.tokenType)) depth = Math.max(0, depth - 1);
        });
      },
    });
  }

  public stray = this.RULE('stray', () => this.skipStray(true));
  public topStray = this.RULE('topStray', () => this.skipStray(false));

  public importDecl = this.RULE('importDecl', () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.LCurly);
    this.SUBRULE(this.importName);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.importName);
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
    this.CONSUME(T.RCurly);
    this.CONSUME(T.From);
    this.CONSUME(T.StringLiteral);
  });

  public importName = this.RULE('importName', () => {
    this.CONSUME(T.Word);
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME2(T.Word);
    });
  });

  public constDecl = this.RULE('constDecl', () => {
    this.CONSUME(T.Const);
    this.CONSUME(T.Word);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.typeExpr);
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // ----------------------------------------------------------------------- blocks

  public blockDecl = this.RULE('blockDecl', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Block) }, { ALT: () => this.CONSUME(T.Model) }]);
    this.SUBRULE(this.blockHeader);
    this.OPTION(() => this.CONSUME(T.Unmasked));
    this.bracedItems(
      [
        { ALT: () => this.SUBRULE(this.weightDecl) },
        { ALT: () => this.SUBRULE(this.forwardDecl) },
        { ALT: () => this.SUBRULE(this.layerDecl) },
      ],
      2,
    );
  });

  /**
   * Name and parameters of a block. A separate rule so that an error in the parameters
   * re-syncs at the body's `{` (this rule's follow set) instead of abandoning the block.
   */
  public blockHeader = this.RULE('blockHeader', () => {
    this.CONSUME(T.Word);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => this.SUBRULE(this.paramList));
      this.CONSUME(T.RParen);
    });
  });

  public paramList = this.RULE('paramList', () => {
    this.SUBRULE(this.param);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.SUBRULE2(this.param);
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
  });

  public param = this.RULE('param', () => {
    this.CONSUME(T.Word);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeExpr);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  public weightDecl = this.RULE('weightDecl', () => {
    this.OR([
      {
        ALT: () => {
          this.OPTION(() => this.CONSUME(T.Frozen));
          this.CONSUME(T.Weight);
        },
      },
      { ALT: () => this.CONSUME(T.BufferKw) },
    ]);
    this.CONSUME(T.Word);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.tensorType);
    this.OPTION2(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expression);
    });
  });

  public layerDecl = this.RULE('layerDecl', () => {
    this.CONSUME(T.Word);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
    this.OPTION(() => this.CONSUME(T.Sparse));
  });

  /** `forward(...) -> ... { }`, or a named part `forward stage(...) -> ... { }`. */
  public forwardDecl = this.RULE('forwardDecl', () => {
    this.CONSUME(T.Forward);
    this.OPTION(() => this.CONSUME(T.Word));
    this.SUBRULE(this.forwardSignature);
    this.SUBRULE(this.stmtBlock);
  });

  /** `interface Name(params) { forward [name](...) -> ... }`: what a block must provide. */
  public interfaceDecl = this.RULE('interfaceDecl', () => {
    this.CONSUME(T.Interface);
    this.SUBRULE(this.blockHeader);
    this.bracedItems([{ ALT: () => this.SUBRULE(this.forwardRequirement) }]);
  });

  /** A forward an interface requires: its name (none for the block's own forward) and signature. */
  public forwardRequirement = this.RULE('forwardRequirement', () => {
    this.CONSUME(T.Forward);
    this.OPTION(() => this.CONSUME(T.Word));
    this.SUBRULE(this.forwardSignature);
  });

  /** `(params) -> Type`: its own rule so that errors in it re-sync at the body's `{`. */
  public forwardSignature = this.RULE('forwardSignature', () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.CONSUME(T.RParen);
    this.CONSUME(T.Arrow);
    this.OR([{ ALT: () => this.SUBRULE(this.tensorType) }, { ALT: () => this.SUBRULE(this.namedOutputs) }]);
  });

  public namedOutputs = this.RULE('namedOutputs', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.paramList);
    this.CONSUME(T.RParen);
  });

  // ----------------------------------------------------------------------- types

  public typeExpr = this.RULE('typeExpr', () => {
    this.OR([{ ALT: () => this.SUBRULE(this.tensorType) }, { ALT: () => this.SUBRULE(this.namedType) }]);
  });

  public namedType = this.RULE('namedType', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.CONSUME(T.RBracket);
    });
  });

  public tensorType = this.RULE('tensorType', () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => this.SUBRULE(this.exprList));
    this.CONSUME(T.RBracket);
  });

  /** `e, e, e` with an optional trailing comma. */
  public exprList = this.RULE('exprList', () => {
    this.SUBRULE(this.expression);
    this.MANY({
      GATE: () => this.LA(2).tokenType !== T.RBracket && this.LA(2).tokenType !== T.RParen,
      DEF: () => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expression);
      },
    });
    this.OPTION(() => this.CONSUME2(T.Comma));
  });

  // ----------------------------------------------------------------------- statements

  public stmtBlock = this.RULE('stmtBlock', () => {
    this.bracedItems([
      // `weight w: [4]` in a forward is a misplaced declaration (the stray reports it), while
      // `weight * x` reads a weight named `weight`.
      {
        GATE: () => !(this.LA(1).tokenType === T.Weight && this.LA(2).tokenType === T.Identifier),
        ALT: () => this.SUBRULE(this.statement),
      },
    ]);
  });

  public statement = this.RULE('statement', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letStmt) },
      { ALT: () => this.SUBRULE(this.returnStmt) },
      { ALT: () => this.SUBRULE(this.forStmt) },
      { ALT: () => this.SUBRULE(this.assignStmt) },
      { ALT: () => this.SUBRULE(this.exprStmt) },
    ]);
  });

  public letStmt = this.RULE('letStmt', () => {
    this.CONSUME(T.Let);
    this.CONSUME(T.Word);
    this.OPTION(() => {
      this.CONSUME(T.Colon);
      this.SUBRULE(this.tensorType);
    });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  public returnStmt = this.RULE('returnStmt', () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression);
  });

  public forStmt = this.RULE('forStmt', () => {
    this.CONSUME(T.For);
    this.CONSUME(T.Word);
    this.CONSUME(T.In);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.stmtBlock);
  });

  public assignStmt = this.RULE('assignStmt', () => {
    this.CONSUME(T.Word);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  public exprStmt = this.RULE('exprStmt', () => {
    this.SUBRULE(this.expression);
  });

  // ----------------------------------------------------------------------- data, training, variants

  public setting = this.RULE('setting', () => {
    this.CONSUME(T.Word);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  public datasetDecl = this.RULE('datasetDecl', () => {
    this.CONSUME(T.Dataset);
    this.CONSUME(T.Word);
    this.bracedItems([{ ALT: () => this.SUBRULE(this.setting) }, { ALT: () => this.SUBRULE(this.fieldGroup) }]);
  });

  public fieldGroup = this.RULE('fieldGroup', () => {
    this.CONSUME(T.Word);
    this.bracedItems([{ ALT: () => this.SUBRULE(this.fieldDecl) }]);
  });

  public fieldDecl = this.RULE('fieldDecl', () => {
    this.CONSUME(T.Word);
    this.MANY(() => {
      this.CONSUME(T.Comma);
      this.CONSUME2(T.Word);
    });
    this.CONSUME(T.Colon);
    this.CONSUME(T.Identifier);
    this.MANY2(() => this.SUBRULE(this.postfixExpr));
  });

  public trainDecl = this.RULE('trainDecl', () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.Word);
    this.CONSUME(T.On);
    this.CONSUME2(T.Word);
    this.bracedItems([{ ALT: () => this.SUBRULE(this.stageDecl) }, { ALT: () => this.SUBRULE(this.setting) }]);
  });

  public stageDecl = this.RULE('stageDecl', () => {
    this.CONSUME(T.Stage);
    this.CONSUME(T.Word);
    // `before finetune` / `after pretrain`: only meaningful for a stage a variant adds.
    this.OPTION(() => {
      this.CONSUME2(T.Word);
      this.CONSUME3(T.Word);
    });
    this.bracedItems([{ ALT: () => this.SUBRULE(this.setting) }]);
  });

  public variantDecl = this.RULE('variantDecl', () => {
    this.CONSUME(T.Variant);
    this.CONSUME(T.Word);
    this.OPTION(() => {
      this.CONSUME(T.Extends);
      this.CONSUME2(T.Word);
    });
    this.bracedItems([
      { ALT: () => this.SUBRULE(this.removeEdit) },
      { ALT: () => this.SUBRULE(this.setEdit) },
      { ALT: () => this.SUBRULE(this.stageDecl) },
    ]);
  });

  public removeEdit = this.RULE('removeEdit', () => {
    this.CONSUME(T.Remove);
    this.OPTION(() => this.CONSUME(T.Stage));
    this.SUBRULE(this.path);
  });

  public setEdit = this.RULE('setEdit', () => {
    this.SUBRULE(this.path);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  /** `finetune.optimizer.lr`, `stages[2].depth` */
  public path = this.RULE('path', () => {
    this.CONSUME(T.Identifier);
    this.MANY(() => {
      this.OR([{ ALT: () => this.SUBRULE(this.memberSuffix) }, { ALT: () => this.SUBRULE(this.indexSuffix) }]);
    });
  });

  // ----------------------------------------------------------------------- expressions

  /**
   * Expressions are parsed flat: operands with their prefix operators, separated by binary
   * operators; cst-to-ast.ts applies precedence and associativity. A flat grammar keeps the
   * recursion per bracket level small (5 rules instead of one per precedence level), so deep
   * but legitimate nesting does not exhaust the JavaScript stack.
   */
  public expression = this.RULE('expression', () => {
    this.SUBRULE(this.prefixExpr);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.BinaryOperator) }, { ALT: () => this.CONSUME(T.Then) }]);
      this.SUBRULE2(this.prefixExpr);
    });
  });

  /** An expression without top-level `then`: the parts of `if c then a else b`. */
  public condExpr = this.RULE('condExpr', () => {
    this.SUBRULE(this.prefixExpr);
    this.MANY(() => {
      this.CONSUME(T.BinaryOperator);
      this.SUBRULE2(this.prefixExpr);
    });
  });

  public prefixExpr = this.RULE('prefixExpr', () => {
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Minus) }, { ALT: () => this.CONSUME(T.Not) }]);
    });
    this.SUBRULE(this.postfixExpr);
  });

  public postfixExpr = this.RULE('postfixExpr', () => {
    this.SUBRULE(this.primary);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.callSuffix) },
        { ALT: () => this.SUBRULE(this.memberSuffix) },
        { ALT: () => this.SUBRULE(this.indexSuffix) },
      ]);
    });
  });

  public callSuffix = this.RULE('callSuffix', () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.arg);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== T.RParen,
        DEF: () => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.arg);
        },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  public arg = this.RULE('arg', () => {
    this.OPTION(() => {
      this.CONSUME(T.Word);
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.expression);
  });

  public memberSuffix = this.RULE('memberSuffix', () => {
    this.CONSUME(T.Dot);
    this.CONSUME(T.Word);
  });

  public indexSuffix = this.RULE('indexSuffix', () => {
    this.CONSUME(T.LBracket);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RBracket);
  });

  public primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.Identifier) },
      // `normalize = dataset`: the one keyword that is also a setting's value. An expression
      // never starts a declaration, so reading it as a name here is unambiguous.
      { ALT: () => this.CONSUME(T.Dataset) },
      // A weight named `weight` (PyTorch's name) read in a forward body. Followed by a name it
      // is a misplaced declaration instead, which the statement's recovery reports.
      { GATE: () => this.LA(2).tokenType !== T.Identifier, ALT: () => this.CONSUME(T.Weight) },
      { ALT: () => this.SUBRULE(this.listExpr) },
      { ALT: () => this.SUBRULE(this.recordExpr) },
      { ALT: () => this.SUBRULE(this.parenExpr) },
      { ALT: () => this.SUBRULE(this.repeatExpr) },
      { ALT: () => this.SUBRULE(this.ifExpr) },
    ]);
  });

  /** `[a, b]`, `[]`, `[e for i in 0..4]` */
  public listExpr = this.RULE('listExpr', () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.For);
            this.CONSUME(T.Word);
            this.CONSUME(T.In);
            this.SUBRULE2(this.expression);
          },
        },
        {
          ALT: () => {
            this.MANY({
              GATE: () => this.LA(2).tokenType !== T.RBracket,
              DEF: () => {
                this.CONSUME(T.Comma);
                this.SUBRULE3(this.expression);
              },
            });
            this.OPTION2(() => this.CONSUME2(T.Comma));
          },
        },
      ]);
    });
    this.CONSUME(T.RBracket);
  });

  /** `{ k = v, k = v }`; entries separated by `,`, `;` or newlines. */
  public recordExpr = this.RULE('recordExpr', () => {
    this.bracedItems([{ ALT: () => this.CONSUME(T.Comma) }, { ALT: () => this.SUBRULE(this.setting) }]);
  });

  /** `(e)` or a record in parentheses `(logits = a, features = b)`. */
  public parenExpr = this.RULE('parenExpr', () => {
    this.CONSUME(T.LParen);
    this.OR([
      {
        ALT: () => {
          this.SUBRULE(this.setting);
          this.MANY({
            GATE: () => this.LA(2).tokenType !== T.RParen,
            DEF: () => {
              this.CONSUME(T.Comma);
              this.SUBRULE2(this.setting);
            },
          });
          this.OPTION(() => this.CONSUME2(T.Comma));
        },
      },
      { ALT: () => this.SUBRULE(this.expression) },
    ]);
    this.CONSUME(T.RParen);
  });

  /** `repeat n body` / `repeat n as i body`: the count is a postfix expression, the body a prefix one. */
  public repeatExpr = this.RULE('repeatExpr', () => {
    this.CONSUME(T.Repeat);
    this.SUBRULE(this.postfixExpr);
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME(T.Word);
    });
    this.SUBRULE(this.prefixExpr);
  });

  /** `if c then a else b`: the parts exclude top-level `then` (which would read as chaining). */
  public ifExpr = this.RULE('ifExpr', () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.condExpr);
    this.CONSUME(T.Then);
    this.SUBRULE2(this.condExpr);
    this.CONSUME(T.Else);
    this.SUBRULE3(this.condExpr);
  });
}

/** The one reused parser instance. */
export const parser = new NvcParser();

// A Chevrotain upgrade that breaks the adapter degrades recovery, never parsing: say so once.
if (!parser.localRecovery.applied)
  process.emitWarning(`nvcc: syntax error recovery is less precise: ${parser.localRecovery.reason}`);

export function parseTokens(tokens: IToken[]): { cst: FileCstNode; errors: typeof parser.errors } {
  parser.input = tokens;
  // The node the `file` rule builds; cst-types.d.ts is generated from these very rules.
  const cst = parser.file() as FileCstNode;
  return { cst, errors: parser.errors };
}
