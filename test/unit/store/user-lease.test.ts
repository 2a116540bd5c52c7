/**
 * The lease length of work done within a Lambda invocation (`leaseMsFor`): the holder's lease
 * must outlast the invocation, and no more than the clock margin beyond it, so a crashed
 * holder's lease frees itself soon after the invocation's deadline.
 */
import { describe, expect, it } from 'vitest';
import { LEASE_CLOCK_MARGIN_MS, leaseMsFor } from '#lib/store/user-lease.ts';

describe('leaseMsFor', () => {
  it('lasts the invocation’s remaining time plus the clock margin', () => {
    expect(leaseMsFor({ getRemainingTimeInMillis: () => 12_345 })).toBe(
      12_345 + LEASE_CLOCK_MARGIN_MS,
    );
  });

  it('never goes below the margin when the deadline has passed', () => {
    expect(leaseMsFor({ getRemainingTimeInMillis: () => -50 })).toBe(LEASE_CLOCK_MARGIN_MS);
  });

  it('leaves the store’s default when there is no invocation', () => {
    expect(leaseMsFor(undefined)).toBeUndefined();
  });
});
