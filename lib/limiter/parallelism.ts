/**
 * How many records one Lambda instance runs at once, tuned by the limiter's answers: the
 * consumer's side of pacing. The consumer reports, per invocation, whether a record had to be
 * deferred for want of a slot (the one signal it gets, `forCapacity` of the record's decision).
 */

/**
 * Fewest records an instance runs at once while records are deferred for slots: two. With one, a
 * record that waits in-process (for a dependency, a lease, a slot) holds up every other record of
 * its batch, which on a loaded machine can stall a batch of live events for over a minute. An
 * instance refused at two records sits out instead (lib/sqs/capacity-gate.ts).
 */
export const MIN_RECORDS_IN_PARALLEL = 2;

/**
 * How many records one Lambda instance runs at once, adapted between invocations: one fewer after
 * an invocation in which a record had to be deferred for want of a limiter slot (more records in
 * flight than the limiter serves within its horizon: they would only churn through SQS and starve
 * each other), one more after an invocation without that had more records than it ran at once,
 * between MIN_RECORDS_IN_PARALLEL (or `max`, if lower) and `max`. With few instances each runs
 * several records (the API stays busy, and the limiter books their slots in leases); with many,
 * each runs two and sits out when refused.
 *
 * A new instance starts at the least and earns its way up, and only an invocation that had more
 * records than it ran at once counts as earning: one of a few live events says nothing about
 * more records. Instances start together (an import's first batches reach every one of them at
 * once), and so do instances kept warm by live events; starting at the most, many of them would
 * put more records in flight than the API serves, and most of those records would be read only
 * to be refused. A lone instance given large batches reaches the most after a few invocations.
 */
export class AdaptiveParallelism {
  readonly #max: number;
  readonly #min: number;
  #current: number;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError('records in parallel must be a positive integer');
    }
    this.#max = max;
    this.#min = Math.min(MIN_RECORDS_IN_PARALLEL, max);
    this.#current = this.#min;
  }

  /** Records to run at once in the next invocation. */
  get current(): number {
    return this.#current;
  }

  /** Whether the instance already runs as few records at once as it may. */
  get atMinimum(): boolean {
    return this.#current === this.#min;
  }

  /**
   * Learns from one invocation of `records` records: whether any of them was deferred for a
   * slot. Without a deferral, the next invocation runs one more only if this one had more records
   * than it ran at once.
   */
  settle(deferredForSlot: boolean, records: number): void {
    if (deferredForSlot) this.#current = Math.max(this.#min, this.#current - 1);
    else if (records > this.#current) this.#current = Math.min(this.#max, this.#current + 1);
  }
}
