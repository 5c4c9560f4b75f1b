// The one place that turns errors into exit codes: commands throw, this prints one line and exits.
import { CommanderError, type Command } from 'commander';
import { ExitCode, VmigError, isVmigError } from '../errors.js';
import { VERSION } from '../version.js';
import { useColor } from './colour.js';
import { buildProgram } from './program.js';

function printError(message: string, colour: boolean): void {
  const prefix = colour ? '\u001b[31mvmig: error:\u001b[39m' : 'vmig: error:';
  process.stderr.write(`${prefix} ${message}\n`);
}

/** Every command of the tree, so that a setting reaches the subcommands too. */
const allCommands = (command: Command): Command[] => [command, ...command.commands.flatMap(allCommands)];

/** Commander's "error: …\n(Did you mean …?)" as one line without its own prefix. */
const commanderMessage = (text: string): string =>
  text
    .replace(/^error: /, '')
    .trim()
    .replace(/\s*\n\s*/g, ' ');

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(VERSION);
  program.exitOverride();
  const wantsDebug = argv.includes('--debug');
  const colour = useColor(process.stderr, !argv.includes('--no-color'));
  // Commander's parse errors (unknown option, invalid choice …) go out as every other error does.
  let parseError: string | undefined;
  for (const command of allCommands(program))
    command.configureOutput({ outputError: (text) => (parseError = commanderMessage(text)) });
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version were printed by commander; a parse error is printed here.
      if (parseError !== undefined) printError(parseError, colour);
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (isVmigError(error)) {
      printError(error.message, colour);
      if (wantsDebug && error.stack) process.stderr.write(`${error.stack}\n`);
      return error.exitCode;
    }
    if ((error as { name?: string })?.name === 'ZodError') {
      printError(`invalid request: ${(error as Error).message.split('\n')[0]}`, colour);
      return ExitCode.usage;
    }
    const internal = new VmigError(
      'INTERNAL',
      `internal error: ${(error as Error)?.message ?? String(error)} (please report; rerun with --debug for details)`,
    );
    printError(internal.message, colour);
    if (wantsDebug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return internal.exitCode;
  }
}

/** Sets the exit code and lets Node exit once stdout has drained (process.exit could cut piped output). */
export async function run(argv: string[] = process.argv): Promise<void> {
  // A reader that stops early (`vmig list | head -1`) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  process.exitCode = await main(argv);
}
