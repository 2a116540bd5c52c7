/**
 * `osls package` works offline and deploys what the local stack emulates (SPEC §9, issue 7): the
 * CloudFormation it generates has the queues, DLQs, redrive limits, FIFO settings and event
 * source mappings of `infra/resources.ts` on nodejs24.x/arm64, one bundle per function, encryption
 * at rest, least-privilege roles that name only each function's own resources, the ingest
 * function URL, the outputs the CLI reads (through the export one-liner of docs/deployment.md),
 * the alarms and the dashboard. Runs in a temporary copy of the project (build output and
 * `.serverless/` never touch the working tree); functions whose bundle cannot be built yet get a
 * throwaway bundle there, since only the template is under test. Packaged twice: with the
 * default params of serverless.yml, and with every optional param set.
 */
import { execFile, spawnSync } from 'node:child_process';
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
  IMPORT_BUCKET,
  QUEUES,
  type QueueDefinition,
  type QueueKey,
  queueName,
  resourceName,
  TABLE,
} from '#infra/resources.ts';
import { parseConfig } from '#lib/config.ts';
import { METRIC_NAMES } from '#lib/observability/metrics.ts';
import { PROJECT_ROOT } from '#tools/local/stack.ts';

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

/** Every optional param set, for the second packaging. */
const CUSTOM_PARAMS = {
  uphealApiKeyParameter: '/acme/upheal/api-key',
  alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:upheal-sync-alarms',
  partnerPrincipalArn: 'arn:aws:iam::210987654321:role/partner-events',
  shareInviteUrl: 'true',
  outboundWebhookUrl: 'https://partner.example.com/hooks/upheal-sync',
  ingestReservedConcurrency: '25',
} as const;

interface Resource {
  Type: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Properties: Record<string, unknown> & {
    FunctionName?: unknown;
    EventSourceArn?: { 'Fn::GetAtt': [string, string] };
  };
}

interface Output {
  Description?: string;
  Value: unknown;
}

interface Template {
  Resources: Record<string, Resource>;
  Outputs: Record<string, Output>;
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

let dir: string;
let template: Template;
let resources: Record<string, Resource>;
/** File names inside each function's deployment artifact. */
let artifacts: Record<string, string[]>;
/** The template packaged with CUSTOM_PARAMS. */
let custom: Template;

/** Runs `osls package` in the project copy; resolves with the template. */
async function packageTemplate(params: Record<string, string> = {}): Promise<Template> {
  await rm(join(dir, '.serverless'), { recursive: true, force: true });
  const paramArgs = Object.entries(params).map(([name, value]) => `--param=${name}=${value}`);
  await run(process.execPath, [OSLS_BIN, 'package', '--stage', STAGE, ...paramArgs], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...OFFLINE_ENV },
  });
  return JSON.parse(
    await readFile(join(dir, '.serverless', 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
}

/** The file names of a zip archive, from its central directory (no unzip dependency). */
function zipEntries(zip: Buffer): string[] {
  const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
  const CENTRAL_FILE_HEADER = 0x02014b50;
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== END_OF_CENTRAL_DIRECTORY) end--;
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let entry = 0; entry < count; entry++) {
    expect(zip.readUInt32LE(offset)).toBe(CENTRAL_FILE_HEADER);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    names.push(zip.toString('utf8', offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

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
  template = await packageTemplate();
  resources = template.Resources;
  artifacts = {};
  for (const name of DEPLOYED_FUNCTIONS)
    artifacts[name] = zipEntries(await readFile(join(dir, '.serverless', `${name}.zip`)));
  custom = await packageTemplate(CUSTOM_PARAMS);
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ofType = (type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

const arn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const logicalIdOf = (key: QueueKey) => QUEUES[key].logicalId;
const dlqIdOf = (key: QueueKey) => `${QUEUES[key].logicalId}Dlq`;

/** The Lambda function resource of a deployed function. */
function functionOf(from: Template, name: string): Resource {
  const found = Object.values(from.Resources).find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' &&
      resource.Properties.FunctionName === resourceName(STAGE, name),
  );
  if (!found) throw new Error(`no function ${name}`);
  return found;
}

/** Every statement of a function's own role. */
function statementsOf(from: Template, name: string): Statement[] {
  const roleId = (functionOf(from, name).Properties.Role as { 'Fn::GetAtt': string[] })[
    'Fn::GetAtt'
  ][0]!;
  const policies = from.Resources[roleId]!.Properties.Policies as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** The resources a function's role allows `action` on. */
function allowing(from: Template, name: string, action: string): unknown[] {
  return statementsOf(from, name)
    .filter((statement) => [statement.Action].flat().includes(action))
    .flatMap((statement) => [statement.Resource].flat());
}

/** The logical ids a template value refers to (Ref, Fn::GetAtt), pseudo parameters left out. */
function referencedIds(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (value === null || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  if (typeof record.Ref === 'string') return record.Ref.startsWith('AWS::') ? [] : [record.Ref];
  if (Array.isArray(record['Fn::GetAtt'])) return [String(record['Fn::GetAtt'][0])];
  return Object.values(record).flatMap(referencedIds);
}

/** The strings of Fn::Sub templates inside a value. */
function subTemplates(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(subTemplates);
  if (value === null || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  if (typeof record['Fn::Sub'] === 'string') return [record['Fn::Sub']];
  return Object.values(record).flatMap(subTemplates);
}

/**
 * What each function's code uses (read in lib/ and functions/), independently of
 * infra/functions.ts: the queues it consumes, the queues it sends to by URL, the table access,
 * the bucket, the secrets.
 */
const EXPECTED_ACCESS: Record<
  string,
  {
    consumes: QueueKey[];
    sendsTo: QueueKey[];
    table: 'records' | 'nonces';
    /** Scans the whole table (a re-created provider's clients). */
    scansTable: boolean;
    bucket: boolean;
    secrets: string[];
  }
> = {
  // Consumer; assignment queue, outbound events, the job ledger's start-clients message.
  'sync-user': {
    consumes: ['userEvents', 'imports'],
    sendsTo: ['assignments', 'outbound', 'outboundWebhook', 'importControl'],
    table: 'records',
    scansTable: true,
    bucket: false,
    secrets: ['upheal-api-key'],
  },
  'assign-providers': {
    consumes: ['assignments'],
    sendsTo: ['outbound', 'outboundWebhook'],
    table: 'records',
    scansTable: false,
    bucket: false,
    secrets: ['upheal-api-key'],
  },
  // Enqueues events, records nonces, reads its secret: nothing else.
  ingest: {
    consumes: [],
    sendsTo: ['userEvents'],
    table: 'nonces',
    scansTable: false,
    bucket: false,
    secrets: ['ingest-secret'],
  },
  // Fans rows out, continues itself, announces import.completed; no Upheal call.
  'initial-sync': {
    consumes: ['importControl'],
    sendsTo: ['imports', 'importControl', 'outbound', 'outboundWebhook'],
    table: 'records',
    scansTable: false,
    bucket: true,
    secrets: [],
  },
  // POSTs outbound events to the partner's webhook; records what it dead-letters.
  'deliver-outbound': {
    consumes: ['outboundWebhook'],
    sendsTo: [],
    table: 'records',
    scansTable: false,
    bucket: false,
    secrets: ['outbound-webhook-secret'],
  },
  // Internet-facing for Upheal: queues heal commands, records nonces, reads its secret.
  'upheal-webhook': {
    consumes: [],
    sendsTo: ['uphealWebhooks'],
    table: 'nonces',
    scansTable: false,
    bucket: false,
    secrets: ['upheal-webhook-secret'],
  },
  // Heals creates: mappings, claims, failures, traces; tells the partner, queues assignments.
  'apply-upheal-webhook': {
    consumes: ['uphealWebhooks'],
    sendsTo: ['assignments', 'outbound', 'outboundWebhook'],
    table: 'records',
    scansTable: false,
    bucket: false,
    secrets: [],
  },
};

/** Sorted JSON strings, to compare lists of template values as sets. */
const asSet = (values: unknown[]) =>
  [...new Set(values.map((value) => JSON.stringify(value)))].sort();

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
    // The quarantine alarm takes the maximum of the Quarantined metric of every Upheal caller,
    // and keeps its state through periods without calls.
    const quarantine = alarms.find((alarm) =>
      String(alarm.AlarmName).endsWith('-sync-quarantined'),
    );
    expect(quarantine).toMatchObject({ TreatMissingData: 'ignore', Threshold: 0 });
    const quarantineMetrics = (
      (quarantine?.Metrics ?? []) as {
        MetricStat?: { Metric: { MetricName: string }; Stat: string };
      }[]
    ).flatMap((metric) => (metric.MetricStat ? [metric.MetricStat] : []));
    expect(quarantineMetrics.map((stat) => stat.Metric.MetricName)).toEqual([
      METRIC_NAMES.quarantined,
      METRIC_NAMES.quarantined,
    ]);
    expect(quarantineMetrics.every((stat) => stat.Stat === 'Maximum')).toBe(true);
    // CloudWatch combines at most 10 metrics in one metric-math alarm.
    for (const alarm of math) expect((alarm.Metrics as unknown[]).length).toBeLessThanOrEqual(10);
    expect(ofType('AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  it('deploys the table with its reverse and create-email indexes, TTL, point-in-time recovery and encryption', () => {
    expect(resources[TABLE.logicalId]?.Properties).toMatchObject({
      TableName: resourceName(STAGE, TABLE.suffix),
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE.reverseIndex.name,
          KeySchema: [{ AttributeName: TABLE.reverseIndex.partitionKey, KeyType: 'HASH' }],
        },
        {
          IndexName: TABLE.createEmailIndex.name,
          KeySchema: [{ AttributeName: TABLE.createEmailIndex.partitionKey, KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('keeps the table (the only id map) when the stack is deleted or the table replaced, with deletion protection on', () => {
    expect(resources[TABLE.logicalId]).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { DeletionProtectionEnabled: true },
    });
  });

  it('reserves the concurrency of ingest only (default 10; the param overrides it)', () => {
    const reserved = (of: Template) =>
      Object.fromEntries(
        DEPLOYED_FUNCTIONS.map((name) => [
          name,
          functionOf(of, name).Properties.ReservedConcurrentExecutions,
        ]),
      );
    expect(reserved(template)).toEqual({
      ...Object.fromEntries(DEPLOYED_FUNCTIONS.map((name) => [name, undefined])),
      ingest: 10,
    });
    expect(reserved(custom).ingest).toBe(Number(CUSTOM_PARAMS.ingestReservedConcurrency));
  });
  it('packages one bundle per function: only its own dist/functions/<name>/ files', () => {
    for (const name of DEPLOYED_FUNCTIONS) {
      const code = functionOf(template, name).Properties.Code as { S3Key: string };
      expect(code.S3Key, name).toMatch(new RegExp(`/${name}\\.zip$`));
      expect(artifacts[name], name).toContain(`dist/functions/${name}/index.mjs`);
      for (const entry of artifacts[name]!)
        expect(entry, name).toMatch(new RegExp(`^dist/functions/${name}/`));
    }
  });

  it('encrypts every queue, DLQ, the table and the bucket at rest; the bucket is private, TLS-only and forgets import files', () => {
    for (const [id, queue] of ofType('AWS::SQS::Queue'))
      expect(queue.Properties.SqsManagedSseEnabled, id).toBe(true);
    expect(ofType('AWS::SQS::Queue')).toHaveLength(Object.keys(QUEUES).length * 2);
    expect(resources[TABLE.logicalId]?.Properties.SSESpecification).toEqual({ SSEEnabled: true });
    const bucket = resources[IMPORT_BUCKET.logicalId]!.Properties;
    expect(bucket).toMatchObject({
      BucketName: {
        'Fn::Sub': `${resourceName(STAGE, IMPORT_BUCKET.suffix)}-\${AWS::AccountId}-\${AWS::Region}`,
      },
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
    });
    const rules = (bucket.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toEqual([
      expect.objectContaining({
        Status: 'Enabled',
        Prefix: 'imports/',
        ExpirationInDays: 30,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      }),
    ]);
    const policy = resources[`${IMPORT_BUCKET.logicalId}Policy`]!.Properties.PolicyDocument as {
      Statement: Statement[];
    };
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it('gives every function an environment lib/config.ts accepts, with the API key and ingest secret as SSM parameter names', () => {
    for (const name of DEPLOYED_FUNCTIONS) {
      const variables = (
        functionOf(template, name).Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      // References become what CloudFormation resolves them to: names, and URLs for queues.
      const resolved = Object.fromEntries(
        Object.entries(variables).map(([variable, value]) => [
          variable,
          typeof value === 'string'
            ? value
            : variable.endsWith('_URL')
              ? `https://sqs.eu-west-1.amazonaws.com/123456789012/${variable}.fifo`
              : `resolved-${variable}`,
        ]),
      );
      const config = parseConfig(resolved);
      expect(config, name).toMatchObject({
        UPHEAL_API_KEY_PARAMETER: `/upheal-sync/${STAGE}/upheal-api-key`,
        INGEST_SECRET_PARAMETER: `/upheal-sync/${STAGE}/ingest-secret`,
        UPHEAL_BASE_URL: 'https://api.upheal.io',
        UPHEAL_RATE_LIMIT: 300,
        UPHEAL_RATE_WINDOW_SECONDS: 60,
        SHARE_INVITE_URL: false,
      });
      expect(config.UPHEAL_API_KEY, name).toBeUndefined();
      expect(config.INGEST_SECRET, name).toBeUndefined();
      expect(config, name).toMatchObject({
        UPHEAL_WEBHOOK_SECRET_PARAMETER: `/upheal-sync/${STAGE}/upheal-webhook-secret`,
        UPHEAL_WEBHOOK_SIGNATURE_SCHEME: 'body',
      });
      expect(config.UPHEAL_WEBHOOK_SECRET, name).toBeUndefined();
    }
  });

  it("names only each function's own resources in its role, never a '*' resource or action", () => {
    expect(Object.keys(EXPECTED_ACCESS).sort()).toEqual([...DEPLOYED_FUNCTIONS].sort());
    for (const [name, expected] of Object.entries(EXPECTED_ACCESS)) {
      const statements = statementsOf(template, name);
      for (const statement of statements) {
        expect(statement.Effect, name).toBe('Allow');
        expect([statement.Resource].flat(), `${name} ${statement.Sid}`).not.toContain('*');
        for (const action of [statement.Action].flat())
          expect(action, `${name} ${statement.Sid}`).not.toMatch(/\*/);
      }
      const own = [
        ...expected.consumes.flatMap((key) => [logicalIdOf(key), dlqIdOf(key)]),
        ...expected.sendsTo.map(logicalIdOf),
        TABLE.logicalId,
        ...(expected.bucket ? [IMPORT_BUCKET.logicalId] : []),
      ];
      expect(
        asSet(statements.flatMap((statement) => referencedIds(statement.Resource))),
        name,
      ).toEqual(asSet(own));

      // SQS: consume the triggers, dead-letter to their DLQs, send where the code sends.
      const consumed = expected.consumes.map((key) => arn(logicalIdOf(key)));
      const dlqs = expected.consumes.map((key) => arn(dlqIdOf(key)));
      expect(asSet(allowing(template, name, 'sqs:ReceiveMessage')), name).toEqual(asSet(consumed));
      for (const action of ['sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'])
        expect(asSet(allowing(template, name, action)), `${name} ${action}`).toEqual(
          asSet(consumed),
        );
      expect(asSet(allowing(template, name, 'sqs:GetQueueAttributes')), name).toEqual(
        asSet(consumed),
      );
      expect(asSet(allowing(template, name, 'sqs:GetQueueUrl')), name).toEqual(
        asSet([...consumed, ...dlqs]),
      );
      expect(asSet(allowing(template, name, 'sqs:SendMessage')), name).toEqual(
        asSet([...dlqs, ...expected.sendsTo.map((key) => arn(logicalIdOf(key)))]),
      );

      // Logs: its own log group only.
      expect(subTemplates(allowing(template, name, 'logs:PutLogEvents')), name).toEqual([
        expect.stringContaining(`:log-group:/aws/lambda/${resourceName(STAGE, name)}:*`),
      ]);

      // S3: the import files, read only, only for initial-sync.
      expect(allowing(template, name, 's3:GetObject').length > 0, name).toBe(expected.bucket);
      expect(allowing(template, name, 's3:PutObject'), name).toEqual([]);

      // SSM and KMS: its own parameters, decrypted only through SSM and only for them.
      const parameters = subTemplates(allowing(template, name, 'ssm:GetParameter'));
      expect(
        parameters.map((arnText) => arnText.replace(/^.*:parameter\/upheal-sync\/[^/]+\//, '')),
        name,
      ).toEqual(expected.secrets);
      const decrypt = statementsOf(template, name).filter((statement) =>
        [statement.Action].flat().includes('kms:Decrypt'),
      );
      expect(decrypt.length, name).toBe(expected.secrets.length > 0 ? 1 : 0);
      for (const statement of decrypt) {
        expect(subTemplates(statement.Resource), name).toEqual([
          `arn:\${AWS::Partition}:kms:\${AWS::Region}:\${AWS::AccountId}:key/*`,
        ]);
        expect(statement.Condition?.StringEquals?.['kms:ViaService'], name).toEqual({
          'Fn::Sub': `ssm.\${AWS::Region}.amazonaws.com`,
        });
        expect(
          subTemplates(statement.Condition?.StringEquals?.['kms:EncryptionContext:PARAMETER_ARN']),
          name,
        ).toEqual(parameters);
      }
    }
  });

  it('lets ingest only put and delete its replay-guard items; the workers query and scan the reverse index, only sync-user scans the table', () => {
    const dynamo = (name: string) =>
      statementsOf(template, name).filter((statement) =>
        [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
      );
    expect(dynamo('ingest')).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        Resource: arn(TABLE.logicalId),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['INGEST#*'] } },
      }),
    ]);
    expect(dynamo('upheal-webhook')).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        Resource: arn(TABLE.logicalId),
        Condition: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['UPHEAL-WEBHOOK#*'] },
        },
      }),
    ]);
    for (const name of ['sync-user', 'assign-providers', 'initial-sync', 'apply-upheal-webhook']) {
      const onIndex = dynamo(name).filter((statement) =>
        JSON.stringify(statement.Resource).includes(`/index/${TABLE.reverseIndex.name}`),
      );
      expect(onIndex.flatMap((statement) => [statement.Action].flat()).sort(), name).toEqual([
        'dynamodb:Query',
        'dynamodb:Scan',
      ]);
      const onTable = dynamo(name).filter(
        (statement) => JSON.stringify(statement.Resource) === JSON.stringify(arn(TABLE.logicalId)),
      );
      // What lib/store, lib/jobs, lib/sync and lib/limiter call; no transactions, no batch writes.
      expect(onTable.flatMap((statement) => [statement.Action].flat()).sort(), name).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        ...(EXPECTED_ACCESS[name]!.scansTable ? ['dynamodb:Scan'] : []),
        'dynamodb:UpdateItem',
      ]);
    }
  });

  it('exposes ingest and upheal-webhook (only them) through function URLs with auth NONE: the HMAC is checked in code', () => {
    const urls = ofType('AWS::Lambda::Url').map(([, url]) => url.Properties);
    expect(asSet(urls)).toEqual(
      asSet([
        { AuthType: 'NONE', TargetFunctionArn: arn('IngestLambdaFunction') },
        { AuthType: 'NONE', TargetFunctionArn: arn('UphealDashwebhookLambdaFunction') },
      ]),
    );
    expect(functionOf(template, 'ingest').Properties.MemorySize).toBe(FUNCTIONS.ingest.memoryMb);
    // Upheal wants an answer within 5 s: the function never runs longer.
    expect(functionOf(template, 'upheal-webhook').Properties.Timeout).toBe(5);
  });

  it('outputs what the CLI reads, and the export one-liner of docs/deployment.md turns them into its variables', async () => {
    const deployment = await readFile(join(PROJECT_ROOT, 'docs', 'deployment.md'), 'utf8');
    const query = /--query "([^"]+)"/.exec(deployment)?.[1];
    const awkProgram = /awk '([^']+)'/.exec(deployment)?.[1];
    expect(query).toBe(
      "Stacks[0].Outputs[?Description && starts_with(Description, 'CLI ')].[OutputKey,OutputValue]",
    );
    expect(awkProgram).toBeDefined();
    // What `describe-stacks --query … --output text` prints: the CLI outputs, tab-separated.
    const cliOutputs = Object.entries(template.Outputs).filter(([, output]) =>
      output.Description?.startsWith('CLI '),
    );
    const text = cliOutputs.map(([key]) => `${key}\tvalue-of-${key}`).join('\n');
    const awk = spawnSync('awk', [awkProgram!], { input: `${text}\n`, encoding: 'utf8' });
    expect(awk.status, awk.stderr).toBe(0);
    const exported = Object.fromEntries(
      awk.stdout
        .trim()
        .split('\n')
        .map((line) => /^export ([A-Z0-9_]+)=(.*)$/.exec(line)!.slice(1, 3) as [string, string]),
    );
    const cliVariables = [
      'AWS_REGION',
      'UPHEAL_BASE_URL',
      'UPHEAL_API_KEY_PARAMETER',
      'UPHEAL_RATE_LIMIT',
      'UPHEAL_RATE_WINDOW_SECONDS',
      'TABLE_NAME',
      IMPORT_BUCKET.nameEnv,
      ...(Object.values(QUEUES) as QueueDefinition[]).map((queue) => queue.urlEnv),
      'INGEST_URL',
      'UPHEAL_WEBHOOK_URL',
    ];
    expect(Object.keys(exported).sort()).toEqual([...cliVariables].sort());
    // Each variable carries the value of the output it came from.
    for (const [key] of cliOutputs) expect(Object.values(exported)).toContain(`value-of-${key}`);
    const outputValueOf = (variable: string) => {
      const key = /^value-of-(.*)$/.exec(exported[variable]!)![1]!;
      return template.Outputs[key]!.Value;
    };
    expect(outputValueOf('TABLE_NAME')).toEqual({ Ref: TABLE.logicalId });
    expect(outputValueOf(IMPORT_BUCKET.nameEnv)).toEqual({ Ref: IMPORT_BUCKET.logicalId });
    expect(outputValueOf('AWS_REGION')).toEqual({ Ref: 'AWS::Region' });
    expect(outputValueOf('INGEST_URL')).toEqual({
      'Fn::GetAtt': ['IngestLambdaFunctionUrl', 'FunctionUrl'],
    });
    expect(outputValueOf('UPHEAL_WEBHOOK_URL')).toEqual({
      'Fn::GetAtt': ['UphealDashwebhookLambdaFunctionUrl', 'FunctionUrl'],
    });
    for (const queue of Object.values(QUEUES) as QueueDefinition[])
      expect(outputValueOf(queue.urlEnv), queue.urlEnv).toEqual({ Ref: queue.logicalId });
    // osls's own outputs are not exported.
    expect(template.Outputs.ServerlessDeploymentBucketName?.Description ?? '').not.toMatch(/^CLI /);
  });

  it('alarms on import stalls (import queue not draining, control step stuck) and on function errors, each with a name', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const names = alarms.map((alarm) => alarm.AlarmName);
    expect(new Set(names).size).toBe(alarms.length);
    for (const name of names) expect(String(name)).toMatch(new RegExp(`^upheal-sync-${STAGE}-`));
    const stalled = alarms.find(
      (alarm) => alarm.AlarmName === `upheal-sync-${STAGE}-import-stalled`,
    )!;
    const watched = (
      stalled.Metrics as { MetricStat?: { Metric: Record<string, unknown> } }[]
    ).flatMap((metric) => (metric.MetricStat ? [metric.MetricStat.Metric] : []));
    expect(watched).toContainEqual(
      expect.objectContaining({
        MetricName: 'NumberOfMessagesDeleted',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [QUEUES.imports.logicalId, 'QueueName'] } },
        ],
      }),
    );
    expect(alarms).toContainEqual(
      expect.objectContaining({
        AlarmName: `upheal-sync-${STAGE}-import-control-stalled`,
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [QUEUES.importControl.logicalId, 'QueueName'] },
          },
        ],
        Threshold: FUNCTION_TIMEOUT_SECONDS['initial-sync'] * 2,
      }),
    );
    for (const name of DEPLOYED_FUNCTIONS)
      expect(alarms, name).toContainEqual(
        expect.objectContaining({
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: resourceName(STAGE, name) }],
        }),
      );
    // Upheal webhooks refused for their signature: a secret or scheme out of step, or forgeries.
    expect(alarms).toContainEqual(
      expect.objectContaining({
        AlarmName: `upheal-sync-${STAGE}-upheal-webhook-signature-failures`,
        Namespace: 'UphealSync',
        MetricName: 'WebhookSignatureFailures',
        Dimensions: [{ Name: 'service', Value: 'upheal-webhook' }],
      }),
    );
    // Without alarmTopicArn, no notifications.
    for (const alarm of alarms) expect(alarm.AlarmActions).toBeUndefined();
  });

  it('draws the dashboard: calls per minute against the limit, 429s, outcomes, applied latency, queue depths, DLQs and every alarm', () => {
    const [, dashboard] = ofType('AWS::CloudWatch::Dashboard')[0]!;
    const body = JSON.parse(
      (dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'],
    ) as { widgets: { type: string; properties: Record<string, unknown> }[] };
    const byTitle = (pattern: RegExp) =>
      body.widgets.find((widget) => pattern.test(String(widget.properties.title)))!;
    const metricNames = (pattern: RegExp) =>
      (byTitle(pattern).properties.metrics as unknown[][]).flatMap((metric) =>
        typeof metric[1] === 'string' ? [metric[1]] : [],
      );
    const calls = byTitle(/calls per minute against the limit/);
    expect(calls.properties.annotations).toEqual({
      horizontal: [expect.objectContaining({ value: 300 })],
    });
    expect(metricNames(/calls per minute/)).toContain(METRIC_NAMES.uphealCalls);
    expect(metricNames(/429/)).toContain(METRIC_NAMES.uphealRateLimited);
    expect(metricNames(/Records/)).toEqual(
      expect.arrayContaining([METRIC_NAMES.applied, METRIC_NAMES.deferred, METRIC_NAMES.failed]),
    );
    expect(metricNames(/latency/)).toContain(METRIC_NAMES.appliedLatency);
    const queueNames = (pattern: RegExp) =>
      (byTitle(pattern).properties.metrics as unknown[][]).map((metric) => metric[3]);
    for (const queue of Object.values(QUEUES) as QueueDefinition[]) {
      expect(queueNames(/Queue depth/)).toContain(queueName(STAGE, queue));
      expect(queueNames(/Dead-letter/)).toContain(deadLetterQueueName(STAGE, queue));
    }
    expect([...((dashboard as { DependsOn?: string[] }).DependsOn ?? [])].sort()).toEqual(
      ofType('AWS::CloudWatch::Alarm')
        .map(([id]) => id)
        .sort(),
    );
    const alarmWidget = body.widgets.find((widget) => widget.type === 'alarm')!;
    const alarmNames = ofType('AWS::CloudWatch::Alarm').map(
      ([, alarm]) => alarm.Properties.AlarmName,
    );
    expect(
      (alarmWidget.properties.alarms as string[])
        .map((alarmArn) => alarmArn.replace(/^.*:alarm:/, ''))
        .sort(),
    ).toEqual([...alarmNames].sort());
  });

  describe('with every optional param set', () => {
    it('reads the API key from the named parameter, and scopes SSM and KMS to it', () => {
      const variables = (
        functionOf(custom, 'sync-user').Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      expect(variables.UPHEAL_API_KEY_PARAMETER).toBe(CUSTOM_PARAMS.uphealApiKeyParameter);
      expect(variables.SHARE_INVITE_URL).toBe('true');
      expect(variables.OUTBOUND_WEBHOOK_URL).toBe(CUSTOM_PARAMS.outboundWebhookUrl);
      expect(subTemplates(allowing(custom, 'sync-user', 'ssm:GetParameter'))).toEqual([
        `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${CUSTOM_PARAMS.uphealApiKeyParameter}`,
      ]);
    });

    it('notifies the alarm topic from every alarm', () => {
      const alarms = Object.values(custom.Resources).filter(
        (resource) => resource.Type === 'AWS::CloudWatch::Alarm',
      );
      expect(alarms.length).toBeGreaterThan(0);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([CUSTOM_PARAMS.alarmTopicArn]);
        expect(alarm.Properties.OKActions).toEqual([CUSTOM_PARAMS.alarmTopicArn]);
      }
    });

    it('lets the partner principal send to the user-events queue and consume the outbound queue, nothing more', () => {
      const policies = Object.values(custom.Resources)
        .filter((resource) => resource.Type === 'AWS::SQS::QueuePolicy')
        .map(
          (resource) =>
            resource.Properties as {
              Queues: unknown[];
              PolicyDocument: { Statement: Statement[] };
            },
        );
      expect(asSet(policies.map((policy) => policy.Queues))).toEqual(
        asSet([[{ Ref: QUEUES.outbound.logicalId }], [{ Ref: QUEUES.userEvents.logicalId }]]),
      );
      for (const policy of policies)
        for (const statement of policy.PolicyDocument.Statement)
          expect(statement).toMatchObject({
            Effect: 'Allow',
            Principal: { AWS: CUSTOM_PARAMS.partnerPrincipalArn },
          });
      const actionsOn = (queue: QueueKey) =>
        policies
          .filter((policy) => JSON.stringify(policy.Queues).includes(QUEUES[queue].logicalId))
          .flatMap((policy) =>
            policy.PolicyDocument.Statement.flatMap((statement) => [statement.Action].flat()),
          );
      expect(actionsOn('userEvents')).toContain('sqs:SendMessage');
      expect(actionsOn('userEvents')).not.toContain('sqs:ReceiveMessage');
      expect(actionsOn('outbound')).toEqual(
        expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']),
      );
      expect(actionsOn('outbound')).not.toContain('sqs:SendMessage');
      // The default deployment grants no one outside the stack.
      expect(ofType('AWS::SQS::QueuePolicy')).toEqual([]);
    });
  });
});
