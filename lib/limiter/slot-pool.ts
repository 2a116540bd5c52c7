/**
 * The slots of leases one process booked and no caller took yet (see dynamo-limiter.ts), and the
 * follow-up calls its callers announced: a check announces its create, and the next lease books
 * a slot for it that first calls of new events leave alone (else the create would book again).
 * Pure bookkeeping, no clock of its own and no I/O; callers run it under their mutex.
 */

/** A booked slot and when it was booked (for the re-check before use). */
export interface PooledSlot {
  readonly slot: number;
  readonly bookedAt: number;
}

/** Pooled slots and follow-up reservations of one process. */
export class SlotPool {
  /** Ascending by slot. */
  readonly #slots: PooledSlot[] = [];
  /** How many of the pooled slots are kept for follow-ups (callers that continue an event). */
  #reserved = 0;
  /** Expiry times of announced follow-ups that no booking has taken a slot for yet. */
  #owed: number[] = [];

  /** Slots in the pool. */
  get size(): number {
    return this.#slots.length;
  }

  /** Pooled slots a first call may take (those not kept for follow-ups). */
  get free(): number {
    return this.#slots.length - this.#reserved;
  }

  /**
   * Removes slots that can no longer be used (`unusable`, e.g. late or paused) from the head and
   * announced follow-ups that expired; returns how many slots it dropped.
   */
  prune(now: number, unusable: (slot: number) => boolean): number {
    let dropped = 0;
    while (this.#slots.length > 0 && unusable(this.#slots[0]!.slot)) {
      this.#slots.shift();
      dropped += 1;
    }
    this.#reserved = Math.min(this.#reserved, this.#slots.length);
    this.#owed = this.#owed.filter((until) => until >= now);
    return dropped;
  }

  /**
   * The earliest pooled slot for a caller whose wait ends at `deadline`: a continuation may take
   * any (a reserved one first counts as its follow-up), a first call only one not reserved.
   */
  take(deadline: number, continuation: boolean): PooledSlot | undefined {
    const head = this.#slots[0];
    if (head === undefined || head.slot > deadline) return undefined;
    if (!continuation && this.#slots.length <= this.#reserved) return undefined;
    this.#slots.shift();
    if (continuation) this.#served();
    return head;
  }

  /** A continuation got a slot by booking it: one announced follow-up is served. */
  bookedFor(continuation: boolean): void {
    if (continuation) this.#owed.shift();
  }

  /**
   * Announces `count` follow-up calls, expected before `until`; `withdraw()` takes back those
   * not yet served (a booking that failed is retried and announces them again).
   */
  expect(count: number, until: number): { withdraw(): void } {
    const entries = Array.from({ length: count }, () => until);
    this.#owed.push(...entries);
    return {
      withdraw: () => {
        for (const entry of entries) {
          const index = this.#owed.lastIndexOf(entry);
          if (index >= 0) this.#owed.splice(index, 1);
        }
      },
    };
  }

  /**
   * How many slots a booking should take: one for the booker, one for each other caller still
   * without one (`demand` counts the booker too), one per announced follow-up, less the
   * unreserved slots already pooled; at least one, at most `max`.
   */
  wanted(demand: number, max: number): number {
    const free = this.#slots.length - this.#reserved;
    return Math.min(max, Math.max(1, demand + this.#owed.length - free));
  }

  /** Pools the slots of a lease the booker does not use; announced follow-ups get theirs first. */
  add(slots: readonly number[], bookedAt: number): void {
    for (const slot of slots) this.#slots.push({ slot, bookedAt });
    this.#slots.sort((a, b) => a.slot - b.slot);
    const reserving = Math.min(this.#owed.length, slots.length);
    this.#owed.splice(0, reserving);
    this.#reserved += reserving;
  }

  /** Announced follow-ups that will not come: their reservations (or announcements) lapse. */
  forgo(count: number): void {
    for (let i = 0; i < count; i += 1) {
      if (this.#owed.length > 0) this.#owed.pop();
      else if (this.#reserved > 0) this.#reserved -= 1;
    }
  }

  #served(): void {
    if (this.#reserved > 0) this.#reserved -= 1;
    else this.#owed.shift();
  }
}
