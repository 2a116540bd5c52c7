/**
 * The deployed Lambda functions and their triggers, derived from `infra/resources.ts`. The
 * CloudFormation builder (`serverless.yml`) and the local stack both read this list, so a function
 * runs locally with the same event sources, timeout and memory it is deployed with.
 */
import {
  FUNCTION_TIMEOUT_SECONDS,
  type FunctionName,
  QUEUES,
  type QueueConsumer,
  type QueueKey,
} from '#infra/resources.ts';

/** The secrets a function may read (SSM SecureString parameters, see infra/cloudformation.ts). */
export type SecretKey =
  | 'uphealApiKey'
  | 'ingestSecret'
  | 'outboundWebhookSecret'
  | 'uphealWebhookSecret';

/**
 * What a function may do with the table: `records` — the items of the sync, the jobs and the
 * limiter (get, put, update, delete, query, batch get; query and scan of the reverse index);
 * `ingestNonces` — only put and delete the replay guard's `INGEST#…` items; `webhookNonces` — the
 * same for Upheal's webhooks (`UPHEAL-WEBHOOK#…` items).
 */
export type TableAccess = 'records' | 'ingestNonces' | 'webhookNonces';

/**
 * What a function's IAM role allows beyond its own log group. Its SQS triggers are always
 * readable (the event source mapping polls with the function's role; lib/sqs/consumer.ts
 * resolves their URLs, changes visibility and reads the redrive policy), and their DLQs
 * writable (the consumer dead-letters by itself).
 */
export interface FunctionAccess {
  /** Queues it sends messages to, by URL from its environment (checked against the code in lib/). */
  readonly sendsTo: readonly QueueKey[];
  readonly secrets: readonly SecretKey[];
  /** Reads import files from the import bucket. */
  readonly readsImportBucket: boolean;
  readonly table: TableAccess;
  /**
   * Scans the whole table (lib/store/dynamo-mapping-store.ts `clientsOf`: a re-created provider's
   * clients), beyond the reverse index every `records` function may scan.
   */
  readonly scansTable: boolean;
}

/** Per-function deployment settings beyond the timeout (which resources.ts owns). */
export interface FunctionDefinition {
  readonly memoryMb: number;
  /** Exposed through a Lambda function URL (HTTPS trigger). */
  readonly url: boolean;
  readonly access: FunctionAccess;
}

/**
 * The deployed functions: adding one is one line here (its triggers come from `QUEUES` consumers
 * in resources.ts); serverless.yml and the local stack pick it up. `access` lists what the code
 * actually uses; the package test pins it resource by resource.
 */
export const FUNCTIONS = {
  /**
   * Calls Upheal; queues a client's provider list (lib/sync/assignment-queue.ts), publishes
   * outcomes (lib/outbound), and its job ledger sends `start-clients` (lib/jobs/import-progress.ts).
   */
  'sync-user': {
    memoryMb: 512,
    url: false,
    access: {
      sendsTo: ['assignments', 'outbound', 'outboundWebhook', 'importControl'],
      secrets: ['uphealApiKey'],
      readsImportBucket: false,
      table: 'records',
      scansTable: true,
    },
  },
  /** Calls Upheal; publishes `client.providers_assigned` and failures. */
  'assign-providers': {
    memoryMb: 512,
    url: false,
    access: {
      sendsTo: ['outbound', 'outboundWebhook'],
      secrets: ['uphealApiKey'],
      readsImportBucket: false,
      table: 'records',
      scansTable: false,
    },
  },
  /** Internet-facing: it may only enqueue user events, record nonces and read its signing secret. */
  ingest: {
    memoryMb: 256,
    url: true,
    access: {
      sendsTo: ['userEvents'],
      secrets: ['ingestSecret'],
      readsImportBucket: false,
      table: 'ingestNonces',
      scansTable: false,
    },
  },
  /**
   * Streams the import file from S3 and fans rows out to the import queue; continues itself
   * through its own control queue; announces `import.completed`. Makes no Upheal call, so it
   * has no API key. More memory, which is also more CPU, for parsing.
   */
  'initial-sync': {
    memoryMb: 1024,
    url: false,
    access: {
      sendsTo: ['imports', 'importControl', 'outbound', 'outboundWebhook'],
      secrets: [],
      readsImportBucket: true,
      table: 'records',
      scansTable: false,
    },
  },
  /**
   * POSTs outbound events to the partner's HTTPS endpoint, signed with its secret; records the
   * events it had to dead-letter (failure records and attempt counters in the table).
   */
  'deliver-outbound': {
    memoryMb: 256,
    url: false,
    access: {
      sendsTo: [],
      secrets: ['outboundWebhookSecret'],
      readsImportBucket: false,
      table: 'records',
      scansTable: false,
    },
  },
  /**
   * Internet-facing, for Upheal: it may only queue heal commands, record its replay-guard items
   * and read its signing secret.
   */
  'upheal-webhook': {
    memoryMb: 256,
    url: true,
    access: {
      sendsTo: ['uphealWebhooks'],
      secrets: ['uphealWebhookSecret'],
      readsImportBucket: false,
      table: 'webhookNonces',
      scansTable: false,
    },
  },
  /**
   * Heals creates from Upheal's webhooks: mappings, claims, failure records and traces in the
   * table; publishes `user.created` and queues a healed client's provider list. No Upheal call.
   */
  'apply-upheal-webhook': {
    memoryMb: 256,
    url: false,
    access: {
      sendsTo: ['assignments', 'outbound', 'outboundWebhook'],
      secrets: [],
      readsImportBucket: false,
      table: 'records',
      scansTable: false,
    },
  },
} as const satisfies Partial<Record<FunctionName, FunctionDefinition>>;

/** A function that is deployed (a key of FUNCTIONS). */
export type DeployedFunctionName = keyof typeof FUNCTIONS;

/** The deployed functions, in a stable order. */
export const DEPLOYED_FUNCTIONS = Object.keys(FUNCTIONS) as DeployedFunctionName[];

/** One SQS trigger of a function: which queue, with which mapping settings. */
export interface EventSource extends QueueConsumer {
  readonly queueKey: QueueKey;
}

/** The SQS event sources of a function, in QUEUES order. */
export function eventSourcesOf(functionName: FunctionName): EventSource[] {
  return (Object.keys(QUEUES) as QueueKey[]).flatMap((queueKey) => {
    const consumer: QueueConsumer | undefined = (QUEUES[queueKey] as { consumer?: QueueConsumer })
      .consumer;
    return consumer?.functionName === functionName ? [{ queueKey, ...consumer }] : [];
  });
}

/** The function's timeout in seconds. */
export function timeoutOf(functionName: FunctionName): number {
  return FUNCTION_TIMEOUT_SECONDS[functionName];
}
