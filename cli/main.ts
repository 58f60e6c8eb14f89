import { Command, CommanderError } from 'commander';
import { registerChats } from './chats';
import { registerOperations } from './operations';
import { registerRun } from './run';
import { registerSandbox } from './sandbox';
import { registerServe } from './serve';
import type { CommandRegistrar } from './command';
import { registerValidate } from './validate';

const registrars: CommandRegistrar[] = [
  registerRun,
  registerValidate,
  registerServe,
  registerSandbox,
  registerChats,
  registerOperations,
];

/** Builds the `teams-import` program with every subcommand. */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('teams-import')
    .description(
      "Moves a team's chat history into Microsoft Teams through the Graph import API (Azure Durable Functions app, local host and sandbox included).",
    )
    .showHelpAfterError()
    .exitOverride();
  for (const register of registrars) register(program, setExitCode);
  return program;
}

/** Runs the CLI on `argv` (as `process.argv`) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
  return code;
}
