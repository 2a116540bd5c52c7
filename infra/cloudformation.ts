/**
 * The deployed infrastructure as CloudFormation and `serverless.yml` fragments, built from
 * `infra/resources.ts` and `infra/functions.ts` (the same definitions the local stack creates).
 * `serverless.yml` loads them through `infra/serverless.cjs`; nothing here is hand-copied there.
 */
import { DEPLOYED_FUNCTIONS, eventSourcesOf, FUNCTIONS, timeoutOf } from '#infra/functions.ts';
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

/** The `resources` section of serverless.yml. */
export function cloudFormationResources(stage: string) {
  return {
    Resources: {
      ...queueResources(stage),
      [TABLE.logicalId]: tableResource(stage),
      ...bucketResources(stage),
      ...alarmResources(),
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
          package: { patterns: ['!**', `${BUNDLE_DIR}/${name}/**`] },
          ...(definition.url ? { url: true } : {}),
          ...(events.length > 0 ? { events } : {}),
        },
      ];
    }),
  );
}

/**
 * IAM statements of the functions' role (the framework gives all functions one role; each
 * statement is scoped to this stage's resources).
 */
export function iamStatements(stage: string): Record<string, CfnValue>[] {
  const queues = Object.values(QUEUES) as QueueDefinition[];
  const secrets = secretParameters(stage);
  return [
    {
      // The consumer (lib/sqs/consumer.ts) finds queue URLs by name, defers by re-sending or by
      // changing visibility, and moves permanent failures to the DLQ itself.
      Effect: 'Allow',
      Action: [
        'sqs:SendMessage',
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
      ],
      Resource: queues.flatMap((queue) => [
        arnOf(queue.logicalId),
        arnOf(deadLetterLogicalId(queue)),
      ]),
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
    {
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: { 'Fn::Join': ['', [arnOf(IMPORT_BUCKET.logicalId), '/*']] },
    },
    {
      Effect: 'Allow',
      Action: ['ssm:GetParameter'],
      Resource: Object.values(secrets).map((name) => ({
        'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}`,
      })),
    },
  ];
}

/** Everything serverless.yml takes from here, for one stage. */
export function serverlessFragments(stage: string) {
  return {
    resources: cloudFormationResources(stage),
    functions: serverlessFunctions(),
    environment: functionEnvironment(stage),
    iamStatements: iamStatements(stage),
  };
}
