/**
 * The composition root of the operator CLI: the AWS clients, stores and queues of the deployment
 * that the environment names, built here and nowhere else in the commands. `--stage` fills that
 * environment from the deployed stack's outputs or from the running local stack
 * (tools/cli/stage.ts). AWS credentials and endpoints come from the
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
import { SqsControlQueue } from '#lib/jobs/control-messages.ts';
import { DynamoJobStore } from '#lib/jobs/job-store.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';

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
  /** Import jobs and their ledgers. */
  readonly jobs: DynamoJobStore;
  /** Records that failed for good. */
  readonly failures: DynamoFailureStore;
  /** Deletes held back for an operator. */
  readonly stagedDeletes: DynamoStagedDeletes;
  /** The URL of a queue; throws a usage error naming its variable when it is not set. */
  queueUrl(key: QueueKey): string;
  /** The import-control queue; throws a usage error when its URL is not set. */
  controlQueue(): SqsControlQueue;
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
  const documents = documentClient(dynamo);
  const tableName = parsed.TABLE_NAME;
  const queueUrl = (key: QueueKey): string => {
    const name = QUEUES[key].urlEnv;
    const url = (parsed as Record<string, string | undefined>)[name];
    if (!url)
      throw new ValidationError(
        [{ field: name, reason: 'is required by this command' }],
        'environment',
      );
    return url;
  };
  return {
    tableName,
    sqs,
    documents,
    jobs: new DynamoJobStore(documents, tableName),
    failures: new DynamoFailureStore(documents, tableName),
    stagedDeletes: new DynamoStagedDeletes(documents, tableName),
    queueUrl,
    controlQueue: () => new SqsControlQueue(sqs, queueUrl('importControl')),
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
