/**
 * What one consumer instance learned from the limiter refusing one of its records a slot: until
 * when its records of that queue should not start. A refusal means more records are in flight,
 * across all instances, than the API serves within the limiter's horizon; a record started
 * meanwhile would read the user's state (and the limiter's) only to be refused in turn. The queue
 * closes until the slot is expected, and, once the instance runs as few records at once as it
 * may and is refused still (lib/limiter/parallelism.ts), for a sit-out of a few horizons: its next
 * records wait in-process, reading nothing, while the instances the API can serve run without
 * the surplus polling the limiter and re-reading users. Instances refused together come back at
 * different moments (a random length), and one refused again sits out again, so about as many
 * instances run as the API can serve. A closure longer than the longest sit-out (a 429's pause)
 * defers records unread instead. Pure bookkeeping: the caller gives the clock.
 */

/** A deferral brings a record back after at least this long (visibility in whole seconds). */
export const SHORTEST_DEFERRAL_MS = 1_000;

/**
 * How long an instance sits out after a refusal, in limiter horizons: long enough to stay out of
 * the crowd for many slots (a horizon holds about 15 at the default limit), short enough not to
 * hold back the rest of its batch much where few records remain (the ends of an import's phases).
 */
export const SIT_OUT_HORIZONS = 3;

/** A sit-out's length is drawn uniformly from (1 ± this) × the sit-out. */
export const SIT_OUT_SPREAD = 0.25;

/** What to do with a record about to start. */
export type GateDecision =
  | { readonly action: 'run' }
  | { readonly action: 'wait'; readonly ms: number }
  | { readonly action: 'defer'; readonly ms: number };

/** How a gate is built. */
export interface CapacityGateOptions {
  /** The mean sit-out after a refusal, in ms (0: closed only until the slot is expected). */
  readonly sitOutMs?: number;
  /** Uniform in [0, 1), for the sit-out's spread. */
  readonly random?: () => number;
}

/** Per-queue "do not start before" times of one consumer instance. */
export class CapacityGate {
  readonly #closedUntil = new Map<string, number>();
  readonly #sitOutMs: number;
  readonly #random: () => number;
  /** Closures ending within this long are waited out in-process. */
  readonly #longestWaitMs: number;

  constructor(options: CapacityGateOptions = {}) {
    this.#sitOutMs = options.sitOutMs ?? 0;
    this.#random = options.random ?? Math.random;
    this.#longestWaitMs = Math.max(SHORTEST_DEFERRAL_MS, this.#sitOutMs * (1 + SIT_OUT_SPREAD));
  }

  /**
   * The limiter refused a record of `queue` a slot at `now`, the next one expected in `delayMs`:
   * the queue closes until then, or for a sit-out when `sitOut` (the instance already runs its
   * fewest records: it has nothing left to give up but its turn), whichever is longer.
   */
  refused(queue: string, now: number, delayMs: number, sitOut: boolean): void {
    const sitOutMs = sitOut
      ? this.#sitOutMs * (1 - SIT_OUT_SPREAD + 2 * SIT_OUT_SPREAD * this.#random())
      : 0;
    const until = now + Math.max(delayMs, sitOutMs);
    if (until > (this.#closedUntil.get(queue) ?? Number.NEGATIVE_INFINITY))
      this.#closedUntil.set(queue, until);
  }

  /** Whether a record of `queue` may start at `now`, or must wait, or be deferred unread. */
  admit(queue: string, now: number): GateDecision {
    const until = this.#closedUntil.get(queue);
    if (until === undefined || until <= now) {
      this.#closedUntil.delete(queue);
      return { action: 'run' };
    }
    const ms = until - now;
    return ms < this.#longestWaitMs ? { action: 'wait', ms } : { action: 'defer', ms };
  }
}
