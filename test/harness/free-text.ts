/**
 * A static scan for diagnostics raised with free text.
 * In: TypeScript source text and its path. Out: findings, each with file:line and what is
 * wrong. Holds afterwards: nothing. The rules: a diagnostic code (`NVC` + 4 digits) and a
 * severity appear only in the catalogue files; the arguments object of `report`,
 * `reporter.error`, `message` and `semantic` has no catch-all property (`detail`, `message`,
 * ...), and a literal filling a slot is a short phrase, not a sentence.
 */
import * as ts from 'typescript';

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly problem: string;
}

/** Argument names that would carry a whole message. */
export const CATCH_ALL_NAMES = new Set(['detail', 'details', 'message', 'msg', 'fix', 'reason', 'description']);

/** Index of the arguments object for each raising function. */
const ARGS_INDEX: Readonly<Record<string, number>> = { report: 2, error: 2, semantic: 1, message: 1 };

const CATALOGUE_FILE = /(^|\/)dsl\/diagnostics\/catalogue[^/]*\.ts$/;

/** Words outside code spans (`...`) and substitutions (${...}): the prose of a literal. */
export function proseWords(literal: string): string[] {
  const prose = literal.replace(/`[^`]*`/g, ' ').replace(/\$\{[^}]*\}/g, '_');
  return prose.split(/\s+/).filter((w) => /[A-Za-z]/.test(w));
}

/** A literal that fills one slot of a template: a short phrase without sentence punctuation. */
export function isPhrase(literal: string): boolean {
  const prose = literal.replace(/`[^`]*`/g, ' ').replace(/\$\{[^}]*\}/g, '_');
  return proseWords(literal).length <= 6 && !/[,;:.!?](\s|$)/.test(prose);
}

function calleeName(call: ts.CallExpression): string {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return '';
}

function literalText(e: ts.Expression): string | undefined {
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
  if (ts.isTemplateExpression(e)) return e.getText().slice(1, -1);
  return undefined;
}

export function scanForFreeText(file: string, text: string): Finding[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const findings: Finding[] = [];
  const add = (node: ts.Node, problem: string) =>
    findings.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1, problem });
  const inCatalogue = CATALOGUE_FILE.test(file);
  const visit = (node: ts.Node): void => {
    if (!inCatalogue && ts.isPropertyAssignment(node) && ts.isIdentifier(node.name)) {
      const value = literalText(node.initializer);
      if (node.name.text === 'code' && value !== undefined && /^NVC\d{4}$/.test(value))
        add(node, `diagnostic code ${value} built outside the catalogue`);
      if (node.name.text === 'severity' && value !== undefined && /^(error|warning|note)$/.test(value))
        add(node, 'diagnostic severity set outside the catalogue');
    }
    if (ts.isCallExpression(node)) {
      const name = calleeName(node);
      const index = ARGS_INDEX[name];
      const args = index === undefined ? undefined : node.arguments[index];
      const raising = name !== 'error' || (node.arguments[0] !== undefined && ts.isStringLiteral(node.arguments[0]));
      if (raising && args !== undefined && ts.isObjectLiteralExpression(args)) {
        for (const p of args.properties) {
          const key = p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;
          if (key !== undefined && CATCH_ALL_NAMES.has(key))
            add(p, `\`${name}\` gets a catch-all argument \`${key}\`: give the message its own catalogue entry`);
          if (ts.isPropertyAssignment(p)) {
            const value = literalText(p.initializer);
            if (value !== undefined && !isPhrase(value))
              add(p, `\`${name}\` gets free text for \`${key}\`: put the sentence in a catalogue template`);
          }
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}
