/**
 * The per-user lease (`lib/store/user-lease.ts`, taken by `lib/sync/message-lease.ts`) on
 * dynalite over HTTP: one holder at a time, a
 * redelivery of the holder takes it back, a crashed holder's lease runs out, a late release never
 * frees another holder's lease, the lease lives on the mapping item (a save gives it back, a
 * claim rides on it); and through the SQS consumer on fauxqs, a message of a user whose
 * lease another queue's message holds is deferred without a counted attempt and without touching
 * Upheal, then applied once the lease is free.
 */
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueKey } from '#infra/resources.ts';
import { UserBusyError } from '#lib/errors.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { NoOutbound } from '#lib/outbound/outbound-events.ts';
import { sqsConsumer } from '#lib/sqs/consumer.ts';
import { attemptsKey, mappingKey } from '#lib/store/keys.ts';
import { DynamoUserLeases, USER_LEASE_MS } from '#lib/store/user-lease.ts';
import { messageLease } from '#lib/sync/message-lease.ts';
import type { UphealPort } from '#lib/sync/ports.ts';
import { assignProvidersWork, syncUserWork } from '#lib/sync/record-work.ts';
import { syncUser } from '#lib/sync/sync-user.ts';
import { clientEvent, providerEvent } from '#test/helpers/events.ts';
import { type SyncFixture, startSyncFixture } from '#test/helpers/sync-fixture.ts';
import { toSqsEvent } from '#tools/local/sqs-event.ts';

let fixture: SyncFixture;
let clock = Date.parse('2026-12-01T10:00:00.000Z');
const logger = createLogger('user-lease-test');
logger.setLogLevel('SILENT');
const context = {
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

/** Leases on the fixture's table, read at the test's own clock. */
const leases = () =>
  new DynamoUserLeases({
    client: fixture.documents,
    tableName: fixture.tableName,
    now: () => clock,
  });

/** Whether `owner` got the user's lease. */
async function takes(store: DynamoUserLeases, partnerUserId: string, owner: string) {
  return (await store.acquire(partnerUserId, owner)).taken;
}

beforeAll(async () => {
  fixture = await startSyncFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

describe('DynamoUserLeases', () => {
  it('gives the lease to one owner at a time, and to the next once it is released', async () => {
    const store = leases();
    expect(await takes(store, 'p-lease-1', 'msg-live')).toBe(true);
    expect(await takes(store, 'p-lease-1', 'msg-import')).toBe(false);
    // Another user's lease is independent.
    expect(await takes(store, 'p-lease-2', 'msg-import')).toBe(true);
    await store.release('p-lease-1', 'msg-live');
    expect(await takes(store, 'p-lease-1', 'msg-import')).toBe(true);
    expect(await takes(store, 'p-lease-1', 'msg-live')).toBe(false);
  });

  it('lets a redelivery of the holding message take its lease back at once', async () => {
    const store = leases();
    expect(await takes(store, 'p-lease-3', 'msg-crashed')).toBe(true);
    expect(await takes(store, 'p-lease-3', 'msg-crashed')).toBe(true);
    expect(await takes(store, 'p-lease-3', 'msg-other')).toBe(false);
  });

  it('frees the lease of a holder that died once it runs out, and its late release frees nothing', async () => {
    const store = leases();
    expect(await takes(store, 'p-lease-4', 'msg-dead')).toBe(true);
    clock += USER_LEASE_MS - 1;
    expect(await takes(store, 'p-lease-4', 'msg-next')).toBe(false);
    clock += 2;
    expect(await takes(store, 'p-lease-4', 'msg-next')).toBe(true);
    // The dead worker's release (say it was only slow) must not free the new holder's lease.
    await store.release('p-lease-4', 'msg-dead');
    expect(await takes(store, 'p-lease-4', 'msg-third')).toBe(false);
  });
});

/** The user's item as the table holds it (mapping, lease and claim). */
async function userItem(partnerUserId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await fixture.documents.send(
    new GetCommand({ TableName: fixture.tableName, Key: mappingKey(partnerUserId) }),
  );
  return Item;
}

/** The holder of a user's lease, as the table holds it. */
async function leaseHolder(partnerUserId: string): Promise<string | undefined> {
  return (await userItem(partnerUserId))?.leaseOwner as string | undefined;
}

describe('messageLease', () => {
  const providerBody = (id: string) =>
    ({
      email: `${id}@example.com`,
      firstName: 'Lease',
      lastName: 'Test',
      partnerUserId: id,
    }) as Parameters<UphealPort['createProvider']>[0];

  it('writes no lease while a message only reads or looks a user up, takes it at the first change, gives it back', async () => {
    const lease = messageLease(leases(), fixture.mappings, 'p-ml-1', 'msg-1');
    expect(await lease.mappings.get('p-ml-1')).toBeUndefined();
    await lease.decorate(fixture.upheal).checkUser('p-ml-1@example.com');
    expect(await userItem('p-ml-1')).toBeUndefined();
    await lease.decorate(fixture.upheal).createProvider(providerBody('p-ml-1'));
    expect(await leaseHolder('p-ml-1')).toBe('msg-1');
    // A user with no mapping yet: the lease sits on a shell item the TTL removes, no mapping.
    expect(await userItem('p-ml-1')).toMatchObject({ expiresAt: expect.any(Number) });
    expect(await fixture.mappings.get('p-ml-1')).toBeUndefined();
    await lease.release();
    expect(await leaseHolder('p-ml-1')).toBeUndefined();
  });

  it('refuses a second message while the first holds the lease, as a wait, before its call', async () => {
    const first = messageLease(leases(), fixture.mappings, 'p-ml-2', 'msg-first');
    await first.decorate(fixture.upheal).createProvider(providerBody('p-ml-2'));
    const callsBefore = fixture.simulator.stats().totalCalls;
    const second = messageLease(leases(), fixture.mappings, 'p-ml-2', 'msg-second');
    // A busy user, never a missing dependency: it must not fail when the dependency wait is over.
    const busy = second.decorate(fixture.upheal).updateUser('u-any', { firstName: 'Second' });
    await expect(busy).rejects.toBeInstanceOf(UserBusyError);
    await expect(busy).rejects.toMatchObject({ longestHoldMs: USER_LEASE_MS });
    expect(fixture.simulator.stats().totalCalls).toBe(callsBefore);
    await second.release();
    expect(await leaseHolder('p-ml-2')).toBe('msg-first');
    await first.release();
    const again = messageLease(leases(), fixture.mappings, 'p-ml-2', 'msg-second');
    await expect(again.mappings.claim('p-ml-2', 'msg-second', 1_000, {})).resolves.toBe(true);
    expect(await leaseHolder('p-ml-2')).toBe('msg-second');
    await again.release();
  });

  it('takes the lease before the first mapping write, and starts again when the user changed since it was read', async () => {
    const lease = messageLease(leases(), fixture.mappings, 'p-ml-3', 'msg-older');
    expect(await lease.mappings.get('p-ml-3')).toBeUndefined();
    // Another message maps the user meanwhile (its own lease given back).
    await syncUser(providerEvent('p-ml-3', 1), { claimOwner: 'msg-newer' }, fixture.deps);
    const callsBefore = fixture.simulator.stats().totalCalls;
    await expect(
      lease.decorate(fixture.upheal).createProvider(providerBody('p-ml-3')),
    ).rejects.toThrow(/changed by another message/);
    expect(fixture.simulator.stats().totalCalls).toBe(callsBefore);
    await lease.release();
    expect(await leaseHolder('p-ml-3')).toBeUndefined();
    // The mapping the other message saved is intact.
    expect(await fixture.mappings.get('p-ml-3')).toMatchObject({ state: 'active' });
  });

  it('claims a create with the lease in one write, and the mapping save gives both back', async () => {
    const lease = messageLease(leases(), fixture.mappings, 'p-ml-4', 'msg-create');
    expect(await lease.mappings.get('p-ml-4')).toBeUndefined();
    const pending = { email: 'p-ml-4@example.com', fields: ['pronoun'] };
    await expect(lease.mappings.claim('p-ml-4', 'msg-create', 1_000, pending)).resolves.toBe(true);
    expect(await userItem('p-ml-4')).toMatchObject({
      leaseOwner: 'msg-create',
      createEmail: pending.email,
    });
    expect(await fixture.mappings.pendingCreate('p-ml-4')).toEqual(pending);
    expect(await fixture.mappings.createClaimantsOf('P-ML-4@example.com ')).toEqual(['p-ml-4']);
    const draft = {
      partnerUserId: 'p-ml-4',
      kind: 'provider',
      state: 'active',
      uphealUserId: 'u-4',
    } as const;
    await expect(lease.mappings.save(draft, undefined)).resolves.toBe(true);
    const item = await userItem('p-ml-4');
    expect(item).toMatchObject({ rev: 1, uphealUserId: 'u-4' });
    for (const gone of [
      'leaseOwner',
      'leaseUntil',
      'createEmail',
      'createEmailHash',
      'expiresAt',
    ]) {
      expect(item).not.toHaveProperty(gone);
    }
    expect(await fixture.mappings.createClaimantsOf('p-ml-4@example.com')).toEqual([]);
    // A change after the save takes the lease again (the basis is this message's own save).
    await lease
      .decorate(fixture.upheal)
      .updateUser('u-4', { firstName: 'Again' })
      .catch(() => undefined);
    expect(await leaseHolder('p-ml-4')).toBe('msg-create');
    await lease.release();
    expect(await leaseHolder('p-ml-4')).toBeUndefined();
    expect(await fixture.mappings.get('p-ml-4')).toMatchObject({ rev: 1 });
  });

  it("answers a claim from the message's first read, and never replaces a claim it did not see", async () => {
    const reader = messageLease(leases(), fixture.mappings, 'p-ml-6', 'msg-reader');
    expect(await reader.mappings.get('p-ml-6')).toBeUndefined();
    // What the first read saw (no claim), without reading the item again.
    expect(await reader.mappings.pendingCreate('p-ml-6')).toBeUndefined();
    // Meanwhile another message claims a create with another email and dies; its lease runs out.
    const crashed = messageLease(leases(), fixture.mappings, 'p-ml-6', 'msg-crashed', 1_000);
    expect(await crashed.mappings.get('p-ml-6')).toBeUndefined();
    const orphan = { email: 'p-ml-6-old@example.com' };
    await expect(crashed.mappings.claim('p-ml-6', 'msg-crashed', 1_000, orphan)).resolves.toBe(
      true,
    );
    clock += 2_000;
    // The reader's claim would replace the orphan's email unseen: the user is busy instead, and
    // the message starts over from a fresh read (which finds the orphan's email).
    await expect(
      reader.mappings.claim('p-ml-6', 'msg-reader', 1_000, { email: 'p-ml-6@example.com' }),
    ).rejects.toBeInstanceOf(UserBusyError);
    expect(await fixture.mappings.pendingCreate('p-ml-6')).toEqual(orphan);
    const fresh = messageLease(leases(), fixture.mappings, 'p-ml-6', 'msg-reader');
    expect(await fresh.mappings.get('p-ml-6')).toBeUndefined();
    expect(await fresh.mappings.pendingCreate('p-ml-6')).toEqual(orphan);
    await expect(
      fresh.mappings.claim('p-ml-6', 'msg-reader', 1_000, { email: 'p-ml-6@example.com' }),
    ).resolves.toBe(true);
    expect(await fixture.mappings.pendingCreate('p-ml-6')).toEqual({ email: 'p-ml-6@example.com' });
    // After its own claim the message sees that claim, and may claim again (its own claim stands).
    expect(await fresh.mappings.pendingCreate('p-ml-6')).toEqual({ email: 'p-ml-6@example.com' });
    await expect(
      fresh.mappings.claim('p-ml-6', 'msg-reader', 1_000, { email: 'p-ml-6-new@example.com' }),
    ).resolves.toBe(true);
    await fresh.release();
  });

  it('keeps a tombstone when its user is claimed again: the lease on the item, the claim apart', async () => {
    const draft = {
      partnerUserId: 'p-ml-5',
      kind: 'provider',
      state: 'deleted',
      uphealUserId: 'u-5',
    } as const;
    await fixture.mappings.save(draft, undefined);
    const lease = messageLease(leases(), fixture.mappings, 'p-ml-5', 'msg-recreate');
    expect(await lease.mappings.get('p-ml-5')).toMatchObject({ state: 'deleted' });
    await lease.mappings.claim('p-ml-5', 'msg-recreate', 1_000, { email: 'p-ml-5@example.com' });
    const item = await userItem('p-ml-5');
    expect(item).toMatchObject({ leaseOwner: 'msg-recreate', state: 'deleted' });
    expect(item).not.toHaveProperty('expiresAt');
    expect(await fixture.mappings.pendingCreate('p-ml-5')).toMatchObject({
      email: 'p-ml-5@example.com',
    });
    await lease.release();
    expect(await fixture.mappings.get('p-ml-5')).toMatchObject({ state: 'deleted', rev: 1 });
  });
});

/** Sends one body to a queue and receives it back as a one-record SQS event. */
async function recordOn(key: QueueKey, body: string, group: string) {
  const url = fixture.queues.queueUrls[key];
  await fixture.sqs.send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: `${group}-${Date.now()}-${Math.random()}`,
    }),
  );
  for (let attempt = 0; attempt < 10; attempt++) {
    const { Messages = [] } = await fixture.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    if (Messages.length > 0)
      return toSqsEvent(Messages, fixture.queues.queueArns[key], 'us-east-1');
  }
  throw new Error(`no message received from ${key}`);
}

/** The consumer's counted attempts of a message (undefined: none counted). */
async function attemptsOf(messageId: string): Promise<number | undefined> {
  const { Item } = await fixture.documents.send(
    new GetCommand({ TableName: fixture.tableName, Key: attemptsKey(messageId) }),
  );
  return Item?.attempts as number | undefined;
}

describe('the consumers under the per-user lease', () => {
  const consumerDeps = () => ({
    sqs: fixture.sqs,
    failures: fixture.failures,
    logger,
    maxAttempts: 3,
    dependencyWaitMs: 60_000,
  });

  it('defers a live event while an import message holds the user, uncounted and without an Upheal call, then applies it', async () => {
    // The store's real clock: the mapping store the use case reads sees the lease as it does.
    const store = new DynamoUserLeases({ client: fixture.documents, tableName: fixture.tableName });
    const handler = sqsConsumer(
      consumerDeps(),
      syncUserWork({
        ...fixture.deps,
        upheal: fixture.uphealForMessage,
        outbound: new NoOutbound(),
        logger,
        leases: store,
        shareInviteUrl: false,
      }),
    );
    expect(await takes(store, 'p-lease-live', 'import-message-in-flight')).toBe(true);
    const callsBefore = fixture.simulator.stats().totalCalls;
    const event = await recordOn(
      'userEvents',
      JSON.stringify(providerEvent('p-lease-live', 0)),
      'p-lease-live',
    );
    const messageId = event.Records[0]!.messageId;

    const response = await handler(event, context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: messageId }]);
    expect(await attemptsOf(messageId)).toBeUndefined();
    expect(fixture.simulator.stats().totalCalls).toBe(callsBefore);
    expect(await fixture.mappings.get('p-lease-live')).toBeUndefined();

    await store.release('p-lease-live', 'import-message-in-flight');
    expect((await handler(event, context)).batchItemFailures).toEqual([]);
    expect((await fixture.mappings.get('p-lease-live'))?.state).toBe('active');
    // The applied message gave the lease back: the next message of the user gets it.
    expect(await takes(store, 'p-lease-live', 'next-message')).toBe(true);
  });

  it('defers an assignment command while an event of its client holds the lease, then assigns the list', async () => {
    // The store's real clock: the mapping store the use case reads sees the lease as it does.
    const store = new DynamoUserLeases({ client: fixture.documents, tableName: fixture.tableName });
    const context0 = { claimOwner: 'setup' };
    for (const provider of ['p-la-1', 'p-la-2']) {
      await syncUser(providerEvent(provider, 0), context0, fixture.deps);
    }
    await syncUser(clientEvent('c-lease-assign', ['p-la-1'], 1), context0, fixture.deps);
    await syncUser(
      {
        eventId: 'evt-lease-assign-list',
        type: 'client.providers_changed',
        occurredAt: '2026-11-27T10:02:00.000Z',
        partnerUserId: 'c-lease-assign',
        data: { providerPartnerUserIds: ['p-la-2', 'p-la-1'] },
      },
      context0,
      fixture.deps,
    );
    await fixture.drainAssignments();
    const handler = sqsConsumer(
      consumerDeps(),
      assignProvidersWork({
        mappings: fixture.mappings,
        upheal: fixture.uphealForMessage,
        outbound: new NoOutbound(),
        logger,
        leases: store,
      }),
    );
    const clientId = (await fixture.mappings.get('c-lease-assign'))!.uphealUserId!;
    const uphealIdOf = async (id: string) => (await fixture.mappings.get(id))!.uphealUserId!;
    const providersInUpheal = () =>
      fixture.simulator.users().find((user) => user.userId === clientId)?.providerUserIds;
    const before = providersInUpheal();

    expect(await takes(store, 'c-lease-assign', 'client-event-in-flight')).toBe(true);
    const event = await recordOn(
      'assignments',
      JSON.stringify({ clientPartnerUserId: 'c-lease-assign' }),
      'c-lease-assign',
    );
    const messageId = event.Records[0]!.messageId;
    const response = await handler(event, context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: messageId }]);
    expect(await attemptsOf(messageId)).toBeUndefined();
    expect(providersInUpheal()).toEqual(before);

    await store.release('c-lease-assign', 'client-event-in-flight');
    expect((await handler(event, context)).batchItemFailures).toEqual([]);
    expect(providersInUpheal()).toEqual([await uphealIdOf('p-la-2'), await uphealIdOf('p-la-1')]);
  });
});
