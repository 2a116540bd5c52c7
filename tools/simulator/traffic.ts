/**
 * The simulated Upheal traffic gate: one limiter per API key over every `/users` route, the
 * optional foreign client sharing the first key, and the arrival log from which every statistic
 * is computed (research/rate-limiting.md §6.2: "all metrics come from that log").
 */
import type { RateLimitOptions } from './options.ts';
import {
  type Clock,
  createWindowLimiter,
  type LimitDecision,
  peakInWindow,
  type WindowLimiter,
} from './window-limiter.ts';

/** An answer that never came: the request hung or its connection was reset. */
export type NoAnswer = 'hang' | 'reset';

/** One request as the server saw it arrive. */
export interface Arrival {
  /** Arrival time, ms on a monotonic clock aligned to the Unix epoch at process start. */
  at: number;
  /** The route name (see UPHEAL_ROUTES), or `unknown`. */
  route: string;
  /** The status answered, `hang`/`reset` when none was, 0 while still in flight. */
  status: number | NoAnswer;
  /** Whether the foreign client (another user of the same key) sent it. */
  foreign: boolean;
  /** Whether the limiter let it through (a 429 otherwise; unauthenticated requests never are). */
  admitted: boolean;
  /** Whether it counted against the limit (admitted, or rejected with count429s on). */
  counted: boolean;
  /**
   * Index of the API key in the configured list (never the key itself); -1 when it never reached
   * a key's limiter (unauthenticated, or answered by a simulated outage).
   */
  key: number;
}

/** Counts read by tests and the benchmark (`GET /__sim/stats`). */
export interface TrafficStats {
  /** Requests from real clients to Upheal routes (the foreign client excluded). */
  totalCalls: number;
  /** Per route, per answered status (or `hang`/`reset`), real clients only. */
  byRoute: Record<string, Record<string, number>>;
  /** Real clients' requests the limiter admitted (whatever they were answered afterwards). */
  admitted: number;
  /** Real clients' requests the limiter rejected (answered, or about to be answered, 429). */
  rateLimited: number;
  /** Arrivals of the foreign client, and how many of them it got a 429 for. */
  foreignArrivals: number;
  foreignRateLimited: number;
  /** Entries in the arrival log (real and foreign). */
  arrivals: number;
  /** Most counted arrivals (real and foreign) of one key in any span shorter than windowMs. */
  peakInWindow: number;
  /** The same for real clients' admitted requests only. */
  peakOwnInWindow: number;
  firstArrivalAt: number | null;
  lastArrivalAt: number | null;
  limit: number;
  windowMs: number;
  mode: string;
}

/** Bound on foreign arrivals generated in one catch-up, so a long idle gap cannot stall a request. */
const MAX_FOREIGN_CATCH_UP = 100_000;
/** The foreign client uses the first configured key. */
const FOREIGN_KEY = 0;
/** Foreign arrivals fall in the middle of their slot, half an interval after its start. */
const FOREIGN_PHASE = 0.5;
/** Status of an arrival not answered yet. */
const IN_FLIGHT = 0;
/** Status answered when the limit is exceeded. */
const TOO_MANY_REQUESTS = 429;

/** Per-key limiting, the foreign client and the arrival log. */
export class Traffic {
  readonly #clock: Clock;
  readonly #keyCount: number;
  #options: RateLimitOptions;
  #limiters: WindowLimiter[] = [];
  #log: Arrival[] = [];
  #foreignEpoch = 0;
  #foreignNext = 0;

  constructor(options: RateLimitOptions, keyCount: number, clock: Clock) {
    this.#clock = clock;
    this.#keyCount = keyCount;
    this.#options = options;
    this.#restart();
  }

  /** The current rate-limit options. */
  get options(): RateLimitOptions {
    return this.#options;
  }

  /** Replaces the options; limiter state and the foreign client start afresh (the log is kept). */
  configure(options: RateLimitOptions): void {
    this.#options = options;
    this.#restart();
  }

  /** Clears the log and counts and restarts limiters and the foreign client. */
  reset(): void {
    this.#log = [];
    this.#restart();
  }

  /** The current time on the simulator's clock. */
  now(): number {
    return this.#clock();
  }

  /** Records an unauthenticated arrival (it never reaches a key's limiter). */
  arriveUnauthenticated(route: string, at: number): Arrival {
    this.catchUp(at);
    return this.#append({
      at,
      route,
      status: IN_FLIGHT,
      foreign: false,
      admitted: false,
      counted: false,
      key: -1,
    });
  }

  /** Records an arrival for a key and decides it at that key's limiter. */
  arrive(key: number, route: string, at: number): { arrival: Arrival; decision: LimitDecision } {
    this.catchUp(at);
    const decision = this.#limiters[key]!.tryAcquire(at);
    const counted = decision.allowed || this.#options.count429s;
    const arrival = this.#append({
      at,
      route,
      status: IN_FLIGHT,
      foreign: false,
      admitted: decision.allowed,
      counted,
      key,
    });
    return { arrival, decision };
  }

  /** Records the answer (or its absence) of a real client's request. */
  answer(arrival: Arrival, status: number | NoAnswer): void {
    arrival.status = status;
  }

  /**
   * Generates the foreign client's arrivals up to `until`: evenly spaced at `foreignShare · limit`
   * per window, decided by the first key's limiter in time order with everyone else's.
   */
  catchUp(until: number = this.#clock()): void {
    const { foreignShare, limit, windowMs } = this.#options;
    if (foreignShare <= 0) return;
    const interval = windowMs / (foreignShare * limit);
    const due = Math.floor((until - this.#foreignEpoch) / interval - FOREIGN_PHASE) + 1;
    if (due - this.#foreignNext > MAX_FOREIGN_CATCH_UP)
      this.#foreignNext = due - MAX_FOREIGN_CATCH_UP;
    for (; this.#foreignNext < due; this.#foreignNext += 1) {
      const at = this.#foreignEpoch + (this.#foreignNext + FOREIGN_PHASE) * interval;
      const decision = this.#limiters[FOREIGN_KEY]!.tryAcquire(at);
      this.#append({
        at,
        route: 'foreign',
        status: decision.allowed ? 200 : TOO_MANY_REQUESTS,
        foreign: true,
        admitted: decision.allowed,
        counted: decision.allowed || this.#options.count429s,
        key: FOREIGN_KEY,
      });
    }
  }

  /** The arrival log from index `from` on (copies). */
  arrivals(from = 0): Arrival[] {
    this.catchUp();
    return this.#log.slice(from).map((arrival) => ({ ...arrival }));
  }

  /**
   * Counts computed from the log, over the arrivals at or after `since` (e.g. to discard a
   * warm-up window); requests still in flight appear in `byRoute` once answered.
   */
  stats(since = Number.NEGATIVE_INFINITY): TrafficStats {
    this.catchUp();
    const byRoute: Record<string, Record<string, number>> = {};
    let totalCalls = 0;
    let admitted = 0;
    let rateLimited = 0;
    let foreignArrivals = 0;
    let foreignRateLimited = 0;
    const counted: number[][] = Array.from({ length: this.#keyCount }, () => []);
    const own: number[][] = Array.from({ length: this.#keyCount }, () => []);
    const log = this.#log.filter((arrival) => arrival.at >= since);
    for (const arrival of log) {
      if (arrival.foreign) {
        foreignArrivals += 1;
        if (!arrival.admitted) foreignRateLimited += 1;
      } else {
        totalCalls += 1;
        if (arrival.status !== IN_FLIGHT) {
          const statuses = byRoute[arrival.route] ?? {};
          byRoute[arrival.route] = statuses;
          const name = String(arrival.status);
          statuses[name] = (statuses[name] ?? 0) + 1;
        }
        if (arrival.admitted) {
          admitted += 1;
          own[arrival.key]!.push(arrival.at);
        } else if (arrival.key >= 0) {
          rateLimited += 1;
        }
      }
      if (arrival.counted && arrival.key >= 0) counted[arrival.key]!.push(arrival.at);
    }
    const { windowMs, limit, mode } = this.#options;
    const peak = (lists: number[][]) =>
      Math.max(0, ...lists.map((times) => peakInWindow(times, windowMs)));
    return {
      totalCalls,
      byRoute,
      admitted,
      rateLimited,
      foreignArrivals,
      foreignRateLimited,
      arrivals: log.length,
      peakInWindow: peak(counted),
      peakOwnInWindow: peak(own),
      firstArrivalAt: log[0]?.at ?? null,
      lastArrivalAt: log.at(-1)?.at ?? null,
      limit,
      windowMs,
      mode,
    };
  }

  #append(arrival: Arrival): Arrival {
    this.#log.push(arrival);
    return arrival;
  }

  #restart(): void {
    this.#limiters = Array.from({ length: this.#keyCount }, () =>
      createWindowLimiter(this.#options, this.#clock),
    );
    this.#foreignEpoch = this.#clock();
    this.#foreignNext = 0;
  }
}
