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

/** Per-function deployment settings beyond the timeout (which resources.ts owns). */
export interface FunctionDefinition {
  readonly memoryMb: number;
  /** Exposed through a Lambda function URL (HTTPS trigger). */
  readonly url: boolean;
}

/**
 * The deployed functions: adding one is one line here (its triggers come from `QUEUES` consumers
 * in resources.ts); serverless.yml and the local stack pick it up.
 */
export const FUNCTIONS = {
  'sync-user': { memoryMb: 512, url: false },
  'assign-providers': { memoryMb: 512, url: false },
  ingest: { memoryMb: 256, url: true },
  /** Streams the import file from S3 and plans the fan-out: more memory, which is also more CPU. */
  'initial-sync': { memoryMb: 1024, url: false },
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
