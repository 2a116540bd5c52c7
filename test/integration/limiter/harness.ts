/**
 * Shared pieces of the limiter's integration tests: the scaled configuration, a local DynamoDB
 * with the product's table, callers that behave like SQS consumers (a deferral sleeps, then
 * retries), forked limiter processes, and the measures taken from send times.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SlotUnavailableError } from '#lib/errors.ts';
import type { DynamoRateLimiter, LimiterStats } from '#lib/limiter/dynamo-limiter.ts';
import { deriveParams } from '#lib/limiter/gcra.ts';
import type { Lane } from '#lib/limiter/rate-limiter.ts';
import { createTable, type LocalService, startDynamoDb } from '#tools/local/aws-services.ts';
import type { WorkerInput, WorkerOutput } from './limiter-worker.ts';

/** 60 requests per 2 s, J = 100 ms, H = 1 s: the production shape, 30 times faster. */
export const SCALED = { limit: 60, windowMs: 2_000, jitterMs: 100, horizonMs: 1_000 } as const;

/** The algorithm's constants at the scaled configuration. */
export const SCALED_PARAMS = deriveParams(SCALED);

/** Writes per slot the product promises at 16 concurrent workers (SPEC §11). */
export const MAX_WRITES_PER_SLOT = 1.5;

/** The table the tests create. */
export const TABLE_NAME = 'limiter-integration';

/** A worker process is killed if its run takes longer than this. */
const PROCESS_TIMEOUT_MS = 25_000;

/** A local DynamoDB with the product's table, and a client for it. */
export interface LocalTable {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  stop(): Promise<void>;
}

/** Starts dynalite and creates the table. */
export async function startLocalTable(): Promise<LocalTable> {
  const dynamo: LocalService = await startDynamoDb();
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await createTable(client, TABLE_NAME);
  return {
    endpoint: dynamo.endpoint,
    client,
    stop: async () => {
      client.destroy();
      await dynamo.stop();
    },
  };
}

let keyCounter = 0;

/** A fresh API key, so every test starts on its own limiter item. */
export function freshKey(): string {
  keyCounter += 1;
  return `test-key-${keyCounter}-${process.pid}`;
}

/** The largest number of send times in any closed window [t, t + W]. */
export function peakInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start += 1) {
    while (end < sorted.length && sorted[end]! <= sorted[start]! + windowMs) end += 1;
    peak = Math.max(peak, end - start);
  }
  return peak;
}

/** The achieved rate as a share of the safe rate 1/T, from the first to the last send. */
export function rateShare(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const perMs = (sorted.length - 1) / (sorted.at(-1)! - sorted[0]!);
  return perMs * SCALED_PARAMS.safeIntervalMs;
}

/**
 * Runs `workers` callers of `limiter` until `endAt`, deferring like SQS; returns the send times
 * and fills `waits` with each message's wait, from its first attempt (through deferrals) until
 * it may send.
 */
export async function runCallers(
  limiter: DynamoRateLimiter,
  workers: number,
  lane: Lane,
  endAt: number,
  waits: number[] = [],
): Promise<number[]> {
  const times: number[] = [];
  const caller = async (): Promise<void> => {
    let askedAt = Date.now();
    while (Date.now() < endAt) {
      try {
        await limiter.acquire(lane);
        times.push(Date.now());
        waits.push(Date.now() - askedAt);
        askedAt = Date.now();
      } catch (error) {
        if (!(error instanceof SlotUnavailableError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs));
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, caller));
  return times;
}

/**
 * The highest rate share the schedule allows by construction: slots are at least T apart, and a
 * send may be up to lateMs after its slot, so n sends span at least (n − 1)·T − lateMs.
 */
export function maxRateShare(sends: number): number {
  const span = (sends - 1) * SCALED_PARAMS.safeIntervalMs;
  return span / (span - SCALED_PARAMS.lateMs);
}

/** Forks one limiter process per input (`process.execPath` runs the TS worker directly). */
export function forkWorkers(inputs: readonly WorkerInput[]): Promise<WorkerOutput[]> {
  const script = fileURLToPath(new URL('./limiter-worker.ts', import.meta.url));
  return Promise.all(
    inputs.map(
      (input) =>
        new Promise<WorkerOutput>((resolve, reject) => {
          const child = fork(script, [JSON.stringify(input)], {
            execPath: process.execPath,
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          const timer = setTimeout(() => child.kill(), PROCESS_TIMEOUT_MS);
          let output: WorkerOutput | undefined;
          child.on('message', (message) => {
            output = message as WorkerOutput;
          });
          child.on('error', reject);
          child.on('exit', (code) => {
            clearTimeout(timer);
            if (output && code === 0) resolve(output);
            else reject(new Error(`limiter worker exited with ${code}`));
          });
        }),
    ),
  );
}

/** Sums the counters of several limiters (or processes). */
export function totals(stats: readonly LimiterStats[]) {
  const sum = (pick: (one: LimiterStats) => number) =>
    stats.reduce((total, one) => total + pick(one), 0);
  return {
    writes: sum((one) => one.writes),
    conditionalFailures: sum((one) => one.conditionalFailures),
    reads: sum((one) => one.reads),
    slotsUsed: sum((one) => one.slotsUsed),
    deferrals: sum((one) => one.deferrals),
  };
}
