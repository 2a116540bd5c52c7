/**
 * The AWS APIs of the local stack, in-process on loopback: SQS and S3 from fauxqs, DynamoDB from
 * dynalite. Both are reached only through the real AWS SDK clients (via `AWS_ENDPOINT_URL_*`), and
 * the resources are created from `infra/resources.ts`, the same definition `serverless.yml` deploys.
 */
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import { CONTENT_BASED_DEDUPLICATION, RETENTION_SECONDS } from '#infra/queue-attributes.ts';
import {
  deadLetterQueueName,
  QUEUES,
  type QueueDefinition,
  type QueueKey,
  queueName,
  tableKeyDefinition,
} from '#infra/resources.ts';

/** Loopback only: the local stack is never reachable from the network. */
const LOOPBACK = '127.0.0.1';

/** A started emulator. */
export interface LocalService {
  /** Base URL for the SDK's `endpoint` / `AWS_ENDPOINT_URL_*`, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  /** Closes the server and every connection it holds. */
  stop(): Promise<void>;
}

/**
 * Starts dynalite in memory on an ephemeral loopback port. Table state changes (CREATING,
 * DELETING, UPDATING) are instantaneous, unlike AWS, so tests need no polling.
 */
export async function startDynamoDb(): Promise<LocalService> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * fauxqs builds queue URLs as `http://sqs.<region>.<host>:<port>/<account>/<name>` and looks queues
 * up by the exact URL. `*.localhost` does not resolve under Node, and the SDK sends requests to a
 * queue URL's origin when it differs from the endpoint. With this host the URL's authority is
 * `sqs.<region>.local@127.0.0.1:<port>`: its origin is the endpoint itself (the part before `@` is
 * URL user info), so the SDK neither warns nor resolves anything, and fauxqs still finds the queue.
 */
const FAUXQS_QUEUE_URL_HOST = `local@${LOOPBACK}`;

/**
 * Starts fauxqs (SQS and S3) on an ephemeral loopback port. Built with `buildApp` rather than
 * `startFauxqs`, which listens on every interface: the local stack must not be reachable from the
 * network. Queue URLs point at the returned endpoint (fauxqs takes the port from the Host header).
 */
export async function startSqsS3(): Promise<LocalService> {
  const app = buildApp({ logger: false, host: FAUXQS_QUEUE_URL_HOST });
  await app.listen({ port: 0, host: LOOPBACK });
  const { port } = app.server.address() as AddressInfo;
  return { endpoint: `http://${LOOPBACK}:${port}`, stop: () => app.close() };
}

/**
 * Creates the table of `infra/resources.ts`: string keys, the sparse reverse-lookup index,
 * on-demand billing. Idempotent. TTL is not configured: dynalite implements neither
 * UpdateTimeToLive nor expiry (see docs/local-stack.md).
 */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand({ TableName: tableName, ...tableKeyDefinition() }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

/** Test-time changes to the queue settings of `infra/resources.ts` (e.g. 2 s visibility). */
export interface QueueOverride {
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
}

/** Overrides for every queue, refined per queue (per-queue values win). */
export interface QueueOverrides extends QueueOverride {
  readonly queues?: Partial<Record<QueueKey, QueueOverride>>;
}

/** The effective settings of one queue after overrides. */
export function effectiveQueueSettings(
  key: QueueKey,
  overrides: QueueOverrides = {},
): Required<QueueOverride> {
  const queue: QueueDefinition = QUEUES[key];
  const own = overrides.queues?.[key] ?? {};
  return {
    visibilityTimeoutSeconds:
      own.visibilityTimeoutSeconds ??
      overrides.visibilityTimeoutSeconds ??
      queue.visibilityTimeoutSeconds,
    maxReceiveCount: own.maxReceiveCount ?? overrides.maxReceiveCount ?? queue.maxReceiveCount,
  };
}

/** URLs and ARNs of the created queues, keyed like QUEUES. */
export interface CreatedQueues {
  readonly queueUrls: Record<QueueKey, string>;
  readonly queueArns: Record<QueueKey, string>;
  readonly dlqUrls: Record<QueueKey, string>;
  readonly dlqArns: Record<QueueKey, string>;
}

/** Attributes both kinds of queue share. */
const FIFO_ATTRIBUTES = {
  FifoQueue: 'true',
  ContentBasedDeduplication: String(CONTENT_BASED_DEDUPLICATION),
  SqsManagedSseEnabled: 'true',
} as const;

/**
 * Creates every FIFO queue of `infra/resources.ts` for a stage with its dead-letter queue and
 * redrive policy (fauxqs moves a message to the DLQ once it has been received `maxReceiveCount`
 * times, as SQS does). Idempotent when the attributes are unchanged.
 */
export async function createQueues(
  client: SQSClient,
  stage: string,
  overrides: QueueOverrides = {},
): Promise<CreatedQueues> {
  const keys = Object.keys(QUEUES) as QueueKey[];
  const created = await Promise.all(
    keys.map(async (key) => {
      const queue: QueueDefinition = QUEUES[key];
      const settings = effectiveQueueSettings(key, overrides);
      const dlq = await createQueue(client, deadLetterQueueName(stage, queue), {
        ...FIFO_ATTRIBUTES,
        MessageRetentionPeriod: String(RETENTION_SECONDS.deadLetter),
      });
      const main = await createQueue(client, queueName(stage, queue), {
        ...FIFO_ATTRIBUTES,
        MessageRetentionPeriod: String(RETENTION_SECONDS.queue),
        VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.arn,
          maxReceiveCount: settings.maxReceiveCount,
        }),
      });
      return { key, main, dlq };
    }),
  );
  const pick = (select: (entry: (typeof created)[number]) => string) =>
    Object.fromEntries(created.map((entry) => [entry.key, select(entry)])) as Record<
      QueueKey,
      string
    >;
  return {
    queueUrls: pick((entry) => entry.main.url),
    queueArns: pick((entry) => entry.main.arn),
    dlqUrls: pick((entry) => entry.dlq.url),
    dlqArns: pick((entry) => entry.dlq.arn),
  };
}

async function createQueue(
  client: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const { QueueUrl: url } = await client.send(
    new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
  );
  if (!url) throw new Error(`CreateQueue returned no QueueUrl for ${name}`);
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes returned no QueueArn for ${name}`);
  return { url, arn };
}

/** Creates the import bucket (idempotent in fauxqs). S3 clients need no path-style flag: the endpoint is an IP. */
export async function createBucket(client: S3Client, bucketName: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucketName }));
}
