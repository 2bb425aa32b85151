/**
 * Safe spelling of spec text in generated TypeScript.
 * In: names and strings taken from a `.nvc` program (identifiers, string literals, file
 * names). Out: identifiers that cannot be keywords, cannot shadow the runtime import or a
 * generated helper, and cannot collide with each other; string literals and comment text that
 * cannot end the literal or the comment. Holds afterwards: the mapping is deterministic (it
 * depends only on the names and the order they are asked for), and a spec name is spelt
 * verbatim whenever that is safe, so the generated code reads like the spec.
 *
 * Scheme: a spec name is used as is when it is an ASCII identifier, not reserved in its scope,
 * and free. Otherwise it gets a `$` suffix (`class` -> `class$`); `.nvc` identifiers cannot
 * contain `$`, and generated helper names never end in `$`, so suffixed names cannot collide
 * with either. A further clash within a scope appends a counter (`x$2`).
 */

const JS_RESERVED = [
  // ECMAScript reserved words, strict-mode and module reserved words
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
  'yield',
  'let',
  'static',
  'implements',
  'interface',
  'package',
  'private',
  'protected',
  'public',
  'await',
  'async',
  'arguments',
  'eval',
  'undefined',
  'NaN',
  'Infinity',
  'globalThis',
  // TypeScript names that cannot name a class or a type
  'any',
  'unknown',
  'never',
  'string',
  'number',
  'boolean',
  'symbol',
  'object',
  'bigint',
  'type',
  'declare',
  'namespace',
  'module',
  'abstract',
  'as',
  'satisfies',
  'keyof',
  'readonly',
  'infer',
  'is',
  'asserts',
  'out',
  'accessor',
  'constructor',
  'require',
  'exports',
  // globals generated code or its readers rely on
  'Object',
  'Array',
  'Math',
  'JSON',
  'Error',
  'Promise',
  'Symbol',
  'Number',
  'String',
  'Boolean',
  'Function',
  'Map',
  'Set',
  'Record',
  'Readonly',
  'Reflect',
  'Proxy',
  'console',
  'process',
];

/** Names every generated module reserves at top level (runtime import and generated exports). */
export const MODULE_RESERVED: readonly string[] = [
  ...JS_RESERVED,
  'nv',
  'factories',
  'modelFactories',
  'trainSpec',
  'datasetSpec',
  'manifest',
  'resolvedConfig',
];

/**
 * Members of nv.Module, nv.ModuleList and Object.prototype: a child or weight property with one
 * of these names would shadow the runtime's own members.
 */
export const MEMBER_RESERVED: readonly string[] = [
  ...JS_RESERVED,
  'ownParams',
  'ownChildren',
  'ownBuffers',
  'param',
  'buffer',
  'refuseDuplicate',
  'namedBuffers',
  'namedState',
  'child',
  'children',
  'namedParameters',
  'find',
  'parameterCount',
  'setTrainable',
  'dispose',
  'forward',
  'items',
  'length',
  'at',
  'sparse',
  '__proto__',
  'prototype',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'toString',
  'valueOf',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
];

/** Names generated forward bodies use for themselves (besides `v<digits>` SSA values). */
export const LOCAL_RESERVED: readonly string[] = [
  ...MODULE_RESERVED,
  'ctx',
  'inputs',
  'seq',
  't',
  'u',
  'm',
  '__proto__',
];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Makes any text an identifier body: invalid characters become `_uXXXX`. */
function identBody(text: string): string {
  let out = '';
  for (const ch of text) {
    if (/[A-Za-z0-9_]/.test(ch)) out += ch;
    else out += `_u${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`;
  }
  if (out === '' || /^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

/** One naming scope (a module, a class's members, a forward body). */
export class Namer {
  private readonly used = new Set<string>();
  private readonly reserved: ReadonlySet<string>;
  private readonly generated: RegExp | undefined;

  /** `generated`: the pattern of names the emitter makes up itself in this scope (`v12`). */
  constructor(reserved: readonly string[], generated?: RegExp) {
    this.reserved = new Set(reserved);
    this.generated = generated;
  }

  /** The identifier for a spec name (a new one each call for the same name: callers cache). */
  name(spec: string): string {
    const verbatim = IDENT.test(spec) && !this.reserved.has(spec) && !(this.generated?.test(spec) ?? false);
    let candidate = verbatim ? spec : `${identBody(spec)}$`;
    if (this.used.has(candidate)) {
      const base = candidate.endsWith('$') ? candidate : `${candidate}$`;
      let i = 2;
      while (this.used.has(`${base}${i}`)) i++;
      candidate = `${base}${i}`;
    }
    this.used.add(candidate);
    return candidate;
  }

  /** Claims a generated (non-spec) name; it must not be taken yet. */
  claim(generated: string): string {
    if (this.used.has(generated)) throw new Error(`internal: generated name ${generated} claimed twice`);
    this.used.add(generated);
    return generated;
  }
}

/**
 * A string literal for any text: JSON escaping, plus U+2028/U+2029 (raw line separators are
 * legal in JSON but end a line in older JavaScript and in comments' readers).
 */
export function jsString(text: string): string {
  return JSON.stringify(text)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * Text safe inside a `//` or `/** *\/` comment: line terminators are written as escapes and
 * `*\/` cannot close a block comment.
 */
export function commentText(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\r\n|[\r\n\u2028\u2029\u0085]/g, (m) =>
      m === '\n'
        ? '\\n'
        : m === '\r\n'
          ? '\\r\\n'
          : m === '\r'
            ? '\\r'
            : `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`,
    )
    .replace(/\*\//g, '*\\/')
    .replace(/[\u0000-\u001f\u007f]/g, (m) => `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A property key for an object literal or type: bare when it is an identifier other than
 * `__proto__` (whose literal form would set the prototype), else a computed string key.
 */
export function propertyKey(name: string): string {
  if (IDENT.test(name) && name !== '__proto__') return name;
  return `[${jsString(name)}]`;
}

/** A property read: `.name` when safe, else `[...]` (never `__proto__` by dot or string). */
export function propertyAccess(name: string): string {
  if (IDENT.test(name) && name !== '__proto__') return `.${name}`;
  return `[${jsString(name)}]`;
}

/** A JSON value as a TypeScript expression (strings JSON-escaped, keys safe). */
export function jsValue(v: unknown, indent = ''): string {
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
    return Object.is(v, -0) ? '-0' : String(v);
  }
  if (typeof v === 'string') return jsString(v);
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => jsValue(x)).join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${v.map((x) => inner + jsValue(x, inner)).join(',\n')},\n${indent}]`;
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, x]) => `${inner}${propertyKey(k)}: ${jsValue(x, inner)}`).join(',\n')},\n${indent}}`;
  }
  throw new Error(`internal: cannot emit a ${typeof v} value`);
}
