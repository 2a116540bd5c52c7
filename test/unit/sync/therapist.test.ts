/** A new client's primary provider and full list, decided without DynamoDB. */
import { describe, expect, it } from 'vitest';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { decideTherapist } from '#lib/sync/therapist.ts';

function provider(id: string, state: UserMapping['state'] = 'active'): [string, UserMapping] {
  return [
    id,
    {
      partnerUserId: id,
      kind: 'provider',
      state,
      uphealUserId: `u-${id}`,
      rev: 1,
      updatedAt: '2026-11-27T10:00:00.000Z',
    },
  ];
}

describe('decideTherapist', () => {
  it('waits while the primary provider is not mapped', () => {
    expect(decideTherapist(['p-1'], new Map())).toBeUndefined();
    expect(decideTherapist(['p-1'], new Map([provider('p-1', 'deleted')]))).toBeUndefined();
  });

  it('takes the first provider as therapist and no full list for a single provider', () => {
    expect(decideTherapist(['p-1'], new Map([provider('p-1')]))).toEqual({
      partnerUserId: 'p-1',
      uphealUserId: 'u-p-1',
      fullList: undefined,
    });
  });

  it('gives the full list when every provider is mapped', () => {
    const decision = decideTherapist(['p-1', 'p-2'], new Map([provider('p-1'), provider('p-2')]));
    expect(decision?.fullList).toEqual({ partner: ['p-1', 'p-2'], upheal: ['u-p-1', 'u-p-2'] });
  });

  it('leaves the full list to the assignment job when one provider is not mapped', () => {
    const decision = decideTherapist(
      ['p-1', 'p-2'],
      new Map([provider('p-1'), provider('p-2', 'deleted')]),
    );
    expect(decision?.partnerUserId).toBe('p-1');
    expect(decision?.fullList).toBeUndefined();
  });
});
