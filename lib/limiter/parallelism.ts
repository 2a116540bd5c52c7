/**
 * How many records one Lambda instance runs at once from one queue, tuned by the limiter's
 * answers: the consumer's side of pacing. The consumer reports, per invocation, whether a record
 * had to be deferred for want of a slot (the one signal it gets, `forCapacity` of the record's
 * decision), and whether that refusal was for the bulk lane in a batch of import work only.
 */

/**
 * Fewest records an instance runs at once from a batch with live work in it: two. With one, a
 * record that waits in-process (for a slot, at the gate) holds up every other record of its
 * batch, which on a loaded machine can stall a batch of live events for over a minute.
 */
export const MIN_RECORDS_IN_PARALLEL = 2;

/**
 * Fewest records at once from a batch of import work only, after a refusal for the bulk lane:
 * one. Bulk refusals mean more import records are in flight, across all instances, than the API
 * serves; each of them has read its user (and a client its providers) before it was refused.
 * With many instances, one record each is already more than the API can use. An instance refused
 * for the bulk lane at its fewest sits out (lib/sqs/capacity-gate.ts). Live work does not go
 * below two: each queue has its own count, and a batch with a live record in it (the assignments
 * queue carries both) runs at least two at once.
 */
export const MIN_BULK_RECORDS_IN_PARALLEL = 1;

/**
 * What one invocation learned about slots: served, refused, or refused for the bulk lane in a
 * batch of import work only.
 */
export const SLOT_OUTCOMES = {
  served: 'served',
  refused: 'refused',
  refusedBulk: 'refused-bulk',
} as const;

/** A slot outcome of one invocation. */
export type SlotOutcome = (typeof SLOT_OUTCOMES)[keyof typeof SLOT_OUTCOMES];

/**
 * How many records one Lambda instance runs at once from one queue, adapted between invocations:
 * one fewer after an invocation in which a record had to be deferred for want of a limiter slot
 * (more records in flight than the limiter serves within its horizon: they would only churn
 * through SQS and starve each other), down to MIN_BULK_RECORDS_IN_PARALLEL after a bulk refusal
 * in a batch of import work only and MIN_RECORDS_IN_PARALLEL after any other; one more after an
 * invocation without that had more records than it ran at once, up to `max` (no bound goes above
 * `max`). A batch with live work in it runs at least MIN_RECORDS_IN_PARALLEL whatever the count.
 * With few instances each runs several records (the API stays busy, and the limiter books their
 * slots in leases); with many, each runs one import record and sits out when refused.
 *
 * A new count starts at MIN_RECORDS_IN_PARALLEL and earns its way up, and only an invocation that
 * had more records than it ran at once counts as earning: one of a few live events says nothing
 * about more records. Instances start together (an import's first batches reach every one of them
 * at once), and so do instances kept warm by live events; starting at the most, many of them
 * would put more records in flight than the API serves, and most of those records would be read
 * only to be refused. A lone instance given large batches reaches the most after a few
 * invocations.
 */
export class AdaptiveParallelism {
  readonly #max: number;
  #current: number;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError('records in parallel must be a positive integer');
    }
    this.#max = max;
    this.#current = Math.min(MIN_RECORDS_IN_PARALLEL, max);
  }

  /** The count: records to run at once in the next invocation of import work only. */
  get current(): number {
    return this.#current;
  }

  /** Records to run at once for a batch: at least two of one with live work in it. */
  forBatch(importOnly: boolean): number {
    return Math.max(this.#current, this.#floor(importOnly));
  }

  /**
   * Whether a batch runs as few records at once as it may: an instance refused for the bulk lane
   * then has nothing left to give up but its turn (it sits out).
   */
  atFewest(importOnly: boolean): boolean {
    return this.forBatch(importOnly) <= this.#floor(importOnly);
  }

  /** The fewest records at once for a batch (never above the most). */
  #floor(importOnly: boolean): number {
    return Math.min(this.#max, importOnly ? MIN_BULK_RECORDS_IN_PARALLEL : MIN_RECORDS_IN_PARALLEL);
  }

  /**
   * Learns from one invocation of `records` records (`importOnly`: all of them import work). A
   * refusal steps down towards its floor (never up: a live refusal after bulk ones leaves the
   * count at one); a served invocation steps up only if it had more records than it ran at once.
   */
  settle(outcome: SlotOutcome, records: number, importOnly: boolean): void {
    if (outcome === SLOT_OUTCOMES.served) {
      if (records > this.forBatch(importOnly)) {
        this.#current = Math.min(this.#max, this.#current + 1);
      }
      return;
    }
    const floor = this.#floor(outcome === SLOT_OUTCOMES.refusedBulk);
    this.#current = Math.min(this.#current, Math.max(floor, this.#current - 1));
  }
}
