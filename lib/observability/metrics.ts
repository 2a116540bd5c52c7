/**
 * CloudWatch metrics in embedded metric format (Powertools Metrics): one JSON line per
 * invocation that CloudWatch turns into metrics, for the dashboard and the alarms of
 * `serverless.yml`. Values are counts and durations only — no ids, no data.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES, METRIC_NAMESPACE } from '#infra/resources.ts';

/** A metrics buffer of one function, published at the end of each invocation. */
export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: METRIC_NAMESPACE, serviceName });
}

export { METRIC_NAMES, METRIC_NAMESPACE, Metrics, MetricUnit };
