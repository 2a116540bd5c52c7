/**
 * CloudWatch alarms and the overview dashboard (what to do for each alarm is in
 * docs/operations.md). Product metrics are published by the functions (EMF, names in
 * `METRIC_NAMES`, namespace `UphealSync`, dimension `service`); queue and function metrics are AWS's own.
 */
import {
  type CfnResource,
  type CfnValue,
  deadLetterLogicalId,
  roleLogicalId,
  sub,
} from '#infra/cfn.ts';
import type { DeploySettings } from '#infra/deploy-settings.ts';
import { DEPLOYED_FUNCTIONS, eventSourcesOf, FUNCTIONS } from '#infra/functions.ts';
import {
  deadLetterQueueName,
  FUNCTION_TIMEOUT_SECONDS,
  METRIC_NAMES,
  METRIC_NAMESPACE,
  QUEUES,
  type QueueDefinition,
  queueName,
  resourceName,
  SERVICE,
} from '#infra/resources.ts';

/** Period and threshold of the "dead-letter queue not empty" alarms. */
const DLQ_ALARM = { periodSeconds: 300, threshold: 0 } as const;
/** 429s above this share of Upheal calls over the period mean another client or a limiter bug (≤ 2 %). */
const RATE_LIMITED_ALARM = { periodSeconds: 300, share: 0.02 } as const;
/** Any record failed for good within the period needs an operator's look. */
const FAILED_ALARM = { periodSeconds: 300, threshold: 0 } as const;
/**
 * The import queue holds messages but none was deleted (applied, skipped or failed) for
 * `periods` × `periodSeconds`: the bulk lane is stuck (Upheal down, key revoked, limiter paused,
 * workers crashing). Generous, because the live lane is served first.
 */
const IMPORT_STALLED_ALARM = { periodSeconds: 300, periods: 3 } as const;
/**
 * A control message older than twice initial-sync's timeout: a plan, fan-out or continuation
 * step keeps failing (control messages of one job run one after the other, each within one
 * invocation).
 */
const CONTROL_STALLED_AGE_SECONDS = FUNCTION_TIMEOUT_SECONDS['initial-sync'] * 2;
/**
 * The sync is quarantined: a guarded Upheal call was held back within the period. Periods
 * without calls keep the alarm's state (a long quarantine defers records for up to an hour);
 * the first call let through after a probe ended the quarantine sets it back to OK.
 */
const QUARANTINE_ALARM = { periodSeconds: 60, threshold: 0 } as const;
/**
 * Upheal webhook deliveries refused for their signature or timestamp: more than a stray probe
 * within the period means a secret or scheme out of step with Upheal's, or someone forging them.
 */
const WEBHOOK_SIGNATURE_ALARM = { periodSeconds: 300, threshold: 5 } as const;
/** The `service` dimension of the webhook function's metrics (functions/upheal-webhook.ts). */
const WEBHOOK_METRIC_SERVICE = 'upheal-webhook';
/** A function erroring (crash, timeout, misconfiguration) in consecutive periods. */
const FUNCTION_ERRORS_ALARM = { periodSeconds: 300, periods: 2, threshold: 0 } as const;
/** Seconds per minute, for the per-minute view of the rate limit. */
const SECONDS_PER_MINUTE = 60;
/** Dashboard widget size (CloudWatch grid units: 24 columns). */
const WIDGET = { width: 12, height: 6 } as const;
/** Powertools Metrics puts the service name in this dimension. */
const SERVICE_DIMENSION = 'service';
/**
 * The `service` values the record-processing metrics are published under: the name of each
 * queue-consuming function (lib/runtime.ts buildRuntime), or the product name when a function does
 * not pass one. Kept small: a metric-math alarm may combine at most 10 metrics.
 */
const METRIC_SERVICES = [
  ...DEPLOYED_FUNCTIONS.filter((name) => eventSourcesOf(name).length > 0),
  SERVICE,
];
/** Name of one alarm: `<service>-<stage>-<name>`, readable in notifications and the dashboard. */
export function alarmName(stage: string, name: string): string {
  return resourceName(stage, name);
}

/** Notification settings of every alarm (none without `alarmTopicArn`). */
function alarmActions(settings: DeploySettings): Record<string, CfnValue> {
  const topic = settings.alarmTopicArn;
  return topic ? { AlarmActions: [topic], OKActions: [topic] } : {};
}

/** The short names of the alarms (suffix of their AlarmName), for the dashboard and the docs. */
export function alarmShortNames(): string[] {
  return [
    ...(Object.values(QUEUES) as QueueDefinition[]).map((queue) => `${queue.suffix}-dlq-not-empty`),
    'upheal-429-share',
    'records-failed',
    'import-stalled',
    'import-control-stalled',
    'sync-quarantined',
    'upheal-webhook-signature-failures',
    ...DEPLOYED_FUNCTIONS.map((name) => `${name}-errors`),
  ];
}

/** One alarm per dead-letter queue: anything dead-lettered needs an operator. */
export function alarmResources(settings: DeploySettings): Record<string, CfnResource> {
  return Object.fromEntries(
    (Object.values(QUEUES) as QueueDefinition[]).map((queue) => [
      `${deadLetterLogicalId(queue)}NotEmptyAlarm`,
      {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: alarmName(settings.stage, `${queue.suffix}-dlq-not-empty`),
          AlarmDescription: `Messages in the dead-letter queue of ${queue.suffix} (docs/operations.md: DLQ not empty)`,
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [
            {
              Name: 'QueueName',
              Value: { 'Fn::GetAtt': [deadLetterLogicalId(queue), 'QueueName'] },
            },
          ],
          Statistic: 'Maximum',
          Period: DLQ_ALARM.periodSeconds,
          EvaluationPeriods: 1,
          Threshold: DLQ_ALARM.threshold,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          ...alarmActions(settings),
        },
      },
    ]),
  );
}

/** The functions that call Upheal (they hold the API key): the only sources of Upheal metrics. */
const UPHEAL_SERVICES = DEPLOYED_FUNCTIONS.filter((name) =>
  (FUNCTIONS[name].access.secrets as readonly string[]).includes('uphealApiKey'),
);

/** A metric-math expression summing one product metric over the given services' dimensions. */
function summedMetric(
  metricName: string,
  prefix: string,
  periodSeconds: number,
  services: readonly string[] = METRIC_SERVICES,
) {
  const parts = services.map((service, index) => ({
    Id: `${prefix}${index}`,
    ReturnData: false,
    MetricStat: {
      Metric: {
        Namespace: METRIC_NAMESPACE,
        MetricName: metricName,
        Dimensions: [{ Name: SERVICE_DIMENSION, Value: service }],
      },
      Period: periodSeconds,
      Stat: 'Sum',
    },
  }));
  const expression = parts.map((part) => `FILL(${part.Id}, 0)`).join(' + ');
  return { parts, expression };
}

/** One SQS metric of a queue, as a metric-math part. */
function queueMetricPart(
  id: string,
  queueLogicalId: string,
  metricName: string,
  stat: string,
  periodSeconds: number,
) {
  return {
    Id: id,
    ReturnData: false,
    MetricStat: {
      Metric: {
        Namespace: 'AWS/SQS',
        MetricName: metricName,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueLogicalId, 'QueueName'] } }],
      },
      Period: periodSeconds,
      Stat: stat,
    },
  };
}

/**
 * Alarms on the product metrics and on the import: Upheal 429 share, records failed for good,
 * the import queue not draining, a control step stuck, and each function erroring.
 */
export function metricAlarmResources(settings: DeploySettings): Record<string, CfnResource> {
  const { stage } = settings;
  const actions = alarmActions(settings);
  const calls = summedMetric(
    METRIC_NAMES.uphealCalls,
    'calls',
    RATE_LIMITED_ALARM.periodSeconds,
    UPHEAL_SERVICES,
  );
  const limited = summedMetric(
    METRIC_NAMES.uphealRateLimited,
    'limited',
    RATE_LIMITED_ALARM.periodSeconds,
    UPHEAL_SERVICES,
  );
  const failed = summedMetric(METRIC_NAMES.failed, 'failed', FAILED_ALARM.periodSeconds);
  const importQueue = QUEUES.imports.logicalId;
  const stalledPeriod = IMPORT_STALLED_ALARM.periodSeconds;
  const functionErrors = Object.fromEntries(
    DEPLOYED_FUNCTIONS.map((name) => [
      `${roleLogicalId(name).replace(/Role$/, '')}ErrorsAlarm`,
      {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: alarmName(stage, `${name}-errors`),
          AlarmDescription: `${name} failed invocations (crash, timeout, configuration) in consecutive periods (docs/operations.md: function errors)`,
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: resourceName(stage, name) }],
          Statistic: 'Sum',
          Period: FUNCTION_ERRORS_ALARM.periodSeconds,
          EvaluationPeriods: FUNCTION_ERRORS_ALARM.periods,
          DatapointsToAlarm: FUNCTION_ERRORS_ALARM.periods,
          Threshold: FUNCTION_ERRORS_ALARM.threshold,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          ...actions,
        },
      },
    ]),
  );
  const quarantined = UPHEAL_SERVICES.map((service, index) => ({
    Id: `quarantined${index}`,
    ReturnData: false,
    MetricStat: {
      Metric: {
        Namespace: METRIC_NAMESPACE,
        MetricName: METRIC_NAMES.quarantined,
        Dimensions: [{ Name: SERVICE_DIMENSION, Value: service }],
      },
      Period: QUARANTINE_ALARM.periodSeconds,
      Stat: 'Maximum',
    },
  }));
  return {
    SyncQuarantinedAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(stage, 'sync-quarantined'),
        AlarmDescription:
          'The sync is quarantined: Upheal is failing or refuses the API key; records wait in SQS (docs/operations.md: quarantine)',
        Metrics: [
          ...quarantined,
          {
            Id: 'held',
            // No FILL: a period without calls has no datapoint, and the alarm keeps its state.
            Expression: `MAX([${quarantined.map((part) => part.Id).join(', ')}])`,
            ReturnData: true,
          },
        ],
        EvaluationPeriods: 1,
        Threshold: QUARANTINE_ALARM.threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'ignore',
        ...actions,
      },
    },
    UphealRateLimitedAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(stage, 'upheal-429-share'),
        AlarmDescription:
          'Upheal answered 429 to more than 2 % of calls (docs/operations.md: Upheal 429 share)',
        Metrics: [
          ...calls.parts,
          ...limited.parts,
          {
            Id: 'share',
            Expression: `(${limited.expression}) / MAX([1, ${calls.expression}])`,
            ReturnData: true,
          },
        ],
        EvaluationPeriods: 1,
        Threshold: RATE_LIMITED_ALARM.share,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        ...actions,
      },
    },
    RecordsFailedAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(stage, 'records-failed'),
        AlarmDescription:
          'Records failed for good (docs/operations.md: records failed; upheal-sync failures)',
        Metrics: [
          ...failed.parts,
          { Id: 'total', Expression: failed.expression, ReturnData: true },
        ],
        EvaluationPeriods: 1,
        Threshold: FAILED_ALARM.threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        ...actions,
      },
    },
    ImportStalledAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(stage, 'import-stalled'),
        AlarmDescription:
          'The import queue holds messages but none was settled for 15 minutes (docs/operations.md: import stalled)',
        Metrics: [
          queueMetricPart(
            'waiting',
            importQueue,
            'ApproximateNumberOfMessagesVisible',
            'Maximum',
            stalledPeriod,
          ),
          queueMetricPart(
            'inflight',
            importQueue,
            'ApproximateNumberOfMessagesNotVisible',
            'Maximum',
            stalledPeriod,
          ),
          queueMetricPart('settled', importQueue, 'NumberOfMessagesDeleted', 'Sum', stalledPeriod),
          {
            Id: 'stalled',
            Expression:
              'IF(FILL(waiting, 0) + FILL(inflight, 0) > 0 AND FILL(settled, 0) == 0, 1, 0)',
            ReturnData: true,
          },
        ],
        EvaluationPeriods: IMPORT_STALLED_ALARM.periods,
        DatapointsToAlarm: IMPORT_STALLED_ALARM.periods,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        ...actions,
      },
    },
    ImportControlStalledAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(stage, 'import-control-stalled'),
        AlarmDescription: `An import control message is older than ${CONTROL_STALLED_AGE_SECONDS} s (docs/operations.md: import stalled)`,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [QUEUES.importControl.logicalId, 'QueueName'] },
          },
        ],
        Statistic: 'Maximum',
        Period: stalledPeriod,
        EvaluationPeriods: 1,
        Threshold: CONTROL_STALLED_AGE_SECONDS,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        ...actions,
      },
    },
    UphealWebhookSignatureFailuresAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: alarmName(stage, 'upheal-webhook-signature-failures'),
        AlarmDescription: `More than ${WEBHOOK_SIGNATURE_ALARM.threshold} Upheal webhooks refused for their signature or timestamp in 5 minutes (docs/operations.md: webhook signature failures)`,
        Namespace: METRIC_NAMESPACE,
        MetricName: METRIC_NAMES.webhookSignatureFailures,
        Dimensions: [{ Name: SERVICE_DIMENSION, Value: WEBHOOK_METRIC_SERVICE }],
        Statistic: 'Sum',
        Period: WEBHOOK_SIGNATURE_ALARM.periodSeconds,
        EvaluationPeriods: 1,
        Threshold: WEBHOOK_SIGNATURE_ALARM.threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        ...actions,
      },
    },
    ...functionErrors,
  };
}

/**
 * One dashboard: Upheal calls per minute against the limit, 429s and 5xx, record outcomes
 * (deferrals are mostly waits for a limiter slot), applied latency, queue depths and ages, DLQs,
 * import progress, function errors, and every alarm's state.
 */
export function dashboardResource(settings: DeploySettings): CfnResource {
  const { stage, region } = settings;
  const perService = (metricName: string, stat = 'Sum') =>
    METRIC_SERVICES.map((service) => [
      METRIC_NAMESPACE,
      metricName,
      SERVICE_DIMENSION,
      service,
      { stat, label: `${metricName} ${service}` },
    ]);
  /** The sum over every service as one line (metric math), parts hidden. */
  const summed = (metricName: string, id: string, label: string) => [
    ...METRIC_SERVICES.map((service, index) => [
      METRIC_NAMESPACE,
      metricName,
      SERVICE_DIMENSION,
      service,
      { id: `${id}${index}`, stat: 'Sum', visible: false },
    ]),
    [
      {
        expression: METRIC_SERVICES.map((_, index) => `FILL(${id}${index}, 0)`).join(' + '),
        label,
        id,
      },
    ],
  ];
  const queues = Object.values(QUEUES) as QueueDefinition[];
  const queueMetric = (name: string, metricName: string, stat = 'Maximum') => [
    'AWS/SQS',
    metricName,
    'QueueName',
    name,
    { stat, label: name },
  ];
  const limitPerMinute = Math.floor(
    (settings.uphealRateLimit * SECONDS_PER_MINUTE) / settings.uphealRateWindowSeconds,
  );
  const widget = (title: string, properties: Record<string, unknown>, index: number) => ({
    type: 'metric',
    x: (index % 2) * WIDGET.width,
    y: Math.floor(index / 2) * WIDGET.height,
    width: WIDGET.width,
    height: WIDGET.height,
    properties: { title, region, view: 'timeSeries', stacked: false, period: 60, ...properties },
  });
  const metricWidgets = [
    {
      title: 'Upheal calls per minute against the limit',
      properties: {
        metrics: summed(METRIC_NAMES.uphealCalls, 'calls', 'Upheal calls / min'),
        annotations: {
          horizontal: [{ label: `limit (${limitPerMinute} / min)`, value: limitPerMinute }],
        },
        yAxis: { left: { min: 0 } },
      },
    },
    {
      title: 'Upheal 429s and 5xx per minute',
      properties: {
        metrics: [
          ...summed(METRIC_NAMES.uphealRateLimited, 'limited', '429s / min'),
          ...summed(METRIC_NAMES.uphealServerErrors, 'errors', '5xx / min'),
        ],
      },
    },
    {
      title: 'Records applied / deferred (limiter wait, dependencies) / failed',
      properties: {
        metrics: [
          ...perService(METRIC_NAMES.applied),
          ...perService(METRIC_NAMES.deferred),
          ...perService(METRIC_NAMES.failed),
        ],
      },
    },
    {
      title: 'Applied latency (send to applied), p50 and p99',
      properties: {
        metrics: [
          ...perService(METRIC_NAMES.appliedLatency, 'p50'),
          ...perService(METRIC_NAMES.appliedLatency, 'p99'),
        ],
      },
    },
    {
      title: 'Queue depth (messages waiting)',
      properties: {
        metrics: queues.map((queue) =>
          queueMetric(queueName(stage, queue), 'ApproximateNumberOfMessagesVisible'),
        ),
      },
    },
    {
      title: 'Age of the oldest message (s)',
      properties: {
        metrics: queues.map((queue) =>
          queueMetric(queueName(stage, queue), 'ApproximateAgeOfOldestMessage'),
        ),
      },
    },
    {
      title: 'Dead-letter queues',
      properties: {
        metrics: queues.map((queue) =>
          queueMetric(deadLetterQueueName(stage, queue), 'ApproximateNumberOfMessagesVisible'),
        ),
      },
    },
    {
      title: 'Import progress: import messages settled per minute',
      properties: {
        metrics: [
          queueMetric(queueName(stage, QUEUES.imports), 'NumberOfMessagesDeleted', 'Sum'),
          queueMetric(queueName(stage, QUEUES.importControl), 'NumberOfMessagesDeleted', 'Sum'),
        ],
      },
    },
    {
      title: 'Function errors and throttles',
      properties: {
        metrics: DEPLOYED_FUNCTIONS.flatMap((name) => [
          [
            'AWS/Lambda',
            'Errors',
            'FunctionName',
            resourceName(stage, name),
            { stat: 'Sum', label: `errors ${name}` },
          ],
          [
            'AWS/Lambda',
            'Throttles',
            'FunctionName',
            resourceName(stage, name),
            { stat: 'Sum', label: `throttles ${name}` },
          ],
        ]),
      },
    },
  ];
  const widgets: Record<string, unknown>[] = metricWidgets.map((entry, index) =>
    widget(entry.title, entry.properties, index),
  );
  widgets.push({
    type: 'alarm',
    x: 0,
    y: Math.ceil(metricWidgets.length / 2) * WIDGET.height,
    width: WIDGET.width * 2,
    height: WIDGET.height,
    properties: {
      title: 'Alarms',
      alarms: alarmShortNames().map(
        (name) =>
          `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:${alarmName(stage, name)}`,
      ),
    },
  });
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: resourceName(stage, 'overview'),
      // Fn::Sub fills in the account for the alarm ARNs; the body has no other `${`.
      DashboardBody: sub(JSON.stringify({ widgets })),
    },
  };
}
