/**
 * A local stack for import-job tests: the emulators, the Upheal simulator, and the bundles of
 * initial-sync, sync-user and assign-providers in worker processes fed by their event sources.
 * Every worker log line is kept, parsed where it is JSON.
 */
import { join } from 'node:path';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { bundleHandlers } from '#test/helpers/local-stack.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalStack,
  type LocalStackOptions,
  PROJECT_ROOT,
  startLocalStack,
} from '#tools/local/stack.ts';
import type { WorkerLogLine } from '#tools/local/worker-pool.ts';

/** The scaled rate limit: 300 calls per 10 s, as in the benchmark. */
export const RATE_ENV = {
  UPHEAL_RATE_LIMIT: '300',
  UPHEAL_RATE_WINDOW_SECONDS: '10',
  UPHEAL_RATE_JITTER_MS: '150',
} as const;

/** Bundles the deployed handlers the import tests run (the esbuild settings of the build). */
export async function bundleImportHandlers(): Promise<{ dir: string; remove(): Promise<void> }> {
  return bundleHandlers({
    'sync-user': join(PROJECT_ROOT, 'functions/sync-user.ts'),
    'assign-providers': join(PROJECT_ROOT, 'functions/assign-providers.ts'),
    'initial-sync': join(PROJECT_ROOT, 'functions/initial-sync.ts'),
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
export async function startImportStack(
  dir: string,
  overrides: Partial<LocalStackOptions> = {},
): Promise<ImportStack> {
  const logs: WorkerLogLine[] = [];
  const stack = await startLocalStack({
    functionsDir: dir,
    functions: ['sync-user', 'assign-providers', 'initial-sync'],
    simulator: { rateLimit: { limit: 300, windowMs: 10_000 } },
    pollWaitSeconds: 1,
    drainMs: 2_000,
    logSink: (entry) => logs.push(entry),
    ...overrides,
    env: { ...RATE_ENV, ...overrides.env },
  });
  const sqs = new SQSClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: stack.endpoints.sqs,
  });
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
      sqs.destroy();
      await stack.stop();
    },
  };
}
