/**
 * The command line as the user typed it, quoted where a shell would need it: run reports name
 * the command that made them.
 */
export function typedCommandLine(argv: readonly string[] = process.argv.slice(2)): string {
  const quote = (a: string) => (/^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['nvcc', ...argv.map(quote)].join(' ');
}
