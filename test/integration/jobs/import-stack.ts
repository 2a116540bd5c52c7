/**
 * A local stack for import-job tests: the emulators, the Upheal simulator, sync-user (with the
 * job ledger wired in) and assign-providers in worker processes, and initial-sync's bundle fed by
 * its own event source from the import-control queue (infra/functions.ts does not list it yet).
 * Every worker log line is kept, parsed where it is JSON.
 */
import { join } from 'node:path';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeployedFunctionName } from '#infra/functions.ts';
import { FUNCTION_TIMEOUT_SECONDS, QUEUES } from '#infra/resources.ts';
import { EventSourceRunner } from '#lib/local/event-source-runner.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalStack,
  PROJECT_ROOT,
  startLocalStack,
} from '#lib/local/stack.ts';
import { type WorkerLogLine, WorkerPool } from '#lib/local/worker-pool.ts';
import { bundleHandlers } from '#test/helpers/local-stack.ts';

/** The scaled rate limit: 300 calls per 10 s, as in the benchmark. */
export const RATE_ENV = {
  UPHEAL_RATE_LIMIT: '300',
  UPHEAL_RATE_WINDOW_SECONDS: '10',
  UPHEAL_RATE_JITTER_MS: '150',
} as const;

/** initial-sync's name (not yet a key of infra/functions.ts FUNCTIONS). */
const INITIAL_SYNC = 'initial-sync';

/** Bundles the handlers the import tests run. */
export async function bundleImportHandlers(): Promise<{ dir: string; remove(): Promise<void> }> {
  return bundleHandlers({
    'sync-user': join(PROJECT_ROOT, 'test/integration/jobs/fixtures/sync-user-with-progress.ts'),
    'assign-providers': join(PROJECT_ROOT, 'functions/assign-providers.ts'),
    [INITIAL_SYNC as DeployedFunctionName]: join(PROJECT_ROOT, 'functions/initial-sync.ts'),
  });
}

/** A running import stack. */
export interface ImportStack {
  readonly stack: LocalStack;
  readonly sqs: SQSClient;
  /** What an operator's shell would export (the stack's env and the scaled rate). */
  readonly env: Record<string, string>;
  /** Every worker line, in arrival order. */
  readonly logs: WorkerLogLine[];
  /** The JSON log entries with `message`, from every worker. */
  entries(): Record<string, unknown>[];
  /** Whether the import, assignment and control queues are empty (nothing visible or in flight). */
  queuesIdle(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Starts the stack with the bundles in `dir`. */
export async function startImportStack(dir: string): Promise<ImportStack> {
  const logs: WorkerLogLine[] = [];
  const stack = await startLocalStack({
    functionsDir: dir,
    functions: ['sync-user', 'assign-providers'],
    env: RATE_ENV,
    simulator: { rateLimit: { limit: 300, windowMs: 10_000 } },
    pollWaitSeconds: 1,
    drainMs: 2_000,
    logSink: (entry) => logs.push(entry),
  });
  const sqs = new SQSClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: stack.endpoints.sqs,
  });
  const pool = new WorkerPool({
    functionName: INITIAL_SYNC,
    bundlePath: join(dir, INITIAL_SYNC, 'index.mjs'),
    env: {
      ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
      TZ: 'UTC',
      AWS_LAMBDA_FUNCTION_NAME: INITIAL_SYNC,
      ...stack.env,
    },
    timeoutSeconds: FUNCTION_TIMEOUT_SECONDS[INITIAL_SYNC],
    memoryLimitInMB: 512,
    region: LOCAL_REGION,
    logSink: (entry) => logs.push(entry),
  });
  const consumer = QUEUES.importControl.consumer;
  const runner = new EventSourceRunner({
    functionName: INITIAL_SYNC,
    sqs,
    queueUrl: stack.queueUrls.importControl,
    queueArn: stack.queueArns.importControl,
    region: LOCAL_REGION,
    batchSize: consumer.batchSize,
    maximumConcurrency: consumer.maximumConcurrency,
    invoker: pool,
    pollWaitSeconds: 1,
  });
  runner.start();
  const watched = [
    stack.queueUrls.imports,
    stack.queueUrls.assignments,
    stack.queueUrls.importControl,
  ];
  return {
    stack,
    sqs,
    env: { ...stack.env, ...RATE_ENV },
    logs,
    entries: () =>
      logs.flatMap((entry) => {
        if (!entry.line.startsWith('{')) return [];
        try {
          return [{ functionName: entry.functionName, ...JSON.parse(entry.line) }];
        } catch {
          return [];
        }
      }),
    async queuesIdle() {
      for (const queueUrl of watched) {
        const { Attributes = {} } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
            ],
          }),
        );
        if (
          Number(Attributes.ApproximateNumberOfMessages) > 0 ||
          Number(Attributes.ApproximateNumberOfMessagesNotVisible) > 0
        )
          return false;
      }
      return true;
    },
    async stop() {
      runner.stopPolling();
      await Promise.race([runner.stop(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
      await pool.stop();
      sqs.destroy();
      await stack.stop();
    },
  };
}
