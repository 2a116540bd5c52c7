/**
 * The one definition of the infrastructure (issue: local stack). `serverless.yml` takes its
 * resources from here (through `infra/cloudformation.ts`) and the local stack creates the same
 * queues and table from here, so there is no second hand-written copy.
 *
 * Table layout (single table, string keys `pk`/`sk`):
 *
 * | item                | pk                          | sk                 |
 * |---------------------|-----------------------------|--------------------|
 * | user mapping, lease | `USER#<partnerUserId>`      | `MAPPING`          |
 * | tombstone's claim   | `USER#<partnerUserId>`      | `CLAIM`            |
 * | rate limiter        | `LIMITER#<apiKeyId>`        | `STATE`            |
 * | quarantine          | `QUARANTINE`                | `STATE`            |
 * | import job          | `JOB#<jobId>`               | `JOB`              |
 * | job row failure     | `JOB#<jobId>`               | `FAIL#<line>`      |
 * | jobs by start time  | `JOBS`                      | `<startedAt>#<id>` |
 * | event failure       | `FAILURES`                  | `<time>#<eventId>` |
 * | staged delete       | `DELETES`                   | `<partnerUserId>`  |
 * | Upheal webhook trace| `USER#<partnerUserId>`      | `UPHEAL-WEBHOOK`   |
 * | ingest replay guard | `INGEST#<digest>`           | `NONCE`            |
 * | webhook replay guard| `UPHEAL-WEBHOOK#<digest>`   | `NONCE`            |
 * | delete-guard window | `DELETEGUARD`               | `<windowStart>`    |
 * | message attempts    | `ATTEMPTS#<messageId>`      | `COUNT`            |
 * | ingest nonce        | `INGEST#<digest>`           | `NONCE`            |
 *
 * The mapping item also holds the user's lease and, before the user's first mapping save, its
 * create claim (a "shell": no `rev`, a TTL; `lib/store/mapping-item.ts`).
 * Reverse lookup by Upheal id: index `byUphealId` on `uphealUserId` (sparse: only mappings have it).
 * TTL attribute `expiresAt` (epoch seconds) removes shells, claims, windows, attempts, nonces and
 * old failures.
 */

/** The product's name; resource names are `<service>-<stage>-<name>`. */
export const SERVICE = 'upheal-sync';

/**
 * Keys of the ingest replay guard's items: defined here because the ingest function's IAM policy
 * restricts it to them (`infra/iam.ts`).
 */
export const NONCE_KEY = { pkPrefix: 'INGEST#', sk: 'NONCE' } as const;
/** The replay guard's items of Upheal's webhooks (same layout, their own prefix). */
export const WEBHOOK_NONCE_KEY = { pkPrefix: 'UPHEAL-WEBHOOK#', sk: 'NONCE' } as const;

/** The namespace every metric of this product is published in. */
export const METRIC_NAMESPACE = 'UphealSync';

/**
 * Names of the product's metrics: the functions publish them (`lib/observability/metrics.ts`), the
 * dashboard and alarms (`infra/monitoring.ts`) read them.
 */
export const METRIC_NAMES = {
  /** Every answered Upheal call. */
  uphealCalls: 'UphealCalls',
  /** Upheal calls answered 429 (another client of the key, or a limiter misconfiguration). */
  uphealRateLimited: 'UphealRateLimited',
  /** Upheal calls answered 5xx. */
  uphealServerErrors: 'UphealServerErrors',
  /** Records applied (any outcome but a failure). */
  applied: 'RecordsApplied',
  /** Records that failed for good (recorded, and announced as `user.failed`). */
  failed: 'RecordsFailed',
  /** Records deferred (rate-limit slot, 429 pause, dependency not ready). */
  deferred: 'RecordsDeferred',
  /** Time from a message's first send to its record being applied. */
  appliedLatency: 'AppliedLatency',
  /**
   * 1 for an Upheal call the quarantine held back, 0 for one it let through: its maximum is 1
   * while the sync is quarantined (the alarm), 0 once calls go out again.
   */
  quarantined: 'Quarantined',
  /** Upheal webhook deliveries refused for a bad or missing signature or timestamp. */
  webhookSignatureFailures: 'WebhookSignatureFailures',
} as const;

/** The DynamoDB table. */
export const TABLE = {
  logicalId: 'SyncTable',
  suffix: 'state',
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  reverseIndex: { name: 'byUphealId', partitionKey: 'uphealUserId' },
  /**
   * Create claims by the hash of the email their create was sent with (sparse: only claims with
   * an email have it), so a check that finds an account nobody maps yet can tell whose create
   * made it.
   */
  createEmailIndex: { name: 'byCreateEmail', partitionKey: 'createEmailHash' },
} as const;

/**
 * The table's key schema, reverse index and billing, in the shape both CloudFormation
 * (`AWS::DynamoDB::Table`) and the SDK's CreateTable take: the deployed and the local table are
 * built from this one object.
 */
export function tableKeyDefinition() {
  const { partitionKey, sortKey, reverseIndex, createEmailIndex } = TABLE;
  return {
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: 'S' as const },
      { AttributeName: sortKey, AttributeType: 'S' as const },
      { AttributeName: reverseIndex.partitionKey, AttributeType: 'S' as const },
      { AttributeName: createEmailIndex.partitionKey, AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' as const },
      { AttributeName: sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: reverseIndex.name,
        KeySchema: [{ AttributeName: reverseIndex.partitionKey, KeyType: 'HASH' as const }],
        Projection: { ProjectionType: 'ALL' as const },
      },
      {
        IndexName: createEmailIndex.name,
        KeySchema: [{ AttributeName: createEmailIndex.partitionKey, KeyType: 'HASH' as const }],
        Projection: { ProjectionType: 'KEYS_ONLY' as const },
      },
    ],
  };
}

/** Function timeouts in seconds; SQS visibility is at least 6× the consumer's timeout (AWS guidance). */
export const FUNCTION_TIMEOUT_SECONDS = {
  'sync-user': 30,
  'assign-providers': 30,
  'initial-sync': 900,
  ingest: 10,
  'deliver-outbound': 30,
  /** Upheal wants an answer within 5 s; the work itself is one write and one send. */
  'upheal-webhook': 5,
  'apply-upheal-webhook': 30,
} as const;

/** A Lambda function of this product. */
export type FunctionName = keyof typeof FUNCTION_TIMEOUT_SECONDS;

/** How a function consumes a queue: Lambda's SQS event source mapping settings. */
export interface QueueConsumer {
  readonly functionName: FunctionName;
  readonly batchSize: number;
  /** ScalingConfig.MaximumConcurrency (2–1000 on AWS). */
  readonly maximumConcurrency: number;
}

/** One FIFO queue and its dead-letter queue. */
export interface QueueDefinition {
  readonly logicalId: string;
  /** Name suffix without `.fifo`. */
  readonly suffix: string;
  /** Environment variable through which functions receive the queue URL. */
  readonly urlEnv: string;
  readonly visibilityTimeoutSeconds: number;
  /**
   * Receives before SQS itself moves a message to the DLQ. Our consumers count real failures
   * themselves (SYNC_MAX_ATTEMPTS) and dead-letter after the last one, because waiting for a rate
   * limit slot also counts as a receive; this limit is the backstop for crash loops.
   */
  readonly maxReceiveCount: number;
  readonly consumer?: QueueConsumer;
}

/** SQS's own dead-letter limit on consumed queues (see QueueDefinition.maxReceiveCount). */
export const BACKSTOP_MAX_RECEIVES = 30;

/** Visibility for a consumer with the given function timeout (6×, per AWS guidance). */
const visibilityFor = (functionName: FunctionName): number =>
  FUNCTION_TIMEOUT_SECONDS[functionName] * 6;

/**
 * The queues. All are FIFO: the message group is the partner user id, so one user's events are
 * applied in order by one worker at a time, while different users run in parallel.
 */
export const QUEUES = {
  /** Live partner events (ingest or partners' own producers) → sync-user. The live lane. */
  userEvents: {
    logicalId: 'UserEventsQueue',
    suffix: 'user-events',
    urlEnv: 'USER_EVENTS_QUEUE_URL',
    visibilityTimeoutSeconds: visibilityFor('sync-user'),
    maxReceiveCount: BACKSTOP_MAX_RECEIVES,
    consumer: { functionName: 'sync-user', batchSize: 10, maximumConcurrency: 3 },
  },
  /** Initial-sync user commands → sync-user. The bulk lane. */
  imports: {
    logicalId: 'ImportQueue',
    suffix: 'import-users',
    urlEnv: 'IMPORT_QUEUE_URL',
    visibilityTimeoutSeconds: visibilityFor('sync-user'),
    maxReceiveCount: BACKSTOP_MAX_RECEIVES,
    consumer: { functionName: 'sync-user', batchSize: 10, maximumConcurrency: 3 },
  },
  /** Desired provider lists of clients → assign-providers. */
  assignments: {
    logicalId: 'AssignmentsQueue',
    suffix: 'assignments',
    urlEnv: 'ASSIGNMENTS_QUEUE_URL',
    visibilityTimeoutSeconds: visibilityFor('assign-providers'),
    maxReceiveCount: BACKSTOP_MAX_RECEIVES,
    consumer: { functionName: 'assign-providers', batchSize: 10, maximumConcurrency: 2 },
  },
  /**
   * Control messages of import jobs → initial-sync: start a job (the CLI sends it), continue a
   * long one where the last invocation stopped, start the client phase once every provider is
   * settled. Grouped by job id, so one job's steps run in order.
   */
  importControl: {
    logicalId: 'ImportControlQueue',
    suffix: 'import-control',
    urlEnv: 'IMPORT_CONTROL_QUEUE_URL',
    visibilityTimeoutSeconds: visibilityFor('initial-sync'),
    maxReceiveCount: BACKSTOP_MAX_RECEIVES,
    consumer: { functionName: 'initial-sync', batchSize: 1, maximumConcurrency: 2 },
  },
  /**
   * The same outcomes again, for the partner's HTTPS endpoint when one is configured
   * (`OUTBOUND_WEBHOOK_URL`): `deliver-outbound` POSTs each, signed; failures are retried, then
   * dead-lettered for re-drive. Empty (and its consumer idle) without a webhook.
   */
  outboundWebhook: {
    logicalId: 'OutboundWebhookQueue',
    suffix: 'outbound-webhook',
    urlEnv: 'OUTBOUND_WEBHOOK_QUEUE_URL',
    visibilityTimeoutSeconds: visibilityFor('deliver-outbound'),
    maxReceiveCount: BACKSTOP_MAX_RECEIVES,
    consumer: { functionName: 'deliver-outbound', batchSize: 10, maximumConcurrency: 2 },
  },
  /**
   * Upheal's user-created webhooks that name a partner user (`upheal-webhook`) →
   * apply-upheal-webhook, which heals creates whose answer was lost.
   */
  uphealWebhooks: {
    logicalId: 'UphealWebhooksQueue',
    suffix: 'upheal-webhooks',
    urlEnv: 'UPHEAL_WEBHOOKS_QUEUE_URL',
    visibilityTimeoutSeconds: visibilityFor('apply-upheal-webhook'),
    maxReceiveCount: BACKSTOP_MAX_RECEIVES,
    consumer: { functionName: 'apply-upheal-webhook', batchSize: 10, maximumConcurrency: 2 },
  },
  /** Outcomes for the partner system; consumed by the partner, not by us. */
  outbound: {
    logicalId: 'OutboundQueue',
    suffix: 'outbound',
    urlEnv: 'OUTBOUND_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 10,
  },
} as const satisfies Record<string, QueueDefinition>;

/** Key of a queue in QUEUES. */
export type QueueKey = keyof typeof QUEUES;

/** The S3 bucket operators upload import files to. */
export const IMPORT_BUCKET = {
  logicalId: 'ImportBucket',
  suffix: 'imports',
  nameEnv: 'IMPORT_BUCKET',
} as const;

/** Full resource name for a stage, e.g. `upheal-sync-dev-user-events`. */
export function resourceName(stage: string, suffix: string): string {
  return `${SERVICE}-${stage}-${suffix}`;
}

/** FIFO queue name for a stage (SQS requires the `.fifo` suffix). */
export function queueName(stage: string, queue: QueueDefinition): string {
  return `${resourceName(stage, queue.suffix)}.fifo`;
}

/** Its dead-letter queue's name. */
export function deadLetterQueueName(stage: string, queue: QueueDefinition): string {
  return `${resourceName(stage, `${queue.suffix}-dlq`)}.fifo`;
}
