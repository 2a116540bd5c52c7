/**
 * Which deployment a command talks to. `--stage NAME` reads the deployed stack's outputs
 * (`upheal-sync-NAME` in CloudFormation, described with the operator's AWS profile); `--stage
 * local` reads the endpoints file `upheal-sync local` writes while it runs. Variables already set
 * in the environment win over both, so one value can be overridden. Without `--stage`, the
 * environment alone names the target.
 */

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { kill } from 'node:process';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CLI_OUTPUT_DESCRIPTION_PREFIX } from '#infra/cloudformation.ts';
import { SERVICE, TABLE } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import { LOCAL_CREDENTIALS, LOCAL_STAGE } from '#tools/local/stack.ts';

/** The stage name of the local stack. */
export const LOCAL = LOCAL_STAGE;
/** Variable that moves the local endpoints file (tests, several local stacks). */
export const LOCAL_FILE_ENV = 'UPHEAL_SYNC_LOCAL_FILE';
/** Upheal's production API, what the functions use when UPHEAL_BASE_URL is not set. */
const DEFAULT_UPHEAL_URL = 'https://api.upheal.io';

/** What `upheal-sync local` writes for `--stage local`. */
export interface LocalEndpointsFile {
  readonly pid: number;
  readonly env: Readonly<Record<string, string>>;
}

/** Where the local stack's endpoints file is. */
export function localEndpointsPath(env: NodeJS.ProcessEnv): string {
  return env[LOCAL_FILE_ENV] ?? join(homedir(), '.upheal-sync', 'local.json');
}

/** Reads the stack outputs of a deployed stage as the variables the CLI reads. */
export type StackReader = (
  stackName: string,
  region: string | undefined,
) => Promise<Record<string, string>>;

/** The CLI outputs of a CloudFormation stack: `CLI NAME: …` descriptions name the variable. */
export const describeStackOutputs: StackReader = async (stackName, region) => {
  const client = new CloudFormationClient(region ? { region } : {});
  try {
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const variables: Record<string, string> = {};
    for (const output of Stacks[0]?.Outputs ?? []) {
      const match = new RegExp(`^${CLI_OUTPUT_DESCRIPTION_PREFIX} ([A-Z0-9_]+):`).exec(
        output.Description ?? '',
      );
      if (match?.[1] && output.OutputValue) variables[match[1]] = output.OutputValue;
    }
    return variables;
  } catch (error) {
    if ((error as Error).name === 'ValidationError') {
      throw new ValidationError([
        { field: '--stage', reason: `no stack ${stackName} in this account and region` },
      ]);
    }
    throw error;
  } finally {
    client.destroy();
  }
};

/** True while the process `pid` runs. */
function isRunning(pid: number): boolean {
  try {
    kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The variables of the running local stack; a usage error when it is not running. */
export function readLocalEndpoints(env: NodeJS.ProcessEnv): Record<string, string> {
  const path = localEndpointsPath(env);
  let file: LocalEndpointsFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as LocalEndpointsFile;
  } catch {
    throw new ValidationError([
      {
        field: '--stage local',
        reason: `no local stack is running (no ${path}; start \`upheal-sync local\`)`,
      },
    ]);
  }
  if (!isRunning(file.pid)) {
    throw new ValidationError([
      {
        field: '--stage local',
        reason: 'the local stack that wrote its endpoints has stopped; start `upheal-sync local`',
      },
    ]);
  }
  // The emulators take any credentials; the stack's dummies are never written to the file.
  return {
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    ...file.env,
  };
}

/** The global target flags. */
export interface StageFlags {
  readonly stage?: string | undefined;
  readonly region?: string | undefined;
}

/** The environment a command runs with, and the stage it names. */
export interface ResolvedTarget {
  readonly env: NodeJS.ProcessEnv;
  /** `local`, a stage name, or what the environment tells of it. */
  readonly stage: string;
}

/** The stage a table name belongs to (`upheal-sync-<stage>-state`), if it follows the pattern. */
function stageOfTable(tableName: string | undefined): string | undefined {
  const match = new RegExp(`^${SERVICE}-(.+)-${TABLE.suffix}$`).exec(tableName ?? '');
  return match?.[1];
}

/** Fills the environment from `--stage`/`--region`; set variables win over the stage's. */
export async function resolveTarget(
  flags: StageFlags,
  env: NodeJS.ProcessEnv,
  readStack: StackReader = describeStackOutputs,
): Promise<ResolvedTarget> {
  const region = flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const regional = flags.region ? { AWS_REGION: flags.region } : {};
  if (flags.stage === undefined) {
    return {
      env: { ...env, ...regional },
      stage: env.TABLE_NAME
        ? (stageOfTable(env.TABLE_NAME) ?? `of table ${env.TABLE_NAME}`)
        : 'none (no --stage, no TABLE_NAME)',
    };
  }
  if (!/^[a-z0-9-]+$/.test(flags.stage)) {
    throw new ValidationError([
      { field: '--stage', reason: 'must be lower-case letters, digits and dashes' },
    ]);
  }
  const stageVariables =
    flags.stage === LOCAL
      ? readLocalEndpoints(env)
      : await readStack(`${SERVICE}-${flags.stage}`, region);
  return { env: { ...stageVariables, ...env, ...regional }, stage: flags.stage };
}

/** The first line of a targeted command (stderr): the stage and the Upheal it syncs into. */
export function bannerLine(target: ResolvedTarget): string {
  const upheal = target.env.UPHEAL_BASE_URL ?? `${DEFAULT_UPHEAL_URL} (default)`;
  return `upheal-sync: stage ${target.stage} · Upheal ${upheal}\n`;
}
