/**
 * Integration-test helpers for the local stack: bundle test handlers the way `scripts/build.ts`
 * bundles functions, start a stack for a test file (stopped in afterAll) with every worker log line
 * captured, and wait for eventual outcomes with a bounded poll.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { build } from 'esbuild';
import { afterAll, beforeAll } from 'vitest';
import type { DeployedFunctionName } from '#infra/functions.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from '#tools/local/stack.ts';
import type { WorkerLogLine } from '#tools/local/worker-pool.ts';

/** Same esbuild settings as scripts/build.ts, so test bundles load like deployed ones. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** Bundles test handler sources to `<tmp>/<function>/index.mjs`; pass `dir` as `functionsDir`. */
export async function bundleHandlers(
  handlers: Partial<Record<DeployedFunctionName, string>>,
): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'upheal-sync-bundles-'));
  await Promise.all(
    Object.entries(handlers).map(([name, source]) =>
      build({
        entryPoints: [source],
        outfile: join(dir, name, 'index.mjs'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node24',
        banner: { js: ESM_REQUIRE_BANNER },
        logLevel: 'warning',
      }),
    ),
  );
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A stack started for one test file. */
export interface LocalStackHandle {
  /** The running stack (available inside tests, after beforeAll). */
  readonly stack: LocalStack;
  /** Every line any worker printed so far. */
  readonly logs: WorkerLogLine[];
  /** An SQS client for this stack (destroyed in afterAll). */
  readonly sqs: SQSClient;
}

/**
 * Sends one FIFO message `{ id }` to a queue of a local stack at `sqsEndpoint` (its own client,
 * destroyed after the send): what the fixture handlers log an invocation line for.
 */
export async function sendFixtureMessage(
  sqsEndpoint: string,
  queueUrl: string,
  id: string,
  groupId: string,
): Promise<void> {
  const sqs = new SQSClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: sqsEndpoint,
  });
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ id }),
        MessageGroupId: groupId,
        MessageDeduplicationId: id,
      }),
    );
  } finally {
    sqs.destroy();
  }
}

/**
 * Starts a stack in beforeAll and stops it in afterAll. `options` may be a function, evaluated in
 * beforeAll (e.g. to use a bundle directory built by an earlier beforeAll).
 */
export function useLocalStack(
  options: LocalStackOptions | (() => LocalStackOptions),
): LocalStackHandle {
  const logs: WorkerLogLine[] = [];
  let stack: LocalStack | undefined;
  let sqs: SQSClient | undefined;
  beforeAll(async () => {
    const resolved = typeof options === 'function' ? options() : options;
    stack = await startLocalStack({
      pollWaitSeconds: 1,
      ...resolved,
      logSink: (entry) => {
        logs.push(entry);
        resolved.logSink?.(entry);
      },
    });
    sqs = new SQSClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.endpoints.sqs,
    });
  });
  afterAll(async () => {
    sqs?.destroy();
    await stack?.stop();
  });
  return {
    get stack() {
      if (!stack) throw new Error('the local stack is not started yet (use it inside tests)');
      return stack;
    },
    get sqs() {
      if (!sqs) throw new Error('the local stack is not started yet (use it inside tests)');
      return sqs;
    },
    logs,
  };
}

/** How long waitFor polls before failing, and how often. */
export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/** Polls `probe` until it returns a value other than undefined/false; throws after the timeout. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 20_000, intervalMs = 100 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
