import { describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/errors.ts';
import {
  AIMD,
  afterCleanWindows,
  afterRateLimited,
  BOOKING_PATHS,
  type BookingPath,
  bookSlots,
  boundedPause,
  CONTINUATION_LEAD_INTERVALS,
  cutFactor,
  DECISIONS,
  decide,
  deriveParams,
  initialState,
  isLate,
  type LimiterState,
  MAX_PAUSE_WINDOWS,
  MIN_JITTER_MS,
  maxReachMs,
  needsRecheck,
  oldViewSuffices,
  pauseBeyondBound,
  pausedAfterBooking,
  RECHECK_CLEAN_WINDOWS,
  recordSent,
  SENT_BUCKETS_PER_WINDOW,
  sentInWindow,
  slotDeadline,
  withoutUnboundedPause,
} from '#lib/limiter/gcra.ts';
import { LANES } from '#lib/limiter/rate-limiter.ts';
import { mulberry32 } from '#tools/simulator/prng.ts';

/** Production figures: 300 per minute, 1 s jitter allowance, 3 s horizon. */
const params = deriveParams({ limit: 300, windowMs: 60_000, jitterMs: 1_000, horizonMs: 3_000 });
const T = params.safeIntervalMs;
const NOW = 1_000_000;

/** One slot booked on `state`: the first slot of a lease of one. */
function bookSlot(
  current: LimiterState | undefined,
  now: number,
  deadline: number,
  bookingParams: typeof params,
): { slot: number; path: BookingPath; state: LimiterState } | undefined {
  const lease = bookSlots(current, now, deadline, bookingParams, 1);
  return lease && { slot: lease.slots[0]!, path: lease.path, state: lease.state };
}

const state = (overrides: Partial<LimiterState> = {}): LimiterState => ({
  ...initialState(NOW, params),
  ...overrides,
});

describe('deriveParams', () => {
  it('spaces slots by T = (W + J)/(N − 1), about 204 ms for 300 per minute with J = 1 s', () => {
    expect(T).toBeCloseTo(61_000 / 299, 9);
    expect(params.lateMs).toBe(500);
    expect(params.bulkLeadMs).toBeCloseTo(4 * T, 9);
    expect(params.maxIntervalMs).toBeCloseTo(T / AIMD.minRateShare, 9);
    expect(params.defaultBackoffMs).toBe(1_200);
  });

  it('rejects a limit that leaves no room after the burst, and a late threshold above J', () => {
    expect(() => deriveParams({ limit: 1, windowMs: 1, jitterMs: 100, horizonMs: 0 })).toThrow(
      ConfigError,
    );
    expect(() =>
      deriveParams({ limit: 10, windowMs: 1_000, jitterMs: 100, horizonMs: 0, lateMs: 101 }),
    ).toThrow(ConfigError);
  });

  it('rejects a jitter allowance too small for the late-slot rule to let anything through', () => {
    const config = { limit: 300, windowMs: 60_000, horizonMs: 3_000 };
    expect(() => deriveParams({ ...config, jitterMs: MIN_JITTER_MS - 1 })).toThrow(ConfigError);
    expect(deriveParams({ ...config, jitterMs: MIN_JITTER_MS }).lateMs).toBe(MIN_JITTER_MS / 2);
  });

  it('never lets the bulk lead exceed the horizon', () => {
    const tight = deriveParams({ limit: 300, windowMs: 60_000, jitterMs: 1_000, horizonMs: 100 });
    expect(tight.bulkLeadMs).toBe(100);
  });
});

describe('decide', () => {
  const deadline = NOW + params.horizonMs;

  it('lets the live lane book any slot up to the deadline', () => {
    const head = state({ tat: deadline });
    expect(decide(head, LANES.live, NOW, deadline, params)).toEqual({ kind: DECISIONS.book });
  });

  it('defers a caller whose slot lies beyond the deadline, saying how far the head is', () => {
    const far = state({ tat: deadline + 1 });
    expect(decide(far, LANES.live, NOW, deadline, params)).toEqual({
      kind: DECISIONS.defer,
      retryAfterMs: params.horizonMs + 1,
    });
    expect(decide(far, LANES.bulk, NOW, deadline, params).kind).toBe(DECISIONS.defer);
  });

  it('lets the bulk lane book only within its lead, and otherwise wait for that moment', () => {
    const near = state({ tat: NOW + params.bulkLeadMs });
    expect(decide(near, LANES.bulk, NOW, deadline, params)).toEqual({ kind: DECISIONS.book });
    const ahead = state({ tat: NOW + 2 * params.bulkLeadMs });
    const decision = decide(ahead, LANES.bulk, NOW, deadline, params);
    expect(decision.kind).toBe(DECISIONS.wait);
    if (decision.kind === DECISIONS.wait) {
      expect(decision.untilMs).toBeCloseTo(NOW + params.bulkLeadMs, 6);
      // Waking exactly then books (no endless wait on rounding).
      expect(decide(ahead, LANES.bulk, decision.untilMs, deadline, params).kind).toBe(
        DECISIONS.book,
      );
    }
  });

  it('lets a bulk continuation book further ahead than a first call, short of the horizon', () => {
    expect(params.continuationLeadMs).toBeGreaterThan(params.bulkLeadMs);
    expect(params.continuationLeadMs).toBeLessThanOrEqual(params.horizonMs / 2);
    const between = state({ tat: NOW + (params.bulkLeadMs + params.continuationLeadMs) / 2 });
    expect(decide(between, LANES.bulk, NOW, deadline, params).kind).toBe(DECISIONS.wait);
    expect(decide(between, LANES.bulk, NOW, deadline, params, true)).toEqual({
      kind: DECISIONS.book,
    });
    const beyond = state({ tat: NOW + params.continuationLeadMs + T });
    expect(decide(beyond, LANES.bulk, NOW, deadline, params, true).kind).toBe(DECISIONS.wait);
  });

  it('keeps the continuation lead between the bulk lead and half the horizon', () => {
    const wide = deriveParams({ limit: 300, windowMs: 60_000, jitterMs: 1_000, horizonMs: 60_000 });
    expect(wide.continuationLeadMs).toBeCloseTo(CONTINUATION_LEAD_INTERVALS * T, 6);
    const narrow = deriveParams({ limit: 300, windowMs: 60_000, jitterMs: 1_000, horizonMs: 500 });
    expect(narrow.continuationLeadMs).toBe(narrow.bulkLeadMs);
  });

  it('lets a bulk caller wait while it can start booking within the horizon (slotDeadline)', () => {
    expect(slotDeadline(LANES.live, NOW, params)).toBe(NOW + params.horizonMs);
    expect(slotDeadline(LANES.bulk, NOW, params)).toBe(NOW + params.horizonMs + params.bulkLeadMs);
    // Other processes pushed the head a little beyond the horizon: a live caller defers, a bulk
    // caller waits (it can start booking within H) instead of a trip through the queue.
    const pushed = state({ tat: NOW + params.horizonMs + params.bulkLeadMs / 2 });
    expect(
      decide(pushed, LANES.live, NOW, slotDeadline(LANES.live, NOW, params), params).kind,
    ).toBe(DECISIONS.defer);
    expect(decide(pushed, LANES.bulk, NOW, slotDeadline(LANES.bulk, NOW, params), params)).toEqual({
      kind: DECISIONS.wait,
      untilMs: pushed.tat - params.bulkLeadMs,
    });
    // Beyond the horizon plus the lead, even a bulk caller defers.
    const far = state({ tat: NOW + params.horizonMs + params.bulkLeadMs + 1 });
    expect(decide(far, LANES.bulk, NOW, slotDeadline(LANES.bulk, NOW, params), params).kind).toBe(
      DECISIONS.defer,
    );
  });

  it('decides on a view too old to book from only when it says wait or defer (oldViewSuffices)', () => {
    const bulkDeadline = slotDeadline(LANES.bulk, NOW, params);
    const ahead = state({ tat: NOW + 2 * params.bulkLeadMs });
    expect(oldViewSuffices(ahead, LANES.bulk, NOW, bulkDeadline, params)).toBe(true);
    const far = state({ tat: bulkDeadline + 1 });
    expect(oldViewSuffices(far, LANES.live, NOW, deadline, params)).toBe(true);
    // A view that says book must be read again: the head may have moved on since.
    const near = state({ tat: NOW + params.bulkLeadMs });
    expect(oldViewSuffices(near, LANES.bulk, NOW, bulkDeadline, params)).toBe(false);
    expect(oldViewSuffices(ahead, LANES.live, NOW, deadline, params)).toBe(false);
    expect(oldViewSuffices(undefined, LANES.bulk, NOW, bulkDeadline, params)).toBe(false);
    // A pause beyond the bound is repaired before anyone decides from it.
    const unbounded = state({ tat: NOW + maxReachMs(params) + 1 });
    expect(oldViewSuffices(unbounded, LANES.bulk, NOW, bulkDeadline, params)).toBe(false);
  });

  it('books at once on an idle or unknown schedule', () => {
    expect(decide(undefined, LANES.bulk, NOW, deadline, params).kind).toBe(DECISIONS.book);
    expect(decide(state({ tat: NOW - 5_000 }), LANES.bulk, NOW, deadline, params).kind).toBe(
      DECISIONS.book,
    );
  });
});

describe('bookSlot', () => {
  const deadline = NOW + params.horizonMs;

  it('restarts an idle schedule at now and moves the head one interval on', () => {
    const booking = bookSlot(state({ tat: NOW - 10_000 }), NOW, deadline, params);
    expect(booking?.path).toBe(BOOKING_PATHS.restart);
    expect(booking?.slot).toBe(NOW);
    expect(booking?.state.tat).toBeCloseTo(NOW + T, 9);
  });

  it('takes a head that passed less than catchUpMs ago (no restart race), and sends at once', () => {
    const booking = bookSlot(state({ tat: NOW - params.catchUpMs }), NOW, deadline, params);
    expect(booking?.path).toBe(BOOKING_PATHS.advance);
    expect(booking?.slot).toBe(NOW - params.catchUpMs);
    expect(isLate(booking!.slot, NOW, params)).toBe(false);
  });

  it('takes the head of a busy schedule, so consecutive slots are one interval apart', () => {
    let current: LimiterState | undefined;
    const slots: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const booking = bookSlot(current, NOW, deadline, params);
      slots.push(booking!.slot);
      current = booking!.state;
    }
    const gaps = slots.slice(1).map((slot, i) => slot - slots[i]!);
    for (const gap of gaps) expect(gap).toBeCloseTo(T, 9);
  });

  it('books nothing beyond the deadline (a deferring caller would waste the slot)', () => {
    expect(bookSlot(state({ tat: deadline + 1 }), NOW, deadline, params)).toBeUndefined();
  });

  it('books a lease of consecutive slots, the schedule ending as after as many single bookings', () => {
    const busy = state({ tat: NOW + T });
    const lease = bookSlots(busy, NOW, deadline, params, 4)!;
    expect(lease.path).toBe(BOOKING_PATHS.advance);
    expect(lease.slots).toHaveLength(4);
    for (const [i, slot] of lease.slots.entries()) expect(slot).toBeCloseTo(NOW + (i + 1) * T, 9);
    let single: LimiterState = busy;
    for (let i = 0; i < 4; i += 1) single = bookSlot(single, NOW, deadline, params)!.state;
    expect(lease.state.tat).toBeCloseTo(single.tat, 9);
  });

  it('takes only the slots of a lease that end by the deadline, at least one', () => {
    const nearDeadline = state({ tat: deadline - 1.5 * T });
    expect(bookSlots(nearDeadline, NOW, deadline, params, 5)?.slots).toHaveLength(2);
    expect(bookSlots(state({ tat: deadline }), NOW, deadline, params, 5)?.slots).toHaveLength(1);
    expect(bookSlots(state({ tat: deadline + 1 }), NOW, deadline, params, 5)).toBeUndefined();
  });

  it('repairs a stored interval below the safe one (another configuration wrote it)', () => {
    const booking = bookSlot(state({ intervalMs: T / 2 }), NOW, deadline, params);
    expect(booking?.state.intervalMs).toBe(T);
  });
});

describe('the re-check before use', () => {
  it('checks only slots booked at least two intervals ahead', () => {
    const shared = state({ intervalMs: 1.5 * T });
    expect(needsRecheck(NOW + 2 * T, NOW, shared, params)).toBe(true);
    expect(needsRecheck(NOW + T, NOW, shared, params)).toBe(false);
  });

  it('checks while the key is shared, and not on a schedule alone at its rate for a window', () => {
    const later = NOW + RECHECK_CLEAN_WINDOWS * params.windowMs + 1;
    const slot = later + 4 * T;
    const alone = state({ cleanSince: NOW });
    expect(needsRecheck(slot, later, alone, params)).toBe(false);
    // Slowed by a cut, or a 429 (or a raise) within the last window, or nothing seen: checked.
    expect(needsRecheck(slot, later, { ...alone, intervalMs: 1.2 * T }, params)).toBe(true);
    expect(needsRecheck(slot, later, { ...alone, cleanSince: later - 1_000 }, params)).toBe(true);
    expect(needsRecheck(slot, later, undefined, params)).toBe(true);
  });

  it('drops a slot that a later 429 pause covers, and keeps the slots booked after it', () => {
    const booked = bookSlot(state({ tat: NOW + 10 * T }), NOW, NOW + params.horizonMs, params)!;
    const paused = afterRateLimited(booked.state, NOW + T, 1_000, params);
    expect(pausedAfterBooking(booked.slot, paused)).toBe(true);
    const after = bookSlot(paused, NOW + T, Number.POSITIVE_INFINITY, params)!;
    expect(pausedAfterBooking(after.slot, paused)).toBe(false);
  });

  it('is not fooled by a rate increase', () => {
    const cut = afterRateLimited(state(), NOW, 0, params);
    const later = cut.cleanSince + 3 * params.windowMs;
    const raised = afterCleanWindows(cut, later, params)!;
    expect(pausedAfterBooking(later + T, raised)).toBe(false);
  });
});

describe('isLate', () => {
  it('drops a slot reached more than lateMs after it, and keeps one reached in time', () => {
    expect(isLate(NOW, NOW + params.lateMs, params)).toBe(false);
    expect(isLate(NOW, NOW + params.lateMs + 1, params)).toBe(true);
  });
});

describe('afterRateLimited', () => {
  it('pauses everyone until Retry-After plus J and paces just below the rate that filled the window', () => {
    const next = afterRateLimited(state(), NOW, 5_000, params);
    expect(next.tat).toBe(NOW + 5_000 + params.jitterMs);
    expect(next.intervalMs).toBeCloseTo(T / AIMD.estimateShare, 9);
    expect(next.cutFromIntervalMs).toBe(T);
    expect(next.holdUntil).toBeGreaterThanOrEqual(next.tat);
  });

  it('cuts by the decrease factor when the rate has not grown since the last cut', () => {
    const first = afterRateLimited(state(), NOW, 0, params);
    const again = afterRateLimited(first, first.holdUntil, 0, params);
    expect(again.intervalMs).toBeCloseTo(first.intervalMs / AIMD.decreaseFactor, 9);
    // Once the rate grew past what the cut set, the next 429 is an estimate again.
    const grown = { ...again, intervalMs: again.cutFromIntervalMs / (AIMD.estimateShare + 0.01) };
    expect(cutFactor(grown)).toBe(AIMD.estimateShare);
    expect(cutFactor({ ...grown, intervalMs: again.cutFromIntervalMs / AIMD.estimateShare })).toBe(
      AIMD.decreaseFactor,
    );
  });

  it('pauses at most MAX_PAUSE_WINDOWS windows, however far Retry-After points', () => {
    const yearTenThousand = Date.UTC(10_000, 0, 1) - NOW;
    for (const hint of [yearTenThousand, 1e12 * 1_000, Number.POSITIVE_INFINITY]) {
      const next = afterRateLimited(state(), NOW, hint, params);
      expect(next.tat).toBe(NOW + MAX_PAUSE_WINDOWS * params.windowMs + params.jitterMs);
      expect(next.cleanSince).toBe(next.tat);
      expect(pauseBeyondBound(next, NOW, params)).toBe(false);
    }
  });

  it('uses the default backoff for a Retry-After that is not a usable number', () => {
    for (const hint of [Number.NaN, -5_000]) {
      expect(boundedPause(hint, params)).toBe(params.defaultBackoffMs);
    }
    expect(boundedPause(7_000, params)).toBe(7_000);
  });

  it('uses the default backoff when Upheal gave no Retry-After', () => {
    const next = afterRateLimited(state(), NOW, undefined, params);
    expect(next.tat).toBe(NOW + params.defaultBackoffMs + params.jitterMs);
  });

  it('cuts once per window: a 429 during the hold extends the pause and the unclean time only', () => {
    const first = afterRateLimited(state(), NOW, 1_000, params);
    expect(first.holdUntil).toBe(NOW + params.windowMs);
    const second = afterRateLimited(first, NOW + params.windowMs - 1, 2_000, params);
    expect(second.intervalMs).toBe(first.intervalMs);
    expect(second.tat).toBe(NOW + params.windowMs - 1 + 2_000 + params.jitterMs);
    expect(second.cleanSince).toBe(second.tat);
    const third = afterRateLimited(second, NOW + params.windowMs, 0, params);
    expect(third.intervalMs).toBeCloseTo(first.intervalMs / AIMD.decreaseFactor, 9);
  });

  it('never lowers the rate below the floor', () => {
    let current = state();
    for (let i = 0; i < 50; i += 1) {
      current = afterRateLimited(current, current.holdUntil, 0, params);
    }
    expect(current.intervalMs).toBeCloseTo(params.maxIntervalMs, 9);
  });

  it('never moves the schedule back', () => {
    const busy = state({ tat: NOW + 60_000 });
    expect(afterRateLimited(busy, NOW, 1_000, params).tat).toBe(NOW + 60_000);
  });
});

describe('the count of booked slots', () => {
  const bucketMs = params.windowMs / SENT_BUCKETS_PER_WINDOW;
  /** A ring after `perBucket` slots booked in each bucket of the `buckets` before `end`. */
  const steady = (end: number, buckets: number, perBucket: number) => {
    let ring: number[] | undefined;
    for (let back = buckets; back >= 1; back -= 1) {
      ring = recordSent(ring, end - back * bucketMs, perBucket, params);
    }
    return ring;
  };

  it('sums the slots of the last window, the partly covered oldest bucket by its share', () => {
    const start = 600 * params.windowMs;
    // Five buckets of 10 slots each: all inside the window.
    expect(sentInWindow(steady(start, 5, 10), start, params)).toBe(50);
    // Three windows' worth, up to the bucket before `start`: the window ending at `start` holds
    // those ten buckets, and halfway through the next bucket nine of them and half of one.
    const ring = steady(start, 30, 10);
    expect(sentInWindow(ring, start, params)).toBeCloseTo(100, 9);
    expect(sentInWindow(ring, start + bucketMs / 2, params)).toBeCloseTo(90 + 5, 9);
    expect(sentInWindow(undefined, start, params)).toBeUndefined();
  });

  it("keeps the oldest bucket's count while bookings in the current one clear the others", () => {
    const start = 600 * params.windowMs;
    // Ten slots in each of the eleven buckets up to the current one, read halfway through it:
    // the current and nine before it whole, the eleventh back by half.
    const ring = recordSent(steady(start, SENT_BUCKETS_PER_WINDOW, 10), start, 10, params);
    expect(sentInWindow(ring, start + bucketMs / 2, params)).toBeCloseTo(100 + 5, 9);
  });

  it('is never below the slots booked in the window but its oldest tenth, whatever the gaps', () => {
    const random = mulberry32(7);
    for (let run = 0; run < 200; run += 1) {
      let ring: number[] | undefined;
      let at = 600 * params.windowMs;
      const booked: { at: number; count: number }[] = [];
      for (let booking = 0; booking < 60; booking += 1) {
        // Gaps from a moment to two windows: idle spells leave old counts in the ring.
        at += random() < 0.2 ? random() * 2 * params.windowMs : random() * bucketMs;
        const count = 1 + Math.floor(random() * 5);
        ring = recordSent(ring, at, count, params);
        booked.push({ at, count });
      }
      const now = at + random() * params.windowMs;
      const inWindow = booked
        .filter((entry) => entry.at > now - params.windowMs + bucketMs)
        .reduce((sum, entry) => sum + entry.count, 0);
      expect(sentInWindow(ring, now, params)).toBeGreaterThanOrEqual(inWindow);
    }
  });

  it('is kept by every booking', () => {
    const lease = bookSlots(state(), NOW, NOW + 10 * T, params, 3)!;
    const single = bookSlots(lease.state, NOW + 1, NOW + 10 * T, params, 1)!;
    expect(sentInWindow(single.state.sent, NOW + 2, params)).toBe(4);
  });
});

describe('afterRateLimited with the count of booked slots', () => {
  const bucketMs = params.windowMs / SENT_BUCKETS_PER_WINDOW;
  /** A window's start, on a bucket's edge. */
  const AT = 600 * params.windowMs;
  /** A state at `rate` whose last window, up to AT, held `sent` slots of ours. */
  const sending = (rateShareOfCap: number, sent: number) => {
    let ring: number[] | undefined;
    for (let back = SENT_BUCKETS_PER_WINDOW; back >= 1; back -= 1) {
      ring = recordSent(ring, AT - back * bucketMs, sent / SENT_BUCKETS_PER_WINDOW, params);
    }
    return state({ tat: AT, cleanSince: AT, intervalMs: T / rateShareOfCap, sent: ring });
  };

  it('paces at estimateShare of what the key sent in the full window: the share left to it', () => {
    // At the cap, 270 of the window's 300 were ours: a foreign client took about 30.
    const next = afterRateLimited(sending(1, 270), AT, undefined, params);
    expect(params.windowMs / next.intervalMs).toBeCloseTo(AIMD.estimateShare * 270, 6);
    // Fast recovery aims at the cut rate itself, not back at the rate that drew the 429.
    expect(next.cutFromIntervalMs / AIMD.recoveryShare).toBeCloseTo(next.intervalMs, 9);
  });

  it('keeps the cut rate through fast recovery: a clean window adds one step', () => {
    const cut = afterRateLimited(sending(1, 270), AT, undefined, params);
    const later = afterCleanWindows(cut, cut.cleanSince + params.windowMs, params);
    expect(1 / later!.intervalMs).toBeCloseTo(1 / cut.intervalMs + params.increasePerWindow, 12);
  });

  it('cuts at least by estimateShare and at most by decreaseFactor', () => {
    const high = afterRateLimited(sending(1, 400), AT, undefined, params);
    expect(high.intervalMs).toBeCloseTo(T / AIMD.estimateShare, 9);
    const low = afterRateLimited(sending(1, 20), AT, undefined, params);
    expect(low.intervalMs).toBeCloseTo(T / AIMD.decreaseFactor, 9);
  });
});

describe('afterCleanWindows', () => {
  // A hard cut (the second of two): fast recovery only matters below the recovery share.
  const cut = afterRateLimited(
    afterRateLimited(state(), NOW - params.windowMs, 0, params),
    NOW,
    1_000,
    params,
  );

  it('changes nothing during the hold or before a full clean window', () => {
    expect(afterCleanWindows(cut, cut.holdUntil - 1, params)).toBeUndefined();
    expect(afterCleanWindows(cut, cut.cleanSince + params.windowMs - 1, params)).toBeUndefined();
  });

  it('climbs straight back to the recovery share of the pre-cut rate in the first clean window', () => {
    const later = afterCleanWindows(cut, cut.cleanSince + params.windowMs, params);
    expect(later!.intervalMs).toBeCloseTo(cut.cutFromIntervalMs / AIMD.recoveryShare, 9);
  });

  it('then adds one additive step per clean window', () => {
    const slow = { ...cut, intervalMs: 2 * T, cutFromIntervalMs: 10 * T };
    const later = afterCleanWindows(slow, slow.cleanSince + 2 * params.windowMs, params);
    expect(1 / later!.intervalMs).toBeCloseTo(
      1 / slow.intervalMs + 2 * params.increasePerWindow,
      12,
    );
    expect(later!.cleanSince).toBe(slow.cleanSince + 2 * params.windowMs);
  });

  it('climbs back to the safe cap and never above it', () => {
    const recovered = afterCleanWindows(cut, cut.cleanSince + 1_000 * params.windowMs, params);
    expect(recovered!.intervalMs).toBe(T);
    expect(afterCleanWindows(recovered!, NOW + 2_000 * params.windowMs, params)).toBeUndefined();
  });
});

describe('pauses beyond the bound', () => {
  const farAhead = Date.UTC(10_000, 0, 1);

  it('finds a stored schedule, clean period or hold no bounded 429 could have written', () => {
    expect(pauseBeyondBound(state(), NOW, params)).toBe(false);
    expect(pauseBeyondBound(state({ tat: NOW + maxReachMs(params) }), NOW, params)).toBe(false);
    expect(pauseBeyondBound(state({ tat: farAhead }), NOW, params)).toBe(true);
    expect(pauseBeyondBound(state({ cleanSince: farAhead }), NOW, params)).toBe(true);
    expect(pauseBeyondBound(state({ holdUntil: farAhead }), NOW, params)).toBe(true);
  });

  it('brings only the out-of-bound times back to now, keeping the rate', () => {
    const stored = state({
      tat: farAhead,
      cleanSince: farAhead,
      holdUntil: NOW + 10,
      intervalMs: 2 * T,
    });
    const repaired = withoutUnboundedPause(stored, NOW, params);
    expect(repaired).toEqual({ ...stored, tat: NOW, cleanSince: NOW, holdUntil: NOW + 10 });
    expect(decide(repaired, LANES.live, NOW, NOW + params.horizonMs, params).kind).toBe(
      DECISIONS.book,
    );
  });
});
