/** A stale event's outcome, rebuilt from the mapping without DynamoDB or HTTP. */
import { describe, expect, it } from 'vitest';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { staleOrReplayed } from '#lib/sync/replay.ts';

const version = { ms: 1_000, eventId: 'evt-1' };

function mapping(overrides: Partial<UserMapping>): UserMapping {
  return {
    partnerUserId: 'x-1',
    kind: 'client',
    state: 'active',
    uphealUserId: 'u-1',
    version,
    rev: 3,
    updatedAt: '2026-11-27T10:00:00.000Z',
    ...overrides,
  };
}

describe('staleOrReplayed', () => {
  it('drops an older event', () => {
    const outcome = staleOrReplayed(mapping({ lastOutcome: 'created' }), {
      ms: 500,
      eventId: 'evt-0',
    });
    expect(outcome).toEqual({ kind: 'stale', partnerUserId: 'x-1' });
  });

  it('replays the last applied create, with its full list and without an invite URL', () => {
    const outcome = staleOrReplayed(
      mapping({ lastOutcome: 'created', assignedProviders: ['u-p1', 'u-p2'] }),
      version,
    );
    expect(outcome).toEqual({
      kind: 'created',
      partnerUserId: 'x-1',
      userKind: 'client',
      uphealUserId: 'u-1',
      providersAssigned: ['u-p1', 'u-p2'],
      replayed: true,
    });
  });

  it('replays a link with the fields it could not apply', () => {
    const outcome = staleOrReplayed(
      mapping({ lastOutcome: 'linked', unappliedFields: ['email'] }),
      version,
    );
    expect(outcome).toMatchObject({ kind: 'linked', unappliedFields: ['email'], replayed: true });
  });

  it('replays an update with its unapplied fields', () => {
    const outcome = staleOrReplayed(
      mapping({ lastOutcome: 'updated', unappliedFields: ['pronoun'] }),
      version,
    );
    expect(outcome).toMatchObject({
      kind: 'updated',
      unappliedFields: ['pronoun'],
      replayed: true,
    });
  });

  it('replays a delete', () => {
    const outcome = staleOrReplayed(mapping({ lastOutcome: 'deleted', state: 'deleted' }), version);
    expect(outcome).toEqual({
      kind: 'deleted',
      partnerUserId: 'x-1',
      uphealUserId: 'u-1',
      replayed: true,
    });
  });
});
