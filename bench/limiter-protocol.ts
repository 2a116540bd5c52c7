/**
 * What bench/limiter.ts and its worker processes (bench/limiter-worker.ts) exchange: the worker's
 * input (JSON in argv[2]) and its report (over IPC).
 */
import type { LimiterStats } from '#lib/limiter/dynamo-limiter.ts';

/** How a worker paces itself. */
export const WORKER_MODES = { limiter: 'limiter', naive: 'naive' } as const;

/** A worker mode. */
export type WorkerMode = (typeof WORKER_MODES)[keyof typeof WORKER_MODES];

/** What the parent passes (JSON in argv[2]). */
export interface BenchWorkerInput {
  readonly mode: WorkerMode;
  readonly simulatorUrl: string;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly apiKey: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly jitterMs: number;
  readonly horizonMs: number;
  /** Naive mode: first backoff after a 429, doubled per consecutive 429 up to the cap. */
  readonly naiveBaseMs: number;
  readonly naiveCapMs: number;
  readonly startAt: number;
  readonly endAt: number;
  /** Distinguishes the emails of different workers. */
  readonly index: number;
}

/** What the worker reports. */
export interface BenchWorkerOutput {
  readonly calls: number;
  readonly rateLimited: number;
  readonly deferrals: number;
  readonly stats: LimiterStats | undefined;
}
