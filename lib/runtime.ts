/**
 * Wiring of the functions: builds the AWS clients, the Upheal client, the shared limiter and the
 * stores once per Lambda instance (module scope), from the validated configuration. Handlers
 * take what they need from here; tests build their own dependencies instead.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BACKSTOP_MAX_RECEIVES } from '#infra/resources.ts';
import type { Config } from '#lib/config.ts';
import { cachedSecrets, ssmParameterReader } from '#lib/ingest/secrets.ts';
import { limiterFromConfig } from '#lib/limiter/dynamo-limiter.ts';
import { LANES, type Lane, type RateLimiter } from '#lib/limiter/rate-limiter.ts';
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
import type { ConsumerDeps } from '#lib/sqs/consumer.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { SqsAssignmentQueue } from '#lib/sync/assignment-queue.ts';
import { DynamoDeleteGuard } from '#lib/sync/delete-guard.ts';
import { PacedUpheal } from '#lib/sync/paced-upheal.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { UphealClient } from '#lib/upheal/client.ts';

/** Everything a sync function needs, built once. */
export interface Runtime {
  readonly config: Config;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly limiter: RateLimiter;
  /** Upheal, paced in each lane of the shared limiter. */
  readonly upheal: Readonly<Record<Lane, PacedUpheal>>;
  readonly mappings: DynamoMappingStore;
  readonly failures: DynamoFailureStore;
  readonly assignments: SqsAssignmentQueue;
  readonly deleteGuard: DynamoDeleteGuard;
  readonly stagedDeletes: DynamoStagedDeletes;
  readonly outbound: OutboundPublisher;
  /** This function's metrics buffer (published at the end of each invocation). */
  readonly metrics: Metrics;
}

const MS_PER_SECOND = 1000;
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
  const apiKey = apiKeyOf(config);
  const client = new UphealClient({
    baseUrl: config.UPHEAL_BASE_URL,
    apiKey: apiKey.value,
    timeoutMs: config.UPHEAL_TIMEOUT_MS,
    onResponse: ({ status }) => {
      // A rotated key: read it again (at most once a minute) instead of waiting for the cache.
      if (status === UNAUTHORIZED) apiKey.refresh();
      metrics.addMetric(METRIC_NAMES.uphealCalls, MetricUnit.Count, 1);
      if (status === TOO_MANY_REQUESTS)
        metrics.addMetric(METRIC_NAMES.uphealRateLimited, MetricUnit.Count, 1);
      if (status >= SERVER_ERROR_STATUS)
        metrics.addMetric(METRIC_NAMES.uphealServerErrors, MetricUnit.Count, 1);
    },
  });
  const limiter = limiterFromConfig(config, dynamo);
  const mappings = new DynamoMappingStore({ client: documents, tableName });
  return {
    config,
    sqs,
    dynamo,
    documents,
    limiter,
    upheal: {
      live: new PacedUpheal(client, limiter, LANES.live),
      bulk: new PacedUpheal(client, limiter, LANES.bulk),
    },
    mappings,
    failures: new DynamoFailureStore(documents, tableName),
    assignments: new SqsAssignmentQueue(sqs, config.ASSIGNMENTS_QUEUE_URL),
    deleteGuard: new DynamoDeleteGuard({
      client: documents,
      tableName,
      mappings,
      maxCount: config.DELETE_GUARD_MAX_COUNT,
      maxShare: config.DELETE_GUARD_MAX_SHARE,
      windowMs: config.DELETE_GUARD_WINDOW_SECONDS * 1000,
    }),
    stagedDeletes: new DynamoStagedDeletes(documents, tableName),
    outbound: outboundOf(config, sqs),
    metrics,
  };
}

/** The SQS consumer's settings of a function (retries, waits, receive limit, metrics). */
export function consumerDepsOf(runtime: Runtime): Omit<ConsumerDeps, 'logger'> {
  const { config } = runtime;
  return {
    sqs: runtime.sqs,
    failures: runtime.failures,
    maxAttempts: config.SYNC_MAX_ATTEMPTS,
    dependencyWaitMs: config.DEPENDENCY_WAIT_SECONDS * 1000,
    webhookWaitMs: config.UPHEAL_WEBHOOK_WAIT_SECONDS * 1000,
    maxReceives: BACKSTOP_MAX_RECEIVES,
    // The limiter pauses every worker after a 429 anyway: come back when its pause is likely
    // over (a share of the window), not after a fixed time that a scaled window makes huge.
    rateLimitDeferMs:
      (config.UPHEAL_RATE_WINDOW_SECONDS * MS_PER_SECOND) / RATE_LIMIT_DEFER_WINDOW_DIVISOR,
    metrics: runtime.metrics,
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

/**
 * The API key: from the environment locally, from SSM when deployed — cached for a few minutes
 * and read again after a 401 (at most once a minute), so a rotated key is picked up at once.
 */
function apiKeyOf(config: Config): {
  value: string | (() => Promise<string>);
  refresh: () => void;
} {
  if (config.UPHEAL_API_KEY) return { value: config.UPHEAL_API_KEY, refresh: () => {} };
  const source = cachedSecrets({
    read: ssmParameterReader(new SSMClient({}), config.UPHEAL_API_KEY_PARAMETER!),
  });
  return {
    value: async () => (await source.current())[0]!,
    // Best effort: a failed re-read leaves the cached key, and the next 401 tries again.
    refresh: () => void source.refreshAfterMiss().catch(() => undefined),
  };
}
