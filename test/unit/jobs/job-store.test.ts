import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE } from '#infra/resources.ts';
import type { ImportPlan } from '#lib/import/plan.ts';
import { JOB_PHASES } from '#lib/jobs/job.ts';
import { INLINE_JOB_RETENTION_MS, type JobTotals } from '#lib/jobs/job-store.ts';
import { type LedgerFixture, startLedgerFixture, TABLE_NAME } from './ledger-fixture.ts';

let fixture: LedgerFixture;
beforeAll(async () => {
  fixture = await startLedgerFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

let nextId = 0;
/** A new job in planning, with a fresh id. */
async function newJob(): Promise<string> {
  nextId += 1;
  const jobId = `job-${nextId}`;
  const created = await fixture.jobs.create({
    jobId,
    format: 'ndjson',
    source: { bucket: 'imports', key: `${jobId}.ndjson` },
    dryRun: false,
    exportedAt: '2026-11-27T10:00:00.000Z',
  });
  expect(created).toBe(true);
  return jobId;
}

/** Totals of `providers` and `clients` valid rows. */
function totals(providers: number, clients: number, invalid = 0): JobTotals {
  const plan: ImportPlan = {
    providers,
    clients,
    invalid,
    alreadyMapped: 0,
    toCheck: providers + clients,
    creates: providers + clients,
    assignmentCalls: 0,
    totalCalls: 2 * (providers + clients),
  };
  return { exportedAt: '2026-11-27T10:00:00.000Z', providers, clients, invalid, plan };
}

describe('DynamoJobStore', () => {
  it('creates a job once, in planning, with zero counters', async () => {
    const jobId = await newJob();
    expect(
      await fixture.jobs.create({
        jobId,
        format: 'csv',
        source: { records: [] },
        dryRun: true,
        exportedAt: '2026-11-27T11:00:00.000Z',
      }),
    ).toBe(false);
    const job = await fixture.jobs.get(jobId);
    expect(job).toMatchObject({
      jobId,
      phase: JOB_PHASES.planning,
      format: 'ndjson',
      source: { bucket: 'imports', key: `${jobId}.ndjson` },
      settled: 0,
      cursor: 0,
      counts: { created: 0, linked: 0, updated: 0, stale: 0, failed: 0, skipped: 0 },
    });
  });

  it('keeps inline records and finds the latest job', async () => {
    const jobId = 'inline-job';
    await fixture.jobs.create({
      jobId,
      format: 'ndjson',
      source: { records: [{ kind: 'provider', partnerUserId: 'p-1' }] },
      dryRun: true,
      exportedAt: '2026-11-27T10:00:00.000Z',
    });
    expect((await fixture.jobs.get(jobId))?.source).toEqual({
      records: [{ kind: 'provider', partnerUserId: 'p-1' }],
    });
    expect((await fixture.jobs.latest())?.jobId).toBe(jobId);
    expect(await fixture.jobs.get('no-such-job')).toBeUndefined();
  });

  it('lets DynamoDB expire a job holding inline records, and only such a job', async () => {
    const startedAt = Date.now();
    await fixture.jobs.create({
      jobId: 'inline-expiring',
      format: 'ndjson',
      source: { records: [{ kind: 'provider', partnerUserId: 'p-2' }] },
      dryRun: false,
      exportedAt: '2026-11-27T10:00:00.000Z',
    });
    const itemOf = async (jobId: string) =>
      (
        await fixture.documents.send(
          new GetCommand({ TableName: TABLE_NAME, Key: { pk: `JOB#${jobId}`, sk: 'JOB' } }),
        )
      ).Item;
    const expires = Number((await itemOf('inline-expiring'))?.[TABLE.ttlAttribute]);
    expect(expires * 1000).toBeGreaterThanOrEqual(startedAt + INLINE_JOB_RETENTION_MS);
    expect(expires * 1000).toBeLessThan(Date.now() + INLINE_JOB_RETENTION_MS + 1000);
    expect((await itemOf(await newJob()))?.[TABLE.ttlAttribute]).toBeUndefined();
  });

  it('ends planning once, with the totals and the plan', async () => {
    const jobId = await newJob();
    expect(await fixture.jobs.finishPlanning(jobId, totals(3, 5, 1), JOB_PHASES.providers)).toBe(
      true,
    );
    expect(await fixture.jobs.finishPlanning(jobId, totals(9, 9), JOB_PHASES.providers)).toBe(
      false,
    );
    expect(await fixture.jobs.get(jobId)).toMatchObject({
      phase: JOB_PHASES.providers,
      providers: 3,
      clients: 5,
      invalid: 1,
      plan: { totalCalls: 16 },
    });
  });

  it('moves the cursor only forward and only in its phase', async () => {
    const jobId = await newJob();
    await fixture.jobs.finishPlanning(jobId, totals(30, 0), JOB_PHASES.providers);
    expect(await fixture.jobs.saveCursor(jobId, JOB_PHASES.providers, 12)).toBe(true);
    expect(await fixture.jobs.saveCursor(jobId, JOB_PHASES.providers, 7)).toBe(false);
    expect(await fixture.jobs.saveCursor(jobId, JOB_PHASES.clients, 20)).toBe(false);
    expect((await fixture.jobs.get(jobId))?.cursor).toBe(12);
  });

  it('adds outcomes atomically and answers the job as written', async () => {
    const jobId = await newJob();
    await fixture.jobs.finishPlanning(jobId, totals(4, 4), JOB_PHASES.providers);
    const after = await fixture.jobs.addOutcomes(jobId, { created: 2, linked: 1 });
    expect(after).toMatchObject({ settled: 3, counts: { created: 2, linked: 1 }, providers: 4 });
    const again = await fixture.jobs.addOutcomes(jobId, { failed: 1 });
    expect(again).toMatchObject({ settled: 4, counts: { created: 2, linked: 1, failed: 1 } });
    expect(await fixture.jobs.addOutcomes('never-created', { created: 1 })).toBeUndefined();
    expect(await fixture.jobs.get('never-created')).toBeUndefined();
  });

  it('advances a phase only when all its rows settled, and only once', async () => {
    const jobId = await newJob();
    await fixture.jobs.finishPlanning(jobId, totals(2, 1), JOB_PHASES.providers);
    await fixture.jobs.saveCursor(jobId, JOB_PHASES.providers, 5);
    await fixture.jobs.addOutcomes(jobId, { created: 1 });
    expect(await fixture.jobs.advance(jobId, JOB_PHASES.providers)).toBe(false);
    await fixture.jobs.addOutcomes(jobId, { created: 1 });
    expect(await fixture.jobs.advance(jobId, JOB_PHASES.providers)).toBe(true);
    expect(await fixture.jobs.advance(jobId, JOB_PHASES.providers)).toBe(false);
    expect(await fixture.jobs.get(jobId)).toMatchObject({ phase: JOB_PHASES.clients, cursor: 0 });
    expect(await fixture.jobs.advance(jobId, JOB_PHASES.clients)).toBe(false);
    await fixture.jobs.addOutcomes(jobId, { linked: 1 });
    expect(await fixture.jobs.advance(jobId, JOB_PHASES.clients)).toBe(true);
    const done = await fixture.jobs.get(jobId);
    expect(done?.phase).toBe(JOB_PHASES.completed);
    expect(done?.completedAt).toBeDefined();
  });

  it('keeps the mode, and the provider phase’s created and linked counts when it ends', async () => {
    const jobId = `job-mode-${nextId++}`;
    await fixture.jobs.create({
      jobId,
      format: 'ndjson',
      source: { bucket: 'imports', key: 'k' },
      dryRun: false,
      mode: 'auto',
    });
    await fixture.jobs.finishPlanning(jobId, totals(3, 2), JOB_PHASES.providers);
    await fixture.jobs.addOutcomes(jobId, { created: 1, linked: 2 });
    expect((await fixture.jobs.get(jobId))?.providerPhaseCounts).toBeUndefined();
    expect(await fixture.jobs.advance(jobId, JOB_PHASES.providers)).toBe(true);
    await fixture.jobs.addOutcomes(jobId, { created: 2 });
    expect(await fixture.jobs.get(jobId)).toMatchObject({
      mode: 'auto',
      counts: { created: 3, linked: 2 },
      providerPhaseCounts: { created: 1, linked: 2 },
    });
    // A job stored without a mode is check-first.
    expect((await fixture.jobs.get(await newJob()))?.mode).toBe('check-first');
  });

  it('fails a job with its reason, but never a finished one', async () => {
    const jobId = await newJob();
    await fixture.jobs.fail(jobId, 'line 1: (header): the column kind is missing');
    expect(await fixture.jobs.get(jobId)).toMatchObject({
      phase: JOB_PHASES.failed,
      error: 'line 1: (header): the column kind is missing',
    });
    const finished = await newJob();
    await fixture.jobs.finishPlanning(finished, totals(0, 0), JOB_PHASES.completed);
    await fixture.jobs.fail(finished, 'late');
    expect((await fixture.jobs.get(finished))?.phase).toBe(JOB_PHASES.completed);
  });
});
