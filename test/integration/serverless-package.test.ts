/**
 * `osls package` works offline and deploys what the local stack emulates: the CloudFormation it
 * generates has the queues, DLQs, redrive limits, FIFO settings and event source mappings of
 * `infra/resources.ts`, on nodejs24.x. Runs in a temporary copy of the project (build output and
 * `.serverless/` never touch the working tree); functions whose bundle cannot be built yet get a
 * throwaway bundle there, since only the template is under test.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYED_FUNCTIONS, eventSourcesOf, FUNCTIONS } from '#infra/functions.ts';
import {
  deadLetterQueueName,
  FUNCTION_TIMEOUT_SECONDS,
  QUEUES,
  type QueueDefinition,
  queueName,
  resourceName,
  TABLE,
} from '#infra/resources.ts';
import { PROJECT_ROOT } from '#lib/local/stack.ts';

const run = promisify(execFile);
const STAGE = 'pkgtest';
/** What the project copy needs to build bundles and package. */
const COPIED = [
  'package.json',
  'tsconfig.json',
  'serverless.yml',
  'infra',
  'lib',
  'functions',
  'scripts',
];
const OSLS_BIN = join(PROJECT_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
/** Dummy credentials: packaging must not need real ones (or the network). */
const OFFLINE_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIAOFFLINEPACKAGE00',
  AWS_SECRET_ACCESS_KEY: 'offline-package-secret',
  AWS_REGION: 'eu-west-1',
  SLS_TELEMETRY_DISABLED: '1',
  SLS_NOTIFICATIONS_MODE: 'off',
};

interface Resource {
  Type: string;
  Properties: Record<string, unknown> & {
    FunctionName?: unknown;
    EventSourceArn?: { 'Fn::GetAtt': [string, string] };
  };
}

let dir: string;
let resources: Record<string, Resource>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'upheal-sync-package-'));
  for (const entry of COPIED)
    if (existsSync(join(PROJECT_ROOT, entry)))
      await cp(join(PROJECT_ROOT, entry), join(dir, entry), { recursive: true });
  await symlink(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // The real build first; other people's half-written handlers may not build yet.
  await run(process.execPath, ['scripts/build.ts'], { cwd: dir }).catch(() => undefined);
  for (const name of DEPLOYED_FUNCTIONS) {
    const bundle = join(dir, 'dist', 'functions', name, 'index.mjs');
    if (existsSync(bundle)) continue;
    await mkdir(join(dir, 'dist', 'functions', name), { recursive: true });
    await writeFile(bundle, 'export const handler = async () => null;\n');
  }
  await run(process.execPath, [OSLS_BIN, 'package', '--stage', STAGE], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...OFFLINE_ENV },
  });
  const template = JSON.parse(
    await readFile(join(dir, '.serverless', 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as { Resources: Record<string, Resource> };
  resources = template.Resources;
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ofType = (type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

describe('osls package (offline)', () => {
  it('deploys every queue of infra/resources.ts as FIFO with its DLQ and maxReceiveCount', () => {
    for (const queue of Object.values(QUEUES) as QueueDefinition[]) {
      const main = resources[queue.logicalId]!;
      const dlqId = (
        main.Properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': string[] } }
      ).deadLetterTargetArn['Fn::GetAtt'][0]!;
      expect(main.Properties, queue.logicalId).toMatchObject({
        QueueName: queueName(STAGE, queue),
        FifoQueue: true,
        SqsManagedSseEnabled: true,
        VisibilityTimeout: queue.visibilityTimeoutSeconds,
        RedrivePolicy: { maxReceiveCount: queue.maxReceiveCount },
      });
      expect(resources[dlqId]?.Properties, dlqId).toMatchObject({
        QueueName: deadLetterQueueName(STAGE, queue),
        FifoQueue: true,
      });
    }
  });

  it('maps each consumed queue to its function with the batch size, partial batch responses and maximum concurrency', () => {
    const functionNameOf = (logicalId: string) => resources[logicalId]?.Properties.FunctionName;
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, mapping]) => ({
      queue: mapping.Properties.EventSourceArn?.['Fn::GetAtt'][0],
      functionName: functionNameOf(
        (mapping.Properties.FunctionName as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!,
      ),
      batchSize: mapping.Properties.BatchSize,
      responseTypes: mapping.Properties.FunctionResponseTypes,
      maximumConcurrency: (mapping.Properties.ScalingConfig as { MaximumConcurrency: number })
        ?.MaximumConcurrency,
    }));
    const expected = (Object.values(QUEUES) as QueueDefinition[]).flatMap((queue) =>
      queue.consumer && queue.consumer.functionName in FUNCTIONS
        ? [
            {
              queue: queue.logicalId,
              functionName: resourceName(STAGE, queue.consumer.functionName),
              batchSize: queue.consumer.batchSize,
              responseTypes: ['ReportBatchItemFailures'],
              maximumConcurrency: queue.consumer.maximumConcurrency,
            },
          ]
        : [],
    );
    const byQueue = (a: { queue?: string }, b: { queue?: string }) =>
      String(a.queue).localeCompare(String(b.queue));
    expect(mappings.sort(byQueue)).toEqual(expected.sort(byQueue));
    expect(expected.length).toBe(
      DEPLOYED_FUNCTIONS.reduce((count, name) => count + eventSourcesOf(name).length, 0),
    );
  });

  it('runs every function on nodejs24.x (arm64) from its own bundle, with the timeout of infra/resources.ts', () => {
    const functions = ofType('AWS::Lambda::Function').filter(([, fn]) =>
      String(fn.Properties.Handler).startsWith('dist/functions/'),
    );
    expect(functions.map(([, fn]) => fn.Properties.FunctionName).sort()).toEqual(
      DEPLOYED_FUNCTIONS.map((name) => resourceName(STAGE, name)).sort(),
    );
    for (const name of DEPLOYED_FUNCTIONS) {
      const [, fn] = functions.find(
        ([, f]) => f.Properties.FunctionName === resourceName(STAGE, name),
      )!;
      expect(fn.Properties, name).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: `dist/functions/${name}/index.handler`,
        Timeout: FUNCTION_TIMEOUT_SECONDS[name],
        Environment: { Variables: { TABLE_NAME: { Ref: TABLE.logicalId } } },
      });
    }
  });

  it('gives each function its own role: its triggers, its DLQs, and for ingest only the user-events queue', () => {
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
    const statementsOf = (name: string) => {
      const [, fn] = ofType('AWS::Lambda::Function').find(
        ([, f]) => f.Properties.FunctionName === resourceName(STAGE, name),
      )!;
      const roleId = (fn.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
      const policies = resources[roleId]!.Properties.Policies as {
        PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] };
      }[];
      return policies.flatMap((policy) => policy.PolicyDocument.Statement);
    };
    const arn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
    const allowing = (name: string, action: string) =>
      statementsOf(name)
        .filter((statement) => statement.Action.includes(action))
        .flatMap((statement) => [statement.Resource].flat());

    for (const name of DEPLOYED_FUNCTIONS) {
      const triggers = eventSourcesOf(name).map((source) => QUEUES[source.queueKey].logicalId);
      expect(allowing(name, 'sqs:ReceiveMessage'), name).toEqual(triggers.map(arn));
      for (const queue of triggers) {
        expect(allowing(name, 'sqs:DeleteMessage'), name).toContainEqual(arn(queue));
        expect(allowing(name, 'sqs:ChangeMessageVisibility'), name).toContainEqual(arn(queue));
        // lib/sqs/consumer.ts dead-letters by itself, resolving the DLQ by name.
        expect(allowing(name, 'sqs:SendMessage'), name).toContainEqual(arn(`${queue}Dlq`));
        expect(allowing(name, 'sqs:GetQueueUrl'), name).toContainEqual(arn(`${queue}Dlq`));
      }
    }
    expect(allowing('ingest', 'sqs:SendMessage')).toEqual([arn(QUEUES.userEvents.logicalId)]);
    expect(allowing('ingest', 's3:GetObject')).toEqual([]);
    expect(JSON.stringify(allowing('ingest', 'ssm:GetParameter'))).not.toContain('upheal-api-key');
  });

  it('alarms on every dead-letter queue, on the Upheal 429 share and on failed records, and has a dashboard', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    for (const queue of Object.values(QUEUES) as QueueDefinition[])
      expect(alarms, queue.logicalId).toContainEqual(
        expect.objectContaining({
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [
            {
              Name: 'QueueName',
              Value: { 'Fn::GetAtt': [`${queue.logicalId}Dlq`, 'QueueName'] },
            },
          ],
        }),
      );
    const math = alarms.filter((alarm) => Array.isArray(alarm.Metrics));
    const watched = math.map((alarm) =>
      (alarm.Metrics as { MetricStat?: { Metric: { MetricName: string } } }[]).flatMap((metric) =>
        metric.MetricStat ? [metric.MetricStat.Metric.MetricName] : [],
      ),
    );
    expect(watched.some((names) => names.includes('UphealRateLimited'))).toBe(true);
    expect(watched.some((names) => names.includes('RecordsFailed'))).toBe(true);
    // CloudWatch combines at most 10 metrics in one metric-math alarm.
    for (const alarm of math) expect((alarm.Metrics as unknown[]).length).toBeLessThanOrEqual(10);
    expect(ofType('AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  it('deploys the table with its reverse index, TTL, point-in-time recovery and encryption', () => {
    expect(resources[TABLE.logicalId]?.Properties).toMatchObject({
      TableName: resourceName(STAGE, TABLE.suffix),
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE.reverseIndex.name,
          KeySchema: [{ AttributeName: TABLE.reverseIndex.partitionKey, KeyType: 'HASH' }],
        },
      ],
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });
});
