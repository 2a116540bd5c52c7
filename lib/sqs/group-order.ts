/**
 * Runs the records of one SQS batch as FIFO order allows: records of one message group one after
 * another in batch order, records of different groups concurrently, at most `parallel` at once. A
 * record whose group had a failure earlier in the batch does not run: it fails with that error,
 * so the batch response returns it to the queue behind the failed one (order kept).
 */

/** Orders and bounds the record runs of one batch (one instance per invocation). */
export class GroupOrder {
  readonly #parallel: number;
  /** The last run of each group seen so far. */
  readonly #tails = new Map<string, Promise<unknown>>();
  /** Runs that wait for one of the `parallel` places, in arrival order. */
  readonly #queue: (() => void)[] = [];
  #running = 0;

  constructor(parallel: number) {
    if (!Number.isInteger(parallel) || parallel < 1) {
      throw new RangeError('records in parallel must be a positive integer');
    }
    this.#parallel = parallel;
  }

  /**
   * Runs `task` after every earlier task of `group` succeeded (call in batch order); rejects
   * without running it when one of them failed.
   */
  run<T>(group: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(group) ?? Promise.resolve();
    const run = previous.then(() => this.#bounded(task));
    this.#tails.set(group, run);
    return run;
  }

  async #bounded<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#parallel) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return await task();
    } finally {
      // Hand the place straight to the next waiting run, or give it back.
      const next = this.#queue.shift();
      if (next) next();
      else this.#running -= 1;
    }
  }
}

/**
 * Fewest records an instance runs at once while records are deferred for slots: two keep a lease
 * of slots useful to the instance (one write for both records' calls) at the price of some more
 * deferrals; measured at 16 instances, 1.40–1.43 DynamoDB writes per Upheal call against
 * 1.47–1.54 with one, and 0.974–0.975 of the limit used against 0.979–0.981.
 */
export const MIN_RECORDS_IN_PARALLEL = 2;

/**
 * How many records one Lambda instance runs at once, adapted between invocations: one fewer after
 * an invocation in which a record had to be deferred for want of a limiter slot (more records in
 * flight than the limiter serves within its horizon: they would only churn through SQS and starve
 * each other), one more after an invocation without, between MIN_RECORDS_IN_PARALLEL (or `max`,
 * if lower) and `max`. With few instances each runs several records (the API stays busy, and the
 * limiter books their slots in leases); with many, each runs about two.
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
    this.#current = max;
  }

  /** Records to run at once in the next invocation. */
  get current(): number {
    return this.#current;
  }

  /** Learns from one invocation: whether any of its records was deferred for a slot. */
  settle(deferredForSlot: boolean): void {
    this.#current = deferredForSlot
      ? Math.max(this.#min, this.#current - 1)
      : Math.min(this.#max, this.#current + 1);
  }
}
