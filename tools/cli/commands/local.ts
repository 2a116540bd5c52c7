/**
 * `upheal-sync local`: the local stack in the foreground until Ctrl-C or SIGTERM, then
 * a clean shutdown that leaves no worker process behind. Bundles are built first when missing, so
 * a fresh clone only needs `npm ci`. While it runs, its endpoints file lets other shells use
 * `upheal-sync --stage local …` (tools/cli/stage.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEPLOYED_FUNCTIONS, type DeployedFunctionName } from '#infra/functions.ts';
import { ValidationError } from '#lib/errors.ts';
import { type CliCommand, type CliOutput, EXIT } from '#tools/cli/command.ts';
import { type LocalEndpointsFile, localEndpointsPath } from '#tools/cli/stage.ts';
import {
  type LocalStack,
  type LocalStackOptions,
  PROJECT_ROOT,
  startLocalStack,
} from '#tools/local/stack.ts';
import { DEFAULT_API_KEY } from '#tools/simulator/options.ts';

const USAGE = `Usage: upheal-sync local [--upheal-url URL] [--json] [--functions-dir DIR]

Starts the local stack in the foreground: SQS and S3 (fauxqs) and DynamoDB (dynalite) on
loopback, the queues, dead-letter queues, table and bucket of stage "local" (from infra/), the
triggers of every function with a bundle in dist/functions (built first if missing),
and the embedded Upheal simulator unless --upheal-url is given. Prints the endpoints and the
environment other shells need; Ctrl-C or SIGTERM stops everything. While it runs, other
shells reach it with \`upheal-sync --stage local <command>\` (the endpoints are in
~/.upheal-sync/local.json, or the file UPHEAL_SYNC_LOCAL_FILE names).

ingest runs behind a local function URL; it verifies signatures with INGEST_SECRET from this
environment, or with the public local default 'local-dev-ingest-secret'.

Options:
  --upheal-url URL     use this Upheal instead of the simulator (key from UPHEAL_API_KEY)
  --json               print exactly one JSON line (endpoints, queues, env) once ready
  --functions-dir DIR  run DIR/<function>/index.mjs bundles instead of dist/functions
  -h, --help           show this help
`;

/** Shutdown signals: Ctrl-C in a terminal, SIGTERM from process managers and tests. */
const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** Environment entries that are never printed (the stack's are dummies, but the rule is simple). */
const NEVER_PRINTED = /SECRET|API_KEY/;

const ArgsSchema = z.object({
  'upheal-url': z.url({ message: 'must be an http(s) URL' }).optional(),
  json: z.boolean().default(false),
  'functions-dir': z.string().min(1).optional(),
});

/** What `local` depends on; tests replace parts of it. */
export interface LocalCommandDeps {
  readonly startStack: (options: LocalStackOptions) => Promise<LocalStack>;
  /** Builds the bundles when a function's source exists but its bundle does not. */
  readonly ensureBundles: () => Promise<void>;
  /** Resolves when the stack should stop. */
  readonly untilShutdown: () => Promise<string>;
  readonly output: CliOutput;
  readonly env: NodeJS.ProcessEnv;
}

/** Waits for the first shutdown signal. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: string) => {
      for (const name of SHUTDOWN_SIGNALS) process.off(name, onSignal);
      resolve(signal);
    };
    for (const name of SHUTDOWN_SIGNALS) process.on(name, onSignal);
  });
}

/**
 * Builds with scripts/build.ts if a deployed function has a source but no bundle. A failed build
 * is reported, not fatal: the functions without a bundle are listed as skipped.
 */
export async function ensureBundles(): Promise<void> {
  const missing = DEPLOYED_FUNCTIONS.filter(
    (name) =>
      existsSync(join(PROJECT_ROOT, 'functions', `${name}.ts`)) &&
      !existsSync(join(PROJECT_ROOT, 'dist', 'functions', name, 'index.mjs')),
  );
  if (missing.length === 0) return;
  process.stderr.write(`building bundles (missing: ${missing.join(', ')})…\n`);
  // scripts/build.ts works relative to the project root.
  process.chdir(PROJECT_ROOT);
  const { buildAll } = await import('../../../scripts/build.ts');
  try {
    await buildAll();
  } catch {
    // esbuild has printed why; the stack still runs the functions whose bundles exist.
    process.stderr.write('build failed; starting with the bundles that exist (npm run build)\n');
  } finally {
    // esbuild keeps a service child process; end it, so no child outlives the build.
    const { stop } = await import('esbuild');
    await stop();
  }
}

/** Creates the `local` command with its dependencies (defaults: the real ones). */
export function createLocalCommand(deps: Partial<LocalCommandDeps> = {}): CliCommand {
  const {
    startStack = startLocalStack,
    ensureBundles: build = ensureBundles,
    untilShutdown = untilSignal,
    output = {
      stdout: (text: string) => process.stdout.write(text),
      stderr: (text: string) => process.stderr.write(text),
    },
    env = process.env,
  } = deps;
  return {
    name: 'local',
    summary: 'run the whole system on this machine (emulated AWS, workers, Upheal simulator)',
    usage: USAGE,
    async run(args) {
      const flags = parseFlags(args);
      if (!flags['functions-dir']) await build();
      // Listen before starting, so a signal during start-up still stops what was started.
      const shutdown = untilShutdown();
      const stack = await startStack({
        ...(flags['upheal-url']
          ? { uphealUrl: flags['upheal-url'], uphealApiKey: env.UPHEAL_API_KEY ?? DEFAULT_API_KEY }
          : {}),
        ...(flags['functions-dir'] ? { functionsDir: flags['functions-dir'] } : {}),
        ...(env.INGEST_SECRET ? { env: { INGEST_SECRET: env.INGEST_SECRET } } : {}),
      });
      const printable = Object.fromEntries(
        Object.entries(stack.env).filter(([name]) => !NEVER_PRINTED.test(name)),
      );
      if (flags.json) {
        output.stdout(
          `${JSON.stringify({
            status: 'ready',
            endpoints: stack.endpoints,
            tableName: stack.tableName,
            bucketName: stack.bucketName,
            queueUrls: stack.queueUrls,
            dlqUrls: stack.dlqUrls,
            functions: stack.functions,
            functionUrls: stack.functionUrls,
            skippedFunctions: stack.skippedFunctions,
            simulator: stack.simulator !== undefined,
            env: printable,
          })}\n`,
        );
      } else {
        output.stdout(describe(stack, printable));
      }
      // The simulator's key is public; a real key (--upheal-url) never goes to the file.
      const simulatorKey: Record<string, string> =
        stack.env.UPHEAL_API_KEY === DEFAULT_API_KEY ? { UPHEAL_API_KEY: DEFAULT_API_KEY } : {};
      const endpointsFile = await writeLocalEndpoints(env, { ...printable, ...simulatorKey });
      const signal = await shutdown;
      output.stderr(`${signal}: stopping the local stack…\n`);
      await rm(endpointsFile, { force: true });
      await stack.stop();
      output.stderr('stopped.\n');
      return EXIT.ok;
    },
  };
}

/**
 * Writes the endpoints file `--stage local` reads: this process's id (so a stale file is
 * recognised) and the stack's variables without secrets or credentials. Resolves with its path.
 */
export async function writeLocalEndpoints(
  env: NodeJS.ProcessEnv,
  variables: Readonly<Record<string, string>>,
): Promise<string> {
  const path = localEndpointsPath(env);
  const file: LocalEndpointsFile = {
    pid: process.pid,
    env: Object.fromEntries(
      Object.entries(variables).filter(
        ([name]) => !name.startsWith('AWS_ACCESS') && name !== 'PATH',
      ),
    ),
  };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(file)}\n`, { mode: 0o600 });
  return path;
}

function parseFlags(args: string[]): z.infer<typeof ArgsSchema> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'upheal-url': { type: 'string' },
        json: { type: 'boolean' },
        'functions-dir': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ValidationError([{ field: 'arguments', reason: (error as Error).message }]);
  }
  const parsed = ArgsSchema.safeParse(values);
  if (parsed.success) return parsed.data;
  throw new ValidationError(
    parsed.error.issues.map((issue) => ({
      field: `--${issue.path.join('.')}`,
      reason: issue.message,
    })),
  );
}

function describe(stack: LocalStack, env: Record<string, string>): string {
  const skipped: readonly DeployedFunctionName[] = stack.skippedFunctions;
  const notRun = DEPLOYED_FUNCTIONS.filter(
    (name) => !stack.functions.includes(name) && !skipped.includes(name),
  );
  return [
    'upheal-sync local stack is running (stage local). Ctrl-C stops it.',
    '',
    `  SQS + S3   ${stack.endpoints.sqs}`,
    `  DynamoDB   ${stack.endpoints.dynamodb}`,
    `  Upheal     ${stack.endpoints.upheal}${stack.simulator ? ' (embedded simulator)' : ''}`,
    `  Table      ${stack.tableName}`,
    `  Bucket     ${stack.bucketName}`,
    ...Object.entries(stack.queueUrls).map(([key, url]) => `  Queue      ${key}: ${url}`),
    `  Functions  ${stack.functions.join(', ') || '(none)'}`,
    ...Object.entries(stack.functionUrls).map(([name, url]) => `  URL        ${name}: ${url}`),
    ...(skipped.length > 0 ? [`  No bundle  ${skipped.join(', ')} (npm run build)`] : []),
    ...(notRun.length > 0 ? [`  Not run    ${notRun.join(', ')} (no trigger)`] : []),
    '',
    'Environment for another shell (credentials: any value):',
    ...Object.entries(env)
      .filter(([name]) => !name.startsWith('AWS_ACCESS') && !name.startsWith('PATH'))
      .map(([name, value]) => `  export ${name}='${value}'`),
    '',
  ].join('\n');
}

/** `upheal-sync local`. */
export const localCommand: CliCommand = createLocalCommand();
