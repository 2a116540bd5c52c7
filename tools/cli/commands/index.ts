/**
 * The registered subcommands. Adding one is one line here (plus its file in this directory).
 */
import type { CliCommand } from '#tools/cli/command.ts';
import { deletesCommand } from '#tools/cli/commands/deletes.ts';
import { demoCommand } from '#tools/cli/commands/demo.ts';
import { doctorCommand } from '#tools/cli/commands/doctor.ts';
import { failuresCommand } from '#tools/cli/commands/failures.ts';
import { importCommand } from '#tools/cli/commands/import.ts';
import { localCommand } from '#tools/cli/commands/local.ts';
import { mappingsCommand } from '#tools/cli/commands/mappings.ts';
import { outboundCommand } from '#tools/cli/commands/outbound.ts';
import { redriveCommand } from '#tools/cli/commands/redrive.ts';
import { sendEventsCommand } from '#tools/cli/commands/send-events.ts';
import { statusCommand } from '#tools/cli/commands/status.ts';
import { traceCommand } from '#tools/cli/commands/trace.ts';
import { verifyCommand } from '#tools/cli/commands/verify.ts';

/** Every subcommand, in the order `upheal-sync --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  localCommand,
  doctorCommand,
  importCommand,
  statusCommand,
  failuresCommand,
  sendEventsCommand,
  redriveCommand,
  deletesCommand,
  mappingsCommand,
  traceCommand,
  verifyCommand,
  outboundCommand,
  demoCommand,
];
