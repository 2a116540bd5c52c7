/**
 * Create first (an import in create-first mode, a live provider) against real DynamoDB
 * (dynalite), SQS (fauxqs) and the Upheal simulator over HTTP: a new user costs its create alone,
 * a user Upheal already has is linked after the duplicate answer, and the identity rules hold as
 * when checking first (one Upheal account per partner user, and the reverse).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, IdentityConflictError, ServerError } from '#lib/errors.ts';
import { IDENTITY_REASONS } from '#lib/sync/identity.ts';
import { type SyncUserDeps, syncUser } from '#lib/sync/sync-user.ts';
import { clientEvent, providerEvent } from '#test/helpers/events.ts';
import {
  crashingBeforeMappingWrite,
  type SyncFixture,
  startSyncFixture,
  uphealWith,
} from '#test/helpers/sync-fixture.ts';
import type { SimUser } from '#tools/simulator/user-store.ts';

let fixture: SyncFixture;
let deliveries = 0;

/** Runs the use case as one SQS delivery in create-first would. */
function deliver(event: Parameters<typeof syncUser>[0], deps: SyncUserDeps = fixture.deps) {
  deliveries += 1;
  return syncUser(
    event,
    { claimOwner: `cf-${deliveries}`, eventId: event.eventId, createFirst: true },
    deps,
  );
}

/** Upheal calls answered so far, by route and status (`check:200`, `createClient:409`). */
function calls(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [route, statuses] of Object.entries(fixture.simulator.stats().byRoute)) {
    for (const [status, n] of Object.entries(statuses)) counts[`${route}:${status}`] = n;
  }
  return counts;
}

/** The calls made since `before` (a snapshot of `calls()`), zero counts left out. */
function callsSince(before: Record<string, number>): Record<string, number> {
  const since: Record<string, number> = {};
  for (const [key, n] of Object.entries(calls())) {
    if (n - (before[key] ?? 0) > 0) since[key] = n - (before[key] ?? 0);
  }
  return since;
}

function simUsers(predicate: (user: SimUser) => boolean) {
  return fixture.simulator.users().filter(predicate);
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

describe('create first: the calls', () => {
  it('creates a new provider with its create and follow-up alone, no check', async () => {
    const before = calls();
    const outcome = await deliver(providerEvent('cf-p-new', 0, { pronoun: 'NeutralThem' }));
    expect(outcome).toMatchObject({ kind: 'created', checkSkipped: true });
    expect(callsSince(before)).toEqual({ 'createProvider:200': 1, 'updateUser:200': 1 });
  });

  it('creates a client of two providers with its create and full list alone', async () => {
    await deliver(providerEvent('cf-p-a', 0));
    await deliver(providerEvent('cf-p-b', 0));
    const before = calls();
    const outcome = await deliver(clientEvent('cf-c-two', ['cf-p-a', 'cf-p-b'], 1));
    expect(outcome).toMatchObject({ kind: 'created', checkSkipped: true });
    expect(outcome.kind === 'created' && outcome.providersAssigned).toHaveLength(2);
    expect(callsSince(before)).toEqual({ 'createClient:200': 1, 'replaceProviders:200': 1 });
  });

  it('links a provider Upheal already has after its create is answered 400, with one check', async () => {
    const [existing] = fixture.simulator.seedUsers({
      userType: 'HealthcareProvider',
      firstName: 'Old',
      lastName: 'Provider',
      email: 'cf-p-old@example.com',
    });
    const before = calls();
    const outcome = await deliver(providerEvent('cf-p-old', 0));
    expect(outcome).toMatchObject({ kind: 'linked', uphealUserId: existing!.userId });
    expect(callsSince(before)).toMatchObject({ 'createProvider:400': 1, 'check:200': 1 });
    expect(simUsers((u) => u.email === 'cf-p-old@example.com')).toHaveLength(1);
    expect(simUsers((u) => u.partnerUserId === 'cf-p-old')).toHaveLength(1);
  });

  it('fails a create refused for another reason once its check finds nobody', async () => {
    const refused = new BadRequestError(
      'upheal createProvider: HTTP 400',
      400,
      undefined,
      undefined,
    );
    const invalid = uphealWith(fixture.upheal, {
      createProvider: async () => {
        throw refused;
      },
    });
    const before = calls();
    const error = await deliver(providerEvent('cf-p-bad', 0), {
      ...fixture.deps,
      upheal: invalid,
    }).catch((e: unknown) => e);
    expect(error).toBe(refused);
    expect(callsSince(before)).toEqual({ 'check:200': 1 });
    expect(await fixture.mappings.get('cf-p-bad')).toBeUndefined();
  });
});

describe('create first: one Upheal account per partner user', () => {
  it("refuses a child given its parent's family email; the parent's account is untouched", async () => {
    await deliver(providerEvent('cf-p-family', 0));
    await deliver(
      clientEvent('cf-c-parent', ['cf-p-family'], 1, { email: 'cf-family@example.com' }),
    );
    const parentBefore = simUsers((u) => u.partnerUserId === 'cf-c-parent')[0];
    const before = calls();

    const error = await deliver(
      clientEvent('cf-c-child', ['cf-p-family'], 2, {
        email: 'cf-family@example.com',
        firstName: 'Child',
      }),
    ).catch((e: unknown) => e);

    expect((error as IdentityConflictError).code).toBe(IDENTITY_REASONS.ownedByOther);
    expect((error as Error).message).toMatch(/client cf-c-parent/);
    // The refused create and the check, nothing that changes an account.
    expect(callsSince(before)).toEqual({ 'createClient:409': 1, 'check:200': 1 });
    expect(simUsers((u) => u.partnerUserId === 'cf-c-parent')[0]).toEqual(parentBefore);
    expect(await fixture.mappings.get('cf-c-child')).toBeUndefined();
    // Its refused create's claim remembers no email: nothing names it the account's creator.
    expect((await fixture.mappings.pendingCreate('cf-c-child'))?.email).toBeUndefined();
    expect(await fixture.mappings.createClaimantsOf('cf-family@example.com')).not.toContain(
      'cf-c-child',
    );
  });

  it("refuses the child while the parent's mapping is not written yet, and the parent heals", async () => {
    await deliver(providerEvent('cf-p-family2', 0));
    // The parent's create went through, but its worker died before the mapping write.
    await expect(
      deliver(
        clientEvent('cf-c-parent2', ['cf-p-family2'], 1, { email: 'cf-family2@example.com' }),
        { ...fixture.deps, mappings: crashingBeforeMappingWrite(fixture.mappings) },
      ),
    ).rejects.toThrow(/crashed/);
    const parentAccount = simUsers((u) => u.partnerUserId === 'cf-c-parent2')[0];
    expect(parentAccount).toBeDefined();

    const error = await deliver(
      clientEvent('cf-c-child2', ['cf-p-family2'], 2, {
        email: 'cf-family2@example.com',
        firstName: 'Child',
      }),
    ).catch((e: unknown) => e);
    expect((error as IdentityConflictError).code).toBe(IDENTITY_REASONS.ownedByOther);
    expect((error as Error).message).toMatch(/cf-c-parent2/);
    expect(simUsers((u) => u.partnerUserId === 'cf-c-parent2')[0]).toEqual(parentAccount);
    // A later event of the child, the parent still unmapped: refused again, not linked.
    await expect(
      deliver(clientEvent('cf-c-child2', ['cf-p-family2'], 3, { email: 'cf-family2@example.com' })),
    ).rejects.toBeInstanceOf(IdentityConflictError);

    // The parent's retry finds its own account by the email its claim remembers.
    const healed = await deliver(
      clientEvent('cf-c-parent2', ['cf-p-family2'], 1, { email: 'cf-family2@example.com' }),
    );
    expect(healed).toMatchObject({ kind: 'linked', uphealUserId: parentAccount!.userId });
    // And the child, sent again, is refused again (its refused create left no claim behind).
    await expect(
      deliver(clientEvent('cf-c-child2', ['cf-p-family2'], 3, { email: 'cf-family2@example.com' })),
    ).rejects.toBeInstanceOf(IdentityConflictError);
    expect(simUsers((u) => u.email === 'cf-family2@example.com')).toHaveLength(1);
  });

  it('refuses to link a deactivated account after the duplicate answer', async () => {
    const [existing] = fixture.simulator.seedUsers({
      userType: 'HealthcareProvider',
      firstName: 'Gone',
      lastName: 'Account',
      email: 'cf-p-inactive@example.com',
    });
    fixture.simulator.deactivate(existing!.userId);
    const error = await deliver(providerEvent('cf-p-inactive', 0)).catch((e: unknown) => e);
    expect((error as IdentityConflictError).code).toBe(IDENTITY_REASONS.deactivated);
    expect(await fixture.mappings.get('cf-p-inactive')).toBeUndefined();
  });

  it('heals a create whose answer was lost: the retry checks the email its claim remembers', async () => {
    const lostAnswer = uphealWith(fixture.upheal, {
      createProvider: async (body) => {
        await fixture.upheal.createProvider(body);
        throw new ServerError('upheal createProvider: HTTP 500', 500, undefined, undefined);
      },
    });
    await expect(
      deliver(providerEvent('cf-p-lost', 0), { ...fixture.deps, upheal: lostAnswer }),
    ).rejects.toBeInstanceOf(ServerError);
    const orphan = simUsers((u) => u.partnerUserId === 'cf-p-lost')[0];
    expect(orphan).toBeDefined();
    const before = calls();

    const outcome = await deliver(providerEvent('cf-p-lost', 0));

    expect(outcome).toMatchObject({ kind: 'linked', uphealUserId: orphan!.userId });
    expect(callsSince(before)['createProvider:400']).toBeUndefined();
    expect(simUsers((u) => u.partnerUserId === 'cf-p-lost')).toHaveLength(1);
  });

  it('links a user whose earlier create (claim gone) is found by the duplicate answer', async () => {
    const lostAnswer = uphealWith(fixture.upheal, {
      createProvider: async (body) => {
        await fixture.upheal.createProvider(body);
        throw new ServerError('upheal createProvider: HTTP 500', 500, undefined, undefined);
      },
    });
    await expect(
      deliver(providerEvent('cf-p-lost2', 0), { ...fixture.deps, upheal: lostAnswer }),
    ).rejects.toBeInstanceOf(ServerError);
    // Its claim has expired and gone (TTL): the retry creates first and runs into its own user.
    await fixture.mappings.releaseClaim('cf-p-lost2');
    const orphan = simUsers((u) => u.partnerUserId === 'cf-p-lost2')[0];
    const outcome = await deliver(providerEvent('cf-p-lost2', 0));
    expect(outcome).toMatchObject({ kind: 'linked', uphealUserId: orphan!.userId });
    expect(simUsers((u) => u.partnerUserId === 'cf-p-lost2')).toHaveLength(1);
  });
});
