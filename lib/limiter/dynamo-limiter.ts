/**
 * The shared rate limiter on DynamoDB (docs/limits.md): the pure algorithm of
 * `gcra.ts` on one item per API key (`pk = LIMITER#<keyId>`, `sk = STATE`), so every Lambda
 * instance and every process books its send slots from the same schedule.
 *
 * One conditional UpdateItem books one slot, and concurrent bookers do not conflict: the common
 * write is `SET tat = tat + intervalMs` guarded only by a range (`tat BETWEEN now AND deadline`),
 * so DynamoDB serialises concurrent bookings and each gets its own slot from `ReturnValues`.
 * The same write counts the slots it books in the item's ring of buckets (`sent0` … `sent19`,
 * gcra.ts `recordSent`), which a 429's report sums to measure the share other clients leave.
 * When several callers of one process wait for slots, one write books a lease of consecutive
 * slots for them (`SET tat = tat + k·intervalMs`, up to gcra.ts MAX_LEASE_SLOTS); the slots the
 * booker does not use wait in the process's pool for the next callers, and one that is not taken
 * before the late-slot rule applies is dropped (never sent late). A
 * write fails its condition only when the caller's view was wrong (the schedule was idle, or
 * already beyond its deadline, or a 429 just paused it); then the caller reads and decides again.
 * A failed conditional write still costs a write unit, so callers read (five times cheaper) before
 * acting on a stale view. Errors other than a failed condition propagate: if DynamoDB fails, no
 * request goes to Upheal (fail closed).
 *
 * Longer than most files on purpose: it is one class whose steps (read, decide, book, pause,
 * repair) share the instance's view of the item, its serialising turn and its pause; the pure
 * decisions already live in `gcra.ts` and the in-process slots in `slot-pool.ts`.
 */
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SlotUnavailableError } from '#lib/errors.ts';
import {
  afterCleanWindows,
  afterRateLimited,
  BOOKING_PATHS,
  bookingPath,
  bookSlots,
  boundedPause,
  clampInterval,
  DECISIONS,
  decide,
  deriveParams,
  type GcraParams,
  initialState,
  isLate,
  type LimiterState,
  MAX_LEASE_SLOTS,
  needsRecheck,
  oldViewSuffices,
  pauseBeyondBound,
  pausedAfterBooking,
  SENT_RING_SIZE,
  sentBucket,
  sentRingIndex,
  slotDeadline,
  staleSentIndexes,
  viewIsFresh,
  withoutUnboundedPause,
} from '#lib/limiter/gcra.ts';
import {
  type AcquireOptions,
  LANES,
  type Lane,
  type RateLimiter,
} from '#lib/limiter/rate-limiter.ts';
import { SlotPool } from '#lib/limiter/slot-pool.ts';

/** The limiter item's key parts (infra/resources.ts: `LIMITER#<apiKeyId>` / `STATE`). */
export const LIMITER_KEY = { pkPrefix: 'LIMITER#', sk: 'STATE' } as const;

/** Hex characters of SHA-256(key) that name the item: 64 bits, unique per key, not reversible. */
export const KEY_ID_HEX_CHARS = 16;

/** Steps (decisions) one acquire may take before giving up with SlotUnavailableError. */
export const MAX_ACQUIRE_STEPS = 64;

/** Read-modify-write attempts of a 429 report before it gives up (the pause is then local). */
export const MAX_REPORT_ATTEMPTS = 8;

/**
 * Waits end at a random point up to this many safe intervals after their moment: waiting bulk
 * callers of different processes that saw the same head would otherwise wake, read and book
 * together (a herd, overshooting the bulk lead).
 */
export const WAKE_SPREAD_INTERVALS = 2;

/**
 * Deferrals add a random spread of up to this many safe intervals for the same reason: callers
 * deferred by one pause would otherwise all come back at its end.
 */
export const DEFER_SPREAD_INTERVALS = 4;

/**
 * A slot's re-check (gcra.ts `needsRecheck`) happens this share of an interval before it, on a
 * view of the item at most one interval older than that moment: the process's view when one of
 * its callers read or booked that recently (with several callers, nearly always), else a read.
 */
export const RECHECK_LEAD_SHARE = 0.5;

/** After a failed condition, wait a random 0..this many ms, so racing callers spread out. */
export const CONFLICT_JITTER_MS = 5;

/**
 * Weight of each new DynamoDB round trip in the instance's running estimates of its mean and of
 * its mean deviation (exponential moving averages, as TCP estimates its round trip); the first
 * one is taken as it is.
 */
export const ROUND_TRIP_WEIGHT = 0.25;

/**
 * A restart's slot allows for this many mean deviations beyond the mean round trip: DynamoDB's
 * round trips have a long tail when it is busy, and a slot set as of the mean would be late on
 * arrival (dropped by the late-slot rule, booked again: more load, longer round trips) for every
 * answer slower than the mean by the late-slot threshold.
 */
export const ROUND_TRIP_DEVIATIONS = 4;

/**
 * Turns a first bulk call may lose before it defers: it woke when the head was to come within its
 * lead, saw the item (its own read, or a fresh one of another caller of its process), and found
 * that others had booked past it again. A lost turn usually costs a read, and losing several in
 * a row means more bulk callers wait, across processes, than the API serves: the refusal steps
 * the caller's instance down and, at its fewest records, makes it sit out
 * (lib/limiter/parallelism.ts, lib/sqs/capacity-gate.ts), which thins the crowd. A call that
 * continues an event is not cut short: deferring it would repeat its event's earlier calls.
 * Waits out a 429's pause are not turns.
 */
export const MAX_LOST_TURNS = 3;

/**
 * Turns a caller that only awaits its turn (`awaitTurn`) may lose before it defers: none, so it
 * defers rather than wait for a turn at all (a 429's pause it still waits out). It
 * has read nothing yet, so a deferral costs it only the trip through the queue, and an instance
 * back from sitting out joins the crowd of waiting bulk callers only when the schedule has room
 * for it now. When every instance is out, nobody books, the head falls back, and the next one to
 * ask finds room.
 */
export const MAX_LOST_TURNS_AWAITING = 0;

/** Sleeps of one wait: a timer that fires early is slept again, at most this often. */
const MAX_SLEEPS_PER_WAIT = 100;

/** Attribute names of the item (one per field of LimiterState). */
const ATTRIBUTES = {
  tat: 'tat',
  intervalMs: 'intervalMs',
  holdUntil: 'holdUntil',
  cleanSince: 'cleanSince',
  cutFromIntervalMs: 'cutFromIntervalMs',
  /** The prefix of the ring's buckets: `sent0` … `sent19`. */
  sent: 'sent',
} as const satisfies Record<keyof LimiterState, string>;

/** The attribute of one ring position of the count of booked slots. */
const sentAttribute = (index: number): string => `${ATTRIBUTES.sent}${index}`;

/** Expression attribute names for every attribute, so reserved words never bite. */
const NAMES = {
  '#tat': ATTRIBUTES.tat,
  '#interval': ATTRIBUTES.intervalMs,
  '#hold': ATTRIBUTES.holdUntil,
  '#clean': ATTRIBUTES.cleanSince,
  '#cutFrom': ATTRIBUTES.cutFromIntervalMs,
} as const;

/** The expression attribute names an expression uses (DynamoDB rejects unused ones). */
const namesIn = (...expressions: string[]): Record<string, string> =>
  Object.fromEntries(
    Object.entries(NAMES).filter(([token]) => expressions.some((text) => text.includes(token))),
  );

/** Conditions of the booking writes, built from named parts. */
const CONDITIONS = {
  /** The schedule is idle (or the item is new): the slot is now. */
  idle: 'attribute_not_exists(#tat) OR #tat < :from',
  /**
   * The head is neither long past (that is the idle path; `:from` is now − catchUpMs) nor beyond
   * the caller's deadline.
   */
  headWithinDeadline: '#tat BETWEEN :from AND :deadline',
  /** The stored interval is one this configuration accepts (another one may have written it). */
  intervalInRange: '#interval BETWEEN :safe AND :max',
} as const;

/** What one step of an acquire ends in (besides a deferral, which throws). */
const STEP_OUTCOMES = { slot: 'slot', turn: 'turn', wait: 'wait', retry: 'retry' } as const;

type StepOutcome =
  | { readonly kind: typeof STEP_OUTCOMES.slot; readonly slot: number; readonly bookedAt: number }
  /** The caller could book now (a caller that only awaits its turn). */
  | { readonly kind: typeof STEP_OUTCOMES.turn }
  | {
      readonly kind: typeof STEP_OUTCOMES.wait;
      readonly untilMs: number;
      /** Waiting for the head to come within the caller's lead (not out a pause). */
      readonly forTurn: boolean;
    }
  | { readonly kind: typeof STEP_OUTCOMES.retry };

/** How a caller steps: an acquire's options, and whether it only awaits its turn. */
interface StepOptions extends Required<AcquireOptions> {
  readonly turnOnly: boolean;
}

/** Counters of one limiter instance, for benchmarks and metrics. */
export interface LimiterStats {
  /** UpdateItem calls, including those whose condition failed (each costs a write unit). */
  readonly writes: number;
  readonly conditionalFailures: number;
  /** Consistent GetItem calls. */
  readonly reads: number;
  readonly slotsBooked: number;
  /** Slots handed to callers (booked slots minus late or paused drops). */
  readonly slotsUsed: number;
  /** Slots dropped by the late-slot rule or because a 429 paused them (pooled ones included). */
  readonly slotsDropped: number;
  /** Slots a caller took from the pool of a lease another caller booked. */
  readonly slotsFromPool: number;
  /** Acquires that threw SlotUnavailableError. */
  readonly deferrals: number;
  readonly rateLimitedReports: number;
  /** Total time acquires spent sleeping, in ms. */
  readonly waitedMs: number;
}

/** What DynamoRateLimiter is built from. */
export interface DynamoRateLimiterOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Only hashed into the item's key; never stored, never logged. */
  readonly apiKey: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly jitterMs: number;
  readonly horizonMs: number;
  /** How far ahead the bulk lane books (default: gcra.ts BULK_LEAD_INTERVALS intervals). */
  readonly bulkLeadMs?: number;
  /** Epoch ms; the same clock the slots are expressed in. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1), for conflict jitter. */
  readonly random?: () => number;
}

/** The item key id of an API key: a short SHA-256 prefix (the key itself is never stored). */
export function limiterKeyId(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, KEY_ID_HEX_CHARS);
}

const number = (value: number): AttributeValue => ({ N: String(value) });

/** Reads a LimiterState from an item, or undefined when the item holds no schedule yet. */
function toState(item: Record<string, AttributeValue> | undefined): LimiterState | undefined {
  const read = (name: string): number | undefined => {
    const value = item?.[name]?.N;
    return value === undefined ? undefined : Number(value);
  };
  const tat = read(ATTRIBUTES.tat);
  const intervalMs = read(ATTRIBUTES.intervalMs);
  if (tat === undefined || intervalMs === undefined) return undefined;
  const ring = Array.from({ length: SENT_RING_SIZE }, (_, index) => read(sentAttribute(index)));
  return {
    tat,
    intervalMs,
    holdUntil: read(ATTRIBUTES.holdUntil) ?? 0,
    cleanSince: read(ATTRIBUTES.cleanSince) ?? tat,
    cutFromIntervalMs: read(ATTRIBUTES.cutFromIntervalMs) ?? intervalMs,
    ...(ring.some((count) => count !== undefined) && { sent: ring.map((count) => count ?? 0) }),
  };
}

/** The parts of a booking's write that count its slots: gcra.ts `recordSent`, in DynamoDB. */
interface SentClauses {
  /** Appended to the update expression: the ADD to the bucket, the REMOVE of stale ones. */
  readonly update: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, AttributeValue>;
}

/** The clauses that count `count` slots booked at `at`. */
function sentClauses(at: number, count: number, params: GcraParams): SentClauses {
  const bucket = sentBucket(at, params);
  const names: Record<string, string> = { '#sentNow': sentAttribute(sentRingIndex(bucket)) };
  const stale = staleSentIndexes(bucket).map((index, position) => {
    names[`#sentOld${position}`] = sentAttribute(index);
    return `#sentOld${position}`;
  });
  return {
    update: ` ADD #sentNow :sentCount REMOVE ${stale.join(', ')}`,
    names,
    values: { ':sentCount': number(count) },
  };
}

/** The shared limiter: GCRA slots booked on one DynamoDB item per API key. */
export class DynamoRateLimiter implements RateLimiter {
  /** The algorithm's constants for this configuration. */
  readonly params: GcraParams;
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #key: Record<string, AttributeValue>;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  /** The last state this process saw, shared by its concurrent acquires. */
  #view: LimiterState | undefined;
  #viewAt = Number.NEGATIVE_INFINITY;
  /** The tail of the queue of steps (see #exclusive). */
  #turn: Promise<unknown> = Promise.resolve();
  /** A pause this process learned from its own 429: drops its slots booked before it. */
  #pausedUntil = Number.NEGATIVE_INFINITY;
  /** Booked slots of leases no caller took yet, and announced follow-up calls. */
  readonly #pool = new SlotPool();
  /** Callers inside acquire that hold no slot: how many slots a lease should book. */
  #demand = 0;
  /** Running estimate of one DynamoDB round trip of this instance, in ms (see #book). */
  #roundTripMs: number | undefined;
  /** Running estimate of the mean deviation of those round trips, in ms. */
  #roundTripDeviationMs = 0;
  #stats = {
    writes: 0,
    conditionalFailures: 0,
    reads: 0,
    slotsBooked: 0,
    slotsUsed: 0,
    slotsDropped: 0,
    slotsFromPool: 0,
    deferrals: 0,
    rateLimitedReports: 0,
    waitedMs: 0,
  };

  constructor(options: DynamoRateLimiterOptions) {
    this.params = deriveParams(options);
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#key = {
      pk: { S: `${LIMITER_KEY.pkPrefix}${limiterKeyId(options.apiKey)}` },
      sk: { S: LIMITER_KEY.sk },
    };
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => delay(ms));
    this.#random = options.random ?? Math.random;
  }

  /** A snapshot of this instance's counters. */
  stats(): LimiterStats {
    return { ...this.#stats };
  }

  async acquire(lane: Lane, options: AcquireOptions = {}): Promise<void> {
    const continuation = options.continuation ?? false;
    const followUps = options.followUps ?? 0;
    this.#demand += 1;
    let holding = false;
    try {
      await this.#acquire(lane, { continuation, followUps, turnOnly: false }, (held) => {
        if (held !== holding) this.#demand += held ? -1 : 1;
        holding = held;
      });
    } finally {
      if (!holding) this.#demand -= 1;
    }
  }

  /**
   * The steps of an acquire up to the decision to book, without the booking: the same reads and
   * deferrals, but no wait for a turn (MAX_LOST_TURNS_AWAITING). The caller is not counted in the
   * demand, so no lease books a slot for it (it may find it has no call to make).
   */
  async awaitTurn(lane: Lane): Promise<void> {
    await this.#acquire(lane, { continuation: false, followUps: 0, turnOnly: true }, () => {});
  }

  /** The steps of one acquire; `hold` tells whether the caller holds a slot (for the demand). */
  async #acquire(lane: Lane, options: StepOptions, hold: (held: boolean) => void): Promise<void> {
    const deadlineFrom = (now: number) => slotDeadline(lane, now, this.params);
    let deadline = deadlineFrom(this.#now());
    // After a wait, a view from before the moment waited for is as old as the wait: the caller
    // reads unless another caller of this process read (or booked) since that moment (the random
    // spread on top only de-synchronises processes; within one, the mutex already does).
    let viewNotBefore = Number.NEGATIVE_INFINITY;
    // Waits for a turn: the first is the caller's place in line, each later one a lost turn (a
    // dropped slot starts the count again, with a new deadline).
    let turnWaits = 0;
    for (let step = 0; step < MAX_ACQUIRE_STEPS; step += 1) {
      const outcome = await this.#exclusive(() =>
        this.#step(lane, options, deadline, viewNotBefore),
      );
      if (outcome.kind === STEP_OUTCOMES.wait) {
        if (outcome.forTurn) turnWaits += 1;
        const lostTurns = turnWaits - 1;
        const maxLostTurns = options.turnOnly ? MAX_LOST_TURNS_AWAITING : MAX_LOST_TURNS;
        if (lostTurns >= maxLostTurns && !options.continuation) {
          this.#defer(Math.max(0, outcome.untilMs - this.#now()), lane);
        }
        const wakeAt = outcome.untilMs + this.#spread(WAKE_SPREAD_INTERVALS);
        await this.#sleepUntil(wakeAt);
        viewNotBefore = outcome.untilMs;
        continue;
      }
      if (outcome.kind === STEP_OUTCOMES.retry) continue;
      if (outcome.kind === STEP_OUTCOMES.turn) return;
      const { slot, bookedAt } = outcome;
      hold(true);
      if (needsRecheck(slot, bookedAt, this.#view, this.params)) {
        // Read shortly before the slot (not under the mutex: it only refreshes the view),
        // unless another caller of this process read or booked since that moment.
        const recheckAt = slot - RECHECK_LEAD_SHARE * this.params.safeIntervalMs;
        await this.#sleepUntil(recheckAt);
        const seen =
          this.#viewAt >= recheckAt - this.params.safeIntervalMs ? this.#view : await this.#read();
        if (pausedAfterBooking(slot, seen)) {
          this.#stats.slotsDropped += 1;
          hold(false);
          deadline = deadlineFrom(this.#now());
          turnWaits = 0;
          continue;
        }
      }
      await this.#sleepUntil(slot);
      const sendAt = this.#now();
      if (isLate(slot, sendAt, this.params) || slot < this.#pausedUntil) {
        // Late-slot rule (or a pause this process just learned of): never use the slot.
        this.#stats.slotsDropped += 1;
        hold(false);
        deadline = deadlineFrom(sendAt);
        turnWaits = 0;
        continue;
      }
      this.#stats.slotsUsed += 1;
      return;
    }
    this.#stats.deferrals += 1;
    throw new SlotUnavailableError(this.params.horizonMs, { bulk: lane === LANES.bulk });
  }

  /**
   * One decision, and the booking it calls for. Runs exclusively within this process, so the
   * callers of one instance never race each other to the item (no herd of waiting bulk callers
   * booking past their lead on the same stale view, no wasted conditional writes).
   */
  async #step(
    lane: Lane,
    { continuation, followUps, turnOnly }: StepOptions,
    deadline: number,
    viewNotBefore: number,
  ): Promise<StepOutcome> {
    const now = this.#now();
    this.#stats.slotsDropped += this.#pool.prune(
      now,
      (slot) => isLate(slot, now, this.params) || slot < this.#pausedUntil,
    );
    // A slot waiting in the pool is this process's turn now; one awaiting its turn leaves it there.
    if (turnOnly && this.#pool.free > 0) return { kind: STEP_OUTCOMES.turn };
    const pooled = this.#pool.take(deadline, continuation);
    if (pooled !== undefined) {
      this.#stats.slotsFromPool += 1;
      this.#pool.expect(followUps, now + this.params.horizonMs);
      return { kind: STEP_OUTCOMES.slot, ...pooled };
    }
    if (now < this.#pausedUntil) {
      // This process saw the 429 itself: wait out the pause before booking (or defer).
      if (this.#pausedUntil > deadline) this.#defer(this.#pausedUntil - now, lane);
      return { kind: STEP_OUTCOMES.wait, untilMs: this.#pausedUntil, forTurn: false };
    }
    // A view from before the moment waited for is read again; so is one older than an interval,
    // unless it already says wait or defer (a wait decided on it then is no place in line yet:
    // the head may lie further on).
    const current = this.#viewAt >= viewNotBefore;
    const fresh = current && viewIsFresh(this.#view, this.#viewAt, now, this.params);
    const onOldView =
      current &&
      !fresh &&
      oldViewSuffices(this.#view, lane, now, deadline, this.params, continuation);
    if (!fresh && !onOldView) await this.#read();
    const decision = decide(this.#view, lane, now, deadline, this.params, continuation);
    if (decision.kind === DECISIONS.defer) this.#defer(decision.retryAfterMs, lane);
    if (decision.kind === DECISIONS.wait) {
      // Nor is a wait out a pause another process stored (its clean period lies ahead). For a
      // caller that only awaits its turn, an old view's wait is one: the head only moves on, so
      // a read would show no more room.
      const paused = (this.#view?.cleanSince ?? Number.NEGATIVE_INFINITY) > now;
      return {
        kind: STEP_OUTCOMES.wait,
        untilMs: decision.untilMs,
        forTurn: (!onOldView || turnOnly) && !paused,
      };
    }
    if (turnOnly) return { kind: STEP_OUTCOMES.turn };
    // A lease: one slot for this caller, and for the calls this process will want next (its
    // other callers without a slot, and the follow-ups announced, this caller's included).
    const announced = this.#pool.expect(followUps, now + this.params.horizonMs);
    // A bulk booking never takes a head beyond now + H, whatever the caller's own bound: a live
    // request (bound by H) then always finds room right behind the bulk slots.
    const writeDeadline =
      lane === LANES.live ? deadline : Math.min(deadline, now + this.params.horizonMs);
    const slots = await this.#book(
      now,
      writeDeadline,
      this.#pool.wanted(this.#demand, MAX_LEASE_SLOTS),
    );
    if (slots === undefined) {
      announced.withdraw();
      return { kind: STEP_OUTCOMES.retry };
    }
    this.#pool.bookedFor(continuation);
    // As of the answer: only slots well beyond it are re-checked for a 429 before use.
    const bookedAt = this.#now();
    this.#pool.add(slots.slice(1), bookedAt);
    return { kind: STEP_OUTCOMES.slot, slot: slots[0]!, bookedAt };
  }

  #defer(retryAfterMs: number, lane: Lane): never {
    this.#stats.deferrals += 1;
    const ms = Math.ceil(retryAfterMs + this.#spread(DEFER_SPREAD_INTERVALS));
    throw new SlotUnavailableError(ms, { bulk: lane === LANES.bulk });
  }

  /** A random delay of up to `intervals` safe intervals. */
  #spread(intervals: number): number {
    return this.#random() * intervals * this.params.safeIntervalMs;
  }

  /** Runs `task` after every task queued before it on this instance (a promise-chain mutex). */
  #exclusive<R>(task: () => Promise<R>): Promise<R> {
    const run = this.#turn.then(task, task);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  forgo(count: number): void {
    this.#pool.forgo(count);
  }

  async rateLimited(retryAfterMs: number | undefined): Promise<void> {
    this.#stats.rateLimitedReports += 1;
    const reportedAt = this.#now();
    const pauseMs = boundedPause(retryAfterMs, this.params);
    this.#pausedUntil = Math.max(this.#pausedUntil, reportedAt + pauseMs + this.params.jitterMs);
    for (let attempt = 0; attempt < MAX_REPORT_ATTEMPTS; attempt += 1) {
      const now = this.#now();
      const seen = await this.#read();
      if (await this.#writeRateLimited(seen, now, retryAfterMs)) return;
      await this.#conflictJitter();
    }
  }

  /**
   * Consistent read of the item into the view. A stored pause beyond the bound (gcra.ts
   * `pauseBeyondBound`) is ignored: the item is repaired before anyone decides from it.
   */
  async #read(): Promise<LimiterState | undefined> {
    this.#stats.reads += 1;
    const now = this.#now();
    const { Item } = await this.#client.send(
      new GetItemCommand({ TableName: this.#tableName, Key: this.#key, ConsistentRead: true }),
    );
    this.#roundTrip(now);
    const state = toState(Item);
    if (state !== undefined && pauseBeyondBound(state, now, this.params)) {
      this.#see(await this.#dropUnboundedPause(state, now), now);
      return this.#view;
    }
    this.#see(state, now);
    return this.#view;
  }

  /**
   * Writes the state without its out-of-bound times, conditioned on the times it was computed
   * from (a concurrent repair or booking wins). Returns the state now stored, or undefined when
   * the condition failed (the next step reads again).
   */
  async #dropUnboundedPause(seen: LimiterState, now: number): Promise<LimiterState | undefined> {
    const repaired = withoutUnboundedPause(seen, now, this.params);
    const written = await this.#write(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: this.#key,
        UpdateExpression: 'SET #tat = :tat, #clean = :clean, #hold = :hold',
        ConditionExpression: '#tat = :seenTat AND #clean = :seenClean AND #hold = :seenHold',
        ExpressionAttributeNames: namesIn('#tat #clean #hold'),
        ExpressionAttributeValues: {
          ':tat': number(repaired.tat),
          ':clean': number(repaired.cleanSince),
          ':hold': number(repaired.holdUntil),
          ':seenTat': number(seen.tat),
          ':seenClean': number(seen.cleanSince),
          ':seenHold': number(seen.holdUntil),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return written.ok ? toState(written.attributes) : undefined;
  }

  #see(state: LimiterState | undefined, at: number): void {
    this.#view = state;
    this.#viewAt = at;
  }

  /**
   * One conditional write for up to `wanted` consecutive slots (as many as end by the deadline on
   * the view), on the path the view suggests. Returns the slots, or undefined when the condition
   * failed (the view is refreshed from ALL_OLD where DynamoDB returns it, otherwise the next step
   * reads).
   */
  async #book(now: number, deadline: number, wanted: number): Promise<number[] | undefined> {
    const { params } = this;
    const view = this.#view;
    // The slot is used when the write's answer is back: booked as of that moment, a restart's
    // slot (and a head taken just after it passed) is not late on arrival when DynamoDB is
    // slow. Booked as of the step's start, every slot would be dropped by the late-slot rule
    // once a read and a write take longer than lateMs (a loaded host), by every caller, for ever.
    // The path is chosen as of the mean round trip (a head the answer will find just passed is
    // still taken); a restart's slot lies a few deviations later, so that a slow answer does not
    // find it late (an idle schedule loses nothing by starting a little later).
    const at = Math.max(now, this.#now() + this.#meanRoundTripMs());
    const path = bookingPath(view, at, params);
    const from = at - params.catchUpMs;
    const restartAt = Math.max(at, this.#now() + this.#restartRoundTripMs());
    const intervalMs = clampInterval(view?.intervalMs ?? params.safeIntervalMs, params);
    // A restart books one slot: its write sets `tat` from the view's interval, which another
    // process may have changed meanwhile (the next booking then uses the stored one).
    const count =
      path === BOOKING_PATHS.restart
        ? 1
        : (bookSlots(view, at, deadline, params, wanted)?.slots.length ?? 1);
    // Counted as of now, not as of `at`: a 429's report sums the window up to its own now, and
    // a booking filed in a bucket ahead of it would be missed, and would clear a counted one.
    const sent = sentClauses(this.#now(), count, params);
    const command =
      path === BOOKING_PATHS.restart
        ? this.#restartCommand(restartAt, from, intervalMs, sent)
        : count > 1
          ? this.#leaseCommand(from, deadline, intervalMs, count, sent)
          : this.#advanceCommand(from, deadline, sent);
    const written = await this.#write(command);
    if (!written.ok) {
      await this.#repairInterval(now);
      await this.#conflictJitter();
      return undefined;
    }
    const state = toState(written.attributes);
    if (state === undefined) throw new TypeError('limiter item without a schedule after booking');
    this.#see(state, now);
    this.#stats.slotsBooked += count;
    await this.#raiseAfterCleanWindows(state, now);
    const first = path === BOOKING_PATHS.restart ? restartAt : state.tat - count * state.intervalMs;
    return Array.from({ length: count }, (_, index) => first + index * state.intervalMs);
  }

  /** The write that resumes an idle (or new) schedule at now with one slot. */
  #restartCommand(
    now: number,
    from: number,
    intervalMs: number,
    sent: SentClauses,
  ): UpdateItemCommand {
    return new UpdateItemCommand({
      TableName: this.#tableName,
      Key: this.#key,
      UpdateExpression:
        'SET #tat = :next, #interval = if_not_exists(#interval, :interval), ' +
        '#hold = if_not_exists(#hold, :zero), #clean = if_not_exists(#clean, :now), ' +
        `#cutFrom = if_not_exists(#cutFrom, :interval)${sent.update}`,
      ConditionExpression: CONDITIONS.idle,
      ExpressionAttributeNames: { ...NAMES, ...sent.names },
      ExpressionAttributeValues: {
        ':next': number(now + intervalMs),
        ':interval': number(intervalMs),
        ':zero': number(0),
        ':now': number(now),
        ':from': number(from),
        ...sent.values,
      },
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  }

  /** The write that takes the head of a busy schedule, at the interval stored with it. */
  #advanceCommand(from: number, deadline: number, sent: SentClauses): UpdateItemCommand {
    const { params } = this;
    const update = 'SET #tat = #tat + #interval';
    const condition = `${CONDITIONS.headWithinDeadline} AND ${CONDITIONS.intervalInRange}`;
    return new UpdateItemCommand({
      TableName: this.#tableName,
      Key: this.#key,
      UpdateExpression: `${update}${sent.update}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: { ...namesIn(update, condition), ...sent.names },
      ExpressionAttributeValues: {
        ':from': number(from),
        ':deadline': number(deadline),
        ':safe': number(params.safeIntervalMs),
        ':max': number(params.maxIntervalMs),
        ...sent.values,
      },
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  }

  /**
   * The write of a lease on a busy schedule: `count` slots from the head, at the interval the view
   * showed (a changed interval fails the condition; the caller reads again). Only the first slot,
   * the booker's own, must lie within its deadline, as for a single slot: the view sized the lease
   * to end by it, but others may have booked since, and the later slots serve callers (and
   * follow-ups) whose waits end later; one nobody takes in time is dropped.
   */
  #leaseCommand(
    from: number,
    deadline: number,
    intervalMs: number,
    count: number,
    sent: SentClauses,
  ): UpdateItemCommand {
    const firstWithin = CONDITIONS.headWithinDeadline;
    const sameInterval = '#interval = :interval';
    const update = 'SET #tat = #tat + :span';
    return new UpdateItemCommand({
      TableName: this.#tableName,
      Key: this.#key,
      UpdateExpression: `${update}${sent.update}`,
      ConditionExpression: `${firstWithin} AND ${sameInterval}`,
      ExpressionAttributeNames: { ...namesIn(update, firstWithin, sameInterval), ...sent.names },
      ExpressionAttributeValues: {
        ':from': number(from),
        ':deadline': number(deadline),
        ':interval': number(intervalMs),
        ':span': number(count * intervalMs),
        ...sent.values,
      },
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  }

  /** Sends one UpdateItem; a failed condition is an outcome, refreshing the view when it can. */
  async #write(
    command: UpdateItemCommand,
  ): Promise<{ ok: true; attributes: Record<string, AttributeValue> | undefined } | { ok: false }> {
    this.#stats.writes += 1;
    const sentAt = this.#now();
    try {
      const { Attributes } = await this.#client.send(command);
      this.#roundTrip(sentAt);
      return { ok: true, attributes: Attributes };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      this.#roundTrip(sentAt);
      this.#stats.conditionalFailures += 1;
      // AWS returns the item that failed the condition; emulators may not: then read next step,
      // as for a returned item holding a pause beyond the bound (the read repairs it).
      const seen = error.Item === undefined ? undefined : toState(error.Item);
      if (seen !== undefined && !pauseBeyondBound(seen, sentAt, this.params))
        this.#see(seen, sentAt);
      else this.#see(undefined, Number.NEGATIVE_INFINITY);
      return { ok: false };
    }
  }

  /**
   * A stored interval outside this configuration's range (written under another limit or window)
   * fails every booking: reset it to the nearest allowed value, once, conditionally.
   */
  async #repairInterval(now: number): Promise<void> {
    const seen = this.#view ?? (await this.#read());
    if (seen === undefined) return;
    const allowed = clampInterval(seen.intervalMs, this.params);
    if (allowed === seen.intervalMs) return;
    await this.#write(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: this.#key,
        UpdateExpression: 'SET #interval = :allowed, #cutFrom = :allowed, #clean = :now',
        ConditionExpression: '#interval = :seen',
        ExpressionAttributeNames: namesIn('#interval #cutFrom #clean'),
        ExpressionAttributeValues: {
          ':allowed': number(allowed),
          ':now': number(now),
          ':seen': number(seen.intervalMs),
        },
      }),
    );
    this.#see(undefined, Number.NEGATIVE_INFINITY);
  }

  /** AIMD increase: the booker that notices full clean windows applies them (once, conditionally). */
  async #raiseAfterCleanWindows(state: LimiterState, now: number): Promise<void> {
    const raised = afterCleanWindows(state, now, this.params);
    if (raised === undefined) return;
    const written = await this.#write(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: this.#key,
        UpdateExpression: 'SET #interval = :interval, #clean = :clean',
        // Exactly the state it was computed from: a concurrent cut or raise wins.
        ConditionExpression: '#interval = :seenInterval AND #clean = :seenClean',
        ExpressionAttributeNames: namesIn('#interval #clean'),
        ExpressionAttributeValues: {
          ':interval': number(raised.intervalMs),
          ':clean': number(raised.cleanSince),
          ':seenInterval': number(state.intervalMs),
          ':seenClean': number(state.cleanSince),
        },
      }),
    );
    if (!written.ok) this.#see(undefined, Number.NEGATIVE_INFINITY);
  }

  /**
   * Writes the state after a 429, conditioned on what it was computed from: the pause only moves
   * `tat` forward (`tat < :tat`), and a cut happens only if no other report cut since (`holdUntil`
   * unchanged). Returns false when the condition failed (the caller reads and tries again).
   */
  async #writeRateLimited(
    seen: LimiterState | undefined,
    now: number,
    retryAfterMs: number | undefined,
  ): Promise<boolean> {
    const before = seen ?? initialState(now, this.params);
    const after = afterRateLimited(before, now, retryAfterMs, this.params);
    const sets: string[] = [];
    const conditions: string[] = [];
    const values: Record<string, AttributeValue> = {};
    if (seen === undefined || after.tat > before.tat) {
      sets.push('#tat = :tat');
      conditions.push('(attribute_not_exists(#tat) OR #tat < :tat)');
      values[':tat'] = number(after.tat);
    }
    const cut = seen === undefined || after.holdUntil !== before.holdUntil;
    if (cut) {
      sets.push('#interval = :interval', '#hold = :hold', '#cutFrom = :cutFrom');
      conditions.push('(attribute_not_exists(#hold) OR #hold = :seenHold)');
      values[':interval'] = number(after.intervalMs);
      values[':hold'] = number(after.holdUntil);
      values[':cutFrom'] = number(after.cutFromIntervalMs);
      values[':seenHold'] = number(before.holdUntil);
    }
    if (cut || after.cleanSince > before.cleanSince) {
      // The clean period restarts after the pause; it only ever moves forward.
      sets.push('#clean = :clean');
      conditions.push('(attribute_not_exists(#clean) OR #clean <= :clean)');
      values[':clean'] = number(after.cleanSince);
    }
    if (sets.length === 0) return true;
    const update = `SET ${sets.join(', ')}`;
    const condition = conditions.join(' AND ');
    const written = await this.#write(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: this.#key,
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: namesIn(update, condition),
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    if (written.ok) this.#see(toState(written.attributes), now);
    return written.ok;
  }

  /** Learns from a DynamoDB request sent at `sentAt` that just answered. */
  #roundTrip(sentAt: number): void {
    const sample = Math.max(0, this.#now() - sentAt);
    if (this.#roundTripMs === undefined) {
      this.#roundTripMs = sample;
      return;
    }
    const error = sample - this.#roundTripMs;
    this.#roundTripMs += ROUND_TRIP_WEIGHT * error;
    this.#roundTripDeviationMs +=
      ROUND_TRIP_WEIGHT * (Math.abs(error) - this.#roundTripDeviationMs);
  }

  /** The mean round trip, at most half the horizon (a slot stays within reach). */
  #meanRoundTripMs(): number {
    return Math.min(this.#roundTripMs ?? 0, this.params.horizonMs / 2);
  }

  /**
   * The round trip a restart's slot allows for (mean plus ROUND_TRIP_DEVIATIONS deviations), at
   * most half the horizon.
   */
  #restartRoundTripMs(): number {
    const expected = (this.#roundTripMs ?? 0) + ROUND_TRIP_DEVIATIONS * this.#roundTripDeviationMs;
    return Math.min(expected, this.params.horizonMs / 2);
  }

  /** Sleeps until the clock reads `target` (timers may fire early: it checks and sleeps again). */
  async #sleepUntil(target: number): Promise<void> {
    for (let sleeps = 0; sleeps < MAX_SLEEPS_PER_WAIT; sleeps += 1) {
      const remaining = target - this.#now();
      if (remaining <= 0) return;
      await this.#sleep(remaining);
      this.#stats.waitedMs += remaining;
    }
  }

  async #conflictJitter(): Promise<void> {
    const ms = this.#random() * CONFLICT_JITTER_MS;
    await this.#sleep(ms);
    this.#stats.waitedMs += ms;
  }
}
