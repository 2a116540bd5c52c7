/**
 * CloudWatch metrics in embedded metric format (Powertools Metrics): one JSON line per
 * invocation that CloudWatch turns into metrics, for the dashboard and the alarms of
 * `serverless.yml`. Values are counts and durations only — no ids, no data.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** The namespace every metric of this product is published in. */
export const METRIC_NAMESPACE = 'UphealSync';

/** Metric names (the dashboard and alarms in infra/ refer to these). */
export const METRIC_NAMES = {
  /** Every answered Upheal call. */
  uphealCalls: 'UphealCalls',
  /** Upheal calls answered 429 (another client of the key, or a limiter misconfiguration). */
  uphealRateLimited: 'UphealRateLimited',
  /** Upheal calls answered 5xx. */
  uphealServerErrors: 'UphealServerErrors',
  /** Records applied (any outcome but a failure). */
  applied: 'RecordsApplied',
  /** Records that failed for good (recorded, and announced as `user.failed`). */
  failed: 'RecordsFailed',
  /** Records deferred (rate-limit slot, 429 pause, dependency not ready). */
  deferred: 'RecordsDeferred',
  /** Time from a message's first send to its record being applied. */
  appliedLatency: 'AppliedLatency',
  /** Upheal webhook deliveries refused for a bad or missing signature or timestamp. */
  webhookSignatureFailures: 'WebhookSignatureFailures',
} as const;

/** A metrics buffer of one function, published at the end of each invocation. */
export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: METRIC_NAMESPACE, serviceName });
}

export { Metrics, MetricUnit };
