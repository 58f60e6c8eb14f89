import type { Command } from 'commander';

/** Adds one subcommand to the program; its action reports the process exit code through `setExitCode`. */
export type CommandRegistrar = (program: Command, setExitCode: (code: number) => void) => void;
