/**
 * The sync-user and assign-providers use cases against real DynamoDB (dynalite) and SQS (fauxqs)
 * over HTTP and the Upheal simulator over HTTP: the correctness rules of SPEC §3.3.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AwaitingWebhookError,
  NotReadyError,
  ServerError,
  SlotUnavailableError,
  ValidationError,
} from '#lib/errors.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { mappingKey } from '#lib/store/keys.ts';
import type { MappingStore } from '#lib/store/mapping-store.ts';
import { assignProviders } from '#lib/sync/assign-providers.ts';
import { type SyncUserDeps, syncUser } from '#lib/sync/sync-user.ts';
import { clientEvent, deleted, providerEvent, providersChanged } from '#test/helpers/events.ts';
import {
  crashingBeforeMappingWrite,
  type SyncFixture,
  startSyncFixture,
  uphealWith,
} from '#test/helpers/sync-fixture.ts';

let fixture: SyncFixture;
let deliveries = 0;

/** Runs the use case as one SQS delivery would (each delivery has its own message id). */
function deliver(event: Parameters<typeof syncUser>[0], deps: SyncUserDeps = fixture.deps) {
  deliveries += 1;
  return syncUser(event, { claimOwner: `msg-${deliveries}`, eventId: event.eventId }, deps);
}

/** The mapping store, counting its writes (`save`). */
function countingSaves(): { store: MappingStore; saves: () => number } {
  const base = fixture.mappings;
  let saves = 0;
  const store: MappingStore = {
    get: (id) => base.get(id),
    getMany: (ids) => base.getMany(ids),
    save: (draft, expected) => {
      saves += 1;
      return base.save(draft, expected);
    },
    claim: (...args) => base.claim(...args),
    pendingCreate: (id) => base.pendingCreate(id),
    releaseClaim: (id) => base.releaseClaim(id),
    createClaimantsOf: (email) => base.createClaimantsOf(email),
    findByUphealId: (id) => base.findByUphealId(id),
    clientsOf: (id) => base.clientsOf(id),
    countActive: () => base.countActive(),
  };
  return { store, saves: () => saves };
}

/** Upheal calls made so far, by route. */
function calls(): number {
  return fixture.simulator.stats().totalCalls;
}

function simUsers() {
  return fixture.simulator.users();
}

beforeAll(async () => {
  fixture = await startSyncFixture({ deleteGuard: { maxCount: 2, maxShare: 1 } });
});

afterAll(async () => {
  await fixture?.stop();
});

afterEach(async () => {
  await fixture.drainAssignments();
});

describe('sync-user: create and link', () => {
  it('creates a new provider with one check and one create, and stores the mapping', async () => {
    const before = calls();
    const outcome = await deliver(providerEvent('p-create', 0));
    expect(outcome.kind).toBe('created');
    expect(calls() - before).toBe(2);
    const mapping = await fixture.mappings.get('p-create');
    expect(mapping).toMatchObject({ state: 'active', kind: 'provider' });
    const user = simUsers().find((u) => u.partnerUserId === 'p-create');
    expect(user?.userId).toBe(mapping?.uphealUserId);
    expect((await fixture.mappings.findByUphealId(user!.userId))?.partnerUserId).toBe('p-create');
    expect(outcome.kind === 'created' && outcome.inviteUrl).toMatch(
      /^https:\/\/app\.upheal\.io\/invite\//,
    );
  });

  it('links an existing Upheal user found by normalised email, giving it the event’s fields and our partner id', async () => {
    const [existing] = fixture.simulator.seedUsers({
      userType: 'HealthcareProvider',
      firstName: 'Seeded',
      lastName: 'Provider',
      email: 'p-existing@example.com',
    });
    const before = calls();
    const outcome = await deliver(
      providerEvent('p-existing', 0, { email: '  P-Existing@Example.com ' }),
    );
    expect(outcome).toMatchObject({ kind: 'linked', uphealUserId: existing!.userId });
    // The check, then one PUT /users/{id} with the event's names and the partner id.
    expect(calls() - before).toBe(2);
    const users = simUsers().filter((u) => u.email === 'p-existing@example.com');
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({
      partnerUserId: 'p-existing',
      firstName: 'Firstp-existing',
      lastName: 'Lastp-existing',
    });
  });

  it('makes no call for a duplicate delivery, and replays its outcome without the invite URL', async () => {
    const event = providerEvent('p-dup', 0);
    const first = await deliver(event);
    const before = calls();
    const again = await deliver(event);
    expect(calls()).toBe(before);
    expect(again).toEqual({
      kind: 'created',
      partnerUserId: 'p-dup',
      userKind: 'provider',
      uphealUserId: first.kind === 'created' ? first.uphealUserId : 'missing',
      replayed: true,
    });
  });

  it('treats an update of an unknown user as a create (upsert)', async () => {
    const outcome = await deliver(providerEvent('p-upsert', 0, {}, 'provider.updated'));
    expect(outcome.kind).toBe('created');
    expect(simUsers().some((u) => u.partnerUserId === 'p-upsert')).toBe(true);
  });

  it('links after a create answered 409 because the user appeared since the check', async () => {
    await deliver(providerEvent('p-race-provider', 0));
    fixture.simulator.seedUsers({
      userType: 'Client',
      firstName: 'Other',
      lastName: 'System',
      email: 'c-race@example.com',
    });
    // The check races with another system creating the same user: it still says "not there".
    let checks = 0;
    const racing = uphealWith(fixture.upheal, {
      checkUser: async (email) => {
        checks += 1;
        return checks === 1 ? { exists: false } : fixture.upheal.checkUser(email);
      },
    });
    const outcome = await deliver(clientEvent('c-race', ['p-race-provider'], 1), {
      ...fixture.deps,
      upheal: racing,
    });
    expect(outcome.kind).toBe('linked');
    expect(simUsers().filter((u) => u.email === 'c-race@example.com')).toHaveLength(1);
  });

  it("waits for Upheal's webhook when a client without email collides with an unmapped Upheal user", async () => {
    await deliver(providerEvent('p-noemail', 0));
    // Upheal already has this partner id (e.g. created by an earlier tool), without an email.
    fixture.simulator.seedUsers({
      userType: 'Client',
      partnerUserId: 'c-noemail',
      firstName: 'A',
      lastName: 'B',
    });
    await expect(
      deliver(clientEvent('c-noemail', ['p-noemail'], 1, { email: undefined })),
    ).rejects.toBeInstanceOf(AwaitingWebhookError);
    expect(simUsers().filter((u) => u.partnerUserId === 'c-noemail')).toHaveLength(1);
  });
});

describe('the create-path claim', () => {
  it('refuses another owner until the lease ends, and renews its own', async () => {
    let now = 1_800_000_000_000;
    const store = new DynamoMappingStore({
      client: fixture.documents,
      tableName: fixture.tableName,
      now: () => now,
    });
    // The claim is the user's lease, on the user's (shell) item, with what the create is sent with.
    const leaseUntil = async () => {
      const { Item } = await fixture.documents.send(
        new GetCommand({ TableName: fixture.tableName, Key: mappingKey('p-claim') }),
      );
      return Item?.leaseUntil as number | undefined;
    };
    expect(await store.claim('p-claim', 'msg-a', 60_000, { email: 'p-claim@example.com' })).toBe(
      true,
    );
    expect(await store.pendingCreate('p-claim')).toMatchObject({ email: 'p-claim@example.com' });
    expect(await store.claim('p-claim', 'msg-b', 60_000)).toBe(false);
    now += 20_000;
    // A redelivery of the same message takes it back and renews it.
    expect(await store.claim('p-claim', 'msg-a', 60_000)).toBe(true);
    expect(await leaseUntil()).toBe(now + 60_000);
    now += 60_001;
    expect(await store.claim('p-claim', 'msg-b', 60_000)).toBe(true);
    expect(await store.get('p-claim')).toBeUndefined();
  });

  it('refuses a claim when the mapping was saved since the caller read it', async () => {
    const draft = { partnerUserId: 'p-claim-late', kind: 'provider', state: 'active' } as const;
    expect(await fixture.mappings.save({ ...draft, uphealUserId: 'u-late' }, undefined)).toBe(true);
    // Decided on "no mapping": refused, and the lease it took for the write is given back.
    expect(await fixture.mappings.claim('p-claim-late', 'msg-a', 60_000, {})).toBe(false);
    expect(await fixture.mappings.claim('p-claim-late', 'msg-b', 60_000, {}, 1)).toBe(true);
  });
});

describe('sync-user: crashes and concurrency never create twice', () => {
  it('heals a crash between Upheal creating the user and the mapping write', async () => {
    const event = providerEvent('p-crash', 0);
    await expect(
      deliver(event, { ...fixture.deps, mappings: crashingBeforeMappingWrite(fixture.mappings) }),
    ).rejects.toThrow('worker crashed');
    expect(simUsers().filter((u) => u.partnerUserId === 'p-crash')).toHaveLength(1);
    // The redelivery (after the claim's lease, or by the same message) finds the user by email.
    const outcome = await syncUser(
      event,
      { claimOwner: `msg-${deliveries}`, eventId: event.eventId },
      fixture.deps,
    );
    expect(outcome.kind).toBe('linked');
    expect(simUsers().filter((u) => u.partnerUserId === 'p-crash')).toHaveLength(1);
  });

  it('reports a pronoun the crashed create set when a newer event without it links the user', async () => {
    const created = providerEvent('p-crash-pronoun', 0, { pronoun: 'NeutralThem' });
    await expect(
      deliver(created, { ...fixture.deps, mappings: crashingBeforeMappingWrite(fixture.mappings) }),
    ).rejects.toThrow('worker crashed');
    expect(simUsers().find((u) => u.partnerUserId === 'p-crash-pronoun')?.pronoun).toBe(
      'NeutralThem',
    );
    // The partner cleared the pronoun; Upheal cannot clear it, so the link must not claim it did.
    const cleared = providerEvent('p-crash-pronoun', 1, {}, 'provider.updated');
    const outcome = await syncUser(
      cleared,
      { claimOwner: `msg-${deliveries}-b`, eventId: cleared.eventId },
      fixture.deps,
    );
    expect(outcome).toMatchObject({ kind: 'linked', unappliedFields: ['pronoun'] });
    expect((await fixture.mappings.get('p-crash-pronoun'))?.unappliedFields).toEqual(['pronoun']);
  });

  it('heals a create that took effect but was answered 500', async () => {
    const event = providerEvent('p-500', 0);
    const failingCreate = uphealWith(fixture.upheal, {
      createProvider: async (body) => {
        fixture.simulator.setFaults({ createdButFailed: 1 });
        try {
          return await fixture.upheal.createProvider(body);
        } finally {
          fixture.simulator.setFaults({ createdButFailed: 0 });
        }
      },
    });
    await expect(deliver(event, { ...fixture.deps, upheal: failingCreate })).rejects.toBeInstanceOf(
      ServerError,
    );
    const outcome = await syncUser(
      event,
      { claimOwner: `msg-${deliveries}`, eventId: event.eventId },
      fixture.deps,
    );
    expect(outcome.kind).toBe('linked');
    expect(simUsers().filter((u) => u.partnerUserId === 'p-500')).toHaveLength(1);
  });

  it('claims only right before the create: a delivery deferred for a slot holds no claim', async () => {
    const noSlot = uphealWith(fixture.upheal, {
      checkUser: async () => {
        throw new SlotUnavailableError(500);
      },
    });
    await expect(
      deliver(providerEvent('p-deferred', 0), { ...fixture.deps, upheal: noSlot }),
    ).rejects.toBeInstanceOf(SlotUnavailableError);
    const { Item } = await fixture.documents.send(
      new GetCommand({ TableName: fixture.tableName, Key: mappingKey('p-deferred') }),
    );
    expect(Item).toBeUndefined();
    // Another worker may create it at once.
    expect((await deliver(providerEvent('p-deferred', 0))).kind).toBe('created');
  });

  it('lets only one of two concurrent deliveries for a new user run the create path', async () => {
    const live = providerEvent('p-twice', 0);
    const imported = { ...providerEvent('p-twice', 0), eventId: `${live.eventId}-import` };
    const results = await Promise.allSettled([deliver(live), deliver(imported)]);
    const created = results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'created');
    const waiting = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof NotReadyError,
    );
    const stale = results.filter((r) => r.status === 'fulfilled' && r.value.kind !== 'created');
    expect(created).toHaveLength(1);
    expect(waiting.length + stale.length).toBe(1);
    expect(simUsers().filter((u) => u.partnerUserId === 'p-twice')).toHaveLength(1);
  });
});

describe('sync-user: updates', () => {
  it('sends nothing when the fields did not change', async () => {
    await deliver(providerEvent('p-same', 0));
    const before = calls();
    const outcome = await deliver(providerEvent('p-same', 1, {}, 'provider.updated'));
    expect(outcome).toMatchObject({ kind: 'updated', changed: false });
    expect(calls()).toBe(before);
  });

  it('sends a name change to PUT /users/{id} and a licence change to PUT /users/providers/{id}', async () => {
    await deliver(providerEvent('p-change', 0));
    const before = fixture.simulator.stats().byRoute;
    await deliver(
      providerEvent(
        'p-change',
        1,
        { lastName: 'Renamed', therapyLicence: 'LCSW' },
        'provider.updated',
      ),
    );
    const user = simUsers().find((u) => u.partnerUserId === 'p-change');
    expect(user).toMatchObject({ lastName: 'Renamed', therapyLicence: 'LCSW' });
    const after = fixture.simulator.stats().byRoute;
    const count = (routes: typeof after, key: string) =>
      Object.values(routes[key] ?? {}).reduce((sum, n) => sum + n, 0);
    expect(count(after, 'updateUser') - count(before, 'updateUser')).toBe(1);
    expect(count(after, 'updateProvider') - count(before, 'updateProvider')).toBe(1);
  });

  it('reports an email change as a field Upheal cannot apply', async () => {
    await deliver(providerEvent('p-email', 0));
    const outcome = await deliver(
      providerEvent('p-email', 1, { email: 'p-email-new@example.com' }, 'provider.updated'),
    );
    expect(outcome).toMatchObject({ kind: 'updated', unappliedFields: ['email'] });
  });

  it('drops an event older than the last applied one', async () => {
    await deliver(providerEvent('p-order', 5, { lastName: 'Newest' }));
    const before = calls();
    expect(
      (await deliver(providerEvent('p-order', 1, { lastName: 'Older' }, 'provider.updated'))).kind,
    ).toBe('stale');
    expect(calls()).toBe(before);
    expect(simUsers().find((u) => u.partnerUserId === 'p-order')?.lastName).toBe('Newest');
  });

  it('rejects an event whose kind contradicts the mapping', async () => {
    await deliver(providerEvent('p-kind', 0));
    await expect(
      deliver(clientEvent('p-kind', ['p-kind'], 1, {}, 'client.updated')),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('sync-user: clients and provider assignments', () => {
  it('waits while the primary provider is not mapped', async () => {
    await expect(deliver(clientEvent('c-wait', ['p-missing'], 0))).rejects.toBeInstanceOf(
      NotReadyError,
    );
    expect(simUsers().some((u) => u.partnerUserId === 'c-wait')).toBe(false);
  });

  it('creates a single-provider client with its primary as therapist and queues nothing', async () => {
    await deliver(providerEvent('p-solo', 0));
    expect((await deliver(clientEvent('c-solo', ['p-solo'], 1))).kind).toBe('created');
    const provider = await fixture.mappings.get('p-solo');
    expect(simUsers().find((u) => u.partnerUserId === 'c-solo')?.providerUserIds).toEqual([
      provider!.uphealUserId,
    ]);
    expect((await fixture.mappings.get('c-solo'))?.assignedProviders).toEqual([
      provider!.uphealUserId,
    ]);
    expect(await fixture.drainAssignments()).toEqual([]);
  });

  it('sends a multi-provider client’s full list right after its create, in the same event', async () => {
    await deliver(providerEvent('p-a', 0));
    await deliver(providerEvent('p-b', 0));
    const before = calls();
    expect((await deliver(clientEvent('c-multi', ['p-a', 'p-b'], 1))).kind).toBe('created');
    // Check, create, replace: the minimum for a new multi-provider client.
    expect(calls() - before).toBe(3);
    expect(await fixture.drainAssignments()).toEqual([]);
    const [a, b] = [await fixture.mappings.get('p-a'), await fixture.mappings.get('p-b')];
    const ids = [a!.uphealUserId, b!.uphealUserId];
    expect(simUsers().find((u) => u.partnerUserId === 'c-multi')?.providerUserIds).toEqual(ids);
    expect(await fixture.mappings.get('c-multi')).toMatchObject({
      assignedProviders: ids,
      assignedPartnerProviders: ['p-a', 'p-b'],
    });
    // A later reconciliation finds Upheal already has the list: no call.
    expect(await assignProviders('c-multi', fixture.deps)).toMatchObject({ changed: false });
    expect(calls() - before).toBe(3);
  });

  it('queues the full list when the replace after the create fails, recording it as unknown', async () => {
    await deliver(providerEvent('p-f1', 0));
    await deliver(providerEvent('p-f2', 0));
    const failing = uphealWith(fixture.upheal, {
      replaceProviders: async () => {
        throw new ServerError('upheal replaceProviders: HTTP 503', 503, 'r-1', '{}');
      },
    });
    const outcome = await deliver(clientEvent('c-fail', ['p-f1', 'p-f2'], 1), {
      ...fixture.deps,
      upheal: failing,
    });
    expect(outcome.kind).toBe('created');
    expect((await fixture.mappings.get('c-fail'))?.assignedProviders).toBeUndefined();
    const commands = await fixture.drainAssignments();
    expect(commands.map((c) => c.clientPartnerUserId)).toEqual(['c-fail']);
    expect(await assignProviders('c-fail', fixture.deps)).toMatchObject({ changed: true });
  });

  it('queues the full list when a provider is not mapped at the create; no write before its call', async () => {
    await deliver(providerEvent('p-now', 0));
    await deliver(clientEvent('c-later', ['p-now', 'p-later'], 1));
    const commands = await fixture.drainAssignments();
    expect(commands.map((c) => c.clientPartnerUserId)).toEqual(['c-later']);
    await expect(assignProviders('c-later', fixture.deps)).rejects.toBeInstanceOf(NotReadyError);
    await deliver(providerEvent('p-later', 0));

    // Created with its list unknown (only the primary is assigned yet): no write needed to mark
    // it unknown before the replace, one to record the list after it.
    expect((await fixture.mappings.get('c-later'))?.assignedProviders).toBeUndefined();
    const counting = countingSaves();
    const before = calls();
    const outcome = await assignProviders('c-later', { ...fixture.deps, mappings: counting.store });
    expect(outcome).toMatchObject({ kind: 'providers-assigned', changed: true });
    expect(calls() - before).toBe(1);
    expect(counting.saves()).toBe(1);
    const [a, b] = [await fixture.mappings.get('p-now'), await fixture.mappings.get('p-later')];
    expect(simUsers().find((u) => u.partnerUserId === 'c-later')?.providerUserIds).toEqual([
      a!.uphealUserId,
      b!.uphealUserId,
    ]);
    const again = await assignProviders('c-later', fixture.deps);
    expect(again).toMatchObject({ changed: false });
    expect(calls() - before).toBe(1);
  });

  it('records a provider list that arrives before the client and applies it after the create', async () => {
    await deliver(providerEvent('p-early-1', 0));
    await deliver(providerEvent('p-early-2', 0));
    expect((await deliver(providersChanged('c-early', ['p-early-2', 'p-early-1'], 5))).kind).toBe(
      'providers-recorded',
    );
    await deliver(clientEvent('c-early', ['p-early-1'], 1));
    expect((await fixture.mappings.get('c-early'))?.desiredProviders).toEqual([
      'p-early-2',
      'p-early-1',
    ]);
    // Both providers are mapped: the recorded list is sent right after the create.
    const [second, first] = [
      await fixture.mappings.get('p-early-2'),
      await fixture.mappings.get('p-early-1'),
    ];
    expect(simUsers().find((u) => u.partnerUserId === 'c-early')?.providerUserIds).toEqual([
      second!.uphealUserId,
      first!.uphealUserId,
    ]);
    expect(await fixture.drainAssignments()).toEqual([]);
  });

  it('waits while a provider of the list is unmapped, naming it', async () => {
    await deliver(providerEvent('p-known', 0));
    await deliver(clientEvent('c-partial', ['p-known'], 1));
    await deliver(providersChanged('c-partial', ['p-known', 'p-unknown-9'], 2));
    await expect(assignProviders('c-partial', fixture.deps)).rejects.toThrow(/p-unknown-9/);
  });
});

describe('sync-user: deletes', () => {
  it('deletes, leaves a tombstone, and a late create does not resurrect the user', async () => {
    await deliver(providerEvent('p-del', 0));
    expect((await deliver(deleted('p-del', 5))).kind).toBe('deleted');
    expect(simUsers().some((u) => u.partnerUserId === 'p-del')).toBe(false);
    const before = calls();
    expect((await deliver(providerEvent('p-del', 3))).kind).toBe('stale');
    expect(calls()).toBe(before);
    expect((await fixture.mappings.get('p-del'))?.state).toBe('deleted');
  });

  it('treats deleting a user Upheal no longer has as a success', async () => {
    await deliver(providerEvent('p-gone', 0));
    const mapping = await fixture.mappings.get('p-gone');
    await fixture.upheal.deleteUser(mapping!.uphealUserId!);
    expect((await deliver(deleted('p-gone', 1))).kind).toBe('deleted');
  });

  it('stages deletes beyond the guard threshold until an operator approves', async () => {
    for (const id of ['p-g1', 'p-g2', 'p-g3']) await deliver(providerEvent(id, 0));
    // The guard allows 2 per window here; earlier tests may have used some of them.
    const outcomes = [];
    for (const id of ['p-g1', 'p-g2', 'p-g3']) outcomes.push(await deliver(deleted(id, 1)));
    const staged = outcomes.filter((o) => o.kind === 'delete-staged');
    expect(staged.length).toBeGreaterThan(0);
    const stagedId = staged[0]!.partnerUserId;
    expect(simUsers().some((u) => u.partnerUserId === stagedId)).toBe(true);
    expect((await fixture.stagedDeletes.list()).map((s) => s.partnerUserId)).toContain(stagedId);

    const approved = await fixture.stagedDeletes.approve(stagedId);
    const redelivered = {
      eventId: approved!.eventId,
      type: 'user.deleted' as const,
      occurredAt: approved!.occurredAt,
      partnerUserId: stagedId,
    };
    expect((await deliver(redelivered)).kind).toBe('deleted');
    expect(simUsers().some((u) => u.partnerUserId === stagedId)).toBe(false);
  });
});
