/**
 * Drift guard for the least-privilege roles of infra/iam.ts: every AWS SDK command that the
 * deployed code (functions/ and the lib/ it bundles) sends must be allowed to some function.
 * Several people change lib/ at once; a new DynamoDB Scan or SQS call would otherwise pass every
 * local test (the emulators check no IAM) and fail only in AWS with AccessDenied. Which function
 * may do what, resource by resource, is pinned by test/integration/serverless-package.test.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDeploySettings } from '#infra/deploy-settings.ts';
import { DEPLOYED_FUNCTIONS } from '#infra/functions.ts';
import { iamStatements } from '#infra/iam.ts';
import { PROJECT_ROOT } from '#tools/local/stack.ts';

/** Code that never runs in a deployed function: the local stack, the simulator, the CLI. */
const NOT_DEPLOYED = ['lib/local', 'lib/simulator', 'lib/cli'];

/** The IAM action each SDK command needs (document-client and low-level names alike). */
const ACTION_OF: Record<string, string> = {
  GetCommand: 'dynamodb:GetItem',
  GetItemCommand: 'dynamodb:GetItem',
  PutCommand: 'dynamodb:PutItem',
  PutItemCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem',
  UpdateItemCommand: 'dynamodb:UpdateItem',
  DeleteCommand: 'dynamodb:DeleteItem',
  DeleteItemCommand: 'dynamodb:DeleteItem',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  BatchGetCommand: 'dynamodb:BatchGetItem',
  BatchGetItemCommand: 'dynamodb:BatchGetItem',
  BatchWriteCommand: 'dynamodb:BatchWriteItem',
  BatchWriteItemCommand: 'dynamodb:BatchWriteItem',
  TransactWriteCommand: 'dynamodb:TransactWriteItems',
  TransactWriteItemsCommand: 'dynamodb:TransactWriteItems',
  TransactGetCommand: 'dynamodb:TransactGetItems',
  TransactGetItemsCommand: 'dynamodb:TransactGetItems',
  SendMessageCommand: 'sqs:SendMessage',
  SendMessageBatchCommand: 'sqs:SendMessage',
  ReceiveMessageCommand: 'sqs:ReceiveMessage',
  DeleteMessageCommand: 'sqs:DeleteMessage',
  DeleteMessageBatchCommand: 'sqs:DeleteMessage',
  ChangeMessageVisibilityCommand: 'sqs:ChangeMessageVisibility',
  ChangeMessageVisibilityBatchCommand: 'sqs:ChangeMessageVisibility',
  GetQueueUrlCommand: 'sqs:GetQueueUrl',
  GetQueueAttributesCommand: 'sqs:GetQueueAttributes',
  GetObjectCommand: 's3:GetObject',
  PutObjectCommand: 's3:PutObject',
  GetParameterCommand: 'ssm:GetParameter',
};

/** Every `.ts` file under `dir` (relative to the project root), minus the excluded folders. */
async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(PROJECT_ROOT, dir), { withFileTypes: true });
  const files = await Promise.all(
    entries.map(async (entry) => {
      const path = `${dir}/${entry.name}`;
      if (NOT_DEPLOYED.includes(path)) return [];
      if (entry.isDirectory()) return sourceFiles(path);
      return entry.name.endsWith('.ts') ? [path] : [];
    }),
  );
  return files.flat();
}

/** The SDK commands the deployed code constructs, with the files that do. */
async function commandsSent(): Promise<Map<string, string[]>> {
  const commands = new Map<string, string[]>();
  for (const file of [...(await sourceFiles('lib')), ...(await sourceFiles('functions'))]) {
    const text = await readFile(join(PROJECT_ROOT, file), 'utf8');
    for (const match of text.matchAll(/new (\w+Command)\(/g)) {
      commands.set(match[1]!, [...(commands.get(match[1]!) ?? []), file]);
    }
    // Powertools' SSM provider sends GetParameter for the code that builds it.
    if (/new SSMProvider\(/.test(text)) {
      commands.set('GetParameterCommand', [...(commands.get('GetParameterCommand') ?? []), file]);
    }
  }
  return commands;
}

describe('the deployed roles cover the code', () => {
  const settings = parseDeploySettings({
    stage: 'test',
    region: 'eu-west-1',
    uphealApiKeyParameter: '/upheal-sync/test/upheal-api-key',
    ingestSecretParameter: '/upheal-sync/test/ingest-secret',
    outboundWebhookUrl: '',
    outboundWebhookSecretParameter: '/upheal-sync/test/outbound-webhook-secret',
    uphealWebhookSecretParameter: '/upheal-sync/test/upheal-webhook-secret',
    uphealWebhookSignatureScheme: 'body',
    uphealBaseUrl: 'https://api.upheal.io',
    uphealRateLimit: '300',
    uphealRateWindowSeconds: '60',
    shareInviteUrl: 'false',
    deleteGuardMaxCount: '20',
    deleteGuardMaxShare: '0.1',
    ingestReservedConcurrency: '10',
    alarmTopicArn: '',
    partnerPrincipalArn: '',
  });
  const granted = new Set(
    DEPLOYED_FUNCTIONS.flatMap((name) =>
      iamStatements(name, settings).flatMap((statement) => [statement.Action as string[]].flat()),
    ),
  );

  it('finds the commands it knows in the code (the scan itself works)', async () => {
    const commands = await commandsSent();
    expect([...commands.keys()]).toEqual(
      expect.arrayContaining(['SendMessageCommand', 'GetParameterCommand', 'UpdateItemCommand']),
    );
  });

  it('allows every AWS command the deployed code sends to some function', async () => {
    const problems: string[] = [];
    for (const [command, files] of await commandsSent()) {
      const action = ACTION_OF[command];
      if (!action) problems.push(`${command} (${files.join(', ')}): map it to its IAM action here`);
      else if (!granted.has(action))
        problems.push(`${command} (${files.join(', ')}): no role allows ${action} (infra/iam.ts)`);
    }
    expect(problems).toEqual([]);
  });
});
