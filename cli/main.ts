/**
 * The `nvcc` command line.
 * In: argv. Out: an exit code: 0 ok, 1 the user's situation (a bad flag or spec, bad data, a
 * full disk or a read-only folder), 2 a bug, 130 a training interrupted with a checkpoint.
 * Holds afterwards: every error is reported by cli/report.ts from the kind it carries
 * (runtime/errors.ts): the user's situation as a message naming the file and what was kept,
 * never a stack trace; only an error without a kind is an internal error with a request to
 * file a bug.
 * The subcommands are declared in cli/commands/index.ts; each one's implementation lives in
 * cli/commands/<name>.ts and is imported only when that command runs.
 */
import { Command, CommanderError } from 'commander';
import { declareCommands } from './commands/index.js';

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('nvcc')
    .description('Compiler for .nvc model definitions: check, summarise, build, train, draw')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  let exitCode = 0;
  const setExit = (code: number) => {
    exitCode = code;
  };
  declareCommands(program, setExit, argv);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    // Loaded only now: `nvcc --help` and every successful run load no reporter.
    const { reportError } = await import('./report.js');
    return reportError(err);
  }
}
