import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePartnerEventJson } from '#lib/events/partner-event.ts';
import type { ControlMessage } from '#lib/jobs/control-messages.ts';
import { BatchedImportProgress } from '#lib/jobs/import-progress.ts';
import { importDeduplicationId, SqsImportQueue } from '#lib/jobs/import-queue.ts';
import { sourceOpener } from '#lib/jobs/import-source.ts';
import { type InitialSyncDeps, runControl } from '#lib/jobs/initial-sync.ts';
import { JOB_PHASES } from '#lib/jobs/job.ts';
import { createBucket, createQueues, startSqsS3 } from '#tools/local/aws-services.ts';
import { exportOf, INVALID_RECORDS, toCsv, toNdjson } from './import-data.ts';
import {
  type LedgerFixture,
  type RecordingControlQueue,
  type RecordingOutbound,
  startLedgerFixture,
} from './ledger-fixture.ts';

const BUCKET = 'upheal-sync-test-imports';
/** When the test exports were taken. */
const EXPORTED_AT = '2026-11-20T08:00:00.000Z';
/** A budget that never runs out. */
const PLENTY = { remainingMs: () => 900_000, reserveMs: 60_000 };

let ledger: LedgerFixture;
let stopSqs: () => Promise<void>;
let sqs: SQSClient;
let s3: S3Client;
let importQueueUrl: string;

beforeAll(async () => {
  const [fixture, service] = await Promise.all([startLedgerFixture(), startSqsS3()]);
  ledger = fixture;
  stopSqs = service.stop;
  const config = {
    endpoint: service.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  sqs = new SQSClient(config);
  s3 = new S3Client(config);
  importQueueUrl = (await createQueues(sqs, 'test')).queueUrls.imports;
  await createBucket(s3, BUCKET);
});
afterAll(async () => {
  sqs?.destroy();
  s3?.destroy();
  await ledger?.stop();
  await stopSqs?.();
});

/** The use case's dependencies, with recorders for control messages and outbound events. */
function deps(): InitialSyncDeps & { control: RecordingControlQueue; outbound: RecordingOutbound } {
  return {
    ...ledger.ledger(),
    openSource: sourceOpener(s3),
    importQueue: new SqsImportQueue(sqs, importQueueUrl),
    failures: ledger.failures,
    mappings: ledger.mappings,
  };
}

/** Receives and deletes everything on the import queue. */
async function drainImports(): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: importQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return all;
    all.push(...Messages);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: importQueueUrl,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle!,
        })),
      }),
    );
  }
}

/** The partner ids of import messages, in order received. */
const idsOf = (messages: readonly Message[]) =>
  messages.map((message) => parsePartnerEventJson(message.Body!).partnerUserId);

describe('initial-sync', () => {
  it('plans, records every invalid row, and fans out only the providers first', async () => {
    const records = [...exportOf(3, 4), ...INVALID_RECORDS];
    const d = deps();
    const start: ControlMessage = {
      type: 'start',
      jobId: 'inline-1',
      source: { records },
      exportedAt: '2026-11-20T08:00:00.000Z',
    };
    expect(await runControl(start, d, PLENTY)).toEqual({
      kind: 'fanned-out',
      jobId: 'inline-1',
      phase: 'providers',
    });
    const job = await ledger.jobs.get('inline-1');
    expect(job).toMatchObject({
      phase: 'providers',
      providers: 3,
      clients: 4,
      invalid: 3,
      cursor: 3,
    });
    const failures = await ledger.failures.list('inline-1');
    expect(failures.map((failure) => [failure.line, failure.operation])).toEqual([
      [8, 'import-row'],
      [9, 'import-row'],
      [10, 'import-row'],
    ]);
    expect(failures[0]?.reason).toBe('email: is required');
    expect(failures[2]?.reason).toBe('partnerUserId: repeats the partner id of line 1');

    const messages = await drainImports();
    expect(idsOf(messages)).toEqual(['p-1', 'p-2', 'p-3']);
    const first = messages[0]!;
    expect(parsePartnerEventJson(first.Body!)).toMatchObject({
      eventId: 'import-inline-1-1',
      type: 'provider.created',
      occurredAt: '2026-11-20T08:00:00.000Z',
      data: { email: 'provider.1@example.com', lastName: 'Provider1' },
    });
    expect(first.Attributes?.MessageGroupId).toBe('p-1');
    expect(first.Attributes?.MessageDeduplicationId).toBe(importDeduplicationId('inline-1', 1));
    expect(first.MessageAttributes?.jobId?.StringValue).toBe('inline-1');
    expect(first.MessageAttributes?.line?.StringValue).toBe('1');
    expect(d.control.sent).toEqual([]);
  });

  it('starts the client phase only when the last provider settled, then completes', async () => {
    const d = deps();
    const jobId = 'phases-1';
    await runControl(
      { type: 'start', exportedAt: EXPORTED_AT, jobId, source: { records: exportOf(2, 3) } },
      d,
      PLENTY,
    );
    expect(idsOf(await drainImports())).toEqual(['p-1', 'p-2']);
    const progress = new BatchedImportProgress(d);
    await progress.recordOutcome(jobId, 'created');
    await progress.flush();
    expect(d.control.sent).toEqual([]);
    await progress.recordOutcome(jobId, 'linked');
    await progress.flush();
    expect(d.control.sent).toEqual([{ type: 'start-clients', jobId }]);

    await runControl(d.control.sent[0]!, d, PLENTY);
    expect(idsOf(await drainImports())).toEqual(['c-1', 'c-2', 'c-3']);
    for (let n = 0; n < 3; n += 1) await progress.recordOutcome(jobId, 'created');
    await progress.flush();
    expect((await ledger.jobs.get(jobId))?.phase).toBe(JOB_PHASES.completed);
    expect(d.outbound.published).toEqual([
      expect.objectContaining({
        type: 'import.completed',
        jobId,
        counts: expect.objectContaining({ created: 4, linked: 1, settled: 5 }),
      }),
    ]);
  });

  it('moves through empty phases by itself', async () => {
    const d = deps();
    await runControl(
      {
        type: 'start',
        exportedAt: EXPORTED_AT,
        jobId: 'clients-only',
        source: { records: exportOf(0, 0) },
      },
      d,
      PLENTY,
    );
    expect((await ledger.jobs.get('clients-only'))?.phase).toBe(JOB_PHASES.clients);
    expect(d.control.sent).toEqual([{ type: 'start-clients', jobId: 'clients-only' }]);
    await runControl(d.control.sent[0]!, d, PLENTY);
    expect((await ledger.jobs.get('clients-only'))?.phase).toBe(JOB_PHASES.completed);
    expect(d.outbound.published).toHaveLength(1);
    expect(await drainImports()).toEqual([]);
  });

  it('continues itself when the invocation runs low on time, and resumes from the cursor', async () => {
    const d = deps();
    const jobId = 'long-1';
    const lowOnTime = { remainingMs: () => 1_000, reserveMs: 60_000 };
    const start: ControlMessage = {
      type: 'start',
      exportedAt: EXPORTED_AT,
      jobId,
      source: { records: exportOf(25, 0) },
    };
    expect((await runControl(start, d, lowOnTime)).kind).toBe('continued');
    expect(d.control.sent).toEqual([{ type: 'continue', jobId, phase: 'providers', cursor: 10 }]);
    expect((await ledger.jobs.get(jobId))?.cursor).toBe(10);
    // A second start with the same id (an operator's resume) goes on from the cursor as well.
    expect((await runControl(start, d, lowOnTime)).kind).toBe('continued');
    expect((await runControl(d.control.sent[1]!, d, PLENTY)).kind).toBe('fanned-out');
    // A stale continue (for a phase the job has left or from an old cursor) sends nothing new.
    expect((await runControl(d.control.sent[0]!, d, PLENTY)).kind).toBe('fanned-out');
    const ids = idsOf(await drainImports());
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(25);
  });

  it('streams a CSV object from S3 and fans out the same rows as the NDJSON', async () => {
    const records = [...exportOf(2, 2), ...INVALID_RECORDS];
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'x.csv', Body: toCsv(records) }));
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'x.ndjson', Body: toNdjson(records) }),
    );
    const d = deps();
    await runControl(
      {
        type: 'start',
        exportedAt: EXPORTED_AT,
        jobId: 'csv-1',
        source: { bucket: BUCKET, key: 'x.csv' },
      },
      d,
      PLENTY,
    );
    const fromCsv = await drainImports();
    await runControl(
      {
        type: 'start',
        exportedAt: EXPORTED_AT,
        jobId: 'nd-1',
        source: { bucket: BUCKET, key: 'x.ndjson' },
      },
      d,
      PLENTY,
    );
    const fromNdjson = await drainImports();
    const data = (messages: Message[]) =>
      messages.map((message) => {
        const event = parsePartnerEventJson(message.Body!);
        return [event.partnerUserId, event.type, event.data];
      });
    expect(data(fromCsv)).toEqual(data(fromNdjson));
    expect((await ledger.jobs.get('csv-1'))?.invalid).toBe(3);
    expect((await ledger.failures.list('csv-1')).map((failure) => failure.line)).toEqual([6, 7, 8]);
  });

  it('plans a dry run with the mapping and sends nothing', async () => {
    await ledger.mappings.save(
      { partnerUserId: 'p-1', kind: 'provider', state: 'active', uphealUserId: 'u-1' },
      undefined,
    );
    const d = deps();
    const records = [...exportOf(2, 4), ...INVALID_RECORDS];
    const outcome = await runControl(
      { type: 'start', exportedAt: EXPORTED_AT, jobId: 'dry-1', source: { records }, dryRun: true },
      d,
      PLENTY,
    );
    expect(outcome).toEqual({ kind: 'planned', jobId: 'dry-1', dryRun: true });
    expect(await ledger.jobs.get('dry-1')).toMatchObject({
      phase: JOB_PHASES.completed,
      dryRun: true,
      plan: {
        providers: 2,
        clients: 4,
        invalid: 3,
        alreadyMapped: 1,
        toCheck: 5,
        creates: 5,
        assignmentCalls: 1,
        totalCalls: 11,
      },
    });
    expect(await drainImports()).toEqual([]);
    expect(d.control.sent).toEqual([]);
    expect(d.outbound.published).toEqual([]);
  });

  it('fails the job, naming the column, when the CSV header is unusable', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'bad.csv', Body: 'kind,partnerUserId,colour\n' }),
    );
    const d = deps();
    const outcome = await runControl(
      {
        type: 'start',
        exportedAt: EXPORTED_AT,
        jobId: 'bad-1',
        source: { bucket: BUCKET, key: 'bad.csv' },
      },
      d,
      PLENTY,
    );
    expect(outcome.kind).toBe('failed');
    const job = await ledger.jobs.get('bad-1');
    expect(job?.phase).toBe(JOB_PHASES.failed);
    expect(job?.error).toContain('column 3 is not a known column');
  });

  it('does nothing for a finished job or an unknown one', async () => {
    const d = deps();
    expect(
      await runControl(
        { type: 'start', exportedAt: EXPORTED_AT, jobId: 'dry-1', source: { records: [] } },
        d,
        PLENTY,
      ),
    ).toEqual({ kind: 'ignored', jobId: 'dry-1', reason: 'job is completed' });
    expect((await runControl({ type: 'start-clients', jobId: 'nope' }, d, PLENTY)).kind).toBe(
      'ignored',
    );
  });
});
