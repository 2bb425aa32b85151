/**
 * Checks of dataset, train and stage settings against their schemas (compiler/settings-schema.ts).
 * In: evaluated setting values (compiler/values.ts) from compiler/program.ts. Out: NVC5006
 * (unknown key, with did-you-mean), NVC5007 (wrong type) and NVC5008 (out of range)
 * diagnostics. Holds afterwards: a setting that passed is of the documented shape, so the
 * lowering to runtime specs (compiler/builder/lower.ts) can read it without re-checking.
 */
import type { Span } from '../dsl/span.js';
import { didYouMean, type Reporter } from './report.js';
import { formatValue, isNumber, typeOfValue, type Value } from './values.js';

import type { NumRange, SettingType } from './settings-schema.js';

export * from './settings-schema.js';

/** Checks a value against a setting type; reports at `span` and returns false on mismatch. */
export function checkSetting(name: string, v: Value, t: SettingType, span: Span, reporter: Reporter): boolean {
  if (v.kind === 'error') return false;
  const wrong = (expected: string) => {
    reporter.error('WrongSettingType', span, {
      name,
      expected,
      found: v.kind === 'word' ? `\`${v.name}\`` : typeOfValue(v),
    });
    return false;
  };
  const range = (n: number, r?: NumRange) => {
    if (!r) return true;
    const ok =
      (r.min === undefined || n >= r.min) &&
      (r.above === undefined || n > r.above) &&
      (r.max === undefined || n <= r.max) &&
      (r.below === undefined || n < r.below);
    if (!ok) {
      const parts = [
        r.min !== undefined ? `>= ${r.min}` : '',
        r.above !== undefined ? `> ${r.above}` : '',
        r.max !== undefined ? `<= ${r.max}` : '',
        r.below !== undefined ? `< ${r.below}` : '',
      ].filter(Boolean);
      reporter.error('SettingOutOfRange', span, { name, range: parts.join(' and '), value: formatValue(v) });
    }
    return ok;
  };
  switch (t.t) {
    case 'any':
    case 'record':
      return t.t === 'record' && v.kind !== 'record' ? wrong('a record `{ key = value }`') : true;
    case 'int':
      if (v.kind !== 'int') return wrong('int');
      return range(v.value, t.range);
    case 'float':
      if (!isNumber(v)) return wrong('a number');
      return range(v.value, t.range);
    case 'bool':
      return v.kind === 'bool' ? true : wrong('bool');
    case 'string':
      return v.kind === 'string' ? true : wrong('a string');
    case 'word':
      if (v.kind !== 'word') return wrong(t.words ? t.words.map((w) => `\`${w}\``).join(' | ') : 'a name');
      if (t.words && !t.words.includes(v.name)) {
        reporter.error(
          'WrongSettingType',
          span,
          { name, expected: t.words.map((w) => `\`${w}\``).join(' | '), found: `\`${v.name}\`` },
          { help: [didYouMean(v.name, t.words)] },
        );
        return false;
      }
      return true;
    case 'list': {
      if (v.kind !== 'list') return wrong('a list');
      if (t.length !== undefined && v.items.length !== t.length) return wrong(`a list of ${t.length}`);
      let ok = true;
      for (const item of v.items)
        ok =
          checkSetting(
            name,
            item,
            t.of,
            item.kind === 'config' || item.kind === 'word' ? (item as { span: Span }).span : span,
            reporter,
          ) && ok;
      return ok;
    }
    case 'config': {
      const kinds = Object.keys(t.kinds);
      if (v.kind === 'config' && v.name === 'then') {
        if (!t.chain) return wrong(kinds.map((k) => `\`${k}(...)\``).join(' | '));
        return v.positional.every((p) =>
          checkSetting(name, p, { ...t, chain: false }, (p as { span?: Span }).span ?? span, reporter),
        );
      }
      const kind = v.kind === 'config' ? v.name : v.kind === 'word' ? v.name : undefined;
      if (kind === undefined) return wrong(kinds.map((k) => `\`${k}(...)\``).join(' | '));
      const schema = t.kinds[kind];
      const at = v.kind === 'config' || v.kind === 'word' ? v.span : span;
      if (!schema) {
        reporter.error(
          'WrongSettingType',
          at,
          { name, expected: kinds.map((k) => `\`${k}\``).join(' | '), found: `\`${kind}\`` },
          { help: [didYouMean(kind, kinds)] },
        );
        return false;
      }
      if (v.kind === 'word') {
        if (schema.required?.length) {
          reporter.error(
            'MissingSetting',
            at,
            { where: `\`${kind}\``, name: schema.required[0]! },
            { help: [`write \`${kind}(${schema.required[0]} = ...)\``] },
          );
          return false;
        }
        return true;
      }
      let ok = true;
      const cfg = v as Value & { kind: 'config' };
      const given = new Map(cfg.args);
      cfg.positional.forEach((p, i) => {
        const pname = schema.positional?.[i];
        if (!pname) {
          reporter.error('WrongSettingType', cfg.span, {
            name: `${name}.${kind}`,
            expected: 'named arguments (`key = value`)',
            found: 'a positional argument',
          });
          ok = false;
        } else if (!given.has(pname)) given.set(pname, p); // a named value set by a variant wins
      });
      for (const [k, x] of given) {
        const at2 = x.kind === 'config' || x.kind === 'word' ? x.span : cfg.span;
        const st = schema.args[k];
        if (!st) {
          reporter.error(
            'UnknownSetting',
            cfg.span,
            { where: `\`${kind}\``, name: k },
            {
              help: [
                didYouMean(k, Object.keys(schema.args)),
                `\`${kind}\` takes: ${Object.keys(schema.args).join(', ') || '(nothing)'}`,
              ],
            },
          );
          ok = false;
          continue;
        }
        ok = checkSetting(`${kind}.${k}`, x, st, at2, reporter) && ok;
      }
      for (const r of schema.required ?? [])
        if (!given.has(r)) {
          reporter.error('MissingSetting', cfg.span, { where: `\`${kind}\``, name: r });
          ok = false;
        }
      return ok;
    }
  }
}
