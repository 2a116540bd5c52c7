/**
 * A deterministic discrete-event simulation of the limiter in virtual time: simulated workers run
 * the pure algorithm of `#lib/limiter/gcra.ts` with the same read/write policy as the DynamoDB
 * adapter (a worker decides from its possibly stale view of the item, books on the true item,
 * reads again only when its view says the schedule is idle or after a failed condition), and
 * Upheal is the simulator's own sliding-log limiter. Nothing sleeps; one seed gives one history.
 */
import {
  afterCleanWindows,
  afterRateLimited,
  BOOKING_PATHS,
  bookingPath,
  bookSlots,
  DECISIONS,
  decide,
  type GcraParams,
  isLate,
  type LimiterState,
  MAX_LEASE_SLOTS,
  needsRecheck,
  pausedAfterBooking,
  slotDeadline,
  viewIsFresh,
} from '#lib/limiter/gcra.ts';
import { LANES, type Lane } from '#lib/limiter/rate-limiter.ts';
import { SlotPool } from '#lib/limiter/slot-pool.ts';
import { mulberry32 } from '#tools/simulator/prng.ts';
import { createWindowLimiter } from '#tools/simulator/window-limiter.ts';

/** How late a worker wakes after its slot and how long the request then travels, in ms. */
export interface Delay {
  /** Lateness of the worker at its slot (timer error, event-loop lag, a freeze). */
  readonly send: number;
  /** Network latency spread on top of the fixed latency (Upheal sees it). */
  readonly network: number;
}

/** Draws the delays of the request using `slot`. */
export type Delays = (slot: number, random: () => number) => Delay;

/** One simulation run. */
export interface SimulationOptions {
  readonly params: GcraParams;
  readonly seed: number;
  readonly durationMs: number;
  /** Workers of the bulk lane; each always has another request to make (a backlog). */
  readonly bulkWorkers: number;
  /** Mean gap between live requests (Poisson arrivals), or none. */
  readonly liveMeanGapMs?: number;
  readonly delays: Delays;
  /** Time from Upheal's arrival to the worker having the answer. */
  readonly responseMs: number;
  /**
   * Requests per window a foreign client of the same key sends, evenly spaced; a function of
   * the time for a client whose rate changes.
   */
  readonly foreignPerWindow?: number | ((at: number) => number);
  /** The lane the backlog workers use (the live lane only to show that the lanes matter). */
  readonly backlogLane?: Lane;
  /** Whether Upheal's 429s carry Retry-After (Upheal documents none; default true). */
  readonly retryAfter?: boolean;
  /** Whether workers apply the late-slot rule (turned off only to show that it matters). */
  readonly lateRule?: boolean;
  /**
   * Bulk workers per process (default 1). Workers of one process share leases as the adapter's
   * callers do: a booking takes one slot for each worker of the process still without one (up
   * to MAX_LEASE_SLOTS), and the others wait in the process's pool for them.
   */
  readonly workersPerProcess?: number;
  /**
   * Whether bookings count their slots on the item (default true), so a cut measures the share
   * the other clients leave; turned off only to show what the count is worth.
   */
  readonly countSent?: boolean;
}

/** One request of ours as Upheal saw it. */
export interface Sent {
  readonly lane: Lane;
  /** When the caller asked the limiter. */
  readonly requestedAt: number;
  readonly slot: number;
  readonly arrival: number;
  readonly rejected: boolean;
}

/** What a run produced. */
export interface SimulationResult {
  readonly sent: readonly Sent[];
  readonly foreignAccepted: number;
  readonly foreignRejected: number;
  readonly writes: number;
  readonly reads: number;
  readonly conditionalFailures: number;
  readonly lateDrops: number;
  /** Booked slots of leases nobody took before they went late (included in lateDrops). */
  readonly pooledDrops: number;
  /** Slots booked in all (by leases too); every one was sent or dropped. */
  readonly slotsBooked: number;
  /** Slots dropped because a 429 paused everyone after they were booked. */
  readonly pausedDrops: number;
  /** SQS deferrals (no slot within the horizon), per lane. */
  readonly deferrals: Record<Lane, number>;
  /** The item at the end. */
  readonly finalState: LimiterState | undefined;
}

/** Workers that share leases (one Lambda instance, one adapter). */
interface Process {
  /** Booked slots nobody took yet (the adapter's own bookkeeping). */
  readonly pool: SlotPool;
  /** Workers of the process that hold no slot. */
  demand: number;
}

const newProcess = (): Process => ({ pool: new SlotPool(), demand: 0 });

/** Upper bound on events, so a bug cannot loop forever. */
const MAX_EVENTS = 5_000_000;

/** A min-heap of timed callbacks; ties run in scheduling order, so runs are deterministic. */
class EventQueue {
  private readonly heap: { at: number; seq: number; run: (at: number) => void }[] = [];
  private seq = 0;

  push(at: number, run: (at: number) => void): void {
    const heap = this.heap;
    heap.push({ at, seq: this.seq++, run });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): { at: number; run: (at: number) => void } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.less(left, smallest)) smallest = left;
      if (right < heap.length && this.less(right, smallest)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
}

/** Runs one simulation to `durationMs` and returns everything Upheal saw. */
export function simulate(options: SimulationOptions): SimulationResult {
  const { params, delays, durationMs } = options;
  const random = mulberry32(options.seed);
  const events = new EventQueue();
  const upheal = createWindowLimiter(
    { mode: 'sliding', limit: params.limit, windowMs: params.windowMs, count429s: false },
    () => 0,
  );
  const sent: Sent[] = [];
  const counters = {
    writes: 0,
    reads: 0,
    conditionalFailures: 0,
    lateDrops: 0,
    pooledDrops: 0,
    slotsBooked: 0,
    pausedDrops: 0,
  };
  const deferrals: Record<Lane, number> = { live: 0, bulk: 0 };
  let foreignAccepted = 0;
  let foreignRejected = 0;
  let item: LimiterState | undefined;
  const lateRule = options.lateRule ?? true;
  const countSent = options.countSent ?? true;

  /** The earliest pooled slot usable by `deadline`; late ones are dropped on the way. */
  const takePooled = (process: Process, now: number, deadline: number) => {
    const dropped = process.pool.prune(now, (slot) => isLate(slot, now, params));
    counters.lateDrops += dropped;
    counters.pooledDrops += dropped;
    return process.pool.take(deadline, false);
  };

  /** One caller: acquires a slot for `lane`, sends, then calls `done` with the answer time. */
  const caller = (
    lane: Lane,
    process: Process,
    requestedAt: number,
    done: (at: number) => void,
  ): void => {
    let view: LimiterState | undefined;
    let viewAt = Number.NEGATIVE_INFINITY;
    let deadline = slotDeadline(lane, requestedAt, params);
    process.demand += 1;
    const step = (now: number): void => {
      if (now >= durationMs) return;
      const pooled = takePooled(process, now, deadline);
      if (pooled !== undefined) {
        process.demand -= 1;
        use(pooled.slot, pooled.bookedAt);
        return;
      }
      if (!viewIsFresh(view, viewAt, now, params)) {
        counters.reads += 1;
        view = item;
        viewAt = now;
      }
      const decision = decide(view, lane, now, deadline, params);
      if (decision.kind === DECISIONS.defer) {
        // Deferred in SQS: the caller comes back later with a fresh horizon.
        deferrals[lane] += 1;
        const back = now + decision.retryAfterMs;
        view = undefined;
        deadline = slotDeadline(lane, back, params);
        process.demand -= 1;
        events.push(back, (at) => {
          process.demand += 1;
          step(at);
        });
        return;
      }
      if (decision.kind === DECISIONS.wait) {
        // Others book while this caller waits: it reads again when it wakes.
        view = undefined;
        events.push(decision.untilMs, step);
        return;
      }
      counters.writes += 1;
      // As the adapter: a restart takes one slot, a booking on a busy schedule a lease.
      const wanted =
        bookingPath(item, now, params) === BOOKING_PATHS.restart
          ? 1
          : process.pool.wanted(process.demand, MAX_LEASE_SLOTS);
      const booking = bookSlots(item, now, deadline, params, wanted);
      if (booking === undefined) {
        counters.conditionalFailures += 1;
        counters.reads += 1;
        view = item;
        viewAt = now;
        events.push(now, step);
        return;
      }
      item = countSent ? booking.state : { ...booking.state, sent: undefined };
      view = item;
      viewAt = now;
      const increased = afterCleanWindows(item, now, params);
      if (increased !== undefined) {
        counters.writes += 1;
        item = increased;
      }
      counters.slotsBooked += booking.slots.length;
      process.pool.add(booking.slots.slice(1), now);
      process.demand -= 1;
      use(booking.slots[0]!, now);
    };
    /** Waits for a slot booked at `bookedAt`, then sends on it (or drops it and steps again). */
    const use = (slot: number, bookedAt: number): void => {
      const delay = delays(slot, random);
      events.push(slot + delay.send, (woke) => {
        const drop = () => {
          process.demand += 1;
          deadline = slotDeadline(lane, woke, params);
          step(woke);
        };
        if (needsRecheck(slot, bookedAt, view, params)) {
          counters.reads += 1;
          if (pausedAfterBooking(slot, item)) {
            counters.pausedDrops += 1;
            drop();
            return;
          }
        }
        if (lateRule && isLate(slot, woke, params)) {
          counters.lateDrops += 1;
          drop();
          return;
        }
        const arrival = woke + delay.network;
        events.push(arrival, (at) => {
          const answer = upheal.tryAcquire(at);
          sent.push({ lane, requestedAt, slot, arrival: at, rejected: !answer.allowed });
          events.push(at + options.responseMs, (back) => {
            if (!answer.allowed && item !== undefined) {
              counters.reads += 1;
              counters.writes += 1;
              const retryAfterMs = options.retryAfter === false ? undefined : answer.retryAfterMs;
              item = afterRateLimited(item, back, retryAfterMs, params);
            }
            done(back);
          });
        });
      });
    };
    step(requestedAt);
  };

  const backlogLane = options.backlogLane ?? LANES.bulk;
  const perProcess = options.workersPerProcess ?? 1;
  const processes = Array.from({ length: Math.ceil(options.bulkWorkers / perProcess) }, newProcess);
  for (let worker = 0; worker < options.bulkWorkers; worker += 1) {
    const process = processes[Math.floor(worker / perProcess)]!;
    const bulkLoop = (at: number): void => caller(backlogLane, process, at, bulkLoop);
    bulkLoop(0);
  }

  const liveGap = options.liveMeanGapMs;
  if (liveGap !== undefined) {
    const nextLive = (at: number): void => {
      caller(LANES.live, newProcess(), at, () => {});
      events.push(at - liveGap * Math.log(1 - random()), nextLive);
    };
    events.push(liveGap, nextLive);
  }

  const foreign = options.foreignPerWindow;
  const foreignAt = typeof foreign === 'function' ? foreign : () => foreign ?? 0;
  if (foreign !== undefined && foreign !== 0) {
    // A client that sends nothing yet looks again every hundredth of a window.
    const gapAt = (at: number) =>
      foreignAt(at) > 0 ? params.windowMs / foreignAt(at) : params.windowMs / 100;
    const nextForeign = (at: number): void => {
      if (foreignAt(at) > 0) {
        if (upheal.tryAcquire(at).allowed) foreignAccepted += 1;
        else foreignRejected += 1;
      }
      events.push(at + gapAt(at), nextForeign);
    };
    events.push(gapAt(0) / 2, nextForeign);
  }

  for (let count = 0; count < MAX_EVENTS; count += 1) {
    const event = events.pop();
    if (event === undefined || event.at >= durationMs) break;
    event.run(event.at);
  }
  return { sent, foreignAccepted, foreignRejected, ...counters, deferrals, finalState: item };
}

/**
 * The largest number of times in any closed window [t, t + windowMs]: the strictest reading of
 * "at most N per window" (it also bounds every fixed window and every half-open sliding one).
 */
export function peakInClosedWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start += 1) {
    while (end < sorted.length && sorted[end]! <= sorted[start]! + windowMs) end += 1;
    peak = Math.max(peak, end - start);
  }
  return peak;
}
