/**
 * The `nvcc` command line.
 * In: argv. Out: an exit code (0 ok, 1 user error such as a bad spec or bad data, 2 internal
 * error). Holds afterwards: user errors are printed as diagnostics, never as stack traces; an
 * unexpected exception is reported as an internal error with a request to file a bug.
 * The subcommands are declared in cli/commands/index.ts; each one's implementation lives in
 * cli/commands/<name>.ts and is imported only when that command runs.
 */
import { Command, CommanderError } from 'commander';
import { declareCommands } from './commands/index.js';

export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

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
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(
      `internal error in nvcc: ${err instanceof Error ? err.message : String(err)}\n` +
        `This is a bug in nvcc, not in your spec. Please report it with the command you ran.\n`,
    );
    if (process.env.NVCC_DEBUG) process.stderr.write(detail + '\n');
    return 2;
  }
}
