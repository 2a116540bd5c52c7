/**
 * A separate process that uses the shared limiter, as a Lambda instance would (forked by
 * dynamo-limiter.test.ts with `process.execPath`). It runs `workers` concurrent callers until
 * `endAt`, records the time each was allowed to send, and reports them with its counters over
 * IPC. A SlotUnavailableError is handled like an SQS deferral: the caller comes back after the
 * given delay. Nothing here talks to Upheal.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SlotUnavailableError } from '#lib/errors.ts';
import { DynamoRateLimiter, type LimiterStats } from '#lib/limiter/dynamo-limiter.ts';
import type { Lane } from '#lib/limiter/rate-limiter.ts';

/** What the parent passes (as JSON in argv[2]). */
export interface WorkerInput {
  readonly endpoint: string;
  readonly tableName: string;
  readonly apiKey: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly jitterMs: number;
  readonly horizonMs: number;
  readonly workers: number;
  readonly lane: Lane;
  /** Epoch ms at which every process starts, so they contend from the first slot. */
  readonly startAt: number;
  readonly endAt: number;
}

/** What the process reports back. */
export interface WorkerOutput {
  readonly sendTimes: number[];
  readonly stats: LimiterStats;
}

const input = JSON.parse(process.argv[2] ?? '{}') as WorkerInput;
const client = new DynamoDBClient({
  endpoint: input.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const limiter = new DynamoRateLimiter({ client, ...input });
const sendTimes: number[] = [];

const worker = async (): Promise<void> => {
  while (Date.now() < input.endAt) {
    try {
      await limiter.acquire(input.lane);
      sendTimes.push(Date.now());
    } catch (error) {
      if (!(error instanceof SlotUnavailableError)) throw error;
      await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs));
    }
  }
};

await new Promise((resolve) => setTimeout(resolve, Math.max(0, input.startAt - Date.now())));
await Promise.all(Array.from({ length: input.workers }, worker));
client.destroy();
const output: WorkerOutput = { sendTimes, stats: limiter.stats() };
process.send?.(output, () => process.exit(0));
