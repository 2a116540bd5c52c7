/**
 * The shared limiter on real DynamoDB semantics (dynalite over HTTP), at a scaled window of 60
 * requests per 2 s (J = 100 ms, H = 1 s): several limiter instances and several processes share
 * one item; every count is taken from the times callers were allowed to send.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlotUnavailableError } from '#lib/errors.ts';
import {
  DynamoRateLimiter,
  KEY_ID_HEX_CHARS,
  LIMITER_KEY,
  type LimiterStats,
  limiterKeyId,
} from '#lib/limiter/dynamo-limiter.ts';
import { AIMD, deriveParams } from '#lib/limiter/gcra.ts';
import { LANES, type Lane } from '#lib/limiter/rate-limiter.ts';
import { createTable, type LocalService, startDynamoDb } from '#lib/local/aws-services.ts';
import type { WorkerInput, WorkerOutput } from './limiter-worker.ts';

const SCALED = { limit: 60, windowMs: 2_000, jitterMs: 100, horizonMs: 1_000 } as const;
const params = deriveParams(SCALED);
const T = params.safeIntervalMs;
const TABLE_NAME = 'limiter-integration';
/** Writes per slot the product promises at 16 concurrent workers (SPEC §11). */
const MAX_WRITES_PER_SLOT = 1.5;
/** Share of the safe rate 1/T a contended run must reach (the rest is start-up and deferrals). */
const MIN_RATE_SHARE = 0.9;
/** Lead time so every worker is ready before the first slot. */
const START_DELAY_MS = 300;
/** The worker processes are killed if a run takes longer than this. */
const PROCESS_TIMEOUT_MS = 25_000;

let dynamo: LocalService;
let client: DynamoDBClient;
let keyCounter = 0;

/** A fresh API key per test, so every test starts on its own item. */
const freshKey = (): string => {
  keyCounter += 1;
  return `test-key-${keyCounter}-${process.pid}`;
};

beforeAll(async () => {
  dynamo = await startDynamoDb();
  client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await createTable(client, TABLE_NAME);
});

afterAll(async () => {
  client?.destroy();
  await dynamo?.stop();
});

const limiterFor = (apiKey: string): DynamoRateLimiter =>
  new DynamoRateLimiter({ client, tableName: TABLE_NAME, apiKey, ...SCALED });

/** The largest number of send times in any closed window [t, t + W]. */
const peakInWindow = (times: readonly number[], windowMs: number): number => {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start += 1) {
    while (end < sorted.length && sorted[end]! <= sorted[start]! + windowMs) end += 1;
    peak = Math.max(peak, end - start);
  }
  return peak;
};

/** Sends per ms over the run, from the first to the last send. */
const achievedRate = (times: readonly number[]): number => {
  const sorted = [...times].sort((a, b) => a - b);
  return (sorted.length - 1) / (sorted.at(-1)! - sorted[0]!);
};

/**
 * Runs `workers` callers of `limiter` until `endAt`, deferring like SQS; returns send times (and
 * fills `durations` with how long each successful acquire took, when given).
 */
const runCallers = async (
  limiter: DynamoRateLimiter,
  workers: number,
  lane: Lane,
  endAt: number,
  durations: number[] = [],
): Promise<number[]> => {
  const times: number[] = [];
  const caller = async (): Promise<void> => {
    // A message's wait counts from its first attempt, through deferrals, until it may send.
    let askedAt = Date.now();
    while (Date.now() < endAt) {
      try {
        await limiter.acquire(lane);
        times.push(Date.now());
        durations.push(Date.now() - askedAt);
        askedAt = Date.now();
      } catch (error) {
        if (!(error instanceof SlotUnavailableError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs));
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, caller));
  return times;
};

/** Sums the counters of several limiters (or processes). */
const totals = (stats: readonly LimiterStats[]) => {
  const sum = (pick: (one: LimiterStats) => number) =>
    stats.reduce((total, one) => total + pick(one), 0);
  return {
    writes: sum((one) => one.writes),
    conditionalFailures: sum((one) => one.conditionalFailures),
    reads: sum((one) => one.reads),
    slotsUsed: sum((one) => one.slotsUsed),
  };
};

describe('DynamoRateLimiter on dynalite', () => {
  it('keeps 4 instances × 4 callers under the limit in every window, near the safe rate', async () => {
    const apiKey = freshKey();
    const limiters = Array.from({ length: 4 }, () => limiterFor(apiKey));
    const endAt = Date.now() + 6_000;
    const runs = await Promise.all(
      limiters.map((limiter) => runCallers(limiter, 4, LANES.bulk, endAt)),
    );
    const times = runs.flat();
    const total = totals(limiters.map((limiter) => limiter.stats()));
    console.info('in-process', {
      slots: times.length,
      ...total,
      peak: peakInWindow(times, SCALED.windowMs),
    });
    expect(times.length).toBeGreaterThan(100);
    expect(peakInWindow(times, SCALED.windowMs)).toBeLessThanOrEqual(SCALED.limit);
    expect(achievedRate(times) * T).toBeGreaterThan(MIN_RATE_SHARE);
    expect(total.writes / total.slotsUsed).toBeLessThanOrEqual(MAX_WRITES_PER_SLOT);
  });

  it('names the item after a hash of the key and never stores the key', async () => {
    const apiKey = freshKey();
    await limiterFor(apiKey).acquire(LANES.live);
    const keyId = limiterKeyId(apiKey);
    expect(keyId).toMatch(new RegExp(`^[0-9a-f]{${KEY_ID_HEX_CHARS}}$`));
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: TABLE_NAME,
        Key: { pk: { S: `${LIMITER_KEY.pkPrefix}${keyId}` }, sk: { S: LIMITER_KEY.sk } },
      }),
    );
    expect(Item?.tat?.N).toBeDefined();
    const { Items = [] } = await client.send(new ScanCommand({ TableName: TABLE_NAME }));
    expect(JSON.stringify(Items)).not.toContain(apiKey);
  });

  it('books nothing for a caller it defers (the far slot would be wasted)', async () => {
    const apiKey = freshKey();
    const limiter = limiterFor(apiKey);
    await limiter.rateLimited(5_000);
    const before = limiter.stats();
    await expect(limiter.acquire(LANES.live)).rejects.toBeInstanceOf(SlotUnavailableError);
    const other = limiterFor(apiKey);
    const error = await other.acquire(LANES.live).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlotUnavailableError);
    expect((error as SlotUnavailableError).retryAfterMs).toBeGreaterThan(SCALED.horizonMs);
    expect(limiter.stats().slotsBooked).toBe(before.slotsBooked);
    expect(other.stats().slotsBooked).toBe(0);
    expect(other.stats().writes).toBe(0);
  });

  it('pauses every instance after a 429 and cuts the shared rate', async () => {
    const apiKey = freshKey();
    const limiters = Array.from({ length: 3 }, () => limiterFor(apiKey));
    const retryAfterMs = 1_500;
    const endAt = Date.now() + 4_000;
    let reportedAt = 0;
    const report = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      reportedAt = Date.now();
      await limiters[0]!.rateLimited(retryAfterMs);
    })();
    const runs = await Promise.all(
      limiters.map((limiter) => runCallers(limiter, 2, LANES.live, endAt)),
    );
    await report;
    // Slots booked before the report lie within one horizon of it (plus the late allowance);
    // after that, nobody sends until the pause (Retry-After + J) is over.
    const quietFrom = reportedAt + SCALED.horizonMs + params.lateMs;
    const quietUntil = reportedAt + retryAfterMs + SCALED.jitterMs;
    const inPause = runs.flat().filter((time) => time >= quietFrom && time < quietUntil);
    expect(inPause).toEqual([]);
    expect(runs[1]!.some((time) => time >= quietUntil)).toBe(true);
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: TABLE_NAME,
        Key: {
          pk: { S: `${LIMITER_KEY.pkPrefix}${limiterKeyId(apiKey)}` },
          sk: { S: LIMITER_KEY.sk },
        },
        ConsistentRead: true,
      }),
    );
    expect(Number(Item?.intervalMs?.N)).toBeCloseTo(T / AIMD.decreaseFactor, 6);
  });

  it('serves a live request ahead of a bulk backlog', async () => {
    const apiKey = freshKey();
    const bulk = limiterFor(apiKey);
    const live = limiterFor(apiKey);
    const endAt = Date.now() + 3_000;
    const bulkWaits: number[] = [];
    const backlog = runCallers(bulk, 16, LANES.bulk, endAt, bulkWaits);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const waits: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const askedAt = Date.now();
      await live.acquire(LANES.live);
      waits.push(Date.now() - askedAt);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await backlog;
    // The bulk lane keeps at most its lead (plus the few slots of a herd) booked ahead, so a live
    // request waits about that long, while 16 bulk callers queue for about 16 intervals each
    // (on average, by Little's law: some are lucky, some deferred).
    const bulkMean = bulkWaits.reduce((sum, wait) => sum + wait, 0) / bulkWaits.length;
    console.info('live waits', waits, 'bulk mean', bulkMean, 'bulk lead', params.bulkLeadMs);
    for (const wait of waits) expect(wait).toBeLessThan(params.bulkLeadMs + 8 * T);
    expect(Math.max(...waits)).toBeLessThan(bulkMean);
  });

  it('keeps 4 processes × 4 callers under the limit in every window, near the safe rate', async () => {
    const apiKey = freshKey();
    const startAt = Date.now() + START_DELAY_MS + 1_000;
    const input: Omit<WorkerInput, 'workers'> = {
      endpoint: dynamo.endpoint,
      tableName: TABLE_NAME,
      apiKey,
      ...SCALED,
      lane: LANES.bulk,
      startAt,
      endAt: startAt + 6_000,
    };
    const script = fileURLToPath(new URL('./limiter-worker.ts', import.meta.url));
    const outputs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<WorkerOutput>((resolve, reject) => {
            const child = fork(script, [JSON.stringify({ ...input, workers: 4 })], {
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
    const times = outputs.flatMap((output) => output.sendTimes);
    const total = totals(outputs.map((output) => output.stats));
    console.info('processes', {
      slots: times.length,
      ...total,
      peak: peakInWindow(times, SCALED.windowMs),
      rateShare: achievedRate(times) * T,
    });
    expect(outputs.every((output) => output.sendTimes.length > 0)).toBe(true);
    expect(peakInWindow(times, SCALED.windowMs)).toBeLessThanOrEqual(SCALED.limit);
    expect(achievedRate(times) * T).toBeGreaterThan(MIN_RATE_SHARE);
    expect(total.writes / total.slotsUsed).toBeLessThanOrEqual(MAX_WRITES_PER_SLOT);
  });
});
