/**
 * The registered subcommands. Adding one is one line here (plus its file in this directory).
 */
import type { CliCommand } from '#lib/cli/command.ts';
import { localCommand } from '#lib/cli/commands/local.ts';

/** Every subcommand, in the order `upheal-sync --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [localCommand];
