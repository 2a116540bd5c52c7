/**
 * What one consumer instance learned from its last deferral for want of a limiter slot: until
 * when no slot is expected, per queue. A record that would start before then would read the
 * user's state (and the limiter's) only to be deferred in turn, so the consumer does not start
 * it yet: it waits in-process when the slot is expected sooner than a deferral could bring the
 * record back (SQS visibility is set in whole seconds), and defers it unread otherwise. So extra
 * instances, which the API cannot serve, wait instead of polling DynamoDB through SQS churn.
 * Pure bookkeeping: the caller gives the clock.
 */

/** A deferral brings a record back after at least this long (visibility in whole seconds). */
export const SHORTEST_DEFERRAL_MS = 1_000;

/** What to do with a record about to start. */
export type GateDecision =
  | { readonly action: 'run' }
  | { readonly action: 'wait'; readonly ms: number }
  | { readonly action: 'defer'; readonly ms: number };

/** Per-queue "no slot before" times of one consumer instance. */
export class CapacityGate {
  readonly #closedUntil = new Map<string, number>();

  /** A record of `queue` was deferred at `now` for want of a slot expected in `delayMs`. */
  deferred(queue: string, now: number, delayMs: number): void {
    const until = now + delayMs;
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
    return ms < SHORTEST_DEFERRAL_MS ? { action: 'wait', ms } : { action: 'defer', ms };
  }
}
