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
export type SecretKey = 'uphealApiKey' | 'ingestSecret';

/** What a function's IAM role allows beyond its table, logs and its own SQS triggers. */
export interface FunctionAccess {
  /**
   * Queues it may send to (and resolve with GetQueueUrl). Its own trigger queues and their DLQs are
   * always included (deferral re-sends, self dead-lettering). `all`: every queue and DLQ, for the
   * functions built on lib/runtime.ts, which publish assignments, outbound events and progress.
   */
  readonly sendsTo: readonly QueueKey[] | 'all';
  readonly secrets: readonly SecretKey[];
  /** Reads import files from the import bucket. */
  readonly readsImportBucket: boolean;
}

/** Per-function deployment settings beyond the timeout (which resources.ts owns). */
export interface FunctionDefinition {
  readonly memoryMb: number;
  /** Exposed through a Lambda function URL (HTTPS trigger). */
  readonly url: boolean;
  readonly access: FunctionAccess;
}

/** Access of the queue consumers built on lib/runtime.ts (Upheal calls, every product queue). */
const RECORD_WORKER_ACCESS: FunctionAccess = {
  sendsTo: 'all',
  secrets: ['uphealApiKey'],
  readsImportBucket: false,
};

/**
 * The deployed functions: adding one is one line here (its triggers come from `QUEUES` consumers
 * in resources.ts); serverless.yml and the local stack pick it up.
 */
export const FUNCTIONS = {
  'sync-user': { memoryMb: 512, url: false, access: RECORD_WORKER_ACCESS },
  'assign-providers': { memoryMb: 512, url: false, access: RECORD_WORKER_ACCESS },
  /** Internet-facing: it may only enqueue user events and read its signing secret. */
  ingest: {
    memoryMb: 256,
    url: true,
    access: { sendsTo: ['userEvents'], secrets: ['ingestSecret'], readsImportBucket: false },
  },
  /** Streams the import file from S3 and plans the fan-out: more memory, which is also more CPU. */
  'initial-sync': {
    memoryMb: 1024,
    url: false,
    access: { ...RECORD_WORKER_ACCESS, readsImportBucket: true },
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
