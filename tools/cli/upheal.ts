/**
 * Upheal for operator commands: the same client as the functions, paced through the same shared
 * limiter (the limiter item of the table, keyed by the same API key or parameter name), so a
 * command's calls count against the rate limit like every other call. The key comes from
 * UPHEAL_API_KEY, or from the SSM parameter UPHEAL_API_KEY_PARAMETER names.
 */

import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { parseWith } from '#lib/events/validation.ts';
import { DynamoRateLimiter } from '#lib/limiter/dynamo-limiter.ts';
import { pacedUpheal as pacedFor } from '#lib/limiter/paced-upheal.ts';
import type { Lane } from '#lib/limiter/rate-limiter.ts';
import { requiredSecret } from '#lib/secrets.ts';
import type { UphealPort } from '#lib/sync/ports.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import { UphealClient } from '#lib/upheal/client.ts';
import { rateSettingsFrom } from '#tools/cli/commands/status.ts';
import { clientConfig } from '#tools/cli/target.ts';

/** An operator command waits this long in-process for a slot (it has no SQS message to defer). */
const CLI_HORIZON_MS = 120_000;
/** Each request's timeout. */
const TIMEOUT_MS = 10_000;

/** The variables the paced client needs. */
const UphealEnvSchema = z
  .object({
    TABLE_NAME: z.string().min(1),
    UPHEAL_BASE_URL: z.url().default('https://api.upheal.io'),
    UPHEAL_API_KEY: z.string().min(1).optional(),
    UPHEAL_API_KEY_PARAMETER: z.string().min(1).optional(),
  })
  .refine((env) => env.UPHEAL_API_KEY || env.UPHEAL_API_KEY_PARAMETER, {
    path: ['UPHEAL_API_KEY'],
    message:
      'set UPHEAL_API_KEY, or UPHEAL_API_KEY_PARAMETER (the stage\u2019s SSM parameter name)',
  });

/** A paced Upheal client and what to close after it. */
export interface CliUpheal {
  /** `POST /users/check` on its own (nothing follows it), paced in the command's lane. */
  check(email: string): ReturnType<UphealPort['checkUser']>;
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** Upheal paced in `lane` of the shared limiter of the target `env` names. */
export function pacedUpheal(env: NodeJS.ProcessEnv, lane: Lane): CliUpheal {
  const parsed = parseWith(UphealEnvSchema, env, 'environment');
  const rate = rateSettingsFrom(env);
  const dynamo = new DynamoDBClient(clientConfig(env, env.AWS_ENDPOINT_URL_DYNAMODB));
  const ssm = parsed.UPHEAL_API_KEY
    ? undefined
    : new SSMClient(clientConfig(env, env.AWS_ENDPOINT_URL_SSM));
  const apiKey = requiredSecret(
    {
      variable: 'UPHEAL_API_KEY',
      value: parsed.UPHEAL_API_KEY,
      parameter: parsed.UPHEAL_API_KEY_PARAMETER,
    },
    ssm ? { parameters: new SSMProvider({ awsSdkV3Client: ssm }) } : {},
  );
  const client = new UphealClient({
    baseUrl: parsed.UPHEAL_BASE_URL,
    apiKey: () => apiKey.value(),
    timeoutMs: TIMEOUT_MS,
  });
  const limiter = new DynamoRateLimiter({
    client: dynamo,
    tableName: parsed.TABLE_NAME,
    // The functions' limiter key: a deployed stage's functions key it by the parameter name, the
    // local stack's by the key itself. The parameter wins, so a key exported for this shell
    // still books in the stage's budget.
    apiKey: parsed.UPHEAL_API_KEY_PARAMETER ?? parsed.UPHEAL_API_KEY!,
    limit: rate.limit,
    windowMs: rate.windowSeconds * MS_PER_SECOND,
    jitterMs: rate.jitterMs,
    horizonMs: CLI_HORIZON_MS,
  });
  const forMessage = pacedFor(client, limiter);
  return {
    // A fresh pacer per check: each is a first call of its own, never a continuation.
    check: (email) => forMessage(lane).checkUser(email, []),
    baseUrl: parsed.UPHEAL_BASE_URL,
    async close() {
      await client.close();
      dynamo.destroy();
      ssm?.destroy();
    },
  };
}
