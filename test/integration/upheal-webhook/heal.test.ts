/**
 * The healer against real DynamoDB (dynalite over HTTP): mappings, claims, failure records and
 * traces as the other functions write them; outbound events and assignment commands recorded.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE } from '#infra/resources.ts';
import { NotReadyError } from '#lib/errors.ts';
import { DynamoJobStore } from '#lib/jobs/job-store.ts';
import type { OutboundEvent } from '#lib/outbound/outbound-events.ts';
import { planUpdate } from '#lib/sync/field-plan.ts';
import type { HealCommand } from '#lib/upheal-webhook/heal-command.ts';
import {
  type HealDeps,
  healCreatedUser,
  WORKER_SETTLE_MS,
} from '#lib/upheal-webhook/heal-created-user.ts';
import { DynamoHealStore } from '#lib/upheal-webhook/heal-store.ts';
import { type SyncFixture, startSyncFixture } from '#test/helpers/sync-fixture.ts';

let fixture: SyncFixture;
let store: DynamoHealStore;
const published: OutboundEvent[] = [];
const queued: string[] = [];
let now = Date.now();

beforeAll(async () => {
  fixture = await startSyncFixture();
  store = new DynamoHealStore(fixture.documents, fixture.tableName);
}, 60_000);
afterAll(async () => {
  await fixture?.stop();
});

function deps(): HealDeps {
  return {
    mappings: fixture.mappings,
    store,
    outbound: { publish: async (event) => void published.push(event) },
    assignments: { enqueue: async (id) => void queued.push(id) },
    now: () => now,
  };
}

function command(partnerUserId: string, uphealUserId: string): HealCommand {
  return {
    type: 'user.created',
    partnerUserId,
    uphealUserId,
    userKind: 'client',
    receivedAt: new Date(now).toISOString(),
  };
}

describe('healCreatedUser', () => {
  it('maps a client whose live event and import row failed, clears both failures and announces user.created', async () => {
    const jobs = new DynamoJobStore(fixture.documents, fixture.tableName);
    await jobs.create({
      jobId: 'job-1',
      format: 'ndjson',
      source: { records: [] },
      dryRun: false,
      exportedAt: new Date(now).toISOString(),
    });
    await fixture.failures.record({
      partnerUserId: 'c-failed',
      eventId: 'e-1',
      operation: 'client.created',
      reason: 'gave up waiting',
    });
    await fixture.failures.record({
      partnerUserId: 'c-failed',
      jobId: 'job-1',
      line: 7,
      operation: 'client.created',
      reason: 'gave up waiting',
    });
    await fixture.failures.record({
      partnerUserId: 'c-other',
      operation: 'client.created',
      reason: 'x',
    });

    const result = await healCreatedUser(command('c-failed', 'u-failed'), deps());

    expect(result).toMatchObject({ outcome: 'healed', clearedFailures: 2 });
    expect(await fixture.mappings.get('c-failed')).toMatchObject({
      kind: 'client',
      state: 'active',
      uphealUserId: 'u-failed',
      lastOutcome: 'created',
    });
    expect((await fixture.mappings.findByUphealId('u-failed'))?.partnerUserId).toBe('c-failed');
    const live = await fixture.failures.list();
    expect(live.map((failure) => failure.partnerUserId)).toEqual(['c-other']);
    expect(await fixture.failures.list('job-1')).toEqual([]);
    expect(published).toContainEqual(
      expect.objectContaining({
        type: 'user.created',
        partnerUserId: 'c-failed',
        uphealUserId: 'u-failed',
      }),
    );
    expect(await store.traceOf('c-failed')).toMatchObject({
      outcome: 'healed',
      uphealUserId: 'u-failed',
    });

    // A redelivery of the same webhook changes nothing more.
    const again = await healCreatedUser(command('c-failed', 'u-failed'), deps());
    expect(again.outcome).toBe('already-mapped');
  });

  it("moves a healed import row from failed to created in its job's counts, once", async () => {
    const jobs = new DynamoJobStore(fixture.documents, fixture.tableName);
    await jobs.create({
      jobId: 'job-2',
      format: 'ndjson',
      source: { records: [] },
      dryRun: false,
      exportedAt: new Date(now).toISOString(),
    });
    await jobs.addOutcomes('job-2', { created: 3, failed: 2 });
    for (const [partnerUserId, line] of [
      ['c-row', 4],
      ['c-row-2', 5],
    ] as const) {
      await fixture.failures.record({
        partnerUserId,
        jobId: 'job-2',
        line,
        operation: 'client.created',
        reason: 'gave up waiting',
      });
    }
    // An assignment's failure filed under the job is no row of it: it moves no count.
    await fixture.failures.record({
      partnerUserId: 'c-row',
      jobId: 'job-2',
      operation: 'assign-providers',
      reason: 'x',
    });

    const result = await healCreatedUser(command('c-row', 'u-row'), deps());
    expect(result).toMatchObject({ outcome: 'healed', clearedFailures: 2 });
    const job = await jobs.get('job-2');
    expect(job?.counts).toMatchObject({ created: 4, failed: 1 });
    expect(job?.settled).toBe(5);
    expect(job?.healed).toBe(1);
    expect((await fixture.failures.list('job-2')).map((f) => f.partnerUserId)).toEqual(['c-row-2']);

    // The same row healed again (a record found twice, a redelivery) moves nothing more.
    expect(await jobs.healRow('job-2', 'c-row')).toBe(false);
    expect((await jobs.get('job-2'))?.counts).toMatchObject({ created: 4, failed: 1 });
    // A row healed before its invocation counted its failure ends counted right as well.
    expect(await jobs.healRow('job-2', 'c-row-3')).toBe(true);
    await jobs.addOutcomes('job-2', { failed: 1 });
    expect(await jobs.get('job-2')).toMatchObject({
      counts: { created: 5, failed: 1 },
      healed: 2,
      settled: 6,
    });
  });

  it('leaves a claimed create to its worker while the webhook is young, then heals it', async () => {
    expect(await fixture.mappings.claim('c-waiting', 'msg-1', 60_000)).toBe(true);
    const young = command('c-waiting', 'u-waiting');
    await expect(healCreatedUser(young, deps())).rejects.toBeInstanceOf(NotReadyError);
    expect(await fixture.mappings.get('c-waiting')).toBeUndefined();
    now += WORKER_SETTLE_MS;
    const result = await healCreatedUser(young, deps());
    expect(result.outcome).toBe('healed');
    expect((await fixture.mappings.get('c-waiting'))?.uphealUserId).toBe('u-waiting');
  });

  it('finishes a heal whose delivery stopped after the mapping write: failures cleared, partner told', async () => {
    await fixture.mappings.save(
      {
        partnerUserId: 'c-half',
        kind: 'client',
        state: 'active',
        uphealUserId: 'u-half',
        lastOutcome: 'created',
      },
      undefined,
    );
    await fixture.failures.record({
      partnerUserId: 'c-half',
      operation: 'client.created',
      reason: 'x',
    });
    const result = await healCreatedUser(command('c-half', 'u-half'), deps());
    expect(result).toMatchObject({ outcome: 'already-mapped', clearedFailures: 1 });
    expect((await fixture.failures.list()).map((failure) => failure.partnerUserId)).not.toContain(
      'c-half',
    );
    expect(published).toContainEqual(
      expect.objectContaining({
        type: 'user.created',
        partnerUserId: 'c-half',
        uphealUserId: 'u-half',
      }),
    );
  });

  it('keeps what the lost create was sent with, so a later email or clear is reported as not applied', async () => {
    expect(
      await fixture.mappings.claim('c-pending', 'msg-3', 60_000, {
        email: 'c-pending@example.com',
        fields: ['pronoun'],
      }),
    ).toBe(true);
    const pendingCommand = command('c-pending', 'u-pending');
    now += WORKER_SETTLE_MS;
    expect((await healCreatedUser(pendingCommand, deps())).outcome).toBe('healed');
    const healed = (await fixture.mappings.get('c-pending'))!;
    const next = {
      firstName: 'Cam',
      lastName: 'Client',
      providerPartnerUserIds: ['p-1'],
      email: 'c-pending-new@example.com',
    };
    expect(planUpdate(healed, 'client', next).unappliedFields).toEqual(['email', 'pronoun']);
    expect(
      planUpdate(healed, 'client', {
        ...next,
        email: 'c-pending@example.com',
        pronoun: 'FeminineHer',
      }).unappliedFields,
    ).toEqual([]);

    // A client created without email: Upheal has none, so a later one is reported.
    expect(await fixture.mappings.claim('c-no-email', 'msg-4', 60_000, { fields: [] })).toBe(true);
    const emaillessCommand = command('c-no-email', 'u-no-email');
    now += WORKER_SETTLE_MS;
    expect((await healCreatedUser(emaillessCommand, deps())).outcome).toBe('healed');
    const emailless = (await fixture.mappings.get('c-no-email'))!;
    expect(planUpdate(emailless, 'client', next).unappliedFields).toEqual(['email']);
  });

  it('heals a re-create whose answer was lost over an older delete, keeping the delete version', async () => {
    const deletedAt = { ms: Date.parse('2026-11-27T10:00:09.000Z'), eventId: 'e-9' };
    await fixture.mappings.save(
      { partnerUserId: 'c-again', kind: 'client', state: 'deleted', version: deletedAt },
      undefined,
    );
    const recreatedAt = { ms: Date.parse('2026-11-27T10:00:12.000Z'), eventId: 'e-12' };
    expect(
      await fixture.mappings.claim(
        'c-again',
        'msg-5',
        60_000,
        { fields: [], version: recreatedAt },
        1, // the tombstone's revision, which the re-create was decided on
      ),
    ).toBe(true);
    const again = command('c-again', 'u-again');
    now += WORKER_SETTLE_MS;
    expect((await healCreatedUser(again, deps())).outcome).toBe('healed');
    expect(await fixture.mappings.get('c-again')).toMatchObject({
      state: 'active',
      uphealUserId: 'u-again',
      version: deletedAt,
    });
    // A redelivery finds its own mapping.
    expect((await healCreatedUser(again, deps())).outcome).toBe('already-mapped');

    // A create older than the delete (its user deleted since): left deleted.
    await fixture.mappings.save(
      { partnerUserId: 'c-gone', kind: 'client', state: 'deleted', version: deletedAt },
      undefined,
    );
    expect(
      await fixture.mappings.claim(
        'c-gone',
        'msg-6',
        60_000,
        { fields: [], version: { ms: deletedAt.ms - 1_000, eventId: 'e-8' } },
        1,
      ),
    ).toBe(true);
    const gone = command('c-gone', 'u-gone');
    now += WORKER_SETTLE_MS;
    expect((await healCreatedUser(gone, deps())).outcome).toBe('deleted');
    expect((await fixture.mappings.get('c-gone'))?.state).toBe('deleted');
  });

  it('never links an Upheal user mapped to another partner user', async () => {
    expect(await fixture.mappings.claim('c-second', 'msg-2', 60_000)).toBe(true);
    now += 20_000;
    const result = await healCreatedUser(command('c-second', 'u-failed'), deps());
    expect(result).toMatchObject({ outcome: 'conflict' });
    expect(result.reason).toContain('c-failed');
    expect(await fixture.mappings.get('c-second')).toBeUndefined();
  });

  it("announces the lost create's own event, never another event's refusal", async () => {
    const createdAt = { ms: Date.parse('2026-11-27T10:00:20.000Z'), eventId: 'e-create' };
    await fixture.failures.record({
      partnerUserId: 'c-cause',
      eventId: 'e-refused',
      operation: 'client.updated',
      reason: 'occurredAt: must not be more than 300 seconds in the future',
    });
    await fixture.failures.record({
      partnerUserId: 'c-cause',
      eventId: 'e-create',
      operation: 'client.created',
      reason: 'gave up waiting',
    });
    expect(
      await fixture.mappings.claim('c-cause', 'msg-7', 60_000, { fields: [], version: createdAt }),
    ).toBe(true);
    const first = command('c-cause', 'u-cause');
    now += WORKER_SETTLE_MS;
    expect((await healCreatedUser(first, deps())).outcome).toBe('healed');
    const about = (id: string) =>
      published.filter((event) => 'partnerUserId' in event && event.partnerUserId === id);
    const announced = about('c-cause');
    expect(announced.map((event) => ('eventId' in event ? event.eventId : undefined))).toEqual([
      'e-create',
    ]);

    // Only another event's failure: the announcement names no event.
    await fixture.failures.record({
      partnerUserId: 'c-cause-2',
      eventId: 'e-refused-2',
      operation: 'client.updated',
      reason: 'occurredAt: must not be more than 300 seconds in the future',
    });
    expect(
      await fixture.mappings.claim('c-cause-2', 'msg-8', 60_000, {
        fields: [],
        version: createdAt,
      }),
    ).toBe(true);
    const next = command('c-cause-2', 'u-cause-2');
    now += WORKER_SETTLE_MS;
    expect((await healCreatedUser(next, deps())).outcome).toBe('healed');
    const second = about('c-cause-2');
    expect(second).toHaveLength(1);
    expect(second[0] && 'eventId' in second[0] ? second[0].eventId : undefined).toBeUndefined();
  });

  it('only traces a partner id it never sent', async () => {
    const before = published.length;
    const result = await healCreatedUser(command('c-stranger', 'u-stranger'), deps());
    expect(result.outcome).toBe('unknown-partner-user');
    expect(await fixture.mappings.get('c-stranger')).toBeUndefined();
    expect(published).toHaveLength(before);
    expect(await store.traceOf('c-stranger')).toMatchObject({
      partnerUserId: 'c-stranger',
      uphealUserId: 'u-stranger',
      outcome: 'unknown-partner-user',
    });
    // A trace is no mapping: it stays out of the reverse index and the active-user count.
    const { Items = [] } = await fixture.documents.send(
      new QueryCommand({
        TableName: fixture.tableName,
        IndexName: TABLE.reverseIndex.name,
        KeyConditionExpression: '#id = :id',
        ExpressionAttributeNames: { '#id': TABLE.reverseIndex.partitionKey },
        ExpressionAttributeValues: { ':id': 'u-stranger' },
      }),
    );
    expect(Items).toEqual([]);
  });
});
