/**
 * Wiring of the functions: builds the AWS clients, the Upheal client paced by the shared limiter,
 * the secrets, the stores and the queues once per Lambda instance (module scope), from the
 * validated configuration. This is the one place adapters are built: each `functions/<name>.ts`
 * is its function's composition root and takes what it needs from here; tests build their own
 * dependencies instead.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BACKSTOP_MAX_RECEIVES } from '#infra/resources.ts';
import type { Config } from '#lib/config.ts';
import { SqsControlQueue } from '#lib/jobs/control-messages.ts';
import { SqsImportQueue } from '#lib/jobs/import-queue.ts';
import { DynamoJobStore } from '#lib/jobs/job-store.ts';
import { DynamoRateLimiter } from '#lib/limiter/dynamo-limiter.ts';
import { deriveParams, type GcraConfig, slotDeadline } from '#lib/limiter/gcra.ts';
import {
  allGuards,
  type CallGuard,
  type CallGuardFactory,
  invocationDeadlines,
} from '#lib/limiter/guarded-upheal.ts';
import { pacedUpheal } from '#lib/limiter/paced-upheal.ts';
import { LANES, type RateLimiter } from '#lib/limiter/rate-limiter.ts';
import { createLogger } from '#lib/observability/logger.ts';
import {
  createMetrics,
  METRIC_NAMES,
  type Metrics,
  MetricUnit,
} from '#lib/observability/metrics.ts';
import {
  FanOutPublisher,
  NoOutbound,
  type OutboundPublisher,
  SqsOutboundPublisher,
} from '#lib/outbound/outbound-events.ts';
import { DynamoQuarantine } from '#lib/quarantine/dynamo-quarantine.ts';
import { requiredSecret } from '#lib/secrets.ts';
import { SIT_OUT_HORIZONS } from '#lib/sqs/capacity-gate.ts';
import type { ConsumerDeps } from '#lib/sqs/consumer.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { DynamoUserLeases } from '#lib/store/user-lease.ts';
import { SqsAssignmentQueue } from '#lib/sync/assignment-queue.ts';
import { DynamoDeleteGuard } from '#lib/sync/delete-guard.ts';
import type { UphealForMessage } from '#lib/sync/ports.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import { UphealClient } from '#lib/upheal/client.ts';

/** Everything a sync function needs, built once. */
export interface Runtime {
  readonly config: Config;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly limiter: RateLimiter;
  /** Upheal for each message, paced in its lane of the shared limiter. */
  readonly upheal: UphealForMessage;
  readonly mappings: DynamoMappingStore;
  readonly failures: DynamoFailureStore;
  /** Per-user leases: one message at a time per user across the queues. */
  readonly leases: DynamoUserLeases;
  readonly assignments: SqsAssignmentQueue;
  readonly deleteGuard: DynamoDeleteGuard;
  readonly stagedDeletes: DynamoStagedDeletes;
  /** Import jobs and their ledgers. */
  readonly jobs: DynamoJobStore;
  /** The import-control queue (start, continue, start-clients of a job). */
  readonly control: SqsControlQueue;
  /** The import queue (one message per import row). */
  readonly importQueue: SqsImportQueue;
  readonly outbound: OutboundPublisher;
  /** This function's metrics buffer (published at the end of each invocation). */
  readonly metrics: Metrics;
  /** The shared quarantine: no Upheal call while Upheal is down or refuses the key. */
  readonly quarantine: DynamoQuarantine;
}

/**
 * The address the quarantine's probe checks (`POST /users/check`, which changes nothing): in the
 * `.invalid` domain reserved by RFC 2606, so it is never a real user's.
 */
export const PROBE_EMAIL = 'quarantine-probe@upheal-sync.invalid';
/** A message answered 429 comes back after this fraction of the rate window (3 s of 60 s). */
const RATE_LIMIT_DEFER_WINDOW_DIVISOR = 20;

/** HTTP statuses from this one up are server errors. */
const SERVER_ERROR_STATUS = 500;
/** Upheal's answer to a missing or invalid API key. */
const UNAUTHORIZED = 401;
/** Upheal's answer when the shared rate limit is exceeded. */
const TOO_MANY_REQUESTS = 429;

/** Builds the runtime of a function (named for its logs and metrics) from its configuration. */
export function buildRuntime(config: Config, serviceName = 'upheal-sync'): Runtime {
  const metrics = createMetrics(serviceName);
  const sqs = new SQSClient({});
  const dynamo = new DynamoDBClient({});
  const documents = documentClient(dynamo);
  const tableName = config.TABLE_NAME;
  const apiKey = requiredSecret({
    variable: 'UPHEAL_API_KEY',
    value: config.UPHEAL_API_KEY,
    parameter: config.UPHEAL_API_KEY_PARAMETER,
  });
  const client = new UphealClient({
    baseUrl: config.UPHEAL_BASE_URL,
    apiKey: config.UPHEAL_API_KEY ?? (() => apiKey.value()),
    timeoutMs: config.UPHEAL_TIMEOUT_MS,
    onResponse: ({ status }) => {
      // A rotated key: read it again at once instead of waiting for the cache. Best effort: a
      // failed read leaves the cached key, and the next 401 tries again.
      if (status === UNAUTHORIZED) void apiKey.refresh().catch(() => undefined);
      metrics.addMetric(METRIC_NAMES.uphealCalls, MetricUnit.Count, 1);
      if (status === TOO_MANY_REQUESTS)
        metrics.addMetric(METRIC_NAMES.uphealRateLimited, MetricUnit.Count, 1);
      if (status >= SERVER_ERROR_STATUS)
        metrics.addMetric(METRIC_NAMES.uphealServerErrors, MetricUnit.Count, 1);
    },
  });
  const limiter = limiterFromConfig(config, dynamo);
  const mappings = new DynamoMappingStore({ client: documents, tableName });
  const quarantine = new DynamoQuarantine({
    client: documents,
    tableName,
    settings: {
      errorThreshold: config.QUARANTINE_ERROR_THRESHOLD,
      errorWindowMs: config.QUARANTINE_ERROR_WINDOW_SECONDS * MS_PER_SECOND,
      probeIntervalMs: config.QUARANTINE_PROBE_SECONDS * MS_PER_SECOND,
    },
    // One call that changes nothing, paced like any other (the live lane: it goes first).
    probe: async () => {
      await limiter.acquire(LANES.live);
      await client.checkUser(PROBE_EMAIL);
    },
    onGate: (held) => metrics.addMetric(METRIC_NAMES.quarantined, MetricUnit.Count, held ? 1 : 0),
    logger: createLogger(serviceName),
  });
  return {
    config,
    sqs,
    dynamo,
    documents,
    limiter,
    upheal: pacedUpheal(client, limiter),
    mappings,
    failures: new DynamoFailureStore(documents, tableName),
    leases: new DynamoUserLeases({ client: documents, tableName }),
    assignments: new SqsAssignmentQueue(sqs, config.ASSIGNMENTS_QUEUE_URL),
    deleteGuard: new DynamoDeleteGuard({
      client: documents,
      tableName,
      mappings,
      maxCount: config.DELETE_GUARD_MAX_COUNT,
      maxShare: config.DELETE_GUARD_MAX_SHARE,
      windowMs: config.DELETE_GUARD_WINDOW_SECONDS * MS_PER_SECOND,
    }),
    stagedDeletes: new DynamoStagedDeletes(documents, tableName),
    jobs: new DynamoJobStore(documents, tableName),
    control: new SqsControlQueue(sqs, config.IMPORT_CONTROL_QUEUE_URL),
    importQueue: new SqsImportQueue(sqs, config.IMPORT_QUEUE_URL),
    outbound: outboundOf(config, sqs),
    metrics,
    quarantine,
  };
}

/** The SQS consumer's settings of a function (retries, waits, receive limit, metrics). */
export function consumerDepsOf(runtime: Runtime): Omit<ConsumerDeps, 'logger'> {
  const { config } = runtime;
  return {
    sqs: runtime.sqs,
    failures: runtime.failures,
    maxAttempts: config.SYNC_MAX_ATTEMPTS,
    dependencyWaitMs: config.DEPENDENCY_WAIT_SECONDS * MS_PER_SECOND,
    webhookWaitMs: config.UPHEAL_WEBHOOK_WAIT_SECONDS * MS_PER_SECOND,
    maxReceives: BACKSTOP_MAX_RECEIVES,
    // The limiter pauses every worker after a 429 anyway: come back when its pause is likely
    // over (a share of the window), not after a fixed time that a scaled window makes huge.
    rateLimitDeferMs:
      (config.UPHEAL_RATE_WINDOW_SECONDS * MS_PER_SECOND) / RATE_LIMIT_DEFER_WINDOW_DIVISOR,
    metrics: runtime.metrics,
    capacitySitOutMs: SIT_OUT_HORIZONS * config.UPHEAL_RATE_HORIZON_MS,
    callBudgetMs: callBudgetMsOf(config),
    bulkTurn: {
      await: () => runtime.limiter.awaitTurn(LANES.bulk),
      longestWaitMs: longestSlotWaitMs(config),
    },
  };
}

/**
 * Time kept free after an Upheal call's answer, to record its outcome (mapping, outbound event)
 * before the invocation ends.
 */
const AFTER_CALL_MARGIN_MS = 1_000;

/**
 * The checks before each Upheal call of a record: the sync must not be quarantined (a due probe
 * runs first), and the invocation must have time for the call (its wait for a slot, its timeout,
 * and recording the outcome; at most half the invocation, see `invocationDeadlines`). Failed
 * calls are reported to the quarantine.
 */
export function callGuardOf(runtime: Runtime): CallGuardFactory {
  const { config } = runtime;
  const deadlines = invocationDeadlines(callBudgetMsOf(config));
  return (invocation) => {
    const guards: CallGuard[] = [runtime.quarantine.guard()];
    if (invocation) guards.push(deadlines(invocation));
    return allGuards(guards);
  };
}

/** Where outcomes go: the outbound queue, and the webhook's queue when a webhook is configured. */
function outboundOf(config: Config, sqs: SQSClient): OutboundPublisher {
  const targets: OutboundPublisher[] = [];
  if (config.OUTBOUND_QUEUE_URL)
    targets.push(new SqsOutboundPublisher(sqs, config.OUTBOUND_QUEUE_URL));
  if (config.OUTBOUND_WEBHOOK_URL && config.OUTBOUND_WEBHOOK_QUEUE_URL) {
    targets.push(new SqsOutboundPublisher(sqs, config.OUTBOUND_WEBHOOK_QUEUE_URL));
  }
  if (targets.length === 0) return new NoOutbound();
  return targets.length === 1 ? targets[0]! : new FanOutPublisher(targets);
}

/** The limiter's settings from `UPHEAL_RATE_*` (the window in seconds). */
function limiterSettings(config: Config): GcraConfig {
  return {
    limit: config.UPHEAL_RATE_LIMIT,
    windowMs: config.UPHEAL_RATE_WINDOW_SECONDS * MS_PER_SECOND,
    jitterMs: config.UPHEAL_RATE_JITTER_MS,
    horizonMs: config.UPHEAL_RATE_HORIZON_MS,
  };
}

/** The invocation time one Upheal call needs: its wait for a slot, its timeout, its recording. */
function callBudgetMsOf(config: Config): number {
  return longestSlotWaitMs(config) + config.UPHEAL_TIMEOUT_MS + AFTER_CALL_MARGIN_MS;
}

/** The longest in-process wait for a slot (a bulk call: H plus the bulk lead). */
function longestSlotWaitMs(config: Config): number {
  return slotDeadline(LANES.bulk, 0, deriveParams(limiterSettings(config)));
}

/**
 * The limiter of a function, from its configuration. The item is named after the API key, or,
 * when deployed (the key lives only in SSM), after the name of its SSM parameter: either way one
 * item per key, and never the key itself.
 */
export function limiterFromConfig(config: Config, client: DynamoDBClient): DynamoRateLimiter {
  return new DynamoRateLimiter({
    client,
    tableName: config.TABLE_NAME,
    apiKey: config.UPHEAL_API_KEY ?? config.UPHEAL_API_KEY_PARAMETER ?? '',
    ...limiterSettings(config),
  });
}
