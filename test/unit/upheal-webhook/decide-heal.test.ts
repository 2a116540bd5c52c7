/** The healer's rules, one by one (pure: no store, no queue). */
import { describe, expect, it } from 'vitest';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { decideHeal, type HealFacts } from '#lib/upheal-webhook/heal-created-user.ts';

const BASE: HealFacts = {
  partnerUserId: 'c-1',
  uphealUserId: 'u-1',
  userKind: 'client',
  mapping: undefined,
  owner: undefined,
  claimed: true,
  failures: 0,
};

function mapping(overrides: Partial<UserMapping>): UserMapping {
  return {
    partnerUserId: 'c-1',
    kind: 'client',
    state: 'active',
    rev: 1,
    updatedAt: '',
    ...overrides,
  };
}

describe('decideHeal', () => {
  it('heals an unmapped partner user we claimed, or one whose event failed', () => {
    expect(decideHeal(BASE)).toEqual({ action: 'heal', kind: 'client' });
    expect(decideHeal({ ...BASE, claimed: false, failures: 1 })).toEqual({
      action: 'heal',
      kind: 'client',
    });
  });

  it('heals over a pending mapping (a provider list that came first), keeping its kind', () => {
    const pending = mapping({ state: 'pending', uphealUserId: undefined });
    expect(decideHeal({ ...BASE, userKind: undefined, mapping: pending })).toEqual({
      action: 'heal',
      kind: 'client',
    });
  });

  it('only traces a partner id we never sent', () => {
    expect(decideHeal({ ...BASE, claimed: false })).toEqual({
      action: 'trace',
      outcome: 'unknown-partner-user',
    });
  });

  it('changes nothing for a user already mapped to that Upheal id', () => {
    expect(decideHeal({ ...BASE, mapping: mapping({ uphealUserId: 'u-1' }) })).toEqual({
      action: 'trace',
      outcome: 'already-mapped',
    });
  });

  it('never maps an Upheal user that is mapped to another partner user', () => {
    const decision = decideHeal({
      ...BASE,
      owner: mapping({ partnerUserId: 'c-2', uphealUserId: 'u-1' }),
    });
    expect(decision).toMatchObject({ action: 'trace', outcome: 'conflict' });
    expect(decision.action === 'trace' && decision.reason).toContain('c-2');
  });

  it('never remaps a partner user mapped to another Upheal user, nor a deleted one', () => {
    expect(decideHeal({ ...BASE, mapping: mapping({ uphealUserId: 'u-9' }) })).toMatchObject({
      outcome: 'conflict',
    });
    expect(
      decideHeal({ ...BASE, mapping: mapping({ state: 'deleted', uphealUserId: 'u-9' }) }),
    ).toMatchObject({
      outcome: 'deleted',
    });
  });

  it('heals over a tombstone only for a create newer than the delete, never the deleted Upheal user', () => {
    const deletedAt = { ms: 2_000, eventId: 'e-2' };
    const tombstone = mapping({ state: 'deleted', version: deletedAt, uphealUserId: 'u-0' });
    const newer = { ms: 3_000, eventId: 'e-3' };
    // A re-create after the delete, whose answer was lost: healed, keeping its kind.
    expect(decideHeal({ ...BASE, mapping: tombstone, createVersion: newer })).toEqual({
      action: 'heal',
      kind: 'client',
    });
    // A tombstone of a delete that found no mapping (no Upheal id) is healed over the same way.
    const bare = mapping({ state: 'deleted', version: deletedAt, uphealUserId: undefined });
    expect(decideHeal({ ...BASE, mapping: bare, createVersion: newer }).action).toBe('heal');
    // The create is older than the delete (or the same event), or unknown: left deleted.
    for (const createVersion of [{ ms: 1_000, eventId: 'e-1' }, deletedAt, undefined]) {
      expect(decideHeal({ ...BASE, mapping: tombstone, createVersion })).toMatchObject({
        action: 'trace',
        outcome: 'deleted',
      });
    }
    // The webhook of the very user the delete removed: left deleted.
    expect(
      decideHeal({ ...BASE, uphealUserId: 'u-0', mapping: tombstone, createVersion: newer }),
    ).toMatchObject({ outcome: 'deleted' });
  });

  it('does not guess a kind Upheal did not report, nor cross kinds', () => {
    expect(decideHeal({ ...BASE, userKind: undefined })).toMatchObject({ outcome: 'unknown-kind' });
    const pendingProvider = mapping({ kind: 'provider', state: 'pending' });
    expect(decideHeal({ ...BASE, mapping: pendingProvider })).toMatchObject({
      outcome: 'conflict',
    });
  });
});
