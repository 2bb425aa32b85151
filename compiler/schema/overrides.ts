/**
 * Experiment overrides: the JSON Schema of every tunable value of a program, and the
 * validation of `--set path=value` / `--config overrides.yaml` against it.
 * In: a checked program (its IR and the entry module's AST after the variant and overrides),
 * and override maps `dotted.path -> JSON value`. Out: an OverrideSchema (a flat JSON Schema
 * keyed by dotted path, with each path's current value) and, for a candidate override map,
 * the problems with it (unknown path with a did-you-mean, wrong type, out of range).
 * Holds afterwards: every path in the schema is one `compileProgram(..., { overrides })`
 * accepts (compiler/variants.ts): `<stage>.<setting>[.<arg>]`, `<stage>.schedule.<phase>.<arg>`,
 * `<train>.<setting>`, `<dataset>.<setting>[.<arg>]`, `<Block>.<param>` and `<CONST>` for the
 * entry file's declarations. Ranges come from compiler/settings-schema.ts, so a value this schema
 * accepts passes the setting checks too.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { parse } from '../../dsl/index.js';
import type { Expr, Module, TypeExpr } from '../../dsl/ast.js';
import { SourceFile } from '../../dsl/span.js';
import type { ProgramIR } from '../ir/ir.js';
import {
  bracketDepth,
  CONFIG_DEPTH_TEXT,
  FIXED_LIMITS,
  isStackOverflow,
  readRegularFile,
  refusalText,
  valueDepth,
} from '../limits.js';
import { closest, Reporter } from '../report.js';
import {
  DATASET_SETTINGS,
  STAGE_SETTINGS,
  TRAIN_SETTINGS,
  type ConfigSchema,
  type SettingType,
} from '../settings-schema.js';
import { applyVariant } from '../variants.js';
import type { IRValue } from '../ir/ir.js';
import { irValueToJson } from '../ir/value.js';

export type JsonSchema = Record<string, unknown>;

export interface TunableValue {
  /** Dotted path (`finetune.optimizer.lr`). */
  readonly path: string;
  readonly schema: JsonSchema;
  /** The value in the program as built (after variant and overrides); absent when unset. */
  readonly value?: unknown;
  /** Where the value lives, for messages (`stage finetune, optimizer lion`). */
  readonly where: string;
}

export interface OverrideSchema {
  /** `{ type: 'object', properties: { <path>: schema }, additionalProperties: false }` */
  readonly schema: JsonSchema;
  readonly tunables: ReadonlyMap<string, TunableValue>;
}

export interface OverrideProblem {
  readonly path: string;
  readonly kind: 'unknown-path' | 'wrong-type' | 'out-of-range' | 'bad-value' | 'bad-syntax';
  readonly message: string;
}

function rangeSchema(r: { min?: number; above?: number; max?: number; below?: number } | undefined): JsonSchema {
  if (!r) return {};
  return {
    ...(r.min !== undefined ? { minimum: r.min } : {}),
    ...(r.above !== undefined ? { exclusiveMinimum: r.above } : {}),
    ...(r.max !== undefined ? { maximum: r.max } : {}),
    ...(r.below !== undefined ? { exclusiveMaximum: r.below } : {}),
  };
}

/** JSON Schema of a leaf setting type; undefined for types that are not plain values. */
function leafSchema(t: SettingType): JsonSchema | undefined {
  switch (t.t) {
    case 'int':
      return { type: 'integer', ...rangeSchema(t.range) };
    case 'float':
      return { type: 'number', ...rangeSchema(t.range) };
    case 'bool':
      return { type: 'boolean' };
    case 'string':
      return { type: 'string' };
    case 'word':
      return t.words ? { type: 'string', enum: [...t.words] } : { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' };
    case 'list': {
      const items = leafSchema(t.of);
      if (!items) return undefined;
      return { type: 'array', items, ...(t.length !== undefined ? { minItems: t.length, maxItems: t.length } : {}) };
    }
    default:
      return undefined;
  }
}

type Json = Record<string, unknown>;

function configParts(v: unknown): { type: string; named: Json } | undefined {
  if (typeof v === 'string') return { type: v, named: {} };
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as Json).type === 'string') {
    const { type, args: _args, ...named } = v as Json & { type: string };
    void _args;
    return { type, named };
  }
  return undefined;
}

class SchemaBuilder {
  readonly tunables = new Map<string, TunableValue>();

  add(path: string, schema: JsonSchema, value: unknown, where: string): void {
    if (this.tunables.has(path)) return;
    this.tunables.set(path, { path, schema, ...(value !== undefined ? { value } : {}), where });
  }

  /** The arguments of one settings constructor as leaves under `prefix`. */
  private configArgs(prefix: string, kind: string, schema: ConfigSchema, named: Json, where: string): void {
    const positional = new Set(schema.positional ?? []);
    for (const [arg, t] of Object.entries(schema.args)) {
      if (positional.has(arg) && named[arg] === undefined) continue;
      const s = leafSchema(t);
      if (s) this.add(`${prefix}.${arg}`, s, named[arg], `${where}, ${kind}(${arg} = ...)`);
    }
  }

  /** Settings of one declaration (stage, train, dataset) under `prefix`. */
  settings(
    prefix: string,
    known: Readonly<Record<string, SettingType>>,
    values: Readonly<Record<string, unknown>>,
    where: string,
  ): void {
    for (const [key, t] of Object.entries(known)) {
      const value = values[key];
      const leaf = leafSchema(t);
      if (leaf) {
        this.add(`${prefix}.${key}`, leaf, value, where);
        continue;
      }
      if (t.t !== 'config' || value === undefined) continue;
      const parts = configParts(value);
      if (!parts) continue;
      if (parts.type === 'then' && t.chain) {
        // `schedule = warmup(...) then cosine(...)`: `<prefix>.schedule.<phase>.<arg>`.
        const phases = Array.isArray((value as Json).args) ? ((value as Json).args as unknown[]) : [];
        for (const p of phases) {
          const pp = configParts(p);
          const schema = pp ? t.kinds[pp.type] : undefined;
          if (pp && schema)
            this.configArgs(`${prefix}.${key}.${pp.type}`, pp.type, schema, pp.named, `${where}, ${key}`);
        }
        continue;
      }
      const schema = t.kinds[parts.type];
      if (schema) this.configArgs(`${prefix}.${key}`, parts.type, schema, parts.named, `${where}, ${key}`);
    }
  }
}

/** JSON Schema of a constant parameter value (by its kind); undefined for layers and records. */
function valueSchema(v: IRValue): JsonSchema | undefined {
  switch (v.kind) {
    case 'int':
      return { type: 'integer' };
    case 'float':
      return { type: 'number' };
    case 'bool':
      return { type: 'boolean' };
    case 'string':
      return { type: 'string' };
    case 'list': {
      if (v.items.length === 0) return undefined;
      const items = v.items.map(valueSchema);
      if (items.some((x) => !x)) return undefined;
      const allInt = items.every((x) => x!.type === 'integer');
      return {
        type: 'array',
        items: allInt
          ? { type: 'integer' }
          : items[0]!.type === 'number' || items[0]!.type === 'integer'
            ? { type: 'number' }
            : items[0]!,
      };
    }
    default:
      return undefined;
  }
}

/**
 * The arguments of a stage's model as `<stage>.model.<param>` (and, through layer arguments
 * written as calls in the source, `<stage>.model.<param>.<param>`), typed by their values.
 */
function modelArgs(
  b: SchemaBuilder,
  prefix: string,
  args: ReadonlyMap<string, IRValue>,
  expr: Expr | undefined,
  where: string,
): void {
  const call = expr?.kind === 'Call' ? expr : undefined;
  for (const [name, v] of args) {
    if (v.kind === 'layer') {
      const arg = call?.args.find((a) => a.name?.name === name);
      if (arg && arg.value.kind === 'Call')
        modelArgs(b, `${prefix}.${name}`, v.args, arg.value, `${where}, ${name} ${v.typeName}`);
      continue;
    }
    const s = valueSchema(v);
    if (s) b.add(`${prefix}.${name}`, s, irValueToJson(v), `${where}, parameter ${name}`);
  }
}

function typeSchema(t: TypeExpr): JsonSchema | undefined {
  if (t.kind !== 'NamedType') return undefined;
  const base: JsonSchema | undefined =
    t.name.name === 'int'
      ? { type: 'integer' }
      : t.name.name === 'float'
        ? { type: 'number' }
        : t.name.name === 'bool'
          ? { type: 'boolean' }
          : t.name.name === 'string'
            ? { type: 'string' }
            : undefined;
  if (!base) return undefined;
  return t.isList ? { type: 'array', items: base } : base;
}

/** The JSON value of a literal expression, or undefined for anything else. */
function literal(e: Expr | undefined): unknown {
  if (!e) return undefined;
  switch (e.kind) {
    case 'Number':
      return e.value;
    case 'Bool':
      return e.value;
    case 'String':
      return e.value;
    case 'Unary':
      if (e.op === '-' && e.operand.kind === 'Number') return -e.operand.value;
      return undefined;
    case 'List': {
      const items = e.items.map(literal);
      return items.every((x) => x !== undefined) ? items : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Derives the override schema of a checked program. `entryAst` is the entry module after the
 * variant and overrides (see `entryModule`), for block parameter and constant defaults.
 */
export function deriveOverrideSchema(program: ProgramIR, entryAst: Module): OverrideSchema {
  const b = new SchemaBuilder();
  for (const t of program.trains) {
    const trainDecl = entryAst.decls.find((d) => d.kind === 'Train' && d.name.name === t.name);
    for (const s of t.stages) {
      b.settings(s.name, STAGE_SETTINGS, s.settings, `stage ${s.name}`);
      const stageDecl = trainDecl?.kind === 'Train' ? trainDecl.stages.find((x) => x.name.name === s.name) : undefined;
      const modelExpr = stageDecl?.settings.find((x) => x.key.name === 'model')?.value;
      modelArgs(b, `${s.name}.model`, s.model.root.args, modelExpr, `stage ${s.name}, model ${s.model.root.typeName}`);
    }
    b.settings(t.name, TRAIN_SETTINGS, t.settings, `train ${t.name}`);
  }
  for (const d of program.datasets) b.settings(d.name, DATASET_SETTINGS, d.settings, `dataset ${d.name}`);
  for (const decl of entryAst.decls) {
    if (decl.kind === 'Block') {
      for (const p of decl.params) {
        const s = typeSchema(p.type);
        if (s)
          b.add(
            `${decl.name.name}.${p.name.name}`,
            s,
            literal(p.default),
            `${decl.isModel ? 'model' : 'block'} ${decl.name.name}, parameter ${p.name.name}`,
          );
      }
    } else if (decl.kind === 'Const') {
      const s = decl.type ? typeSchema(decl.type) : undefined;
      if (s) b.add(decl.name.name, s, literal(decl.value), `const ${decl.name.name}`);
    }
  }
  const paths = [...b.tunables.keys()].sort();
  const properties: Record<string, JsonSchema> = {};
  for (const p of paths) {
    const t = b.tunables.get(p)!;
    properties[p] = { ...t.schema, description: t.where, ...(t.value !== undefined ? { default: t.value } : {}) };
  }
  return {
    schema: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'nvcc overrides',
      type: 'object',
      properties,
      additionalProperties: false,
    },
    tunables: new Map(paths.map((p) => [p, b.tunables.get(p)!])),
  };
}

/** The entry module's AST with the variant and overrides applied (no diagnostics kept). */
export function entryModule(
  path: string,
  variant: string | undefined,
  overrides: Readonly<Record<string, unknown>>,
  text?: string,
): Module | undefined {
  let source = text;
  if (source === undefined) {
    const read = readRegularFile(path);
    if ('refused' in read) return undefined;
    source = read.text;
  }
  const { module } = parse(new SourceFile(path, source));
  return applyVariant(module, variant, Object.keys(overrides).length ? overrides : undefined, new Reporter());
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (Array.isArray(v)) return `a list ${JSON.stringify(v)}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return (
    `${typeof v === 'number' ? (Number.isInteger(v) ? 'the integer' : 'the number') : `the ${typeof v}`} ` +
    `${JSON.stringify(v)}`
  );
}

function expected(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return `one of ${(s.enum as string[]).join(', ')}`;
  switch (s.type) {
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'array':
      return (
        `a list of ${expected(s.items as JsonSchema).replace(/^an? /, '')}s` +
        `${s.minItems !== undefined && s.minItems === s.maxItems ? ` (${String(s.minItems)} items)` : ''}`
      );
    default:
      return 'a value';
  }
}

function rangeText(s: JsonSchema): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`>= ${String(s.minimum)}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${String(s.exclusiveMinimum)}`);
  if (s.maximum !== undefined) parts.push(`<= ${String(s.maximum)}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${String(s.exclusiveMaximum)}`);
  return parts.join(' and ');
}

const ajv = new Ajv({ allErrors: true, strict: false });

/** Validates overrides; an empty list means they are all accepted. */
export function validateOverrides(
  schema: OverrideSchema,
  overrides: Readonly<Record<string, unknown>>,
): OverrideProblem[] {
  const problems: OverrideProblem[] = [];
  const paths = [...schema.tunables.keys()];
  for (const [path, value] of Object.entries(overrides)) {
    const t = schema.tunables.get(path);
    if (!t) {
      const c = closest(path, paths);
      const prefix = path.includes('.') ? path.slice(0, path.lastIndexOf('.') + 1) : '';
      const siblings = prefix ? paths.filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('.')) : [];
      problems.push({
        path,
        kind: 'unknown-path',
        message:
          `unknown override path \`${path}\`` +
          (c ? `; did you mean \`${c}\`?` : '') +
          (siblings.length
            ? ` (${prefix.slice(0, -1)} has: ${siblings.map((p) => p.slice(prefix.length)).join(', ')})`
            : ''),
      });
      continue;
    }
    const validate = ajv.compile(t.schema);
    if (validate(value)) continue;
    const errors = (validate.errors ?? []) as ErrorObject[];
    const typeError = errors.find(
      (e) =>
        e.keyword === 'type' ||
        e.keyword === 'enum' ||
        e.keyword === 'pattern' ||
        e.keyword === 'minItems' ||
        e.keyword === 'maxItems',
    );
    if (typeError) {
      problems.push({
        path,
        kind: 'wrong-type',
        message: `\`${path}\` (${t.where}) must be ${expected(t.schema)}, found ${describe(value)}`,
      });
      continue;
    }
    const rangeError = errors.find((e) =>
      ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(e.keyword),
    );
    if (rangeError) {
      const s = rangeError.instancePath ? (t.schema.items as JsonSchema) : t.schema;
      problems.push({
        path,
        kind: 'out-of-range',
        message: `\`${path}\` (${t.where}) must be ${rangeText(s)}, found ${JSON.stringify(value)}`,
      });
      continue;
    }
    problems.push({ path, kind: 'bad-value', message: `\`${path}\`: ${errors.map((e) => e.message).join('; ')}` });
  }
  return problems;
}

/** Parses `path=value` items of `--set`; values are YAML scalars or JSON (`[3, 3, 9, 3]`). */
export function parseSetArgs(items: readonly string[]): {
  overrides: Record<string, unknown>;
  problems: OverrideProblem[];
} {
  const overrides: Record<string, unknown> = {};
  const problems: OverrideProblem[] = [];
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      problems.push({
        path: item,
        kind: 'bad-syntax',
        message: `--set ${item}: expected path=value (e.g. finetune.optimizer.lr=1e-5)`,
      });
      continue;
    }
    const path = item.slice(0, eq).trim();
    const text = item.slice(eq + 1).trim();
    let value: unknown;
    let trouble: string | undefined;
    try {
      if (bracketDepth(text) > FIXED_LIMITS.configDepth) trouble = CONFIG_DEPTH_TEXT;
      else {
        value = text === '' ? '' : parseYaml(text);
        if (valueDepth(value) > FIXED_LIMITS.configDepth) trouble = CONFIG_DEPTH_TEXT;
      }
    } catch (err) {
      trouble = isStackOverflow(err)
        ? CONFIG_DEPTH_TEXT
        : err instanceof Error
          ? (err.message.split('\n')[0] ?? '')
          : String(err);
    }
    if (trouble !== undefined) {
      const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
      problems.push({
        path,
        kind: 'bad-syntax',
        message: `--set ${path}: cannot read the value \`${shown}\` (${trouble})`,
      });
      continue;
    }
    overrides[path] = value;
  }
  return { overrides, problems };
}

/**
 * Reads an overrides YAML/JSON file: a mapping whose keys are dotted paths or nested mappings
 * (`finetune: { optimizer: { lr: 1e-5 } }`). Nesting stops at a path the schema knows.
 */
export function readConfigFile(
  file: string,
  known: ReadonlySet<string>,
): { overrides: Record<string, unknown>; problems: OverrideProblem[] } {
  let doc: unknown;
  const refuse = (message: string) => ({
    overrides: {},
    problems: [{ path: file, kind: 'bad-syntax' as const, message: `--config ${message}` }],
  });
  const read = readRegularFile(file);
  if ('refused' in read) return refuse(refusalText(file, read.refused));
  if (bracketDepth(read.text) > FIXED_LIMITS.configDepth) return refuse(`${file}: ${CONFIG_DEPTH_TEXT}`);
  try {
    doc = parseYaml(read.text, { uniqueKeys: sameKey });
  } catch (err) {
    if (isStackOverflow(err)) return refuse(`${file}: ${CONFIG_DEPTH_TEXT}`);
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return refuse(`${file}: ${msg}`);
  }
  if (valueDepth(doc) > FIXED_LIMITS.configDepth) return refuse(`${file}: ${CONFIG_DEPTH_TEXT}`);
  if (doc === null || doc === undefined) return { overrides: {}, problems: [] };
  if (typeof doc !== 'object' || Array.isArray(doc))
    return {
      overrides: {},
      problems: [
        { path: file, kind: 'bad-syntax', message: `--config ${file}: expected a mapping of paths to values` },
      ],
    };
  const overrides: Record<string, unknown> = {};
  const problems: OverrideProblem[] = [];
  const walk = (prefix: string, v: unknown) => {
    if (prefix && (known.has(prefix) || v === null || typeof v !== 'object' || Array.isArray(v))) {
      // `a: {b: 1}` and `a.b: 2` name one path twice; the file cannot say which it meant.
      if (Object.hasOwn(overrides, prefix))
        problems.push({
          path: prefix,
          kind: 'bad-syntax',
          message: `--config ${file}: \`${prefix}\` is given twice (nested and dotted); keep one`,
        });
      overrides[prefix] = v;
      return;
    }
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(prefix ? `${prefix}.${k}` : k, x);
  };
  walk('', doc);
  return problems.length ? { overrides: {}, problems } : { overrides, problems };
}

/**
 * Two mapping keys are the same override when they read the same as text: the yaml library's own
 * check compares typed values, so `1:` and `"1":` (or `true:` and `"true":`) would both pass and
 * the later would silently win once they become object keys.
 */
function sameKey(a: unknown, b: unknown): boolean {
  const text = (k: unknown) => String(k && typeof k === 'object' && 'value' in k ? (k as { value: unknown }).value : k);
  return a === b || text(a) === text(b);
}

/** The resolved value of every tunable path (what a build or run used), in path order. */
export function resolvedValues(schema: OverrideSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [p, t] of schema.tunables) if (t.value !== undefined) out[p] = t.value;
  return out;
}
