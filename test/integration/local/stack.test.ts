/**
 * startLocalStack: the resources exist on the emulators, workers get the function environment
 * (and nothing of this process's), the simulator runs, and stop() ends every worker process.
 */
import { getPriority } from 'node:os';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSourcesOf } from '#infra/functions.ts';
import { QUEUES, type QueueKey, TABLE } from '#infra/resources.ts';
import type { FunctionUrlEcho } from '#test/fixtures/handlers/function-url.ts';
import type { InvocationLine } from '#test/fixtures/handlers/scripted.ts';
import { bundleHandlers, sendFixtureMessage, waitFor } from '#test/helpers/local-stack.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalStack,
  startLocalStack,
} from '#tools/local/stack.ts';
import { LOW_PRIORITY_NICENESS, type WorkerLogLine } from '#tools/local/worker-pool.ts';

const LINE_PREFIX = 'fixture-invocation ';
const SENTINEL = 'PARENT_ONLY_SENTINEL';

let bundles: Awaited<ReturnType<typeof bundleHandlers>>;
beforeAll(async () => {
  bundles = await bundleHandlers({
    'sync-user': 'test/fixtures/handlers/scripted.ts',
    ingest: 'test/fixtures/handlers/function-url.ts',
  });
});
afterAll(async () => {
  await bundles?.remove();
});

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Sends one message to the user-events queue and waits for the fixture's invocation line. */
async function invokeOnce(
  stack: LocalStack,
  logs: readonly WorkerLogLine[],
  id: string,
): Promise<InvocationLine> {
  await sendFixtureMessage(stack.endpoints.sqs, stack.queueUrls.userEvents, id, id);
  return waitFor(() => {
    const entry = logs.find((log) => log.line.startsWith(LINE_PREFIX));
    return entry && (JSON.parse(entry.line.slice(LINE_PREFIX.length)) as InvocationLine);
  });
}

describe('startLocalStack', () => {
  let stack: LocalStack | undefined;
  const logs: WorkerLogLine[] = [];
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates the resources, runs SQS and URL functions in workers with the function environment, and stops every worker', async () => {
    process.env[SENTINEL] = 'must not leak into workers';
    stack = await startLocalStack({
      functionsDir: bundles.dir,
      functions: ['sync-user', 'ingest'],
      env: { EXTRA_SETTING: 'scaled' },
      pollWaitSeconds: 1,
      logSink: (entry) => logs.push(entry),
    });
    expect(stack.simulator?.url).toBe(stack.endpoints.upheal);
    for (const key of Object.keys(QUEUES) as QueueKey[]) {
      expect(stack.env[QUEUES[key].urlEnv]).toBe(stack.queueUrls[key]);
      expect(stack.dlqUrls[key]).toMatch(/-dlq\.fifo$/);
    }
    const dynamodb = new DynamoDBClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.endpoints.dynamodb,
    });
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: stack.tableName }));
    dynamodb.destroy();
    expect(Table?.GlobalSecondaryIndexes?.[0]?.IndexName).toBe(TABLE.reverseIndex.name);

    const line = await invokeOnce(stack, logs, 'env-1');
    expect(line.env).toEqual({
      TABLE_NAME: stack.tableName,
      USER_EVENTS_QUEUE_URL: stack.queueUrls.userEvents,
      UPHEAL_BASE_URL: stack.endpoints.upheal,
      AWS_ENDPOINT_URL_SQS: stack.endpoints.sqs,
      AWS_LAMBDA_FUNCTION_NAME: 'sync-user',
      EXTRA_SETTING: 'scaled',
      [SENTINEL]: undefined,
    });

    // ingest runs behind a local function URL, in its own worker process.
    const ingestUrl = stack.functionUrls.ingest!;
    const answer = await fetch(new URL('/events', ingestUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"events":[]}',
    });
    expect(answer.status).toBe(202);
    const echo = (await answer.json()) as FunctionUrlEcho;
    expect(echo).toMatchObject({
      functionName: 'ingest',
      method: 'POST',
      path: '/events',
      body: '{"events":[]}',
      contentType: 'application/json',
    });
    expect(echo.pid).not.toBe(process.pid);
    expect((await fetch(new URL('/crash', ingestUrl), { method: 'POST' })).status).toBe(502);

    const pids = stack.workerPids();
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.every(isRunning)).toBe(true);
    await stack.stop();
    expect(pids.filter(isRunning)).toEqual([]);
    expect(stack.workerPids()).toEqual([]);
  });
});

describe('startLocalStack with warm workers', () => {
  it("starts each SQS function's workers, one per unit of its sources' concurrency, before any event", async () => {
    const concurrency = { userEvents: 2, imports: 3 } as const;
    const expected = eventSourcesOf('sync-user').reduce(
      (sum, source) =>
        sum +
        ((concurrency as Partial<Record<QueueKey, number>>)[source.queueKey] ??
          source.maximumConcurrency),
      0,
    );
    const lines: WorkerLogLine[] = [];
    const stack = await startLocalStack({
      functionsDir: bundles.dir,
      functions: ['sync-user'],
      concurrency,
      pollWaitSeconds: 1,
      warmWorkers: true,
      logSink: (entry) => lines.push(entry),
    });
    try {
      expect(expected).toBeGreaterThanOrEqual(5);
      expect(stack.warmWorkers).toBe(expected);
      const warm = stack.workerPids();
      expect(warm).toHaveLength(expected);
      expect(warm.every(isRunning)).toBe(true);
      // At this process's priority, unless asked otherwise (below).
      expect(warm.map((pid) => getPriority(pid))).toEqual(warm.map(() => getPriority()));
      // The first event runs on one of them: no worker starts cold for it.
      const line = await invokeOnce(stack, lines, 'warm-1');
      expect(warm).toContain(line.pid);
      expect(stack.workerPids().sort()).toEqual([...warm].sort());
    } finally {
      await stack.stop();
    }
  });

  // A runner already at the lowest priority could not tell the option from its absence.
  it.skipIf(getPriority() >= LOW_PRIORITY_NICENESS)(
    'runs the workers of a low-priority function at the lowest CPU priority',
    async () => {
      const lines: WorkerLogLine[] = [];
      const stack = await startLocalStack({
        functionsDir: bundles.dir,
        functions: ['sync-user'],
        concurrency: { userEvents: 2, imports: 2 },
        pollWaitSeconds: 1,
        warmWorkers: true,
        lowPriorityFunctions: ['sync-user'],
        logSink: (entry) => lines.push(entry),
      });
      try {
        const pids = stack.workerPids();
        expect(pids.length).toBeGreaterThanOrEqual(4);
        expect(
          pids.map((pid) => getPriority(pid)),
          lines.map((entry) => entry.line).join('\n'),
        ).toEqual(pids.map(() => LOW_PRIORITY_NICENESS));
      } finally {
        await stack.stop();
      }
    },
  );
});
