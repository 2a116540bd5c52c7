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
