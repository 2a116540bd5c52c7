/**
 * The registered subcommands. Adding one is one line here (plus its file in this directory).
 */
import type { CliCommand } from '#lib/cli/command.ts';
import { deletesCommand } from '#lib/cli/commands/deletes.ts';
import { demoCommand } from '#lib/cli/commands/demo.ts';
import { failuresCommand } from '#lib/cli/commands/failures.ts';
import { importCommand } from '#lib/cli/commands/import.ts';
import { localCommand } from '#lib/cli/commands/local.ts';
import { outboundCommand } from '#lib/cli/commands/outbound.ts';
import { redriveCommand } from '#lib/cli/commands/redrive.ts';
import { sendEventsCommand } from '#lib/cli/commands/send-events.ts';
import { statusCommand } from '#lib/cli/commands/status.ts';

/** Every subcommand, in the order `upheal-sync --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  localCommand,
  importCommand,
  statusCommand,
  failuresCommand,
  sendEventsCommand,
  redriveCommand,
  deletesCommand,
  outboundCommand,
  demoCommand,
];
