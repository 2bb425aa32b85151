import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type * as A from '../../dsl/ast.js';
import { parse, printAst } from '../../dsl/index.js';
import { SourceFile } from '../../dsl/span.js';
import { compareBaseline } from '../harness/diagnostics.js';

const parseText = (text: string) => parse(new SourceFile('p.nvc', text));

/** Compact s-expression of an expression, to check structure without spans. */
function sx(e: A.Expr): string {
  switch (e.kind) {
    case 'Number':
      return e.raw;
    case 'String':
      return JSON.stringify(e.value);
    case 'Bool':
      return String(e.value);
    case 'Name':
      return e.name;
    case 'Missing':
      return '?';
    case 'List':
      return `[${e.items.map(sx).join(' ')}]`;
    case 'Record':
      return `{${e.entries.map((s) => `${s.key.name}=${sx(s.value)}`).join(' ')}}`;
    case 'Range':
      return `(.. ${sx(e.from)} ${sx(e.to)})`;
    case 'Binary':
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case 'Unary':
      return `(${e.op} ${sx(e.operand)})`;
    case 'Pipe':
      return `(|> ${sx(e.value)} ${sx(e.fn)})`;
    case 'Call':
      return (
        `(call ${sx(e.callee)}` +
        `${e.args.map((a) => ' ' + (a.name ? a.name.name + '=' : '') + sx(a.value)).join('')})`
      );
    case 'Member':
      return `(. ${sx(e.object)} ${e.property.name})`;
    case 'Index':
      return `(idx ${sx(e.object)} ${sx(e.index)})`;
    case 'Repeat':
      return `(repeat ${sx(e.count)}${e.index ? ' as ' + e.index.name : ''} ${sx(e.body)})`;
    case 'Conditional':
      return `(if ${sx(e.test)} ${sx(e.then)} ${sx(e.otherwise)})`;
    case 'Comprehension':
      return `(for ${sx(e.element)} ${e.variable.name} ${sx(e.range)})`;
  }
}

function constValue(text: string): string {
  const r = parseText(`const c = ${text}`);
  expect(r.diagnostics).toEqual([]);
  const d = r.module.decls[0] as A.ConstDecl;
  return sx(d.value);
}

describe('expressions', () => {
  it.each([
    ['1 + 2 * 3', '(+ 1 (* 2 3))'],
    ['1 - 2 - 3', '(- (- 1 2) 3)'],
    ['2 ** 3 ** 2', '(** 2 (** 3 2))'],
    ['-x ** 2', '(- (** x 2))'],
    ['2 ** -1', '(** 2 (- 1))'],
    ['a div 2 % 3', '(% (// a 2) 3)'],
    ['not a == b and c or d', '(or (and (not (== a b)) c) d)'],
    ['0..n + 1', '(.. 0 (+ n 1))'],
    ['x |> f >> g', '(|> x (>> f g))'],
    ['warmup(epochs = 10) then cosine(to = 5e-7)', '(then (call warmup epochs=10) (call cosine to=5e-7))'],
    ['if a < b then x |> f else y then z', '(then (if (< a b) (|> x f) y) z)'],
    [
      'repeat depth as j Block(dim, drop = r[j]) >> Head',
      '(>> (repeat depth as j (call Block dim drop=(idx r j))) Head)',
    ],
    ['[x * 2 for i in 0..4]', '(for (* x 2) i (.. 0 4))'],
    ['[]', '[]'],
    ['[1, 2,]', '[1 2]'],
    ['{ negative = 0, positive = 1 }', '{negative=0 positive=1}'],
    ['enc.dims[1].x', '(. (idx (. enc dims) 1) x)'],
    ['(a + b) * c', '(* (+ a b) c)'],
    ['"a\\tb"', '"a\\tb"'],
    ['true and false', '(and true false)'],
  ])('%s', (text, expected) => {
    expect(constValue(text)).toBe(expected);
  });

  it('makes parentheses widen the span without adding a node', () => {
    const r = parseText('const c = (a + b)');
    const v = (r.module.decls[0] as A.ConstDecl).value;
    expect(v.kind).toBe('Binary');
    expect(v.span).toEqual({ file: 'p.nvc', start: 10, end: 17 });
  });
});

describe('declarations', () => {
  it('reads blocks, weights, layers with `sparse`, forward with named outputs and statements', () => {
    const r = parseText(
      [
        'block B(dim: int, eps: float = 1e-6, dims: int[]) {',
        '  frozen weight g: [dim] = ones; weight b: [dim]',
        '  dw = DepthwiseConv2d(dim, kernel = 7) sparse',
        '  forward(x: [B, H, W, dim]) -> (y: [B, dim], z: [B]) {',
        '    let t: [B, dim] = x; t = t * 2',
        '    for i in 0..3 { t = t + i }',
        '    return (y = t, z = mean(t))',
        '  }',
        '}',
      ].join('\n'),
    );
    expect(r.diagnostics).toEqual([]);
    const b = r.module.decls[0] as A.BlockDecl;
    expect(
      b.params.map(
        (p) =>
          `${p.name.name}:` +
          `${p.type.kind === 'NamedType' ? p.type.name.name + (p.type.isList ? '[]' : '') : 'tensor'}` +
          `${p.default ? '=' + sx(p.default) : ''}`,
      ),
    ).toEqual(['dim:int', 'eps:float=1e-6', 'dims:int[]']);
    expect(b.members.map((m) => m.kind)).toEqual(['Weight', 'Weight', 'Layer', 'Forward']);
    expect((b.members[0] as A.WeightDecl).frozen).toBe(true);
    expect((b.members[1] as A.WeightDecl).init).toBeUndefined();
    expect((b.members[2] as A.LayerDecl).sparse).toBe(true);
    const f = b.members[3] as A.ForwardDecl;
    expect(f.returns.kind).toBe('NamedOutputs');
    expect(f.body.map((s) => s.kind)).toEqual(['Let', 'Assign', 'For', 'Return']);
    expect(sx((f.body[3] as A.ReturnStmt).value)).toBe('{y=t z=(call mean t)}');
  });

  it('reads datasets with settings and field groups', () => {
    const r = parseText(
      'dataset D {\n  source = "x.csv"\n  labs {\n    crp: number log1p standardize\n    a, b,\n    c: ' +
        'binary\n    joint: category [hip, knee]\n  }\n}',
    );
    expect(r.diagnostics).toEqual([]);
    const d = r.module.decls[0] as A.DatasetDecl;
    expect(d.settings.map((s) => s.key.name)).toEqual(['source']);
    const fields = d.fieldGroups[0]!.fields;
    expect(
      fields.map((f) => `${f.names.map((n) => n.name).join(',')}:${f.type.name}[${f.modifiers.map(sx).join(' ')}]`),
    ).toEqual(['crp:number[log1p standardize]', 'a,b,c:binary[]', 'joint:category[[hip knee]]']);
  });

  it('reads train, stages, variants, imports with aliases and doc comments', () => {
    const r = parseText(
      'import { A, B as C } from "std/x"\n/// first line\n/// second\ntrain T on D {\n  seed = 1\n  stage s { ' +
        'model = M(enc = p.encoder); epochs = 2 }\n}\nvariant v extends w { remove stage s; s.epochs = 1 }\n',
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.module.imports[0]!.names.map((n) => `${n.name.name}${n.alias ? '->' + n.alias.name : ''}`)).toEqual([
      'A',
      'B->C',
    ]);
    const t = r.module.decls[0] as A.TrainDecl;
    expect([
      t.name.name,
      t.dataset.name,
      t.settings.length,
      t.stages[0]!.settings.map((s) => s.key.name).join(),
    ]).toEqual(['T', 'D', 1, 'model,epochs']);
    const v = r.module.decls[1] as A.VariantDecl;
    expect(v.extends?.name).toBe('w');
    expect(
      v.edits.map((e) =>
        e.kind === 'RemoveEdit'
          ? `remove ${sx(e.path)}`
          : e.kind === 'SetEdit'
            ? `${sx(e.path)}=${sx(e.value)}`
            : `stage ${e.stage.name.name}`,
      ),
    ).toEqual(['remove s', '(. s epochs)=1']);
    const added = parseText('variant v {\n  stage warm before fine { epochs = 1 }\n  warm.batch = 4\n}\n');
    expect(added.diagnostics).toEqual([]);
    const [add, set] = (added.module.decls[0] as A.VariantDecl).edits;
    expect(
      add!.kind === 'AddStageEdit' && [
        add.stage.name.name,
        add.stage.placement?.position.name,
        add.stage.placement?.anchor.name,
        add.stage.settings.map((x) => x.key.name).join(),
      ],
    ).toEqual(['warm', 'before', 'fine', 'epochs']);
    expect(set!.kind).toBe('SetEdit');
    const b = parseText('/// GRN\n/// normalises\nblock G { forward() -> [B] { return x } }').module
      .decls[0] as A.BlockDecl;
    expect(b.doc).toBe('GRN\nnormalises');
  });

  it('reads the keyword `dataset` as a value (normalize = dataset) but not as a declared name', () => {
    const r = parseText(
      'dataset D {\n  images = folder("x", per = id, normalize = dataset)\n  split = by_patient(train = ' +
        '1)\n}\ntrain T on D { seed = 1 }\n',
    );
    expect(r.diagnostics).toEqual([]);
    const d = r.module.decls[0] as A.DatasetDecl;
    expect(sx(d.settings[0]!.value)).toBe('(call folder "x" per=id normalize=dataset)');
    expect((r.module.decls[1] as A.TrainDecl).dataset.name).toBe('D');
    expect(parseText('const dataset: int = 1\n').diagnostics.map((x) => x.code)).toEqual(['NVC1014']);
  });
});

describe('recovery', () => {
  it('fills a missing name with an empty Ident and a missing value with Missing', () => {
    const r = parseText('const = 3\nconst y =\nconst z = 1');
    expect(r.diagnostics.length).toBeGreaterThan(0);
    const names = r.module.decls.map((d) => (d as A.ConstDecl).name.name);
    expect(names).toContain('z');
    const y = r.module.decls.find((d) => (d as A.ConstDecl).name.name === 'y') as A.ConstDecl | undefined;
    if (y) expect(y.value.kind).toBe('Missing');
  });

  it('keeps the declarations after a broken one', () => {
    const r = parseText(
      'block A { forward( -> [B] { return x } }\nblock B { forward() -> [B] { return x } }\nconst k = 2',
    );
    expect(r.diagnostics.length).toBeGreaterThan(0);
    expect(r.module.decls.map((d) => (d.kind === 'Const' || d.kind === 'Block' ? d.name.name : d.kind))).toEqual([
      'A',
      'B',
      'k',
    ]);
  });

  it('reports one error per broken statement, not a cascade', () => {
    const r = parseText('block A {\n  forward(x: [B]) -> [B] {\n    let y = (x + ) * ] 3 ,\n    return y\n  }\n}');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['NVC1012']);
  });
});

describe('AST printer', () => {
  it('prints the sketch program stably (golden)', () => {
    const path = 'test/fixtures/clean/sketch-example.nvc';
    const file = new SourceFile(path, readFileSync(path, 'utf8'));
    const text = printAst(parse(file).module, file);
    const outcome = compareBaseline('ast', 'sketch-example', text);
    expect(outcome.status).not.toBe('missing');
    expect(outcome.actual).toBe(outcome.expected);
  });
});
