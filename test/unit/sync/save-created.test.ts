/** The mapping saved after a create or a link, decided without DynamoDB. */
import { describe, expect, it } from 'vitest';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { stateAfterCreateOrLink } from '#lib/sync/field-plan.ts';
import { type Applied, createdDraft } from '#lib/sync/save-created.ts';
import type { Upsert } from '#lib/sync/sync-types.ts';

const fields = {
  email: 'c@example.com',
  firstName: 'Bo',
  lastName: 'Ray',
  providerPartnerUserIds: ['p-1', 'p-2'],
};
const upsert: Upsert = {
  partnerUserId: 'c-1',
  kind: 'client',
  fields,
  version: { ms: 2_000, eventId: 'evt-2' },
  mapping: undefined,
};

function applied(overrides: Partial<Applied> = {}): Applied {
  return {
    uphealUserId: 'u-c1',
    linked: false,
    known: { partner: ['p-1'], upheal: ['u-p1'] },
    fieldState: stateAfterCreateOrLink('c-1', 'client', fields, {}),
    releaseClaim: false,
    ...overrides,
  };
}

function stored(overrides: Partial<UserMapping>): UserMapping {
  return {
    partnerUserId: 'c-1',
    kind: 'client',
    state: 'deleted',
    rev: 4,
    updatedAt: '2026-11-27T10:00:00.000Z',
    ...overrides,
  };
}

describe('createdDraft', () => {
  it('writes nothing when a newer event was applied meanwhile', () => {
    const newer = stored({ version: { ms: 3_000, eventId: 'evt-3' } });
    expect(createdDraft(upsert, applied(), undefined, newer)).toBeUndefined();
  });

  it('records a created client as active, with its primary as the list Upheal has when that is all it wants', () => {
    const single = { ...upsert, fields: { ...fields, providerPartnerUserIds: ['p-1'] } };
    const draft = createdDraft(single, applied(), undefined, undefined);
    expect(draft).toMatchObject({
      state: 'active',
      uphealUserId: 'u-c1',
      lastOutcome: 'created',
      assignedPartnerProviders: ['p-1'],
      assignedProviders: ['u-p1'],
    });
  });

  it('records the list as unknown when the client wants more providers than its primary', () => {
    const draft = createdDraft(upsert, applied(), undefined, undefined);
    expect(draft?.assignedProviders).toBeUndefined();
    expect(draft?.desiredProviders).toEqual(['p-1', 'p-2']);
  });

  it('records a link with its unknown provider list and clears a delete marker', () => {
    const draft = createdDraft(
      upsert,
      applied({ linked: true, known: undefined }),
      undefined,
      stored({ state: 'active', deleteSent: 'evt-1', version: { ms: 1_000, eventId: 'evt-1' } }),
    );
    expect(draft).toMatchObject({ lastOutcome: 'linked', assignedProviders: undefined });
    expect(draft?.deleteSent).toBeUndefined();
  });

  it('keeps a provider list recorded on a tombstone after the event', () => {
    const tombstone = stored({
      version: { ms: 1_000, eventId: 'evt-1' },
      desiredProviders: ['p-9'],
      providersVersion: { ms: 5_000, eventId: 'evt-5' },
    });
    const draft = createdDraft(upsert, applied(), undefined, tombstone);
    expect(draft?.desiredProviders).toEqual(['p-9']);
  });
});
