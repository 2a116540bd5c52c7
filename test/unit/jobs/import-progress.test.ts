import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_MIN_SAMPLE, type ImportMode } from '#lib/import/import-mode.ts';
import {
  advanceIfSettled,
  BatchedImportProgress,
  flushingAfter,
  JOB_COUNTS_MAX_AGE_MS,
} from '#lib/jobs/import-progress.ts';
import { JOB_PHASES } from '#lib/jobs/job.ts';
import { type LedgerFixture, startLedgerFixture } from './ledger-fixture.ts';

let fixture: LedgerFixture;
beforeAll(async () => {
  fixture = await startLedgerFixture();
});
afterAll(async () => {
  await fixture?.stop();
});

let nextId = 0;
/** A job past planning with the given totals, in phase `providers`. */
async function jobWith(providers: number, clients: number, mode?: ImportMode): Promise<string> {
  nextId += 1;
  const jobId = `progress-${nextId}`;
  await fixture.jobs.create({
    jobId,
    format: 'ndjson',
    source: { records: [] },
    dryRun: false,
    exportedAt: '2026-11-27T10:00:00.000Z',
    mode,
  });
  const plan = {
    providers,
    clients,
    invalid: 0,
    alreadyMapped: 0,
    toCheck: 0,
    creates: 0,
    assignmentCalls: 0,
    totalCalls: 0,
  };
  await fixture.jobs.finishPlanning(
    jobId,
    { exportedAt: '2026-11-27T10:00:00.000Z', providers, clients, invalid: 0, plan },
    JOB_PHASES.providers,
  );
  return jobId;
}

/** Records `n` outcomes of `outcome` for `jobId`. */
async function record(
  progress: BatchedImportProgress,
  jobId: string,
  outcome: 'created' | 'linked',
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i += 1) await progress.recordOutcome(jobId, outcome);
}

describe('BatchedImportProgress: auto mode', () => {
  it('creates first until the sample is large enough, then while few users are found', async () => {
    const sample = AUTO_MIN_SAMPLE;
    const jobId = await jobWith(3 * sample, 10, 'auto');
    const progress = new BatchedImportProgress(fixture.ledger());
    await record(progress, jobId, 'linked', sample - 1);
    await progress.flush();
    // Every user so far was found in Upheal, but the sample is too small to trust.
    expect(await progress.autoCreatesFirst(jobId, 'provider')).toBe(true);
    await record(progress, jobId, 'created', sample);
    await progress.flush();
    expect(await progress.autoCreatesFirst(jobId, 'provider')).toBe(true);
    await record(progress, jobId, 'linked', 2);
    await progress.flush();
    // 31 found of 61: above the break-even share.
    expect(await progress.autoCreatesFirst(jobId, 'provider')).toBe(false);
  });

  it('judges the client phase on its own counts, read again once the phase moved', async () => {
    const providers = AUTO_MIN_SAMPLE;
    const jobId = await jobWith(providers, 50, 'auto');
    const progress = new BatchedImportProgress(fixture.ledger());
    await record(progress, jobId, 'linked', providers - 1);
    await progress.flush();
    expect(await progress.autoCreatesFirst(jobId, 'provider')).toBe(true);
    // Another worker settles the last provider: this one still holds the provider phase's item.
    const other = new BatchedImportProgress(fixture.ledger());
    await record(other, jobId, 'linked', 1);
    await other.flush();
    expect(await other.autoCreatesFirst(jobId, 'provider')).toBe(false);
    // Every provider was found in Upheal; the client phase starts from zero: create first.
    expect(await progress.autoCreatesFirst(jobId, 'client')).toBe(true);
    await record(progress, jobId, 'created', AUTO_MIN_SAMPLE);
    await progress.flush();
    expect(await progress.autoCreatesFirst(jobId, 'client')).toBe(true);
  });

  it('reads the job at most once per period when it has not flushed', async () => {
    const jobId = await jobWith(5, 5, 'auto');
    let now = 1_000_000;
    const deps = fixture.ledger();
    let reads = 0;
    const counting = {
      ...deps,
      now: () => now,
      jobs: Object.assign(Object.create(deps.jobs), {
        get: (id: string) => {
          reads += 1;
          return deps.jobs.get(id);
        },
      }),
    };
    const progress = new BatchedImportProgress(counting);
    await Promise.all([
      progress.autoCreatesFirst(jobId, 'provider'),
      progress.autoCreatesFirst(jobId, 'provider'),
    ]);
    await progress.autoCreatesFirst(jobId, 'provider');
    expect(reads).toBe(1);
    now += JOB_COUNTS_MAX_AGE_MS + 1;
    await progress.autoCreatesFirst(jobId, 'provider');
    expect(reads).toBe(2);
  });
});

describe('BatchedImportProgress', () => {
  it('writes nothing until flushed, then one counted write per job', async () => {
    const jobId = await jobWith(5, 5);
    const deps = fixture.ledger();
    const progress = new BatchedImportProgress(deps);
    await progress.recordOutcome(jobId, 'created');
    await progress.recordOutcome(jobId, 'linked');
    await progress.recordOutcome(jobId, 'failed');
    await progress.recordOutcome(jobId, 'providers-recorded');
    expect((await fixture.jobs.get(jobId))?.settled).toBe(0);
    await progress.flush();
    expect(await fixture.jobs.get(jobId)).toMatchObject({
      settled: 4,
      counts: { created: 1, linked: 1, failed: 1, skipped: 1 },
    });
    await progress.flush();
    expect((await fixture.jobs.get(jobId))?.settled).toBe(4);
    expect(deps.control.sent).toEqual([]);
  });

  it('starts the client phase once when the last provider settles', async () => {
    const jobId = await jobWith(2, 1);
    const deps = fixture.ledger();
    const progress = new BatchedImportProgress(deps);
    await progress.recordOutcome(jobId, 'created');
    await progress.flush();
    expect((await fixture.jobs.get(jobId))?.phase).toBe(JOB_PHASES.providers);
    await progress.recordOutcome(jobId, 'updated');
    await progress.flush();
    expect((await fixture.jobs.get(jobId))?.phase).toBe(JOB_PHASES.clients);
    expect(deps.control.sent).toEqual([{ type: 'start-clients', jobId }]);
  });

  it('moves the phase exactly once when many workers settle the last providers together', async () => {
    const workers = 24;
    const jobId = await jobWith(workers, 3);
    const ledgers = Array.from({ length: workers }, () => fixture.ledger());
    const progresses = ledgers.map((deps) => new BatchedImportProgress(deps));
    for (const progress of progresses) await progress.recordOutcome(jobId, 'created');
    await Promise.all(progresses.map((progress) => progress.flush()));
    const sent = ledgers.flatMap((deps) => deps.control.sent);
    expect(sent).toEqual([{ type: 'start-clients', jobId }]);
    expect(await fixture.jobs.get(jobId)).toMatchObject({
      phase: JOB_PHASES.clients,
      settled: workers,
    });
  });

  it('completes the job exactly once, publishing import.completed with its counts', async () => {
    const jobId = await jobWith(1, 6);
    const first = fixture.ledger();
    const firstProgress = new BatchedImportProgress(first);
    await firstProgress.recordOutcome(jobId, 'linked');
    await firstProgress.flush();
    const ledgers = Array.from({ length: 6 }, () => fixture.ledger());
    await Promise.all(
      ledgers.map(async (deps, index) => {
        const progress = new BatchedImportProgress(deps);
        await progress.recordOutcome(jobId, index === 0 ? 'failed' : 'created');
        await progress.flush();
      }),
    );
    const published = ledgers.flatMap((deps) => deps.outbound.published);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      type: 'import.completed',
      jobId,
      counts: { providers: 1, clients: 6, settled: 7, created: 5, linked: 1, failed: 1 },
    });
    expect((await fixture.jobs.get(jobId))?.phase).toBe(JOB_PHASES.completed);
    expect(ledgers.flatMap((deps) => deps.control.sent)).toEqual([]);
  });

  it('moves an empty phase on when asked directly (no flush will ever come)', async () => {
    const jobId = await jobWith(0, 0);
    const deps = fixture.ledger();
    const job = await fixture.jobs.get(jobId);
    expect(await advanceIfSettled(job!, deps)).toBe(JOB_PHASES.clients);
    const clients = await fixture.jobs.get(jobId);
    expect(await advanceIfSettled(clients!, deps)).toBe(JOB_PHASES.completed);
    expect(await advanceIfSettled(clients!, deps)).toBe(JOB_PHASES.clients);
    expect(deps.control.sent).toEqual([{ type: 'start-clients', jobId }]);
    expect(deps.outbound.published).toHaveLength(1);
  });

  it('ignores outcomes of a job the ledger does not know', async () => {
    const deps = fixture.ledger();
    const progress = new BatchedImportProgress(deps);
    await progress.recordOutcome('unknown-job', 'created');
    await progress.flush();
    expect(await fixture.jobs.get('unknown-job')).toBeUndefined();
  });

  it('flushes after every invocation, also one that throws', async () => {
    const jobId = await jobWith(10, 0);
    const progress = new BatchedImportProgress(fixture.ledger());
    const handler = flushingAfter(async (fail: boolean) => {
      await progress.recordOutcome(jobId, 'created');
      if (fail) throw new Error('crash');
      return 'ok';
    }, progress);
    const context = {} as Parameters<typeof handler>[1];
    expect(await handler(false, context)).toBe('ok');
    await expect(handler(true, context)).rejects.toThrow('crash');
    expect((await fixture.jobs.get(jobId))?.settled).toBe(2);
  });
});
