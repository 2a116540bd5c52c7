/**
 * The deployed infrastructure as CloudFormation and `serverless.yml` fragments, built from
 * `infra/resources.ts` and `infra/functions.ts` (the same definitions the local stack creates).
 * `serverless.yml` loads them through `infra/serverless.cjs`; nothing here is hand-copied there.
 */
import {
  DEPLOYED_FUNCTIONS,
  type DeployedFunctionName,
  eventSourcesOf,
  FUNCTIONS,
  type FunctionAccess,
  timeoutOf,
} from '#infra/functions.ts';
import { CONTENT_BASED_DEDUPLICATION, RETENTION_SECONDS } from '#infra/queue-attributes.ts';
import {
  deadLetterQueueName,
  IMPORT_BUCKET,
  QUEUES,
  type QueueDefinition,
  type QueueKey,
  queueName,
  resourceName,
  SERVICE,
  TABLE,
} from '#infra/resources.ts';
import { METRIC_NAMES, METRIC_NAMESPACE } from '#lib/observability/metrics.ts';

/** A CloudFormation value: literal or intrinsic function. */
type CfnValue = unknown;
/** One CloudFormation resource. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, CfnValue>;
}

/** Where `scripts/build.ts` writes each function's bundle. */
const BUNDLE_DIR = 'dist/functions';
/** Lambda's handler string for `dist/functions/<name>/index.mjs`, export `handler`. */
const HANDLER_EXPORT = 'index.handler';
/** Period and threshold of the "dead-letter queue not empty" alarms. */
const DLQ_ALARM = { periodSeconds: 300, threshold: 0 } as const;
/** 429s above this share of Upheal calls over the period mean another client or a limiter bug (SPEC §11: ≤ 2 %). */
const RATE_LIMITED_ALARM = { periodSeconds: 300, share: 0.02 } as const;
/** Any record failed for good within the period needs an operator's look. */
const FAILED_ALARM = { periodSeconds: 300, threshold: 0 } as const;
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

const ref = (logicalId: string) => ({ Ref: logicalId });
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** Logical id of a queue's dead-letter queue, e.g. `UserEventsQueueDlq`. */
export function deadLetterLogicalId(queue: QueueDefinition): string {
  return `${queue.logicalId}Dlq`;
}

/** SSM parameter names of the secrets per stage (SecureString, created by the operator). */
export function secretParameters(stage: string) {
  return {
    uphealApiKey: `/${SERVICE}/${stage}/upheal-api-key`,
    ingestSecret: `/${SERVICE}/${stage}/ingest-secret`,
  } as const;
}

/** The FIFO queues and their DLQs; the redrive policy carries `maxReceiveCount`. */
export function queueResources(stage: string): Record<string, CfnResource> {
  const resources: Record<string, CfnResource> = {};
  for (const queue of Object.values(QUEUES) as QueueDefinition[]) {
    const fifo = {
      FifoQueue: true,
      ContentBasedDeduplication: CONTENT_BASED_DEDUPLICATION,
      SqsManagedSseEnabled: true,
    };
    resources[deadLetterLogicalId(queue)] = {
      Type: 'AWS::SQS::Queue',
      Properties: {
        ...fifo,
        QueueName: deadLetterQueueName(stage, queue),
        MessageRetentionPeriod: RETENTION_SECONDS.deadLetter,
      },
    };
    resources[queue.logicalId] = {
      Type: 'AWS::SQS::Queue',
      Properties: {
        ...fifo,
        QueueName: queueName(stage, queue),
        MessageRetentionPeriod: RETENTION_SECONDS.queue,
        VisibilityTimeout: queue.visibilityTimeoutSeconds,
        RedrivePolicy: {
          deadLetterTargetArn: arnOf(deadLetterLogicalId(queue)),
          maxReceiveCount: queue.maxReceiveCount,
        },
      },
    };
  }
  return resources;
}

/** The table: string keys, sparse reverse index, TTL, PITR, encryption, on-demand. */
export function tableResource(stage: string): CfnResource {
  const { partitionKey, sortKey, reverseIndex, ttlAttribute } = TABLE;
  return {
    Type: 'AWS::DynamoDB::Table',
    Properties: {
      TableName: resourceName(stage, TABLE.suffix),
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: partitionKey, AttributeType: 'S' },
        { AttributeName: sortKey, AttributeType: 'S' },
        { AttributeName: reverseIndex.partitionKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: reverseIndex.name,
          KeySchema: [{ AttributeName: reverseIndex.partitionKey, KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    },
  };
}

/** The import bucket: encrypted, never public, TLS only through its policy. */
export function bucketResources(stage: string): Record<string, CfnResource> {
  return {
    [IMPORT_BUCKET.logicalId]: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        BucketName: resourceName(stage, IMPORT_BUCKET.suffix),
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      },
    },
    [`${IMPORT_BUCKET.logicalId}Policy`]: {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: ref(IMPORT_BUCKET.logicalId),
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'DenyInsecureTransport',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [
                arnOf(IMPORT_BUCKET.logicalId),
                { 'Fn::Join': ['', [arnOf(IMPORT_BUCKET.logicalId), '/*']] },
              ],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    },
  };
}

/** One alarm per dead-letter queue: anything dead-lettered needs an operator. */
export function alarmResources(): Record<string, CfnResource> {
  return Object.fromEntries(
    (Object.values(QUEUES) as QueueDefinition[]).map((queue) => [
      `${deadLetterLogicalId(queue)}NotEmptyAlarm`,
      {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmDescription: `Messages in the dead-letter queue of ${queue.suffix}`,
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
        },
      },
    ]),
  );
}

/** A metric-math expression summing one product metric over every service dimension. */
function summedMetric(metricName: string, prefix: string, periodSeconds: number) {
  const parts = METRIC_SERVICES.map((service, index) => ({
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

/** Alarms on the product metrics: Upheal 429 share and records failed for good. */
export function metricAlarmResources(): Record<string, CfnResource> {
  const calls = summedMetric(METRIC_NAMES.uphealCalls, 'calls', RATE_LIMITED_ALARM.periodSeconds);
  const limited = summedMetric(
    METRIC_NAMES.uphealRateLimited,
    'limited',
    RATE_LIMITED_ALARM.periodSeconds,
  );
  const failed = summedMetric(METRIC_NAMES.failed, 'failed', FAILED_ALARM.periodSeconds);
  return {
    UphealRateLimitedAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmDescription: 'Upheal answered 429 to more than 2 % of calls',
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
      },
    },
    RecordsFailedAlarm: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmDescription: 'Records failed for good (see upheal-sync failures)',
        Metrics: [
          ...failed.parts,
          { Id: 'total', Expression: failed.expression, ReturnData: true },
        ],
        EvaluationPeriods: 1,
        Threshold: FAILED_ALARM.threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      },
    },
  };
}

/** One dashboard: Upheal calls and 429s, record outcomes, queue depths and DLQs. */
export function dashboardResource(stage: string, region: string): CfnResource {
  const productMetric = (metricName: string) =>
    METRIC_SERVICES.map((service) => [
      METRIC_NAMESPACE,
      metricName,
      SERVICE_DIMENSION,
      service,
      { stat: 'Sum', label: `${metricName} ${service}` },
    ]);
  const queueMetric = (queueNameOfStage: string) => [
    'AWS/SQS',
    'ApproximateNumberOfMessagesVisible',
    'QueueName',
    queueNameOfStage,
  ];
  const queues = Object.values(QUEUES) as QueueDefinition[];
  const widget = (title: string, metrics: unknown[], index: number) => ({
    type: 'metric',
    x: (index % 2) * WIDGET.width,
    y: Math.floor(index / 2) * WIDGET.height,
    width: WIDGET.width,
    height: WIDGET.height,
    properties: { title, region, metrics, view: 'timeSeries', stacked: false, period: 60 },
  });
  const widgets = [
    widget(
      'Upheal calls and 429s',
      [
        ...productMetric(METRIC_NAMES.uphealCalls),
        ...productMetric(METRIC_NAMES.uphealRateLimited),
      ],
      0,
    ),
    widget(
      'Records applied / deferred / failed',
      [
        ...productMetric(METRIC_NAMES.applied),
        ...productMetric(METRIC_NAMES.deferred),
        ...productMetric(METRIC_NAMES.failed),
      ],
      1,
    ),
    widget(
      'Queue depth',
      queues.map((queue) => queueMetric(queueName(stage, queue))),
      2,
    ),
    widget(
      'Dead-letter queues',
      queues.map((queue) => queueMetric(deadLetterQueueName(stage, queue))),
      3,
    ),
  ];
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: resourceName(stage, 'overview'),
      DashboardBody: JSON.stringify({ widgets }),
    },
  };
}

/** The `resources` section of serverless.yml. */
export function cloudFormationResources(stage: string, region: string) {
  return {
    Resources: {
      ...queueResources(stage),
      [TABLE.logicalId]: tableResource(stage),
      ...bucketResources(stage),
      ...roleResources(stage),
      ...alarmResources(),
      ...metricAlarmResources(),
      OverviewDashboard: dashboardResource(stage, region),
    },
    Outputs: Object.fromEntries(
      (Object.values(QUEUES) as QueueDefinition[]).map((queue) => [
        `${queue.logicalId}Url`,
        { Value: ref(queue.logicalId) },
      ]),
    ),
  };
}

/** Every function's environment: names and URLs by reference, secrets by SSM parameter name. */
export function functionEnvironment(stage: string): Record<string, CfnValue> {
  const secrets = secretParameters(stage);
  return {
    TABLE_NAME: ref(TABLE.logicalId),
    [IMPORT_BUCKET.nameEnv]: ref(IMPORT_BUCKET.logicalId),
    ...Object.fromEntries(
      (Object.values(QUEUES) as QueueDefinition[]).map((queue) => [
        queue.urlEnv,
        ref(queue.logicalId),
      ]),
    ),
    UPHEAL_API_KEY_PARAMETER: secrets.uphealApiKey,
    INGEST_SECRET_PARAMETER: secrets.ingestSecret,
    NODE_OPTIONS: '--enable-source-maps',
  };
}

/** The SQS event of one trigger, in serverless.yml syntax. */
function sqsEvent(queueKey: QueueKey, batchSize: number, maximumConcurrency: number) {
  return {
    sqs: {
      arn: arnOf(QUEUES[queueKey].logicalId),
      batchSize,
      functionResponseType: 'ReportBatchItemFailures',
      maximumConcurrency,
    },
  };
}

/** The `functions` section: each packages only its prebuilt bundle. */
export function serverlessFunctions(): Record<string, Record<string, CfnValue>> {
  return Object.fromEntries(
    DEPLOYED_FUNCTIONS.map((name) => {
      const definition = FUNCTIONS[name];
      const events = eventSourcesOf(name).map((source) =>
        sqsEvent(source.queueKey, source.batchSize, source.maximumConcurrency),
      );
      return [
        name,
        {
          handler: `${BUNDLE_DIR}/${name}/${HANDLER_EXPORT}`,
          timeout: timeoutOf(name),
          memorySize: definition.memoryMb,
          role: roleLogicalId(name),
          package: { patterns: ['!**', `${BUNDLE_DIR}/${name}/**`] },
          ...(definition.url ? { url: true } : {}),
          ...(events.length > 0 ? { events } : {}),
        },
      ];
    }),
  );
}

/** Logical id of a function's own IAM role, e.g. `SyncUserRole`. */
export function roleLogicalId(name: DeployedFunctionName): string {
  const pascal = name.replace(/(^|-)([a-z])/g, (_match: string, _dash: string, letter: string) =>
    letter.toUpperCase(),
  );
  return `${pascal}Role`;
}

/** The SQS queues (and DLQs) a function may send to and resolve. */
function sendTargets(name: DeployedFunctionName): string[] {
  const { sendsTo }: FunctionAccess = FUNCTIONS[name].access;
  const queues = Object.values(QUEUES) as QueueDefinition[];
  const triggers = eventSourcesOf(name).map((source) => QUEUES[source.queueKey] as QueueDefinition);
  const withDlq = (queue: QueueDefinition) => [queue.logicalId, deadLetterLogicalId(queue)];
  const targets =
    sendsTo === 'all'
      ? queues.flatMap(withDlq)
      : [...sendsTo.map((key) => QUEUES[key].logicalId), ...triggers.flatMap(withDlq)];
  return [...new Set(targets)];
}

/**
 * The statements of one function's role: its own log group, its SQS triggers, the queues it
 * sends to, the table, and only the bucket and secrets it needs (SPEC §9, least privilege).
 */
export function iamStatements(
  name: DeployedFunctionName,
  stage: string,
): Record<string, CfnValue>[] {
  const access: FunctionAccess = FUNCTIONS[name].access;
  const secrets = secretParameters(stage);
  const triggers = eventSourcesOf(name).map((source) => QUEUES[source.queueKey].logicalId);
  const functionName = resourceName(stage, name);
  return [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: {
        'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*`,
      },
    },
    ...(triggers.length > 0
      ? [
          {
            // What the event source mapping needs (it polls with the function's role).
            Effect: 'Allow',
            Action: [
              'sqs:ReceiveMessage',
              'sqs:DeleteMessage',
              'sqs:ChangeMessageVisibility',
              'sqs:GetQueueAttributes',
            ],
            Resource: triggers.map(arnOf),
          },
        ]
      : []),
    {
      // lib/sqs/consumer.ts resolves URLs by name and reads the redrive policy to dead-letter.
      Effect: 'Allow',
      Action: ['sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
      Resource: sendTargets(name).map(arnOf),
    },
    {
      Effect: 'Allow',
      Action: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
        'dynamodb:BatchGetItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:TransactWriteItems',
        'dynamodb:ConditionCheckItem',
      ],
      Resource: [
        arnOf(TABLE.logicalId),
        { 'Fn::Join': ['', [arnOf(TABLE.logicalId), `/index/${TABLE.reverseIndex.name}`]] },
      ],
    },
    ...(access.readsImportBucket
      ? [
          {
            Effect: 'Allow',
            Action: ['s3:GetObject'],
            Resource: { 'Fn::Join': ['', [arnOf(IMPORT_BUCKET.logicalId), '/*']] },
          },
        ]
      : []),
    ...(access.secrets.length > 0
      ? [
          {
            Effect: 'Allow',
            Action: ['ssm:GetParameter'],
            Resource: access.secrets.map((key) => ({
              'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${secrets[key]}`,
            })),
          },
          {
            // SecureString decryption, only through SSM (any key the operator chose).
            Effect: 'Allow',
            Action: ['kms:Decrypt'],
            Resource: '*',
            Condition: {
              StringEquals: {
                'kms:ViaService': { 'Fn::Sub': `ssm.\${AWS::Region}.amazonaws.com` },
              },
            },
          },
        ]
      : []),
  ];
}

/** One IAM role per function, assumable by Lambda only. */
export function roleResources(stage: string): Record<string, CfnResource> {
  return Object.fromEntries(
    DEPLOYED_FUNCTIONS.map((name) => [
      roleLogicalId(name),
      {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'lambda.amazonaws.com' },
                Action: 'sts:AssumeRole',
              },
            ],
          },
          Policies: [
            {
              PolicyName: `${name}-access`,
              PolicyDocument: { Version: '2012-10-17', Statement: iamStatements(name, stage) },
            },
          ],
        },
      },
    ]),
  );
}

/** Everything serverless.yml takes from here, for one stage and region. */
export function serverlessFragments(stage: string, region: string) {
  return {
    resources: cloudFormationResources(stage, region),
    functions: serverlessFunctions(),
    environment: functionEnvironment(stage),
  };
}
