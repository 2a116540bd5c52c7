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

  it('does not guess a kind Upheal did not report, nor cross kinds', () => {
    expect(decideHeal({ ...BASE, userKind: undefined })).toMatchObject({ outcome: 'unknown-kind' });
    const pendingProvider = mapping({ kind: 'provider', state: 'pending' });
    expect(decideHeal({ ...BASE, mapping: pendingProvider })).toMatchObject({
      outcome: 'conflict',
    });
  });
});
