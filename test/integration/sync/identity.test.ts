/**
 * Identity and data safety of the sync against real DynamoDB (dynalite) and SQS (fauxqs) and the
 * Upheal simulator (unique emails) over HTTP: one Upheal account per partner user, every field
 * reaching Upheal or reported, and retries after partial work.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenError, IdentityConflictError, NotReadyError, ServerError } from '#lib/errors.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { SqsOutboundPublisher } from '#lib/outbound/outbound-events.ts';
import { sqsConsumer } from '#lib/sqs/consumer.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { IDENTITY_REASONS } from '#lib/sync/identity.ts';
import { syncUserWork } from '#lib/sync/record-work.ts';
import { CLAIM_LEASE_MS, type SyncUserDeps, syncUser } from '#lib/sync/sync-user.ts';
import { clientEvent, deleted, providerEvent } from '#test/helpers/events.ts';
import {
  crashingBeforeMappingWrite,
  type SyncFixture,
  startSyncFixture,
  uphealWith,
} from '#test/helpers/sync-fixture.ts';
import { toSqsEvent } from '#tools/local/sqs-event.ts';

let fixture: SyncFixture;
let deliveries = 0;

/** Runs the use case as one SQS delivery would (each delivery has its own message id). */
function deliver(event: Parameters<typeof syncUser>[0], deps: SyncUserDeps = fixture.deps) {
  deliveries += 1;
  return syncUser(event, { claimOwner: `msg-${deliveries}`, eventId: event.eventId }, deps);
}

/** Upheal calls other than checks made so far (creates, updates, assignments, deletes). */
function mutatingCalls(): number {
  const { byRoute } = fixture.simulator.stats();
  let count = 0;
  for (const [route, statuses] of Object.entries(byRoute)) {
    if (route === 'check') continue;
    for (const n of Object.values(statuses)) count += n;
  }
  return count;
}

function simUser(partnerUserId: string) {
  return fixture.simulator.users().find((u) => u.partnerUserId === partnerUserId);
}

beforeAll(async () => {
  fixture = await startSyncFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

afterEach(async () => {
  await fixture.drainAssignments();
});

describe('one Upheal account per partner user', () => {
  it("refuses a child client given its parent's family email; the parent's account is untouched", async () => {
    await deliver(providerEvent('p-family', 0));
    await deliver(clientEvent('c-parent', ['p-family'], 1, { email: 'family@example.com' }));
    const parentBefore = simUser('c-parent');
    const before = mutatingCalls();

    const child = clientEvent('c-child', ['p-family'], 2, {
      email: 'family@example.com',
      firstName: 'Child',
    });
    const error = await deliver(child).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(IdentityConflictError);
    expect((error as IdentityConflictError).code).toBe(IDENTITY_REASONS.ownedByOther);
    expect((error as Error).message).toMatch(/client c-parent/);
    expect((error as Error).message).not.toMatch(/@/);
    expect(mutatingCalls()).toBe(before);
    expect(simUser('c-parent')).toEqual(parentBefore);
    expect(await fixture.mappings.get('c-child')).toBeUndefined();

    // A later update and delete of the child still address nobody's account.
    await expect(
      deliver(clientEvent('c-child', ['p-family'], 3, { email: 'family@example.com' })),
    ).rejects.toBeInstanceOf(IdentityConflictError);
    await deliver(deleted('c-child', 4));
    expect(mutatingCalls()).toBe(before);
    expect(simUser('c-parent')).toEqual(parentBefore);
  });

  it("refuses a client given its therapist's email; the therapist's account is untouched", async () => {
    await deliver(providerEvent('p-shared', 0, { email: 'therapist@example.com' }));
    const therapistBefore = simUser('p-shared');
    const before = mutatingCalls();

    const error = await deliver(
      clientEvent('c-shared', ['p-shared'], 1, { email: 'therapist@example.com' }),
    ).catch((e: unknown) => e);

    expect((error as IdentityConflictError).code).toBe(IDENTITY_REASONS.ownedByOther);
    expect((error as Error).message).toMatch(/provider p-shared/);
    expect(mutatingCalls()).toBe(before);
    expect(simUser('p-shared')).toEqual(therapistBefore);
    expect(
      fixture.simulator.users().filter((u) => u.email === 'therapist@example.com'),
    ).toHaveLength(1);
  });

  it('refuses to link a deactivated account, making no update', async () => {
    const [existing] = fixture.simulator.seedUsers({
      userType: 'HealthcareProvider',
      firstName: 'Old',
      lastName: 'Account',
      email: 'p-inactive@example.com',
    });
    fixture.simulator.deactivate(existing!.userId);
    const before = mutatingCalls();
    const error = await deliver(providerEvent('p-inactive', 0)).catch((e: unknown) => e);
    expect((error as IdentityConflictError).code).toBe(IDENTITY_REASONS.deactivated);
    expect((error as Error).message).toContain(existing!.userId);
    expect(mutatingCalls()).toBe(before);
    expect(await fixture.mappings.get('p-inactive')).toBeUndefined();
  });

  it('fails the event through the consumer with a user.failed carrying the reason code', async () => {
    const logger = createLogger('identity-test');
    logger.setLogLevel('SILENT');
    await deliver(providerEvent('p-outbound', 0, { email: 'shared-out@example.com' }));
    const outbound = new SqsOutboundPublisher(fixture.sqs, fixture.queues.queueUrls.outbound);
    const handler = sqsConsumer(
      {
        sqs: fixture.sqs,
        failures: fixture.failures,
        logger,
        maxAttempts: 3,
        dependencyWaitMs: 60_000,
      },
      syncUserWork({
        ...fixture.deps,
        leases: fixture.leases,
        upheal: fixture.uphealForMessage,
        outbound,
        logger,
        shareInviteUrl: false,
      }),
    );
    const event = clientEvent('c-outbound', ['p-outbound'], 1, { email: 'shared-out@example.com' });
    const record = {
      messageId: 'm-identity-1',
      body: JSON.stringify(event),
      attributes: { ApproximateReceiveCount: '1' },
    };
    const sqsEvent = toSqsEvent(
      [
        {
          MessageId: record.messageId,
          Body: record.body,
          Attributes: record.attributes,
          ReceiptHandle: 'r-1',
        },
      ],
      fixture.queues.queueArns.userEvents,
      'us-east-1',
    );
    const response = await handler(sqsEvent, {
      awsRequestId: 'req-1',
      getRemainingTimeInMillis: () => 30_000,
    } as unknown as Context);
    expect(response.batchItemFailures).toEqual([]);
    const { Messages = [] } = await fixture.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: fixture.queues.queueUrls.outbound,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const failed = Messages.map((m) => JSON.parse(m.Body ?? '{}')).find(
      (e: { type: string; partnerUserId?: string }) =>
        e.type === 'user.failed' && e.partnerUserId === 'c-outbound',
    );
    expect(failed?.reason).toMatch(/^email_owned_by_other_partner_user: .*provider p-outbound/);
    expect(JSON.stringify(failed)).not.toMatch(/shared-out/);
  });
});

describe('every field reaches Upheal or is reported', () => {
  it("follows a provider's create with its pronoun and date of birth", async () => {
    const outcome = await deliver(
      providerEvent('p-pronoun', 0, { pronoun: 'NeutralThem', dateOfBirth: '1975-05-06' }),
    );
    expect(outcome).toMatchObject({ kind: 'created' });
    expect(outcome.kind === 'created' && outcome.unappliedFields).toBeFalsy();
    expect(simUser('p-pronoun')).toMatchObject({
      pronoun: 'NeutralThem',
      dateOfBirth: '1975-05-06',
    });
  });

  it('reports a cleared optional field, which Upheal keeps, on this and later events', async () => {
    await deliver(providerEvent('p-clear', 0, { therapyLicence: 'LCSW' }));
    const first = await deliver(providerEvent('p-clear', 1, {}, 'provider.updated'));
    expect(first).toMatchObject({ kind: 'updated', unappliedFields: ['therapyLicence'] });
    expect(simUser('p-clear')?.therapyLicence).toBe('LCSW');
    const again = await deliver(providerEvent('p-clear', 2, {}, 'provider.updated'));
    expect(again).toMatchObject({ kind: 'updated', unappliedFields: ['therapyLicence'] });
  });
});

describe('retries after partial work', () => {
  it('heals an orphan created before an email change, linking it with the fresh fields', async () => {
    await expect(
      deliver(providerEvent('p-orphan', 0, { email: 'before@example.com' }), {
        ...fixture.deps,
        mappings: crashingBeforeMappingWrite(fixture.mappings),
      }),
    ).rejects.toThrow(/crashed/);
    const orphan = simUser('p-orphan');
    expect(orphan).toBeDefined();

    const outcome = await deliver(
      providerEvent('p-orphan', 1, { email: 'after@example.com', firstName: 'Renamed' }),
    );

    expect(outcome).toMatchObject({
      kind: 'linked',
      uphealUserId: orphan!.userId,
      unappliedFields: ['email'],
    });
    expect(fixture.simulator.users().filter((u) => u.partnerUserId === 'p-orphan')).toHaveLength(1);
    expect(simUser('p-orphan')?.firstName).toBe('Renamed');
    expect(await fixture.mappings.pendingCreate('p-orphan')).toBeUndefined();
  });

  it('passes over a remembered email that another partner user has taken since', async () => {
    await expect(
      deliver(providerEvent('p-lead', 0, { email: 'lead@example.com' }), {
        ...fixture.deps,
        mappings: crashingBeforeMappingWrite(fixture.mappings),
      }),
    ).rejects.toThrow(/crashed/);
    // The orphan goes, and another partner user is created with that email.
    await fixture.upheal.deleteUser(simUser('p-lead')!.userId);
    await deliver(providerEvent('p-took-lead', 1, { email: 'lead@example.com' }));
    const takerBefore = simUser('p-took-lead');

    // The dead worker's claim has run out by the time the next event comes.
    const later = new DynamoMappingStore({
      client: fixture.documents,
      tableName: fixture.tableName,
      now: () => Date.now() + 2 * CLAIM_LEASE_MS,
    });
    const outcome = await deliver(providerEvent('p-lead', 2, { email: 'lead-new@example.com' }), {
      ...fixture.deps,
      mappings: later,
    });

    expect(outcome.kind).toBe('created');
    expect(simUser('p-lead')?.email).toBe('lead-new@example.com');
    expect(simUser('p-took-lead')).toEqual(takerBefore);
  });

  it('announces one outcome when a redelivery links the user while the first delivery creates it', async () => {
    const event = providerEvent('p-overlap', 0);
    let second: Awaited<ReturnType<typeof syncUser>> | undefined;
    const slowCreate = uphealWith(fixture.upheal, {
      createProvider: async (body) => {
        const created = await fixture.upheal.createProvider(body);
        // The message came back (visibility ran out) and another worker applies it meanwhile.
        second = await deliver(event);
        return created;
      },
    });
    const first = await deliver(event, { ...fixture.deps, upheal: slowCreate });
    expect(second).toMatchObject({ kind: 'linked' });
    expect(first).toMatchObject({ kind: 'linked', replayed: true });
    expect(fixture.simulator.users().filter((u) => u.partnerUserId === 'p-overlap')).toHaveLength(
      1,
    );
  });

  it('deletes the user an unfinished create left behind, found by the email its claim remembers', async () => {
    await expect(
      deliver(providerEvent('p-orphan-gone', 0), {
        ...fixture.deps,
        mappings: crashingBeforeMappingWrite(fixture.mappings),
      }),
    ).rejects.toThrow(/crashed/);
    const orphan = simUser('p-orphan-gone');
    expect(orphan).toBeDefined();

    const outcome = await deliver(deleted('p-orphan-gone', 1));

    expect(outcome).toMatchObject({ kind: 'deleted', uphealUserId: orphan!.userId });
    expect(simUser('p-orphan-gone')).toBeUndefined();
    expect((await fixture.mappings.get('p-orphan-gone'))?.state).toBe('deleted');
  });

  it('takes a 403 to a retried delete that already took effect as done', async () => {
    await deliver(providerEvent('p-redelete', 0));
    const removal = deleted('p-redelete', 1);
    const lostAnswer = uphealWith(fixture.upheal, {
      deleteUser: async (id) => {
        await fixture.upheal.deleteUser(id);
        throw new ServerError('upheal deleteUser: HTTP 502', 502, undefined, undefined);
      },
    });
    await expect(deliver(removal, { ...fixture.deps, upheal: lostAnswer })).rejects.toBeInstanceOf(
      ServerError,
    );
    const forbidden = uphealWith(fixture.upheal, {
      deleteUser: async () => {
        throw new ForbiddenError('upheal deleteUser: HTTP 403', 403, undefined, undefined);
      },
    });
    const outcome = await deliver(removal, { ...fixture.deps, upheal: forbidden });
    expect(outcome.kind).toBe('deleted');
    expect((await fixture.mappings.get('p-redelete'))?.state).toBe('deleted');
  });

  it('fails a first delete answered 403 (a refusal), keeping the mapping', async () => {
    await deliver(providerEvent('p-refused', 0));
    const forbidden = uphealWith(fixture.upheal, {
      deleteUser: async () => {
        throw new ForbiddenError('upheal deleteUser: HTTP 403', 403, undefined, undefined);
      },
    });
    await expect(
      deliver(deleted('p-refused', 1), { ...fixture.deps, upheal: forbidden }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    expect((await fixture.mappings.get('p-refused'))?.state).toBe('active');
  });

  it('makes a client create wait while its primary provider’s delete is half done', async () => {
    await deliver(providerEvent('p-halfgone', 0));
    const lostAnswer = uphealWith(fixture.upheal, {
      deleteUser: async (id) => {
        await fixture.upheal.deleteUser(id);
        throw new ServerError('upheal deleteUser: HTTP 502', 502, undefined, undefined);
      },
    });
    await expect(
      deliver(deleted('p-halfgone', 1), { ...fixture.deps, upheal: lostAnswer }),
    ).rejects.toBeInstanceOf(ServerError);

    const error = await deliver(clientEvent('c-halfgone', ['p-halfgone'], 2)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NotReadyError);
    expect((error as Error).message).toMatch(/p-halfgone .*being deleted/);
  });
});
