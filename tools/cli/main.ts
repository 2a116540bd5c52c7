/**
 * The `upheal-sync` dispatcher: reads the global flags (`--stage`, `--region`, `--debug`,
 * `--version`), finds the subcommand, answers `--help` and `help <command>`, and turns every
 * usage or configuration error into exit status 2 with one line naming the problem and a pointer
 * to `--help`. Stacks are shown only with `--debug` or UPHEAL_SYNC_DEBUG=1. Messages name the bad
 * argument, variable or file, never a secret.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ValidationError } from '#lib/errors.ts';
import { type CliCommand, type CliOutput, EXIT, processOutput } from '#tools/cli/command.ts';
import { COMMANDS } from '#tools/cli/commands/index.ts';
import { bannerLine, resolveTarget, type StackReader, type StageFlags } from '#tools/cli/stage.ts';
import { PROJECT_ROOT } from '#tools/local/stack.ts';

export type { CliOutput } from '#tools/cli/command.ts';

/** What main depends on beyond its arguments and output; tests replace parts of it. */
export interface MainDeps {
  readonly env: NodeJS.ProcessEnv;
  /** Reads a deployed stage's outputs (CloudFormation by default). */
  readonly readStack?: StackReader;
}

const HELP_FLAGS = new Set(['--help', '-h']);
/** Flags every command accepts; `--stage` and `--region` take a value. */
const VALUE_FLAGS = new Set(['--stage', '--region']);
const DEBUG_FLAG = '--debug';
const VERSION_FLAGS = new Set(['--version', '-V']);

/** The global options text, shared by the top-level help and the docs. */
const GLOBAL_OPTIONS = `Global options (before or after the command):
  --stage NAME   act on deployed stage NAME (its CloudFormation outputs), or "local" for the
                 running \`upheal-sync local\`; variables set in the environment win
  --region NAME  the AWS region of the stage (default: AWS_REGION or the profile's)
  --debug        show stack traces of errors (also UPHEAL_SYNC_DEBUG=1)
  --version      print the version
  -h, --help     show help`;

/** The top-level help: every command with its summary. */
export function topLevelUsage(commands: readonly CliCommand[] = COMMANDS): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  const lines = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return [
    'Usage: upheal-sync [--stage NAME] <command> [options]',
    '',
    'Commands:',
    ...lines,
    `  ${'help'.padEnd(width)}  the options of one command: upheal-sync help <command>`,
    '',
    GLOBAL_OPTIONS,
    '',
    'Results go to stdout, progress and logs to stderr.',
    'Exit status: 0 ok, 1 some records (or checks) failed, 2 usage or configuration error.',
    '',
  ].join('\n');
}

/** The package version. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The arguments with the global flags taken out. */
interface SplitArgs extends StageFlags {
  readonly rest: string[];
  readonly debug: boolean;
  readonly version: boolean;
}

/** Takes the global flags out of `args` (anywhere before a `--`). */
export function splitGlobalFlags(args: readonly string[]): SplitArgs {
  const rest: string[] = [];
  const values: Record<string, string> = {};
  let debug = false;
  let wantsVersion = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--') {
      rest.push(...args.slice(index));
      break;
    }
    const [flag, inline] = arg.startsWith('--') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (flag !== undefined && VALUE_FLAGS.has(flag)) {
      const value = inline ?? args[++index];
      if (value === undefined || value.startsWith('-')) {
        throw new ValidationError([{ field: flag, reason: 'needs a value' }]);
      }
      values[flag.slice(2)] = value;
    } else if (arg === DEBUG_FLAG) debug = true;
    else if (VERSION_FLAGS.has(arg) && rest.length === 0) wantsVersion = true;
    else rest.push(arg);
  }
  return { rest, debug, version: wantsVersion, stage: values.stage, region: values.region };
}

/** Runs the CLI with `args` (argv without node and script); resolves with the exit status. */
export async function main(
  args: readonly string[],
  commands: readonly CliCommand[] = COMMANDS,
  output: CliOutput = processOutput,
  deps: Partial<MainDeps> = {},
): Promise<number> {
  const env = deps.env ?? process.env;
  let split: SplitArgs;
  try {
    split = splitGlobalFlags(args);
  } catch (error) {
    output.stderr(`upheal-sync: ${(error as Error).message} (see upheal-sync --help)\n`);
    return EXIT.usage;
  }
  const debug = split.debug || ['1', 'true'].includes(env.UPHEAL_SYNC_DEBUG ?? '');
  if (split.version) {
    output.stdout(`upheal-sync ${version()}\n`);
    return EXIT.ok;
  }
  const [name, ...rest] = split.rest;
  if (name === undefined || HELP_FLAGS.has(name)) {
    (name === undefined ? output.stderr : output.stdout)(topLevelUsage(commands));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === 'help') return helpFor(rest[0], commands, output);
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    output.stderr(`upheal-sync: unknown command '${name}' (see upheal-sync --help)\n`);
    return EXIT.usage;
  }
  if (rest.some((arg) => HELP_FLAGS.has(arg))) {
    output.stdout(command.usage);
    return EXIT.ok;
  }
  try {
    const target = await resolveTarget(split, env, deps.readStack);
    if (command.targeted) output.stderr(bannerLine(target));
    return await command.run(rest, { env: target.env, output });
  } catch (error) {
    return reportError(error, command.name, debug, output);
  }
}

/** `upheal-sync help [command]`. */
function helpFor(
  name: string | undefined,
  commands: readonly CliCommand[],
  output: CliOutput,
): number {
  if (name === undefined) {
    output.stdout(topLevelUsage(commands));
    return EXIT.ok;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    output.stderr(`upheal-sync help: unknown command '${name}' (see upheal-sync --help)\n`);
    return EXIT.usage;
  }
  output.stdout(command.usage);
  return EXIT.ok;
}

/** One line for an error and its exit status; the stack only in debug mode. */
function reportError(error: unknown, name: string, debug: boolean, output: CliOutput): number {
  const stack = debug && error instanceof Error && error.stack ? `${error.stack}\n` : '';
  const usage = usageProblem(error);
  if (usage !== undefined) {
    output.stderr(`upheal-sync ${name}: ${usage} (see upheal-sync ${name} --help)\n${stack}`);
    return EXIT.usage;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  output.stderr(
    `upheal-sync ${name}: ${firstLine(message)}${debug ? '' : ' (--debug shows the stack)'}\n${stack}`,
  );
  return EXIT.someFailed;
}

/** The one-line description of a usage or configuration problem, or undefined for other errors. */
export function usageProblem(error: unknown): string | undefined {
  if (error instanceof ValidationError || error instanceof ConfigError) {
    return firstLine(error.message);
  }
  if (!(error instanceof Error)) return undefined;
  const { code, path } = error as { code?: string; path?: string };
  if (path && code && FILE_ERRORS[code]) return `${path}: ${FILE_ERRORS[code]}`;
  if (error.message.startsWith('Region is missing')) {
    return 'AWS region is not set: set AWS_REGION, pass --region, or use --stage';
  }
  if (error.name === 'CredentialsProviderError') {
    return 'no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)';
  }
  if (AWS_SETUP_ERRORS.has(error.name) || code === 'ECONNREFUSED') {
    return `${error.name}: ${firstLine(error.message)} (check --stage, AWS_PROFILE and the endpoint variables)`;
  }
  return undefined;
}

/** File-system error codes and what they mean for a file named on the command line. */
const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
};

/** AWS SDK errors that mean "this shell is not set up for the target", not a bug. */
const AWS_SETUP_ERRORS = new Set([
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

/** The first line of a message (zod and SDK messages can span several). */
function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
