/** The identity rules of a match by email, decided without DynamoDB or HTTP. */
import { describe, expect, it } from 'vitest';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { decideMatch, IDENTITY_REASONS } from '#lib/sync/identity.ts';

const found = (isActive?: boolean) => ({ exists: true, userId: 'u-1', isActive }) as const;

function mapping(partnerUserId: string, kind: 'provider' | 'client'): UserMapping {
  return {
    partnerUserId,
    kind,
    state: 'active',
    uphealUserId: 'u-1',
    rev: 1,
    updatedAt: '2026-11-27T10:00:00.000Z',
  };
}

describe('decideMatch', () => {
  it('creates when Upheal has no user with the email', () => {
    const decision = decideMatch({
      partnerUserId: 'c-1',
      kind: 'client',
      check: { exists: false },
      owner: undefined,
    });
    expect(decision).toEqual({ action: 'create' });
  });

  it('links an active account that no partner user holds', () => {
    const decision = decideMatch({
      partnerUserId: 'c-1',
      kind: 'client',
      check: found(true),
      owner: undefined,
    });
    expect(decision).toEqual({ action: 'link', uphealUserId: 'u-1' });
  });

  it('refuses an account nobody maps yet whose create another partner user sent, naming that user', () => {
    const decision = decideMatch({
      partnerUserId: 'c-child',
      kind: 'client',
      check: found(true),
      owner: undefined,
      claimants: ['c-parent'],
    });
    expect(decision).toMatchObject({
      action: 'refuse',
      code: IDENTITY_REASONS.ownedByOther,
      detail: expect.stringContaining('created for partner user c-parent'),
    });
    expect(JSON.stringify(decision)).not.toContain('@');
  });

  it('links an account the partner user itself sent a create for (its own lost create), even when another did too', () => {
    for (const claimants of [['c-1'], ['c-2', 'c-1']]) {
      const decision = decideMatch({
        partnerUserId: 'c-1',
        kind: 'client',
        check: found(true),
        owner: undefined,
        claimants,
      });
      expect(decision).toEqual({ action: 'link', uphealUserId: 'u-1' });
    }
  });

  it('after its own create was refused as a duplicate, counts only the other claimants', () => {
    const refused = (claimants: string[]) =>
      decideMatch({
        partnerUserId: 'c-1',
        kind: 'client',
        check: found(true),
        owner: undefined,
        claimants,
        afterRefusedCreate: true,
      });
    expect(refused(['c-2', 'c-1'])).toMatchObject({
      action: 'refuse',
      code: IDENTITY_REASONS.ownedByOther,
      detail: expect.stringContaining('created for partner user c-2'),
    });
    // An account Upheal had before, which nobody else claims: linked.
    expect(refused(['c-1'])).toEqual({ action: 'link', uphealUserId: 'u-1' });
  });

  it('links when the active state is not reported (the field is optional)', () => {
    const decision = decideMatch({
      partnerUserId: 'c-1',
      kind: 'client',
      check: found(undefined),
      owner: undefined,
    });
    expect(decision.action).toBe('link');
  });

  it('links an account the same partner user already holds', () => {
    const decision = decideMatch({
      partnerUserId: 'c-1',
      kind: 'client',
      check: found(true),
      owner: mapping('c-1', 'client'),
    });
    expect(decision.action).toBe('link');
  });

  it('refuses an account held by another partner user, naming that partner id', () => {
    const decision = decideMatch({
      partnerUserId: 'c-child',
      kind: 'client',
      check: found(true),
      owner: mapping('c-parent', 'client'),
    });
    expect(decision).toMatchObject({ action: 'refuse', code: IDENTITY_REASONS.ownedByOther });
    expect(decision.action === 'refuse' && decision.detail).toMatch(/client c-parent/);
  });

  it("refuses a client matched to its therapist's account", () => {
    const decision = decideMatch({
      partnerUserId: 'c-1',
      kind: 'client',
      check: found(true),
      owner: mapping('p-1', 'provider'),
    });
    expect(decision).toMatchObject({ action: 'refuse', code: IDENTITY_REASONS.ownedByOther });
    expect(decision.action === 'refuse' && decision.detail).toMatch(/provider p-1/);
  });

  it('refuses a deactivated account', () => {
    const decision = decideMatch({
      partnerUserId: 'p-1',
      kind: 'provider',
      check: found(false),
      owner: undefined,
    });
    expect(decision).toMatchObject({ action: 'refuse', code: IDENTITY_REASONS.deactivated });
  });

  it('never puts an email in the reason', () => {
    const decision = decideMatch({
      partnerUserId: 'c-1',
      kind: 'client',
      check: { exists: true, userId: 'u-1', isActive: false },
      owner: mapping('p-1', 'provider'),
    });
    expect(decision.action === 'refuse' && decision.detail).not.toMatch(/@/);
  });
});
