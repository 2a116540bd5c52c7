/** What one benchmark scenario measured (a row of the table, an entry of latest.json). */
import type { DynamoCounts } from './dynamo-counter.ts';
import type { CpuPerSecond } from './machine-load.ts';
import type { Peaks, Shortfall, Timeline, Utilisation } from './metrics.ts';

/** Which system ran the workload. */
export const SYSTEMS = {
  /** The unchanged functions on the local stack, paced by the shared limiter. */
  sync: 'sync',
  /** W independent loops calling Upheal directly, retrying 429s with exponential backoff. */
  naive: 'naive',
} as const;

/** One of SYSTEMS. */
export type System = (typeof SYSTEMS)[keyof typeof SYSTEMS];

/** A scenario's results. */
export interface ScenarioResult {
  readonly name: string;
  readonly system: System;
  readonly workers: number;
  readonly foreignShare: number;
  /** The import's mode (the product's scenarios). */
  readonly mode?: string | undefined;
  /** Share of the import's users already in Upheal before it. */
  readonly preExistingShare?: number | undefined;
  /** Clients of the import with more than one provider (one assignment call each). */
  readonly multiProviderClients?: number | undefined;
  /** Users synced (import + live); for a re-run, the users sent again. */
  readonly users: number;
  /** Σ of the minimum calls of those users (0 for a re-run). */
  readonly minimumCalls: number;
  /** Own requests that reached Upheal, 429s included. */
  readonly calls: number;
  readonly rateLimited: number;
  /** Own calls per `<Upheal route> <status>` (429s included). */
  readonly callsByRoute: Readonly<Record<string, number>>;
  readonly utilisation: Utilisation | undefined;
  readonly peaks: Peaks;
  /** Function traffic to DynamoDB (undefined for the naive baseline, which has none). */
  readonly dynamo: DynamoCounts | undefined;
  /** Publish → applied of the live events during the bulk load, in ms. */
  readonly live: {
    readonly count: number;
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
    /** Every live event's latency, in publish order. */
    readonly latenciesMs: readonly number[];
  };
  /** Calls per second over the run. */
  readonly timeline: Timeline;
  /** Start of the client phase on the timeline (s), where utilisation sampling begins. */
  readonly clientPhaseAtS: number | undefined;
  /** Wall time of the scenario's load (publish of the first message → last applied). */
  readonly durationMs: number;
  /** Whether every user was applied before the scenario's timeout. */
  readonly complete: boolean;
  /** Records that failed for good / retried (from the logs or the naive loops). */
  readonly failures: number;
  readonly retries: number;
  /** Messages deferred back to SQS, by event kind (`load`, `live`, `rerun`) and error class. */
  readonly deferrals: Readonly<Record<string, number>>;
  /**
   * The most deferrals of one event (the product's scenarios only): each is a receive of its
   * message, and a message deferred up to the queue's receive limit is dead-lettered.
   */
  readonly mostDeferralsOfOneEvent?: number;
  /**
   * Deferrals and retries (by error class) and quarantine transitions per second, on the same
   * buckets as `timeline` (the product's scenarios only).
   */
  readonly eventsPerSecond?: Readonly<Record<string, readonly number[]>>;
  /** Error classes of the naive baseline's failed users. */
  readonly failureKinds?: Readonly<Record<string, number>>;
  /** The scale scenario's own figures (bench/scale-scenario.ts). */
  readonly scale?: ScaleFigures;
}

/** What the scale scenario measures besides a scenario's usual figures. */
export interface ScaleFigures {
  /** The key it ran at (its own scaling, see docs/benchmark.md). */
  readonly limit: number;
  readonly windowMs: number;
  /** Calls ÷ limit: the least time the calls made can take. */
  readonly floorMs: number;
  /** Own calls ÷ (limit × time): the achieved rate from first publish to last applied. */
  readonly rate: number;
  /** Peak resident set of each worker process, by function, in MiB (ascending). */
  readonly peakRssMb: Readonly<Record<string, readonly number[]>>;
  /**
   * When the bench first saw the job in each phase, ms after the first publish (polled every
   * 250 ms): with the first import record applied, where the start's time goes.
   */
  readonly phaseSeenAtMs: Readonly<Record<string, number>>;
  /** Ms from the first publish to the first import record applied (live events aside). */
  readonly firstImportAppliedAtMs: number;
  /** The niceness of each warm `initial-sync` worker (19: run at the lowest CPU priority). */
  readonly initialSyncNiceness: readonly number[];
  /**
   * The switch to clients, ms after the first publish: the last provider applied, the first
   * client applied, and the first poll that saw every client queued (the job's cursor at the
   * file's last line). With `phaseSeenAtMs.clients`, where the switch's time goes.
   */
  readonly switchMs: {
    readonly lastProviderApplied: number;
    readonly firstClientApplied: number;
    readonly clientsQueued: number;
  };
  /**
   * Before the clock: the stack's start, its workers started and warm (Lambda starts its
   * instances side by side; two shared cores would run these cold starts one after another).
   */
  readonly stackStartMs: number;
  readonly warmWorkers: number;
  /** Calls short of the steady rate at the start, at the switch to clients and elsewhere. */
  readonly shortfall: Shortfall;
  /** The machine's CPU per second of `timeline` (busy and stolen shares, from /proc/stat). */
  readonly cpu: CpuPerSecond;
}

/** Calls per user ÷ the minimum (NaN when the minimum is 0). */
export function callsPerMinimum(result: ScenarioResult): number {
  return result.minimumCalls === 0 ? Number.NaN : result.calls / result.minimumCalls;
}

/** DynamoDB writes per Upheal call (NaN without DynamoDB or without calls). */
export function writesPerCall(result: ScenarioResult): number {
  if (!result.dynamo || result.calls === 0) return Number.NaN;
  return result.dynamo.writes / result.calls;
}

/** DynamoDB requests of any kind (reads included) per Upheal call (NaN likewise). */
export function requestsPerCall(result: ScenarioResult): number {
  if (!result.dynamo || result.calls === 0) return Number.NaN;
  return result.dynamo.requests / result.calls;
}
