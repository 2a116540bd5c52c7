/**
 * One benchmark worker process (forked by bench/limiter.ts), standing in for one Lambda instance
 * with a backlog: it calls the simulator's `POST /users/check` in a loop until `endAt`, either
 * through the shared limiter (`limiter`) or naively (`naive`: no shared state, each 429 retried
 * after a capped exponential backoff with jitter). It reports its counts over IPC.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SlotUnavailableError } from '#lib/errors.ts';
import { closeAgents, keepAliveAgents, sendHttp } from '#lib/http.ts';
import { DynamoRateLimiter, type LimiterStats } from '#lib/limiter/dynamo-limiter.ts';
import { LANES } from '#lib/limiter/rate-limiter.ts';
import { type BenchWorkerInput, type BenchWorkerOutput, WORKER_MODES } from './limiter-protocol.ts';

const TOO_MANY_REQUESTS = 429;
const MS_PER_SECOND = 1000;

const input = JSON.parse(process.argv[2] ?? '{}') as BenchWorkerInput;
/** One kept-alive connection per worker, as a Lambda instance keeps one. */
const agents = keepAliveAgents(60_000);
/** Generous: a call of the bench that takes this long is a broken simulator. */
const TIMEOUT_MS = 60_000;
/** The simulator's answers are a few hundred bytes. */
const MAX_ANSWER_BYTES = 65_536;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let calls = 0;
let rateLimited = 0;
let deferrals = 0;

/** One Upheal call; returns the status and Retry-After in ms, if any. */
const call = async (): Promise<{ status: number; retryAfterMs: number | undefined }> => {
  calls += 1;
  const response = await sendHttp(`${input.simulatorUrl}/users/check`, {
    method: 'POST',
    agents,
    headers: { authorization: `Bearer ${input.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `bench-${input.index}-${calls}@example.com` }),
    timeoutMs: TIMEOUT_MS,
    maxBodyBytes: MAX_ANSWER_BYTES,
  });
  const header = response.headers['retry-after'];
  const seconds = typeof header === 'string' ? Number(header) : Number.NaN;
  return {
    status: response.status,
    retryAfterMs: Number.isFinite(seconds) ? seconds * MS_PER_SECOND : undefined,
  };
};

const runWithLimiter = async (): Promise<LimiterStats> => {
  const client = new DynamoDBClient({
    endpoint: input.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const limiter = new DynamoRateLimiter({ client, ...input });
  while (Date.now() < input.endAt) {
    try {
      await limiter.acquire(LANES.bulk);
    } catch (error) {
      if (!(error instanceof SlotUnavailableError)) throw error;
      // An SQS deferral: the message comes back after the expected wait.
      deferrals += 1;
      await sleep(error.retryAfterMs);
      continue;
    }
    const answer = await call();
    if (answer.status === TOO_MANY_REQUESTS) {
      rateLimited += 1;
      await limiter.rateLimited(answer.retryAfterMs);
    }
  }
  client.destroy();
  return limiter.stats();
};

const runNaively = async (): Promise<void> => {
  let consecutive = 0;
  while (Date.now() < input.endAt) {
    const answer = await call();
    if (answer.status !== TOO_MANY_REQUESTS) {
      consecutive = 0;
      continue;
    }
    rateLimited += 1;
    const backoff = Math.min(input.naiveCapMs, input.naiveBaseMs * 2 ** consecutive);
    consecutive += 1;
    await sleep(answer.retryAfterMs ?? backoff * (0.5 + Math.random() / 2));
  }
};

await sleep(Math.max(0, input.startAt - Date.now()));
const stats = input.mode === WORKER_MODES.limiter ? await runWithLimiter() : undefined;
if (input.mode === WORKER_MODES.naive) await runNaively();
closeAgents(agents);
const output: BenchWorkerOutput = { calls, rateLimited, deferrals, stats };
process.send?.(output, () => process.exit(0));
