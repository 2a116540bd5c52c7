/**
 * The `upheal-sync` dispatcher: finds the subcommand, answers `--help` at every level, and maps
 * usage and configuration errors to exit status 2 (SPEC §7). Messages name the bad argument or
 * variable, never a secret.
 */

import { ConfigError, ValidationError } from '#lib/errors.ts';
import { type CliCommand, type CliOutput, EXIT, processOutput } from '#tools/cli/command.ts';
import { COMMANDS } from '#tools/cli/commands/index.ts';

const HELP_FLAGS = new Set(['--help', '-h']);

/** The top-level help: every command with its summary. */
export function topLevelUsage(commands: readonly CliCommand[] = COMMANDS): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  const lines = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return [
    'Usage: upheal-sync <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `upheal-sync <command> --help` for the options of one command.',
    'Exit status: 0 ok, 1 some records failed, 2 usage or configuration error.',
    '',
  ].join('\n');
}

/** Runs the CLI with `args` (argv without node and script); resolves with the exit status. */
export async function main(
  args: readonly string[],
  commands: readonly CliCommand[] = COMMANDS,
  output: CliOutput = processOutput,
): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || HELP_FLAGS.has(name)) {
    (name === undefined ? output.stderr : output.stdout)(topLevelUsage(commands));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    output.stderr(`upheal-sync: unknown command '${name}'\n\n${topLevelUsage(commands)}`);
    return EXIT.usage;
  }
  if (rest.some((arg) => HELP_FLAGS.has(arg))) {
    output.stdout(command.usage);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof ValidationError || error instanceof ConfigError) {
      output.stderr(`upheal-sync ${command.name}: ${error.message}\n\n${command.usage}`);
      return EXIT.usage;
    }
    // No AWS credentials or region, or an endpoint that does not answer: a configuration
    // problem of this shell, told in one line (UPHEAL_SYNC_DEBUG=1 shows the stack).
    if (isAwsSetupError(error) && !process.env.UPHEAL_SYNC_DEBUG) {
      output.stderr(
        `upheal-sync ${command.name}: ${(error as Error).name}: ${(error as Error).message}\n`,
      );
      return EXIT.usage;
    }
    throw error;
  }
}

/** AWS SDK errors that mean "this shell is not set up for the target", not a bug. */
const AWS_SETUP_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'AccessDeniedException',
  'AccessDenied',
  'ResourceNotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NoSuchBucket',
]);

/** True for errors of the AWS SDK about credentials, permissions or missing resources. */
function isAwsSetupError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (AWS_SETUP_ERRORS.has(error.name)) return true;
  return (
    error.message.startsWith('Region is missing') ||
    (error as { code?: string }).code === 'ECONNREFUSED'
  );
}
