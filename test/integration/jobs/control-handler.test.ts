/**
 * initial-sync's handler on real queues (fauxqs) and a real table (dynalite), fed by the local
 * event source runner with Lambda's semantics: an import larger than one invocation's time
 * continues itself through the import-control queue until every row is queued once.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '#infra/resources.ts';
import { parsePartnerEventJson } from '#lib/events/partner-event.ts';
import { controlHandler } from '#lib/jobs/control-handler.ts';
import { SqsControlQueue } from '#lib/jobs/control-messages.ts';
import { SqsImportQueue } from '#lib/jobs/import-queue.ts';
import { sourceOpener } from '#lib/jobs/import-source.ts';
import { DynamoJobStore } from '#lib/jobs/job-store.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { NoOutbound } from '#lib/outbound/outbound-events.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { waitFor } from '#test/helpers/local-stack.ts';
import { exportOf } from '#test/unit/jobs/import-data.ts';
import { createQueues, createTable, startDynamoDb, startSqsS3 } from '#tools/local/aws-services.ts';
import { EventSourceRunner, type InvocationReport } from '#tools/local/event-source-runner.ts';
import { LOCAL_REGION, localClientConfig } from '#tools/local/stack.ts';

const TABLE = 'upheal-sync-test-state';
/** Each invocation pretends to have this little time left: one batch of 10, then `continue`. */
const REMAINING_MS = 1_000;

let stop: (() => Promise<void>)[] = [];
let sqs: SQSClient;
let jobs: DynamoJobStore;
let queueUrls: Awaited<ReturnType<typeof createQueues>>['queueUrls'];
let queueArns: Awaited<ReturnType<typeof createQueues>>['queueArns'];
let handler: ReturnType<typeof controlHandler>;

beforeAll(async () => {
  const [dynamoService, sqsService] = await Promise.all([startDynamoDb(), startSqsS3()]);
  stop.push(dynamoService.stop, sqsService.stop);
  const dynamo = new DynamoDBClient(localClientConfig(dynamoService.endpoint));
  const documents = documentClient(dynamo);
  sqs = new SQSClient(localClientConfig(sqsService.endpoint));
  const s3 = new S3Client(localClientConfig(sqsService.endpoint));
  stop.push(async () => {
    dynamo.destroy();
    sqs.destroy();
    s3.destroy();
  });
  await createTable(dynamo, TABLE);
  ({ queueUrls, queueArns } = await createQueues(sqs, 'test'));
  jobs = new DynamoJobStore(documents, TABLE);
  const failures = new DynamoFailureStore(documents, TABLE);
  handler = controlHandler({
    jobs,
    control: new SqsControlQueue(sqs, queueUrls.importControl),
    outbound: new NoOutbound(),
    openSource: sourceOpener(s3),
    importQueue: new SqsImportQueue(sqs, queueUrls.imports),
    failures,
    mappings: new DynamoMappingStore({ client: documents, tableName: TABLE }),
    logger: createLogger('initial-sync-test'),
    consumer: { sqs, failures, maxAttempts: 3, dependencyWaitMs: 60_000 },
  });
});
afterAll(async () => {
  for (const step of stop.reverse()) await step();
  stop = [];
});

/** Receives and deletes everything on the import queue. */
async function drainImports(): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrls.imports,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return all;
    all.push(...Messages);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrls.imports,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle!,
        })),
      }),
    );
  }
}

describe('initial-sync handler on the import-control queue', () => {
  /** Every invocation of the one runner of these tests (a stopped runner's last long poll could
   * take the next test's message). */
  const reports: InvocationReport[] = [];
  let runner: EventSourceRunner;
  beforeAll(() => {
    runner = new EventSourceRunner({
      functionName: 'initial-sync',
      sqs,
      queueUrl: queueUrls.importControl,
      queueArn: queueArns.importControl,
      region: LOCAL_REGION,
      batchSize: QUEUES.importControl.consumer.batchSize,
      maximumConcurrency: QUEUES.importControl.consumer.maximumConcurrency,
      pollWaitSeconds: 1,
      onInvocation: (report) => reports.push(report),
      invoker: {
        async invoke(event) {
          const context = { getRemainingTimeInMillis: () => REMAINING_MS } as Context;
          return { kind: 'response', response: await handler(event as SQSEvent, context) };
        },
      },
    });
    runner.start();
  });
  afterAll(async () => {
    await runner?.stop();
  });
  /** The bodies of the invocations of `jobId`. */
  const bodiesOf = (jobId: string) =>
    reports
      .map((report) => JSON.parse(report.event.Records[0]!.body))
      .filter((body) => body.jobId === jobId);

  it('continues itself across invocations until every provider row is queued once', async () => {
    const jobId = 'long-import';
    await new SqsControlQueue(sqs, queueUrls.importControl).send({
      type: 'start',
      jobId,
      source: { records: exportOf(35, 5) },
      exportedAt: '2026-11-20T08:00:00.000Z',
    });
    const job = await waitFor(
      async () => {
        const current = await jobs.get(jobId);
        return current?.cursor === 35 && current;
      },
      { timeoutMs: 20_000 },
    );
    expect(job).toMatchObject({ phase: 'providers', providers: 35, clients: 5 });
    // start, then a continue after each full batch: cursors 10, 20 and 30.
    await waitFor(() => bodiesOf(jobId).length >= 4, { timeoutMs: 5_000 });
    expect(bodiesOf(jobId).map((body) => [body.type, body.cursor])).toEqual([
      ['start', undefined],
      ['continue', 10],
      ['continue', 20],
      ['continue', 30],
    ]);
    expect(reports.every((report) => report.deleted.length === 1)).toBe(true);
    const ids = (await drainImports()).map(
      (message) => parsePartnerEventJson(message.Body!).partnerUserId,
    );
    expect(ids).toHaveLength(35);
    expect(new Set(ids).size).toBe(35);
    expect(ids.every((id) => id.startsWith('p-'))).toBe(true);
  });

  it('continues its planning across invocations: a dry run of more rows than one plans', async () => {
    const jobId = 'long-plan';
    await new SqsControlQueue(sqs, queueUrls.importControl).send({
      type: 'start',
      jobId,
      source: { records: exportOf(100, 900) },
      exportedAt: '2026-11-20T08:00:00.000Z',
      dryRun: true,
    });
    const job = await waitFor(
      async () => {
        const current = await jobs.get(jobId);
        return current?.phase === 'completed' && current;
      },
      { timeoutMs: 30_000 },
    );
    expect(job.plan).toMatchObject({ providers: 100, clients: 900, invalid: 0, toCheck: 1000 });
    // Rows are checked 400 at a time and the clock is always low: each step continues. The
    // last invocation's report may land just after the job shows completed.
    await waitFor(() => bodiesOf(jobId).length >= 3, { timeoutMs: 5_000 });
    expect(bodiesOf(jobId).map((body) => [body.type, body.phase, body.cursor])).toEqual([
      ['start', undefined, undefined],
      ['continue', 'planning', 400],
      ['continue', 'planning', 800],
    ]);
    expect(await drainImports()).toEqual([]);
  });
});
