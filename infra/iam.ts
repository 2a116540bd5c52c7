/**
 * One least-privilege IAM role per function: what `FUNCTIONS[name].access` in
 * infra/functions.ts says the function's code uses, and nothing else. No statement has a `*`
 * resource; the package test pins every role resource by resource.
 */
import {
  arnOf,
  type CfnResource,
  type CfnValue,
  deadLetterLogicalId,
  roleLogicalId,
  sub,
} from '#infra/cfn.ts';
import type { DeploySettings } from '#infra/deploy-settings.ts';
import {
  DEPLOYED_FUNCTIONS,
  type DeployedFunctionName,
  eventSourcesOf,
  FUNCTIONS,
  type FunctionAccess,
  type TableAccess,
} from '#infra/functions.ts';
import {
  IMPORT_BUCKET,
  NONCE_KEY,
  QUEUES,
  type QueueDefinition,
  resourceName,
  TABLE,
  WEBHOOK_NONCE_KEY,
} from '#infra/resources.ts';

/** SSM parameter names of the secrets (SecureString, created by the operator; serverless.yml params). */
export function secretParameters(settings: DeploySettings) {
  return {
    uphealApiKey: settings.uphealApiKeyParameter,
    ingestSecret: settings.ingestSecretParameter,
    outboundWebhookSecret: settings.outboundWebhookSecretParameter,
    uphealWebhookSecret: settings.uphealWebhookSecretParameter,
  } as const;
}

/** The ARN of an SSM parameter of this account and region (names without `/` get one). */
function parameterArn(name: string) {
  const path = name.startsWith('/') ? name : `/${name}`;
  return sub(`arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${path}`);
}

/** The DynamoDB statements of a table access (see TableAccess in infra/functions.ts). */
function tableStatements(table: TableAccess, scansTable: boolean): Record<string, CfnValue>[] {
  if (table === 'ingestNonces' || table === 'webhookNonces') {
    const ingest = table === 'ingestNonces';
    return [
      {
        // Replay guard only (lib/ingest/replay-guard.ts): its own items, nothing else.
        Sid: ingest ? 'IngestNonces' : 'WebhookNonces',
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        Resource: arnOf(TABLE.logicalId),
        Condition: {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': [
              `${ingest ? NONCE_KEY.pkPrefix : WEBHOOK_NONCE_KEY.pkPrefix}*`,
            ],
          },
        },
      },
    ];
  }
  return [
    {
      // lib/store, lib/jobs, lib/sync (delete guard, staged deletes), lib/limiter.
      Sid: 'Table',
      Effect: 'Allow',
      Action: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
        'dynamodb:BatchGetItem',
        ...(scansTable ? ['dynamodb:Scan'] : []),
      ],
      Resource: arnOf(TABLE.logicalId),
    },
    {
      // Reverse lookup by Upheal id, and the delete guard's count of mapped users.
      Sid: 'ReverseIndex',
      Effect: 'Allow',
      Action: ['dynamodb:Query', 'dynamodb:Scan'],
      Resource: { 'Fn::Join': ['', [arnOf(TABLE.logicalId), `/index/${TABLE.reverseIndex.name}`]] },
    },
    {
      // Whose create was sent with an email (the identity rule for accounts nobody maps yet).
      Sid: 'CreateEmailIndex',
      Effect: 'Allow',
      Action: ['dynamodb:Query'],
      Resource: {
        'Fn::Join': ['', [arnOf(TABLE.logicalId), `/index/${TABLE.createEmailIndex.name}`]],
      },
    },
  ];
}

/**
 * The statements of one function's role (least privilege): its own log group; its SQS
 * triggers and their DLQs; the queues it sends to; the table (ingest: its nonces only); the
 * bucket and the secrets only where it uses them. No statement has a `*` resource.
 */
export function iamStatements(
  name: DeployedFunctionName,
  settings: DeploySettings,
): Record<string, CfnValue>[] {
  const access: FunctionAccess = FUNCTIONS[name].access;
  const secrets = secretParameters(settings);
  const triggers = eventSourcesOf(name).map((source) => QUEUES[source.queueKey] as QueueDefinition);
  const functionName = resourceName(settings.stage, name);
  const secretArns = access.secrets.map((key) => parameterArn(secrets[key]));
  return [
    {
      Sid: 'OwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: sub(
        `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*`,
      ),
    },
    ...(triggers.length > 0
      ? [
          {
            // The event source mapping polls with the function's role; lib/sqs/consumer.ts
            // resolves the URL by name, changes visibility (deferrals, releases) and reads the
            // redrive policy to find the DLQ.
            Sid: 'ConsumeTriggers',
            Effect: 'Allow',
            Action: [
              'sqs:ReceiveMessage',
              'sqs:DeleteMessage',
              'sqs:ChangeMessageVisibility',
              'sqs:GetQueueAttributes',
              'sqs:GetQueueUrl',
            ],
            Resource: triggers.map((queue) => arnOf(queue.logicalId)),
          },
          {
            // lib/sqs/consumer.ts dead-letters by itself after SYNC_MAX_ATTEMPTS real failures.
            Sid: 'DeadLetterTriggers',
            Effect: 'Allow',
            Action: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
            Resource: triggers.map((queue) => arnOf(deadLetterLogicalId(queue))),
          },
        ]
      : []),
    ...(access.sendsTo.length > 0
      ? [
          {
            Sid: 'SendToQueues',
            Effect: 'Allow',
            Action: ['sqs:SendMessage'],
            Resource: access.sendsTo.map((key) => arnOf(QUEUES[key].logicalId)),
          },
        ]
      : []),
    ...tableStatements(access.table, access.scansTable),
    ...(access.readsImportBucket
      ? [
          {
            Sid: 'ReadImportFiles',
            Effect: 'Allow',
            Action: ['s3:GetObject'],
            Resource: { 'Fn::Join': ['', [arnOf(IMPORT_BUCKET.logicalId), '/*']] },
          },
        ]
      : []),
    ...(secretArns.length > 0
      ? [
          {
            Sid: 'ReadSecrets',
            Effect: 'Allow',
            Action: ['ssm:GetParameter'],
            Resource: secretArns,
          },
          {
            // SecureString decryption: keys of this account, only through SSM, and only for
            // these parameters (SSM puts the parameter's ARN in the encryption context), so
            // the key the operator chose (aws/ssm or their own) needs no listing here.
            Sid: 'DecryptSecrets',
            Effect: 'Allow',
            Action: ['kms:Decrypt'],
            Resource: sub(`arn:\${AWS::Partition}:kms:\${AWS::Region}:\${AWS::AccountId}:key/*`),
            Condition: {
              StringEquals: {
                'kms:ViaService': sub(`ssm.\${AWS::Region}.amazonaws.com`),
                'kms:EncryptionContext:PARAMETER_ARN': secretArns,
              },
            },
          },
        ]
      : []),
  ];
}

/** One IAM role per function, assumable by Lambda only. */
export function roleResources(settings: DeploySettings): Record<string, CfnResource> {
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
              PolicyDocument: { Version: '2012-10-17', Statement: iamStatements(name, settings) },
            },
          ],
        },
      },
    ]),
  );
}
