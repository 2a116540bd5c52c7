/**
 * The pure rate-limiting algorithm behind the shared limiter (docs/limits.md): GCRA in
 * reservation mode ("virtual scheduling") with burst B = 1, two lanes and AIMD adaptation. No I/O
 * and no clock of its own: every function takes `now` (epoch ms), so the same code runs in the
 * DynamoDB adapter and in the virtual-time simulation that proves its bounds. It stays one file
 * (about 600 lines) because booking, leases, lanes and AIMD (with the count of booked slots it
 * cuts by) all move the same item and their bounds are proven together.
 *
 * The schedule is one number, `tat` (theoretical arrival time): the earliest time the next slot may
 * be used. Booking a slot at `now` takes `slot = max(tat, now)` (or a `tat` that passed less than
 * catchUpMs ago, used at once) and moves `tat` to `slot + intervalMs`. So booked slots, in booking
 * order, are spaced by at least the interval in force when each was booked, and AIMD never lets
 * the interval drop below the safe interval T = (W + J) / (N − B).
 *
 * Window bound (why T is safe). Suppose every request reaches Upheal at a time `a` with
 * `slot ≤ a ≤ slot + J` (never before the slot; the late-slot rule bounds how late a worker sends,
 * a caught-up slot included; the rest of J covers latency spread and clock skew). Take any arrivals i < j inside one window of length W, so
 * a_j − a_i ≤ W. Then (j − i)·T ≤ s_j − s_i ≤ a_j − (a_i − J) ≤ W + J = (N − B)·T, so j − i ≤ N − 1:
 * at most N arrivals in ANY window of length W, open or closed, sliding or fixed. Pauses and a
 * lowered rate only widen the gaps, so the bound holds through adaptation too. The price is the
 * sustained rate 1/T, i.e. utilisation U = (N − 1)·W / (N·(W + J)).
 */
import { ConfigError } from '#lib/errors.ts';
import { LANES, type Lane } from '#lib/limiter/rate-limiter.ts';

/** Burst tolerance B: pure pacing (every unit of burst would cost sustained rate). */
export const BURST = 1;

/** Share of the jitter allowance J a worker may spend sending late; the rest covers latency spread. */
export const LATE_SHARE_OF_JITTER = 0.5;

/**
 * Share of the late-slot threshold by which a booking may take a head that just passed (and send
 * at once) instead of restarting the schedule at now. Callers that return together to a schedule
 * whose head just went by then all take consecutive slots with the one write that never conflicts,
 * instead of racing for the restart; the lateness this adds stays within the late-slot rule.
 */
export const CATCH_UP_SHARE_OF_LATE = 0.5;

/**
 * The smallest jitter allowance that works: below it the late-slot threshold (J/2) is within
 * timer and event-loop error, so nearly every slot would be dropped as late and callers would
 * spin on bookings instead of sending.
 */
export const MIN_JITTER_MS = 20;

/** How far ahead of now the bulk lane books, in safe intervals (the live lane books up to H). */
export const BULK_LEAD_INTERVALS = 4;

/**
 * How far ahead a bulk call that continues an event (the create after its check) books, in safe
 * intervals, at most half the horizon: further than the bulk lead, so calls of events already
 * under way go before the first calls of new ones (a continuation that had to defer would repeat
 * its event's earlier calls), and short of the horizon, so the live lane can still book.
 */
export const CONTINUATION_LEAD_INTERVALS = 8;

/**
 * Most slots one booking takes (a lease): a process with several callers waiting books one slot
 * for each with one conditional write, up to this many. More would hold slots a process may not
 * use before they pass; fewer would cost a write for every few calls.
 */
export const MAX_LEASE_SLOTS = 5;

/** AIMD adaptation to other clients of the same API key. */
export const AIMD = {
  /**
   * A 429 sets the rate to this share of what the key's own callers sent in the last window
   * (`cutAt`): Upheal's window was full when it answered, so that count is the share other
   * clients leave; pacing just below it uses that share instead of cutting far below it. It is
   * also the most a 429 leaves of the rate in force. On an item without the count, a 429 that
   * finds the rate grown back above the last cut's estimate multiplies the rate by it, the rate
   * that filled the window standing for the count. 0.95 rather than closer to 1: in the virtual-time
   * simulation (30 % and 60 % foreign shares) it used as much of the rest as 0.97 did at 30 %
   * (0.965–0.968) and more at 60 % (0.954 against 0.931), with fewer 429s, since a rate a little
   * further below the estimate takes more clean windows of increases to fill the window again.
   */
  estimateShare: 0.95,
  /**
   * The least a 429 leaves of the rate in force: a low count (callers that sent less than the
   * schedule allowed) must not drop the rate to the floor at one reading. On an item without the
   * count, a 429 that finds the rate not grown back above the last cut's estimate (the estimate
   * was wrong) multiplies the rate by this (see `cutFactor`).
   */
  decreaseFactor: 0.8,
  /** The rate never drops below this share of the safe cap 1/T. */
  minRateShare: 0.1,
  /** After each clean window the rate grows by this share of the safe cap. */
  increaseShare: 0.02,
  /**
   * The first clean window after a cut climbs straight back to this share of the rate recorded
   * with the cut (`cutFromIntervalMs`; fast recovery). Without the count that is the rate the cut
   * started from: the 429 showed it was just too much, not far too much, so the rate stays near
   * the share other clients leave instead of sawing far below it. With the count the cut records
   * its own rate ÷ this share, so recovery keeps the cut rate and the additive steps go on.
   */
  recoveryShare: 0.95,
  /**
   * Pause after a 429 without Retry-After (Upheal documents none), as a share of the window. The
   * cut already lowers the inflow, so the pause only has to let a full window drain a little; a
   * longer pause leaves more of the budget that other clients leave unused.
   */
  defaultBackoffShareOfWindow: 0.02,
} as const;

/**
 * Longest pause one 429 may impose, in windows, whatever its `Retry-After` says: Upheal's limit
 * is per window, so a full window plus one of margin always drains it. A larger hint (a date
 * years ahead, a huge number of seconds) would otherwise stop every worker for as long.
 */
export const MAX_PAUSE_WINDOWS = 2;

/** What the limiter is configured with (from `UPHEAL_RATE_*`, or scaled in tests). */
export interface GcraConfig {
  /** N: requests allowed per window. */
  readonly limit: number;
  /** W: the window, in ms. */
  readonly windowMs: number;
  /** J: allowance for the spread between a slot and Upheal's arrival time, in ms. */
  readonly jitterMs: number;
  /** H: longest in-process wait for a slot before the caller defers, in ms. */
  readonly horizonMs: number;
  /** How far ahead the bulk lane books; default BULK_LEAD_INTERVALS safe intervals, at most H. */
  readonly bulkLeadMs?: number;
  /**
   * How far ahead a bulk continuation books; default CONTINUATION_LEAD_INTERVALS safe intervals,
   * at most H/2, at least the bulk lead.
   */
  readonly continuationLeadMs?: number;
  /** Late-slot threshold; default LATE_SHARE_OF_JITTER of J. Must not exceed J. */
  readonly lateMs?: number;
}

/** The configuration with every derived constant of the algorithm. */
export interface GcraParams extends Required<GcraConfig> {
  /** T = (W + J)/(N − B): the smallest interval that keeps the window bound. */
  readonly safeIntervalMs: number;
  /** The interval at the AIMD floor (rate = minRateShare of the safe cap). */
  readonly maxIntervalMs: number;
  /** Additive increase per clean window, in requests per ms. */
  readonly increasePerWindow: number;
  /** Pause after a 429 when Upheal sent no Retry-After. */
  readonly defaultBackoffMs: number;
  /** A head at most this far in the past is still taken (see CATCH_UP_SHARE_OF_LATE). */
  readonly catchUpMs: number;
  /** Longest pause after one 429 (MAX_PAUSE_WINDOWS windows), whatever Retry-After says. */
  readonly maxPauseMs: number;
}

/** Derives the algorithm's constants; throws ConfigError when the configuration cannot work. */
export function deriveParams(config: GcraConfig): GcraParams {
  const { limit, windowMs, jitterMs, horizonMs } = config;
  if (!Number.isInteger(limit) || limit <= BURST) {
    throw new ConfigError(`rate limit must be an integer above ${BURST}`);
  }
  if (!(windowMs > 0) || !(horizonMs >= 0)) {
    throw new ConfigError('rate window must be positive and the horizon non-negative');
  }
  if (!(jitterMs >= MIN_JITTER_MS)) {
    throw new ConfigError(`rate jitter allowance must be at least ${MIN_JITTER_MS} ms`);
  }
  const safeIntervalMs = (windowMs + jitterMs) / (limit - BURST);
  const lateMs = config.lateMs ?? jitterMs * LATE_SHARE_OF_JITTER;
  if (lateMs > jitterMs)
    throw new ConfigError('the late-slot threshold must not exceed the jitter');
  const bulkLeadMs = Math.min(horizonMs, config.bulkLeadMs ?? BULK_LEAD_INTERVALS * safeIntervalMs);
  const continuationLeadMs = Math.max(
    bulkLeadMs,
    Math.min(
      horizonMs / 2,
      config.continuationLeadMs ?? CONTINUATION_LEAD_INTERVALS * safeIntervalMs,
    ),
  );
  return {
    limit,
    windowMs,
    jitterMs,
    horizonMs,
    lateMs,
    bulkLeadMs,
    continuationLeadMs,
    safeIntervalMs,
    maxIntervalMs: safeIntervalMs / AIMD.minRateShare,
    increasePerWindow: AIMD.increaseShare / safeIntervalMs,
    defaultBackoffMs: windowMs * AIMD.defaultBackoffShareOfWindow,
    catchUpMs: lateMs * CATCH_UP_SHARE_OF_LATE,
    maxPauseMs: windowMs * MAX_PAUSE_WINDOWS,
  };
}

/** The shared state: one item per API key. */
export interface LimiterState {
  /** Epoch ms of the next free slot. */
  readonly tat: number;
  /** The interval in force (AIMD-controlled, between the safe and the floor interval). */
  readonly intervalMs: number;
  /** Until then, further 429s belong to the last congestion event: they pause but do not cut. */
  readonly holdUntil: number;
  /** Start of the current clean period; each full window of it adds one increase step. */
  readonly cleanSince: number;
  /**
   * The interval fast recovery aims at recoveryShare of: the one in force when the last cut
   * happened, or, for a cut by the count of booked slots, the cut interval × recoveryShare.
   */
  readonly cutFromIntervalMs: number;
  /**
   * Slots booked per tenth of a window, in a ring (see `recordSent`); absent on an item that
   * no booking has counted yet.
   */
  readonly sent?: readonly number[];
}

/** The state of a key nobody has used yet. */
export function initialState(now: number, params: GcraParams): LimiterState {
  const intervalMs = params.safeIntervalMs;
  return { tat: now, intervalMs, holdUntil: 0, cleanSince: now, cutFromIntervalMs: intervalMs };
}

/**
 * Whether a caller may decide from a view of the item it obtained at `viewAt` without reading it
 * again. Others book all the time, so a view older than one safe interval is likely behind by a
 * booking or more, and an idle-looking view (tat < now) is exactly the case where others may have
 * restarted the schedule meanwhile. Acting on a stale view costs a failed conditional write (a
 * write unit) and, worse, lets waiting bulk callers herd past their lead; a consistent read is
 * five times cheaper than a write.
 */
export function viewIsFresh(
  view: LimiterState | undefined,
  viewAt: number,
  now: number,
  params: GcraParams,
): view is LimiterState {
  return view !== undefined && view.tat >= now && now - viewAt < params.safeIntervalMs;
}

/**
 * The latest slot a caller asking at `now` waits for in-process before it defers: the horizon H
 * for the live lane; for the bulk lane H plus the bulk lead, so that a bulk caller defers only
 * when it could not even start booking within H. Bulk callers book only once the head is within
 * their lead, and several processes booking at once push the head a lead or so beyond that;
 * bound by H alone, every bulk caller that saw such a head would defer (a trip through the
 * queue, and the user's state read again) instead of waiting a few intervals. The bulk lead, not
 * the longer continuation lead, keeps the longest wait, H plus the bulk lead, within the call
 * budget of an invocation (see lib/runtime.ts).
 */
export function slotDeadline(lane: Lane, now: number, params: GcraParams): number {
  if (lane === LANES.live) return now + params.horizonMs;
  return now + params.horizonMs + params.bulkLeadMs;
}

/** What a caller should do next. */
export type Decision =
  | { readonly kind: 'book' }
  | { readonly kind: 'wait'; readonly untilMs: number }
  | { readonly kind: 'defer'; readonly retryAfterMs: number };

/** The kinds of Decision. */
export const DECISIONS = { book: 'book', wait: 'wait', defer: 'defer' } as const;

/**
 * Decides for a caller of `lane` at `now` whose in-process wait must end by `deadline`, from its
 * view of the state (possibly stale, but `tat` only grows, so a stale view never overstates the
 * room left). The live lane books any slot up to the deadline. The bulk lane books only when the
 * schedule's head is within `bulkLeadMs` (`continuationLeadMs` for a call that continues an
 * event), and otherwise waits for that moment: bulk work therefore never holds slots far ahead,
 * and a live request that arrives during a bulk backlog books right behind the few bulk slots
 * already taken, ahead of every bulk caller still waiting.
 */
export function decide(
  state: LimiterState | undefined,
  lane: Lane,
  now: number,
  deadline: number,
  params: GcraParams,
  continuation = false,
): Decision {
  const head = Math.max(state?.tat ?? now, now);
  if (head > deadline) return { kind: DECISIONS.defer, retryAfterMs: head - now };
  // Compared as a time, not a difference, so waking exactly at `untilMs` always books.
  const bookableAt = head - (continuation ? params.continuationLeadMs : params.bulkLeadMs);
  if (lane === LANES.live || bookableAt <= now) return { kind: DECISIONS.book };
  return { kind: DECISIONS.wait, untilMs: bookableAt };
}

/** How a booking changed the schedule: resumed an idle schedule at now, or took its head. */
export const BOOKING_PATHS = { restart: 'restart', advance: 'advance' } as const;

/** A booking path. */
export type BookingPath = (typeof BOOKING_PATHS)[keyof typeof BOOKING_PATHS];

/**
 * The path a booking at `now` takes on `state` (the adapter's two conditional writes): the schedule
 * restarts at now only when its head lies more than `catchUpMs` in the past.
 */
export function bookingPath(
  state: LimiterState | undefined,
  now: number,
  params: GcraParams,
): BookingPath {
  return state === undefined || state.tat < now - params.catchUpMs
    ? BOOKING_PATHS.restart
    : BOOKING_PATHS.advance;
}

/** Consecutive slots booked with one write, and the state after booking them. */
export interface Lease {
  /** Ascending, one interval apart; the first is the slot a single booking would give. */
  readonly slots: readonly number[];
  readonly path: BookingPath;
  readonly state: LimiterState;
}

/**
 * Books up to `count` consecutive slots at once (a lease) on the TRUE current state, as one
 * conditional write does: the first by the booking path (`restart`: the head lies more than
 * catchUpMs past, the slot is now; `advance`: the slot is the head, possibly just past), the
 * others one interval apart after it, only as many as end by `deadline`. Returns undefined when
 * the head lies beyond the deadline: a caller that would defer must not book, or its slot would
 * be wasted. The schedule is the same as after `count` single bookings, so the window bound
 * holds for every slot of a lease; only who holds the slots differs.
 */
export function bookSlots(
  state: LimiterState | undefined,
  now: number,
  deadline: number,
  params: GcraParams,
  count: number,
): Lease | undefined {
  const current = state ?? initialState(now, params);
  const intervalMs = clampInterval(current.intervalMs, params);
  const path = bookingPath(state, now, params);
  const first = path === BOOKING_PATHS.restart ? now : current.tat;
  if (first > deadline) return undefined;
  const fitting = Math.floor((deadline - first) / intervalMs) + 1;
  const taken = Math.max(1, Math.min(Math.floor(count), fitting));
  const slots = Array.from({ length: taken }, (_, index) => first + index * intervalMs);
  const sent = recordSent(current.sent, now, taken, params);
  return { slots, path, state: { ...current, intervalMs, tat: first + taken * intervalMs, sent } };
}

/**
 * The count of booked slots is kept per bucket of a tenth of a window, in a ring of two
 * windows' buckets: enough to sum the last window at any time, and one conditional write per
 * booking can keep it (an ADD to its bucket, a REMOVE of the buckets more than a window old).
 */
export const SENT_BUCKETS_PER_WINDOW = 10;
/** Buckets in the ring. */
export const SENT_RING_SIZE = 2 * SENT_BUCKETS_PER_WINDOW;

/** The absolute bucket of `at`. */
export function sentBucket(at: number, params: GcraParams): number {
  return Math.floor(at / (params.windowMs / SENT_BUCKETS_PER_WINDOW));
}

/** The ring position of an absolute bucket. */
export function sentRingIndex(bucket: number): number {
  return ((bucket % SENT_RING_SIZE) + SENT_RING_SIZE) % SENT_RING_SIZE;
}

/**
 * The ring positions a booking in `bucket` clears: those of the next buckets, which hold counts
 * from more than a window ago. The current bucket and the window's worth before it (plus the one
 * partly inside) are kept. A position no booking cleared since (nearly a window without one)
 * keeps an old count, which makes the sum too high (`cutAt` bounds what that costs).
 */
export function staleSentIndexes(bucket: number): number[] {
  return Array.from({ length: SENT_RING_SIZE - SENT_BUCKETS_PER_WINDOW - 1 }, (_, step) =>
    sentRingIndex(bucket + 1 + step),
  );
}

/** The ring after booking `count` slots at `now`, as the booking's write leaves it. */
export function recordSent(
  ring: readonly number[] | undefined,
  now: number,
  count: number,
  params: GcraParams,
): number[] {
  const next = ring ? [...ring] : new Array<number>(SENT_RING_SIZE).fill(0);
  const bucket = sentBucket(now, params);
  for (const index of staleSentIndexes(bucket)) next[index] = 0;
  next[sentRingIndex(bucket)] = (next[sentRingIndex(bucket)] ?? 0) + count;
  return next;
}

/**
 * Slots booked in the window that ends at `now`: the last SENT_BUCKETS_PER_WINDOW buckets, the
 * current one included, and of the bucket before them the share still inside the window (as a
 * sliding-window counter estimates). Undefined without a ring.
 */
export function sentInWindow(
  ring: readonly number[] | undefined,
  now: number,
  params: GcraParams,
): number | undefined {
  if (ring === undefined) return undefined;
  const bucketMs = params.windowMs / SENT_BUCKETS_PER_WINDOW;
  const bucket = sentBucket(now, params);
  let sum = 0;
  for (let back = 0; back < SENT_BUCKETS_PER_WINDOW; back += 1) {
    sum += ring[sentRingIndex(bucket - back)] ?? 0;
  }
  const inside = 1 - (now - bucket * bucketMs) / bucketMs;
  return sum + inside * (ring[sentRingIndex(bucket - SENT_BUCKETS_PER_WINDOW)] ?? 0);
}

/** Keeps an interval within [safe, floor]: a stored interval from another configuration is fixed. */
export function clampInterval(intervalMs: number, params: GcraParams): number {
  return Math.min(params.maxIntervalMs, Math.max(params.safeIntervalMs, intervalMs));
}

/**
 * A slot booked at least this many safe intervals ahead is checked against the item just before
 * it is used (see `pausedAfterBooking`): others may have reported a 429 meanwhile.
 */
export const RECHECK_AHEAD_INTERVALS = 2;

/**
 * Windows without a 429 or a rate increase after which a schedule at its configured rate stops
 * re-checking slots before use: two, because a sliding window takes one to fill at a new rate, so
 * a client that came back to the full rate beside a small foreign one meets its next 429 about a
 * window later.
 */
export const RECHECK_CLEAN_WINDOWS = 2;

/**
 * Whether a slot booked at `bookedAt` is checked against the item again before use, given `seen`,
 * the latest state the process saw: a slot booked at least RECHECK_AHEAD_INTERVALS ahead, while
 * the schedule shows that it shares its key: it runs below the configured rate (a cut not yet
 * recovered from), or drew a 429 or raised its rate within RECHECK_CLEAN_WINDOWS (`cleanSince`).
 * Beyond that no 429 is expected, and the read would be spent on nearly every bulk slot (every
 * slot of a process with a single caller). Should one come anyway (a foreign client appears),
 * the slots booked before it go out once, at most a horizon's worth and in practice a lead or a
 * lease per process; its cut makes every later booking re-check.
 */
export function needsRecheck(
  slot: number,
  bookedAt: number,
  seen: LimiterState | undefined,
  params: GcraParams,
): boolean {
  if (slot - bookedAt < RECHECK_AHEAD_INTERVALS * params.safeIntervalMs) return false;
  return (
    seen === undefined ||
    seen.intervalMs > params.safeIntervalMs ||
    seen.cleanSince > bookedAt - RECHECK_CLEAN_WINDOWS * params.windowMs
  );
}

/**
 * Whether a 429 paused everyone after `slot` was booked and before it is used: every 429 moves
 * `cleanSince` to the end of its pause, while nothing else moves it beyond a slot still ahead (an
 * increase moves it at most to the time of the increase). Such a slot is dropped rather than
 * sent into the full window that caused the 429.
 */
export function pausedAfterBooking(slot: number, state: LimiterState | undefined): boolean {
  return state !== undefined && state.cleanSince > slot;
}

/**
 * The late-slot rule: a worker that reaches its slot more than `lateMs` late (a freeze, a GC
 * pause, a slow event loop) must not use it, because the window bound assumes every arrival lies
 * within J of its slot. It drops the slot and books a new one.
 */
export function isLate(slot: number, now: number, params: GcraParams): boolean {
  return now - slot > params.lateMs;
}

/**
 * The state after Upheal answered 429 at `now` (another client uses the key). Everyone pauses:
 * `tat` moves to at least now + Retry-After (or the default backoff) + J, so no slot is booked
 * inside the pause, and the clean period restarts after it. The first 429 of a congestion event
 * also cuts the rate (`cutAt`, never below the floor) and opens a hold of one window: Upheal's
 * window still holds the traffic sent before the cut for up to W, so 429s within W of a cut say
 * nothing about the new rate and pause without cutting again (one decrease per feedback period,
 * as TCP cuts once per round trip).
 */
export function afterRateLimited(
  state: LimiterState,
  now: number,
  retryAfterMs: number | undefined,
  params: GcraParams,
): LimiterState {
  const until = now + boundedPause(retryAfterMs, params) + params.jitterMs;
  const tat = Math.max(state.tat, until);
  const cleanSince = Math.max(state.cleanSince, until);
  if (now < state.holdUntil) return { ...state, tat, cleanSince };
  const holdUntil = Math.max(until, now + params.windowMs);
  return { ...state, ...cutAt(state, now, params), tat, holdUntil, cleanSince };
}

/**
 * The interval a 429 outside a hold cuts to, and the interval fast recovery then works from.
 * With the count of slots booked over the last window (`sentInWindow`): Upheal's window was full
 * when it answered, so what this key's own callers sent in it is the share the other clients
 * left, measured rather than estimated from the rate in force; the rate goes to estimateShare of
 * it. Never above estimateShare of the rate in force (the count is high when booked slots went
 * unused or were answered 429, and after nearly a window without a booking), nor below
 * decreaseFactor of it (the count is low when the callers sent less than the schedule allowed, a
 * trickle of live events for one: one reading of it must not drop the rate to the floor). Fast
 * recovery then keeps the cut rate. Without a count, `cutFactor` decides.
 */
function cutAt(
  state: LimiterState,
  now: number,
  params: GcraParams,
): Pick<LimiterState, 'intervalMs' | 'cutFromIntervalMs'> {
  const sent = sentInWindow(state.sent, now, params);
  if (sent === undefined) {
    const intervalMs = clampInterval(state.intervalMs / cutFactor(state), params);
    return { intervalMs, cutFromIntervalMs: state.intervalMs };
  }
  const rate = 1 / state.intervalMs;
  const share = AIMD.estimateShare * (sent / params.windowMs);
  const cutRate = Math.min(AIMD.estimateShare * rate, Math.max(AIMD.decreaseFactor * rate, share));
  const intervalMs = clampInterval(1 / cutRate, params);
  return { intervalMs, cutFromIntervalMs: intervalMs * AIMD.recoveryShare };
}

/** Relative tolerance when comparing rates (intervals are stored as floats). */
const RATE_TOLERANCE = 1e-9;

/**
 * The factor a 429 outside a hold multiplies the rate by: AIMD.estimateShare when the rate grew
 * back above the estimate the last cut made (estimateShare of the rate that drew that 429): the
 * rate filled Upheal's window, so the share others leave lies just below it. AIMD.decreaseFactor
 * when it did not: a rate at or below that estimate was already too much (the other clients took
 * more since, or our sending fell short of the schedule), so the estimate was wrong. A key
 * nobody cut yet gets the estimate.
 */
export function cutFactor(state: LimiterState): number {
  const rate = 1 / state.intervalMs;
  const lastCutRate = AIMD.estimateShare / state.cutFromIntervalMs;
  return rate > lastCutRate * (1 + RATE_TOLERANCE) ? AIMD.estimateShare : AIMD.decreaseFactor;
}

/**
 * The state after clean windows, or undefined when nothing changes: for every full window without
 * a 429 since `cleanSince`, the rate grows by one additive step, and at least to the fast-recovery
 * rate, never beyond the safe cap 1/T.
 */
export function afterCleanWindows(
  state: LimiterState,
  now: number,
  params: GcraParams,
): LimiterState | undefined {
  if (state.intervalMs <= params.safeIntervalMs || now < state.holdUntil) return undefined;
  const windows = Math.floor((now - state.cleanSince) / params.windowMs);
  if (windows < 1) return undefined;
  const additive = 1 / state.intervalMs + windows * params.increasePerWindow;
  const rate = Math.max(additive, AIMD.recoveryShare / state.cutFromIntervalMs);
  return {
    ...state,
    intervalMs: clampInterval(1 / rate, params),
    cleanSince: state.cleanSince + windows * params.windowMs,
  };
}

/**
 * The pause a 429 imposes: Upheal's `Retry-After` when it is a usable number, at most
 * `maxPauseMs`; the default backoff when it sent none or something unusable (negative, NaN).
 */
export function boundedPause(retryAfterMs: number | undefined, params: GcraParams): number {
  if (retryAfterMs === undefined || !(retryAfterMs >= 0)) return params.defaultBackoffMs;
  return Math.min(retryAfterMs, params.maxPauseMs);
}

/**
 * How far ahead of now a valid state can reach: a pause (at most maxPauseMs + J), or bookings
 * made up to the horizon, each lease adding at most MAX_LEASE_SLOTS intervals at the floor rate.
 */
export function maxReachMs(params: GcraParams): number {
  return (
    params.maxPauseMs + params.jitterMs + params.horizonMs + MAX_LEASE_SLOTS * params.maxIntervalMs
  );
}

/**
 * Whether a view too old to book from (see `viewIsFresh`) still suffices to decide: it says wait
 * or defer. It says so of the item too, whose head only moves on: bookings and 429s move it
 * forward, and only the repair of a pause beyond the bound moves it back (a view holding such a
 * pause does not suffice; a view taken before a pause that was written and repaired since may
 * overstate the head, which costs a needless wait or deferral, never a send). A wait decided on
 * it ends with a read, as every wait does, so the caller reads once instead of twice when it has
 * to wait anyway.
 */
export function oldViewSuffices(
  view: LimiterState | undefined,
  lane: Lane,
  now: number,
  deadline: number,
  params: GcraParams,
  continuation = false,
): view is LimiterState {
  if (view === undefined || pauseBeyondBound(view, now, params)) return false;
  return decide(view, lane, now, deadline, params, continuation).kind !== DECISIONS.book;
}

/**
 * Whether a stored state holds a pause no 429 within the bound could have written (a hint stored
 * before the bound existed, or by a misconfigured writer): such a state is ignored and repaired.
 */
export function pauseBeyondBound(state: LimiterState, now: number, params: GcraParams): boolean {
  const reach = now + maxReachMs(params);
  return state.tat > reach || state.cleanSince > reach || state.holdUntil > reach;
}

/**
 * The state with every time beyond the bound brought back to now: the schedule restarts, the
 * clean period starts now, and the next 429 cuts the rate again. Times within the bound stay.
 */
export function withoutUnboundedPause(
  state: LimiterState,
  now: number,
  params: GcraParams,
): LimiterState {
  const reach = now + maxReachMs(params);
  const bounded = (time: number) => (time > reach ? now : time);
  return {
    ...state,
    tat: bounded(state.tat),
    cleanSince: bounded(state.cleanSince),
    holdUntil: bounded(state.holdUntil),
  };
}
