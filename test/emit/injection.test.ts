/**
 * Injection suite: hostile names and strings from a spec cannot change the meaning of the
 * generated code. One template program is rendered with benign names and with three sets of
 * hostile ones (JavaScript/TypeScript reserved words, names of runtime members, of the runtime
 * import and of generated locals, `__proto__`, ...) plus hostile strings (quotes, backticks,
 * `${`, `*\/`, newlines, U+2028/U+2029, NUL, `\u0041` text) in string parameters, doc comments,
 * dataset settings and the file name itself. Every hostile build must type-check in strict mode,
 * contain only the declarations the benign build contains, and behave identically: same
 * parameter paths (with the hostile names), same initial values, same outputs, same strings in
 * the lowered specs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, loadBuiltProgram } from '../../compiler/builder/build.js';
import * as nv from '../../runtime/index.js';
import { cpuSeeded, freshRepoDir, removeRepoDirs } from '../builder/helpers.js';

type Slots = Record<
  | 'BLOCK'
  | 'MODEL'
  | 'P1'
  | 'P2'
  | 'C1'
  | 'C2'
  | 'C3'
  | 'C4'
  | 'W'
  | 'IN1'
  | 'IN2'
  | 'IN3'
  | 'IN4'
  | 'OUT'
  | 'SYM'
  | 'LOCAL'
  | 'M1',
  string
>;

interface Round {
  readonly names: Slots;
  /** .nvc string literal bodies (escaped as .nvc source) and their decoded values. */
  readonly str: { readonly source: string; readonly value: string };
  readonly doc: string;
  readonly file: string;
}

const BENIGN: Round = {
  names: {
    BLOCK: 'Cell',
    MODEL: 'Net',
    P1: 'width',
    P2: 'tag',
    C1: 'lin',
    C2: 'ln',
    C3: 'cell',
    C4: 'cells',
    W: 'shift',
    IN1: 'a',
    IN2: 'b',
    IN3: 'x',
    IN4: 'y',
    OUT: 'out1',
    SYM: 'B',
    LOCAL: 'h',
    M1: 'dim',
  },
  str: { source: 'plain', value: 'plain' },
  doc: 'A plain block.',
  file: 'plain.nvc',
};

const HOSTILE: Round[] = [
  {
    names: {
      BLOCK: 'class',
      MODEL: 'constructor',
      P1: 'default',
      P2: 'function',
      C1: '__proto__',
      C2: 'prototype',
      C3: 'find',
      C4: 'items',
      W: 'param',
      IN1: 'this',
      IN2: 'arguments',
      IN3: 'ctx',
      IN4: 'inputs',
      OUT: '__proto__',
      SYM: 'Math',
      LOCAL: 'v1',
      M1: 'eval',
    },
    str: {
      source: '*/ throw new Error(\\"pwned\\") /* `${process.exit(1)}` \\u{2028}\\u{2029}',
      value: '*/ throw new Error("pwned") /* `${process.exit(1)}` \u2028\u2029',
    },
    doc: 'Closes the comment */ process.exit(1); /* and opens another',
    file: 'we"ird*\\`${x}`.nvc',
  },
  {
    names: {
      BLOCK: 'nv',
      MODEL: 'Object',
      P1: 'new',
      P2: 'delete',
      C1: 'child',
      C2: 'children',
      C3: 'toString',
      C4: 'hasOwnProperty',
      W: 'length',
      IN1: 'super',
      IN2: 'yield',
      IN3: 'await',
      IN4: 't',
      OUT: 'constructor',
      SYM: 'NaN',
      LOCAL: 'm',
      M1: 'var',
    },
    str: {
      source: '\\"; process.exit(1); \\"\\nconsole.log(1)\\r\\n// \\\\u0041 \\u{0} \\u{1F600}',
      value: '"; process.exit(1); "\nconsole.log(1)\r\n// \\u0041 \u0000 \u{1F600}',
    },
    doc: '*/ } class X { /*',
    file: 'line\nbreak\u2028sep.nvc',
  },
  {
    names: {
      BLOCK: 'factories',
      MODEL: 'trainSpec',
      P1: 'typeof',
      P2: 'instanceof',
      C1: 'namedParameters',
      C2: 'dispose',
      C3: 'at',
      C4: 'ownChildren',
      W: 'valueOf',
      IN1: 'void',
      IN2: 'seq',
      IN3: 'u',
      IN4: 'v3',
      OUT: 'toString',
      SYM: 'Symbol',
      LOCAL: 'null',
      M1: 'implements',
    },
    str: { source: "'single' ${`tpl`} </script> \\\\", value: "'single' ${`tpl`} </script> \\" },
    doc: 'Ends with a backslash \\',
    file: "it's ${a} `b`.nvc",
  },
];

function render(r: Round): string {
  const n = r.names;
  return `/// ${r.doc}
block ${n.BLOCK}(${n.P1}: int = 4, ${n.P2}: string = "${r.str.source}") {
  ${n.C1} = Linear(${n.P1}, ${n.P1})
  weight ${n.W}: [${n.P1}] = normal(std = 0.5)
  ${n.C2} = LayerNorm(${n.P1})
  forward(${n.IN1}: [${n.SYM}, ${n.P1}], ${n.IN2}: [${n.SYM}, ${n.P1}]) -> [${n.SYM}, ${n.P1}] {
    let ${n.LOCAL} = ${n.C1}(${n.IN1}) + ${n.W}
    return ${n.C2}(${n.LOCAL} * ${n.IN2})
  }
}

/// ${r.doc}
model ${n.MODEL}(${n.M1}: int = 4) {
  ${n.C3} = ${n.BLOCK}(${n.M1})
  ${n.C4} = repeat 2 ${n.BLOCK}(${n.M1}, ${n.P2} = "${r.str.source}")
  forward(${n.IN3}: [${n.SYM}, ${n.M1}], ${n.IN4}: [${n.SYM}, ${n.M1}]) -> (${n.OUT}: [${n.SYM}, ${n.M1}]) {
    let q = ${n.C3}(${n.IN3}, ${n.IN4})
    return (${n.OUT} = ${n.C4}(q, ${n.IN2} = ${n.IN4}))
  }
}
`;
}

/** Parameter paths of the template, by slot names. */
function expectedPaths(n: Slots): string[] {
  const block = (p: string) => [
    `${p}.${n.C1}.weight`,
    `${p}.${n.C1}.bias`,
    `${p}.${n.W}`,
    `${p}.${n.C2}.weight`,
    `${p}.${n.C2}.bias`,
  ];
  return [...block(n.C3), ...block(`${n.C4}.0`), ...block(`${n.C4}.1`)].sort();
}

/** Top-level statement kinds of a TypeScript file (what the code declares). */
function declarations(text: string): string[] {
  const sf = ts.createSourceFile('x.ts', text, ts.ScriptTarget.ES2022, true);
  return sf.statements.map((s) => `${ts.SyntaxKind[s.kind]}${ts.isClassDeclaration(s) ? `:${s.members.length}` : ''}`);
}

describe('hostile names and strings', () => {
  afterAll(removeRepoDirs);
  const built: { round: Round; dir: string; outDir: string; src: string }[] = [];

  it('has at least 20 distinct hostile names and strings', () => {
    const names = new Set(HOSTILE.flatMap((r) => Object.values(r.names)));
    const strings = new Set(HOSTILE.flatMap((r) => [r.str.value, r.doc, r.file]));
    expect(names.size).toBeGreaterThanOrEqual(40);
    expect(strings.size).toBeGreaterThanOrEqual(9);
  });

  it('every round builds, type-checks strictly and declares what the benign build declares', async () => {
    for (const round of [BENIGN, ...HOSTILE]) {
      const dir = freshRepoDir();
      const src = path.join(dir, round.file);
      fs.writeFileSync(src, render(round));
      const outDir = path.join(dir, 'out');
      const r = await buildProgram(src, { outDir });
      expect(
        r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
        round.names.BLOCK,
      ).toEqual([]);
      expect(r.problems, round.names.BLOCK).toEqual([]);
      built.push({ round, dir, outDir, src });
    }
    const files = built.flatMap((b) => [path.resolve(b.outDir, 'model.ts'), path.resolve(b.outDir, 'train.ts')]);
    const program = ts.createProgram(files, {
      strict: true,
      noImplicitOverride: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      paths: { 'nvcc/runtime': [path.resolve('runtime/index.ts')] },
    });
    const diags = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.includes(path.resolve(d.file.fileName)));
    expect(diags.map((d) => `${d.file!.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`)).toEqual([]);
    const benign = built[0]!;
    for (const b of built.slice(1)) {
      for (const f of ['model.ts', 'train.ts', 'model.js', 'train.js']) {
        expect(declarations(fs.readFileSync(path.join(b.outDir, f), 'utf8')), `${b.round.file} ${f}`).toEqual(
          declarations(fs.readFileSync(path.join(benign.outDir, f), 'utf8')),
        );
      }
    }
  });

  it('every round behaves like the benign build', async () => {
    expect(built.length).toBe(1 + HOSTILE.length);
    const results: { paths: string[]; values: number[][]; out: number[]; keys: string[] }[] = [];
    for (const b of built) {
      const p = await loadBuiltProgram(b.src, { outDir: b.outDir });
      expect(p.cached).toBe(true);
      const factory = Object.getOwnPropertyDescriptor(p.modelFactories, b.round.names.MODEL)?.value as nv.ModelFactory;
      expect(Object.keys(p.modelFactories)).toEqual([b.round.names.MODEL]);
      await cpuSeeded(9);
      const model = factory.create();
      const named = model.namedParameters();
      expect(named.map(([k]) => k).sort()).toEqual(expectedPaths(b.round.names));
      const inputs: Record<string, nv.tf.Tensor> = {};
      Object.defineProperty(inputs, b.round.names.IN3, {
        value: nv.tf.tensor2d([
          [1, 2, 3, 4],
          [0.5, -1, 2, 0],
        ]),
        enumerable: true,
      });
      Object.defineProperty(inputs, b.round.names.IN4, {
        value: nv.tf.tensor2d([
          [0.1, 0.2, 0.3, 0.4],
          [1, 1, -1, 2],
        ]),
        enumerable: true,
      });
      const out = model.forward({ training: false, rng: nv.createRng(1) }, inputs) as Record<string, nv.tf.Tensor>;
      const keys = Object.keys(out);
      const value = Object.getOwnPropertyDescriptor(out, b.round.names.OUT)!.value as nv.tf.Tensor;
      results.push({
        paths: named.map(([k]) => k),
        values: named.map(([, v]) => Array.from(v.variable.dataSync())),
        out: Array.from(value.dataSync()),
        keys,
      });
      expect(keys).toEqual([b.round.names.OUT]);
      // The string parameter reaches the resolved configuration unchanged.
      expect((p.resolvedConfig.values as Record<string, unknown>)[`${b.round.names.BLOCK}.${b.round.names.P2}`]).toBe(
        b.round.str.value,
      );
      model.dispose();
    }
    const base = results[0]!;
    for (const r of results.slice(1)) {
      expect(r.values).toEqual(base.values);
      expect(r.out).toEqual(base.out);
    }
    expect(base.out.some((v) => v !== 0)).toBe(true);
  });

  it('hostile stage, field and dataset strings reach the specs unchanged', async () => {
    const mini = fs.readFileSync('test/fixtures/emit/mini-mednvc.nvc', 'utf8');
    const hostilePattern = '{id}_x"ra`ys${1}*/\n\u2028';
    const text = mini
      .replace(
        'folder("xrays", per = patient_id,',
        'folder("xrays", per = patient_id, pattern = "{id}_x\\"ra`ys${1}*/\\n\\u{2028}",',
      )
      .replace(/\bstage pretrain\b/, 'stage __proto__')
      .replace('pretrain.encoder', '__proto__.encoder')
      .replace(/\bstage finetune\b/, 'stage constructor')
      .replace('crp: number', 'toString: number')
      .replace('train Mini on PJI', 'train class on PJI');
    const dir = freshRepoDir();
    const src = path.join(dir, 'mini.nvc');
    fs.writeFileSync(src, text);
    const p = await loadBuiltProgram(src, { outDir: path.join(dir, 'out') });
    expect(Object.keys(p.factories)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(p.factories)).toBe(Object.prototype);
    expect(p.trainSpec!.name).toBe('class');
    expect(p.trainSpec!.stages.map((s) => s.name)).toEqual(['__proto__', 'constructor']);
    expect(p.trainSpec!.stages[1]!.handover).toEqual([
      { from: '__proto__', modules: [{ source: 'encoder', target: 'enc' }] },
    ]);
    expect(p.datasetSpec!.groups[0]!.fields[0]!.name).toBe('toString');
    const raw = JSON.parse(JSON.stringify(p.datasetSpec));
    expect(raw.source.kind).toBe('synthetic');
    expect(p.datasetSpec!.images.pattern).toBe(hostilePattern);
    await cpuSeeded(2);
    const m = (Object.getOwnPropertyDescriptor(p.factories, '__proto__')!.value as nv.ModelFactory).create();
    const entry = Object.getOwnPropertyDescriptor(p.manifest.models, '__proto__')?.value as { parameters: number };
    expect(m.parameterCount()).toBe(entry.parameters);
    m.dispose();
  });
});
