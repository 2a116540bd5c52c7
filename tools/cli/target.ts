/**
 * Where operator commands act: the AWS resources named by the environment, which `--stage` fills
 * from the deployed stack's outputs or from the running local stack (tools/cli/stage.ts). AWS credentials and endpoints come from the
 * SDK's own environment (`AWS_PROFILE`, `AWS_ENDPOINT_URL_*`, …).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { QUEUES, type QueueKey } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import { parseWith } from '#lib/events/validation.ts';
import { documentClient } from '#lib/store/document-client.ts';

/** The variables operator commands read. */
const TargetSchema = z.object({
  TABLE_NAME: z.string().min(1),
  ...(Object.fromEntries(
    (Object.keys(QUEUES) as QueueKey[]).map((key) => [QUEUES[key].urlEnv, z.url().optional()]),
  ) as Record<string, z.ZodOptional<z.ZodURL>>),
});

/** The resources and clients of one deployment (or of the running local stack). */
export interface Target {
  readonly tableName: string;
  readonly sqs: SQSClient;
  readonly documents: DynamoDBDocumentClient;
  /** The URL of a queue; throws a usage error naming its variable when it is not set. */
  queueUrl(key: QueueKey): string;
  /** Closes the clients. */
  close(): void;
}

/**
 * SDK client settings from `env` (which may not be `process.env`): region, the service's
 * endpoint override and static credentials when given; otherwise the SDK's own defaults.
 */
export function clientConfig(env: NodeJS.ProcessEnv, serviceEndpoint: string | undefined) {
  const endpoint = serviceEndpoint ?? env.AWS_ENDPOINT_URL;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  };
}

/** The target named by `env`; a missing variable is a usage error that names it. */
export function targetFromEnv(env: NodeJS.ProcessEnv): Target {
  const parsed = parseWith(
    TargetSchema,
    env,
    'environment (use --stage NAME, or export the variables of the stage)',
  );
  const sqs = new SQSClient(clientConfig(env, env.AWS_ENDPOINT_URL_SQS));
  const dynamo = new DynamoDBClient(clientConfig(env, env.AWS_ENDPOINT_URL_DYNAMODB));
  return {
    tableName: parsed.TABLE_NAME,
    sqs,
    documents: documentClient(dynamo),
    queueUrl(key) {
      const name = QUEUES[key].urlEnv;
      const url = (parsed as Record<string, string | undefined>)[name];
      if (!url)
        throw new ValidationError(
          [{ field: name, reason: 'is required by this command' }],
          'environment',
        );
      return url;
    },
    close() {
      sqs.destroy();
      dynamo.destroy();
    },
  };
}

/** True when `env` names a stack (its table): commands that can work offline use it if so. */
export function namesTarget(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.TABLE_NAME);
}

/** An S3 client for `env` (path-style addressing against an emulator endpoint). */
export function s3ClientFrom(env: NodeJS.ProcessEnv): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return new S3Client({
    ...clientConfig(env, endpoint),
    ...(endpoint ? { forcePathStyle: true } : {}),
  });
}
