/**
 * The deployed infrastructure as CloudFormation and `serverless.yml` fragments, built from
 * `infra/resources.ts` and `infra/functions.ts` (the same definitions the local stack creates).
 * `serverless.yml` loads them through `infra/serverless.cjs`; nothing here is hand-copied there.
 * Alarms and dashboard: infra/monitoring.ts; IAM roles: infra/iam.ts.
 */
import {
  arnOf,
  type CfnResource,
  type CfnValue,
  deadLetterLogicalId,
  ref,
  roleLogicalId,
  sub,
} from '#infra/cfn.ts';
import type { DeploySettings } from '#infra/deploy-settings.ts';
import {
  DEPLOYED_FUNCTIONS,
  type DeployedFunctionName,
  eventSourcesOf,
  FUNCTIONS,
  timeoutOf,
} from '#infra/functions.ts';
import { roleResources, secretParameters } from '#infra/iam.ts';
import { alarmResources, dashboardResource, metricAlarmResources } from '#infra/monitoring.ts';
import { CONTENT_BASED_DEDUPLICATION, RETENTION_SECONDS } from '#infra/queue-attributes.ts';
import {
  deadLetterQueueName,
  IMPORT_BUCKET,
  QUEUES,
  type QueueDefinition,
  type QueueKey,
  queueName,
  resourceName,
  TABLE,
  tableKeyDefinition,
} from '#infra/resources.ts';

export type { CfnResource } from '#infra/cfn.ts';

/** Where `scripts/build.ts` writes each function's bundle. */
const BUNDLE_DIR = 'dist/functions';
/** Lambda's handler string for `dist/functions/<name>/index.mjs`, export `handler`. */
const HANDLER_EXPORT = 'index.handler';
/**
 * Import files are exports of clinical data: S3 deletes them after this many days (a job is
 * resumable from its recorded source until then).
 */
const IMPORT_FILE_RETENTION_DAYS = 30;
/** Where `upheal-sync import` uploads files in the bucket (tools/cli/commands/import.ts). */
const IMPORT_UPLOAD_PREFIX = 'imports/';
/** Incomplete multipart uploads are aborted after this many days. */
const ABORT_INCOMPLETE_UPLOAD_DAYS = 1;

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

/**
 * The table: string keys, sparse reverse index, TTL, PITR, encryption, on-demand. It holds the
 * only map between partner and Upheal ids, so it outlives the stack: CloudFormation keeps it when
 * the stack is deleted or the resource would be replaced, and DynamoDB refuses to delete it while
 * deletion protection is on.
 */
export function tableResource(stage: string): CfnResource {
  return {
    Type: 'AWS::DynamoDB::Table',
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      TableName: resourceName(stage, TABLE.suffix),
      ...tableKeyDefinition(),
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    },
  };
}

/**
 * The import bucket: encrypted, never public, TLS only through its policy, and uploads expire
 * (they are exports of clinical data).
 */
export function bucketResources(stage: string): Record<string, CfnResource> {
  return {
    [IMPORT_BUCKET.logicalId]: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        // S3 names are global: the account and region keep two integrators' stages apart.
        BucketName: sub(
          `${resourceName(stage, IMPORT_BUCKET.suffix)}-\${AWS::AccountId}-\${AWS::Region}`,
        ),
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
        LifecycleConfiguration: {
          Rules: [
            {
              Id: 'ExpireImportFiles',
              Status: 'Enabled',
              Prefix: IMPORT_UPLOAD_PREFIX,
              ExpirationInDays: IMPORT_FILE_RETENTION_DAYS,
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: ABORT_INCOMPLETE_UPLOAD_DAYS },
            },
          ],
        },
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

/**
 * Queue policies for a partner that talks to SQS directly (param `partnerPrincipalArn`): it may
 * send events to the user-events queue and consume the outbound queue, nothing else. Without
 * the param there are none (the partner uses ingest, or an identity policy in this account).
 */
export function partnerQueuePolicies(settings: DeploySettings): Record<string, CfnResource> {
  const principal = settings.partnerPrincipalArn;
  if (!principal) return {};
  const policy = (queue: QueueDefinition, sid: string, actions: string[]): CfnResource => ({
    Type: 'AWS::SQS::QueuePolicy',
    Properties: {
      Queues: [ref(queue.logicalId)],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: sid,
            Effect: 'Allow',
            Principal: { AWS: principal },
            Action: actions,
            Resource: arnOf(queue.logicalId),
          },
        ],
      },
    },
  });
  return {
    PartnerSendsUserEventsPolicy: policy(QUEUES.userEvents, 'PartnerSendsEvents', [
      'sqs:SendMessage',
      'sqs:GetQueueUrl',
      'sqs:GetQueueAttributes',
    ]),
    PartnerConsumesOutboundPolicy: policy(QUEUES.outbound, 'PartnerConsumesOutcomes', [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueUrl',
      'sqs:GetQueueAttributes',
    ]),
  };
}

/** The outputs the operator's CLI reads, by the environment variable it reads them as. */
export function cliVariables(
  settings: DeploySettings,
): Record<string, { value: CfnValue; description: string }> {
  const urls = DEPLOYED_FUNCTIONS.filter((name) => FUNCTIONS[name].url);
  return {
    AWS_REGION: { value: ref('AWS::Region'), description: 'the region of the stack' },
    // What the CLI shows, paces and estimates with: the functions' Upheal, key and limit (the
    // limiter is keyed by the parameter name, so the CLI shares the functions' budget).
    UPHEAL_BASE_URL: { value: settings.uphealBaseUrl, description: 'the Upheal API' },
    UPHEAL_API_KEY_PARAMETER: {
      value: secretParameters(settings).uphealApiKey,
      description: 'the SSM parameter of the Upheal API key',
    },
    UPHEAL_RATE_LIMIT: {
      value: String(settings.uphealRateLimit),
      description: 'requests per window',
    },
    UPHEAL_RATE_WINDOW_SECONDS: {
      value: String(settings.uphealRateWindowSeconds),
      description: 'the rate window',
    },
    TABLE_NAME: { value: ref(TABLE.logicalId), description: 'the state table' },
    [IMPORT_BUCKET.nameEnv]: {
      value: ref(IMPORT_BUCKET.logicalId),
      description: 'the bucket import files are uploaded to',
    },
    ...Object.fromEntries(
      (Object.values(QUEUES) as QueueDefinition[]).map((queue) => [
        queue.urlEnv,
        { value: ref(queue.logicalId), description: `the ${queue.suffix} queue` },
      ]),
    ),
    ...Object.fromEntries(
      urls.map((name) => [
        `${name.toUpperCase().replace(/-/g, '_')}_URL`,
        {
          value: {
            'Fn::GetAtt': [`${serverlessLogicalName(name)}LambdaFunctionUrl`, 'FunctionUrl'],
          },
          description: `the HTTPS endpoint of ${name}`,
        },
      ]),
    ),
  };
}

/** Prefix of the descriptions of the CLI outputs (what the export one-liner filters on). */
export const CLI_OUTPUT_DESCRIPTION_PREFIX = 'CLI';

/** Output key of a variable: `TABLE_NAME` → `TableName` (the one-liner turns it back). */
export function outputKeyOf(variable: string): string {
  return variable
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

/** The name osls gives a function's resources, e.g. `initial-sync` → `InitialDashsync`. */
function serverlessLogicalName(name: string): string {
  return `${name.charAt(0).toUpperCase()}${name.slice(1).replace(/-/g, 'Dash')}`;
}

/** The `resources` section of serverless.yml. */
export function cloudFormationResources(settings: DeploySettings) {
  const { stage } = settings;
  const alarms = { ...alarmResources(settings), ...metricAlarmResources(settings) };
  return {
    Resources: {
      ...queueResources(stage),
      [TABLE.logicalId]: tableResource(stage),
      ...bucketResources(stage),
      ...partnerQueuePolicies(settings),
      ...roleResources(settings),
      ...alarms,
      // Its alarm widget lists the alarms by ARN: they exist first.
      OverviewDashboard: { ...dashboardResource(settings), DependsOn: Object.keys(alarms) },
    },
    Outputs: Object.fromEntries(
      Object.entries(cliVariables(settings)).map(([variable, { value, description }]) => [
        outputKeyOf(variable),
        {
          Description: `${CLI_OUTPUT_DESCRIPTION_PREFIX} ${variable}: ${description}`,
          Value: value,
        },
      ]),
    ),
  };
}

/**
 * Every function's environment (lib/config.ts validates it at start): names and URLs by
 * reference, secrets by SSM parameter name, the integrator's settings.
 */
export function functionEnvironment(settings: DeploySettings): Record<string, CfnValue> {
  const secrets = secretParameters(settings);
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
    OUTBOUND_WEBHOOK_SECRET_PARAMETER: secrets.outboundWebhookSecret,
    UPHEAL_WEBHOOK_SECRET_PARAMETER: secrets.uphealWebhookSecret,
    UPHEAL_WEBHOOK_SIGNATURE_SCHEME: settings.uphealWebhookSignatureScheme,
    ...(settings.outboundWebhookUrl ? { OUTBOUND_WEBHOOK_URL: settings.outboundWebhookUrl } : {}),
    UPHEAL_BASE_URL: settings.uphealBaseUrl,
    UPHEAL_RATE_LIMIT: String(settings.uphealRateLimit),
    UPHEAL_RATE_WINDOW_SECONDS: String(settings.uphealRateWindowSeconds),
    SHARE_INVITE_URL: settings.shareInviteUrl,
    DELETE_GUARD_MAX_COUNT: String(settings.deleteGuardMaxCount),
    DELETE_GUARD_MAX_SHARE: String(settings.deleteGuardMaxShare),
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

/**
 * Reserved concurrency of a function, where the deployment bounds it: only the internet-facing
 * ingest, so a flood is throttled there and cannot take the sync functions' concurrency.
 */
export function reservedConcurrencyOf(
  name: DeployedFunctionName,
  settings: DeploySettings,
): number | undefined {
  return name === 'ingest' ? settings.ingestReservedConcurrency : undefined;
}

/** The `functions` section: each packages only its prebuilt bundle. */
export function serverlessFunctions(
  settings: DeploySettings,
): Record<string, Record<string, CfnValue>> {
  return Object.fromEntries(
    DEPLOYED_FUNCTIONS.map((name) => {
      const definition = FUNCTIONS[name];
      const events = eventSourcesOf(name).map((source) =>
        sqsEvent(source.queueKey, source.batchSize, source.maximumConcurrency),
      );
      const reserved = reservedConcurrencyOf(name, settings);
      return [
        name,
        {
          handler: `${BUNDLE_DIR}/${name}/${HANDLER_EXPORT}`,
          timeout: timeoutOf(name),
          memorySize: definition.memoryMb,
          role: roleLogicalId(name),
          package: { patterns: ['!**', `${BUNDLE_DIR}/${name}/**`] },
          // Auth type NONE: authentication is the HMAC signature checked in code (docs/ingest.md,
          // docs/upheal-webhooks.md).
          ...(definition.url ? { url: true } : {}),
          ...(reserved === undefined ? {} : { reservedConcurrency: reserved }),
          ...(events.length > 0 ? { events } : {}),
        },
      ];
    }),
  );
}

/** Everything serverless.yml takes from here, for one deployment's settings. */
export function serverlessFragments(settings: DeploySettings) {
  return {
    resources: cloudFormationResources(settings),
    functions: serverlessFunctions(settings),
    environment: functionEnvironment(settings),
  };
}
