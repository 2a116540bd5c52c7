import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PurgeQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_FAILED_OPERATION } from '#lib/jobs/client-gate.ts';
import type { ControlMessage } from '#lib/jobs/control-messages.ts';
import { BatchedImportProgress } from '#lib/jobs/import-progress.ts';
import { SqsImportQueue } from '#lib/jobs/import-queue.ts';
import { sourceOpener } from '#lib/jobs/import-source.ts';
import { type InitialSyncDeps, runControl } from '#lib/jobs/initial-sync.ts';
import { JOB_PHASES } from '#lib/jobs/job.ts';
import { createBucket, createQueues, startSqsS3 } from '#tools/local/aws-services.ts';
import { client, exportOf, INVALID_RECORDS, provider, toCsv, toNdjson } from './import-data.ts';
import {
  type LedgerFixture,
  type RecordingControlQueue,
  type RecordingOutbound,
  startLedgerFixture,
} from './ledger-fixture.ts';

const BUCKET = 'upheal-sync-test-plans';
const EXPORTED_AT = '2026-11-20T08:00:00.000Z';
/** A budget that never runs out. */
const PLENTY = { remainingMs: () => 900_000, reserveMs: 60_000 };
/** A budget that is always at its end: every step of work is followed by a `continue`. */
const LOW_ON_TIME = { remainingMs: () => 1_000, reserveMs: 60_000 };

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
  importQueueUrl = (await createQueues(sqs, 'plan')).queueUrls.imports;
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

/** Runs every control message sent, in order, until none is left; answers how many ran. */
async function runAll(d: ReturnType<typeof deps>, first: ControlMessage, budget = PLENTY) {
  let runs = 0;
  await runControl(first, d, budget);
  runs += 1;
  while (d.control.sent.length > 0) {
    const next = d.control.sent.shift()!;
    await runControl(next, d, budget);
    runs += 1;
  }
  return runs;
}

/** Uploads `body` as `key`. */
async function upload(key: string, body: string | Uint8Array): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

describe('planning: export time', () => {
  it('fails the job naming exportedAt when neither the start nor the file gives it', async () => {
    const d = deps();
    const outcome = await runControl(
      { type: 'start', jobId: 'no-time', source: { records: exportOf(1, 1) } },
      d,
      PLENTY,
    );
    expect(outcome.kind).toBe('failed');
    const job = await ledger.jobs.get('no-time');
    expect(job?.phase).toBe(JOB_PHASES.failed);
    expect(job?.error).toMatch(/^exportedAt: is required/);
  });

  it('takes the time the file states (NDJSON header record, CSV comment line)', async () => {
    const stated = '2026-11-18T06:30:00Z';
    await upload('stated.ndjson', `{"exportedAt":"${stated}"}\n${toNdjson(exportOf(2, 1))}`);
    await upload('stated.csv', `# exportedAt: ${stated}\n${toCsv(exportOf(2, 1))}`);
    for (const key of ['stated.ndjson', 'stated.csv']) {
      const d = deps();
      const jobId = `stated-${key.split('.')[1]}`;
      await runControl({ type: 'start', jobId, source: { bucket: BUCKET, key } }, d, PLENTY);
      const job = await ledger.jobs.get(jobId);
      expect(job).toMatchObject({ phase: JOB_PHASES.providers, exportedAt: stated, invalid: 0 });
      expect(job).toMatchObject({ providers: 2, clients: 1 });
    }
    await sqs.send(new PurgeQueueCommand({ QueueUrl: importQueueUrl }));
  });

  it('refuses a given time that differs from the stated one, and one from the future', async () => {
    await upload('differs.ndjson', `{"exportedAt":"2026-11-18T06:30:00Z"}\n`);
    const d = deps();
    const source = { bucket: BUCKET, key: 'differs.ndjson' };
    await runControl(
      { type: 'start', jobId: 'differs', source, exportedAt: EXPORTED_AT },
      d,
      PLENTY,
    );
    expect((await ledger.jobs.get('differs'))?.error).toBe(
      'exportedAt: differs from the time the file states (2026-11-18T06:30:00Z)',
    );
    const future = new Date(Date.now() + 3_600_000).toISOString();
    await runControl(
      { type: 'start', jobId: 'future', source: { records: [] }, exportedAt: future },
      d,
      PLENTY,
    );
    expect((await ledger.jobs.get('future'))?.error).toMatch(/^exportedAt: is in the future/);
  });

  it('fails a Latin-1 file at planning, naming the line', async () => {
    const header = Buffer.from(toCsv([provider(1)]));
    await upload(
      'latin1.csv',
      Buffer.concat([
        header,
        Buffer.from('provider,p-2,r@example.com,Ren'),
        Buffer.from([0xe9, 0x0a]),
      ]),
    );
    const d = deps();
    await runControl(
      {
        type: 'start',
        jobId: 'latin1',
        source: { bucket: BUCKET, key: 'latin1.csv' },
        exportedAt: EXPORTED_AT,
      },
      d,
      PLENTY,
    );
    expect((await ledger.jobs.get('latin1'))?.error).toMatch(
      /^line 3: \(file\): is not UTF-8: line 3 looks like Latin-1/,
    );
  });
});

describe('planning: references', () => {
  it('fails a client whose provider is neither in the file nor mapped, in a dry run too', async () => {
    await ledger.mappings.save(
      { partnerUserId: 'p-mapped', kind: 'provider', state: 'active', uphealUserId: 'u-9' },
      undefined,
    );
    const records = [
      client(1, [1]),
      { ...client(2, [1]), providerPartnerUserIds: ['p-1', 'p-typo'] },
      { ...client(3, [1]), providerPartnerUserIds: ['p-mapped'] },
      { ...client(4, [1]), providerPartnerUserIds: ['p-bad'] },
      provider(1),
      { kind: 'provider', partnerUserId: 'p-bad', firstName: 'No', lastName: 'Email' },
    ];
    for (const dryRun of [true, false]) {
      const d = deps();
      const jobId = `refs-${dryRun ? 'dry' : 'real'}`;
      const start = {
        type: 'start',
        jobId,
        source: { records },
        exportedAt: EXPORTED_AT,
        dryRun,
      } as const;
      await runControl(start, d, PLENTY);
      const job = await ledger.jobs.get(jobId);
      expect(job).toMatchObject({ providers: 1, clients: 2, invalid: 3 });
      expect(job?.plan).toMatchObject({ providers: 1, clients: 2, invalid: 3 });
      const failures = await ledger.failures.list(jobId);
      expect(
        failures.map((failure) => [failure.line, failure.partnerUserId, failure.reason]),
      ).toEqual([
        [
          2,
          'c-2',
          'providerPartnerUserIds: p-typo is neither a provider in this file nor a mapped provider',
        ],
        [4, 'c-4', 'providerPartnerUserIds: p-bad is the provider of line 6, which is invalid'],
        [6, 'p-bad', 'email: is required'],
      ]);
    }
    await sqs.send(new PurgeQueueCommand({ QueueUrl: importQueueUrl }));
  });

  it('fails a client whose provider failed as soon as the provider phase settles', async () => {
    const d = deps();
    const jobId = 'provider-failed';
    const records = [
      provider(1),
      provider(2),
      client(1, [1]),
      client(2, [2]),
      { ...client(3, [1]), providerPartnerUserIds: ['p-1', 'p-2'] },
    ];
    await runControl(
      { type: 'start', jobId, source: { records }, exportedAt: EXPORTED_AT },
      d,
      PLENTY,
    );
    // sync-user settles the providers: p-2 (line 2) fails for good.
    await ledger.failures.record({
      jobId,
      line: 2,
      partnerUserId: 'p-2',
      operation: 'provider.created',
      reason: 'email: refused by Upheal',
    });
    const progress = new BatchedImportProgress(d);
    await progress.recordOutcome(jobId, 'created');
    await progress.recordOutcome(jobId, 'failed');
    await progress.flush();
    expect(d.control.sent).toEqual([{ type: 'start-clients', jobId }]);
    await runControl(d.control.sent.shift()!, d, PLENTY);
    const job = await ledger.jobs.get(jobId);
    // Two clients failed at once; one (c-1, of p-1) was sent and is still to settle.
    expect(job).toMatchObject({
      phase: JOB_PHASES.clients,
      settled: 4,
      counts: expect.objectContaining({ failed: 3 }),
    });
    const failed = (await ledger.failures.list(jobId)).filter(
      (f) => f.operation === PROVIDER_FAILED_OPERATION,
    );
    expect(failed.map((f) => [f.line, f.partnerUserId, f.reason])).toEqual([
      [4, 'c-2', 'providerPartnerUserIds: provider p-2 failed in this import (line 2)'],
      [5, 'c-3', 'providerPartnerUserIds: provider p-2 failed in this import (line 2)'],
    ]);
    expect(d.outbound.published).toEqual([
      expect.objectContaining({ type: 'user.failed', partnerUserId: 'c-2', jobId }),
      expect.objectContaining({ type: 'user.failed', partnerUserId: 'c-3', jobId }),
    ]);
    await progress.recordOutcome(jobId, 'created');
    await progress.flush();
    expect((await ledger.jobs.get(jobId))?.phase).toBe(JOB_PHASES.completed);
    await sqs.send(new PurgeQueueCommand({ QueueUrl: importQueueUrl }));
  });
});

describe('planning: time budget', () => {
  it('continues itself over more rows than one invocation plans, to the same plan', async () => {
    // Several steps of rows (a step is 400), some invalid and some mapped, planned with a clock
    // that is always at its end: every step ends the invocation with a `continue`.
    const records = [...exportOf(300, 1200), ...INVALID_RECORDS, client(9999, [404])];
    for (let n = 1; n <= 150; n += 1) {
      await ledger.mappings.save(
        { partnerUserId: `p-${n}`, kind: 'provider', state: 'active', uphealUserId: `u-${n}` },
        undefined,
      );
    }
    await upload('long.ndjson', toNdjson(records));
    const source = { bucket: BUCKET, key: 'long.ndjson' };
    const plans = [];
    for (const [jobId, budget] of [
      ['long-once', PLENTY],
      ['long-steps', LOW_ON_TIME],
    ] as const) {
      const d = deps();
      const runs = await runAll(
        d,
        { type: 'start', jobId, source, exportedAt: EXPORTED_AT, dryRun: true },
        budget,
      );
      const job = await ledger.jobs.get(jobId);
      expect(job?.phase).toBe(JOB_PHASES.completed);
      plans.push({
        runs,
        plan: job?.plan,
        failures: (await ledger.failures.list(jobId)).map((f) => f.line),
      });
    }
    const [once, steps] = plans;
    expect(once?.runs).toBe(1);
    expect(steps?.runs).toBe(Math.ceil(records.length / 400));
    expect(steps?.plan).toEqual(once?.plan);
    expect(once?.plan).toMatchObject({
      providers: 300,
      clients: 1200,
      invalid: 4,
      alreadyMapped: 150,
    });
    expect(steps?.failures).toEqual(once?.failures);
    expect(once?.failures).toEqual([1501, 1502, 1503, 1504]);
  });
});
