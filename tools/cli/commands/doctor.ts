/**
 * `upheal-sync doctor`: checks, before an import, that this shell can operate the stage: the
 * configuration is complete, every resource (table, bucket, queues and their dead-letter queues)
 * answers with the operator's credentials, and Upheal accepts the API key. The key check is one
 * non-mutating call (`POST /users/check` of an address no user has) booked through the shared
 * limiter, so it counts against the rate limit like any call. One line per check; exit 0 or 1.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { IMPORT_BUCKET, QUEUES, type QueueKey } from '#infra/resources.ts';
import { ForbiddenError, UnauthorizedError } from '#lib/errors.ts';
import { LANES } from '#lib/limiter/rate-limiter.ts';
import { booleanFlag, parseFlags } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import { s3ClientFrom, type Target, targetFromEnv } from '#tools/cli/target.ts';
import { pacedUpheal } from '#tools/cli/upheal.ts';

const USAGE = `Usage: upheal-sync doctor [--json]

Checks that this shell can operate the stage: the configuration is complete; the table, the
import bucket, every queue and its dead-letter queue answer with your AWS credentials; and Upheal
accepts the API key (one POST /users/check of an address no user has, paced by the shared rate
limiter like every call). Prints one line per check. Exit status 0 when all pass, 1 otherwise.

Options:
  --json       print {"ok":bool,"checks":[{"check","ok","detail"}]}
  -h, --help   show this help
`;

/** An address no Upheal user has (the .invalid top-level domain is reserved, RFC 2606). */
const PROBE_EMAIL = 'upheal-sync-doctor@example.invalid';
/** The key of an item that never exists: reading it proves read access to the table. */
const PROBE_KEY = { pk: 'DOCTOR', sk: 'PROBE' };

/** The result of one check. */
export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Runs `probe` as the check `name`; an error fails it with its name and first line. */
async function check(name: string, probe: () => Promise<string>): Promise<CheckResult> {
  try {
    return { check: name, ok: true, detail: await probe() };
  } catch (error) {
    const { name: kind, message } = error as Error;
    return { check: name, ok: false, detail: `${kind}: ${message.split('\n')[0]}` };
  }
}

/** The required variables that are not set. */
function missingVariables(env: NodeJS.ProcessEnv): string[] {
  const required = [
    'TABLE_NAME',
    IMPORT_BUCKET.nameEnv,
    ...(Object.keys(QUEUES) as QueueKey[]).map((key) => QUEUES[key].urlEnv),
  ];
  const missing = required.filter((name) => !env[name]);
  if (!env.UPHEAL_API_KEY && !env.UPHEAL_API_KEY_PARAMETER) missing.push('UPHEAL_API_KEY');
  return missing;
}

/** The checks of the queues: each queue and its dead-letter queue. */
async function queueChecks(target: Target, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const key of Object.keys(QUEUES) as QueueKey[]) {
    if (!env[QUEUES[key].urlEnv]) continue;
    const url = target.queueUrl(key);
    results.push(
      await check(`queue ${QUEUES[key].suffix}`, async () => {
        await target.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
        );
        const dlq = url.slice(url.lastIndexOf('/') + 1).replace(/\.fifo$/, '-dlq.fifo');
        await target.sqs.send(new GetQueueUrlCommand({ QueueName: dlq }));
        return 'reachable, and its dead-letter queue';
      }),
    );
  }
  return results;
}

/** Every check against the target `env` names. */
export async function runChecks(env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const missing = missingVariables(env);
  const results: CheckResult[] = [
    {
      check: 'configuration',
      ok: missing.length === 0,
      detail: missing.length === 0 ? 'complete' : `not set: ${missing.join(', ')}`,
    },
  ];
  if (!env.TABLE_NAME) return results;
  const target = targetFromEnv(env);
  try {
    results.push(
      await check(`table ${target.tableName}`, async () => {
        await target.documents.send(
          new GetCommand({ TableName: target.tableName, Key: PROBE_KEY }),
        );
        return 'readable';
      }),
    );
    const bucket = env[IMPORT_BUCKET.nameEnv];
    if (bucket) {
      results.push(
        await check(`bucket ${bucket}`, async () => {
          const s3 = s3ClientFrom(env);
          try {
            await s3.send(new HeadBucketCommand({ Bucket: bucket }));
            return 'reachable';
          } finally {
            s3.destroy();
          }
        }),
      );
    }
    results.push(...(await queueChecks(target, env)));
  } finally {
    target.close();
  }
  if (env.UPHEAL_API_KEY || env.UPHEAL_API_KEY_PARAMETER) results.push(await keyCheck(env));
  return results;
}

/** Upheal accepts the key: one check call on the bulk lane of the shared limiter. */
async function keyCheck(env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const { check, baseUrl, close } = pacedUpheal(env, LANES.bulk);
  try {
    await check(PROBE_EMAIL);
    return { check: `Upheal key at ${baseUrl}`, ok: true, detail: 'accepted' };
  } catch (error) {
    const refused = error instanceof UnauthorizedError || error instanceof ForbiddenError;
    return {
      check: `Upheal key at ${baseUrl}`,
      ok: false,
      detail: refused
        ? `refused (HTTP ${(error as UnauthorizedError).status}): rotate the key (docs/operations.md)`
        : `${(error as Error).name}: ${(error as Error).message.split('\n')[0]}`,
    };
  } finally {
    await close();
  }
}

/** The `doctor` command. */
export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'check configuration, AWS resources and the Upheal key of the stage (one line each)',
  usage: USAGE,
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(args, { json: { type: 'boolean' } }, false);
    const results = await runChecks(env);
    const ok = results.every((result) => result.ok);
    if (booleanFlag(parsed, 'json')) {
      output.stdout(`${JSON.stringify({ ok, checks: results })}\n`);
    } else {
      for (const result of results) {
        output.stdout(`${result.ok ? 'ok  ' : 'FAIL'}  ${result.check}: ${result.detail}\n`);
      }
    }
    return ok ? EXIT.ok : EXIT.someFailed;
  },
};
