/**
 * The live traffic of a scenario: one new provider every `intervalMs` while the bulk load runs,
 * published through `publish` (the user-events queue, or the naive baseline's live list), with
 * the time each was published.
 */
import { type BenchProvider, liveProvider } from './workload.ts';

/** A live event as published. */
export interface LivePublished {
  readonly user: BenchProvider;
  readonly eventId: string;
  /** Epoch ms just before it was handed to the queue. */
  readonly publishedAt: number;
}

/** Publishes one live user. */
export type LivePublish = (live: LivePublished) => Promise<void>;

/** A steady trickle of live users, started and stopped by the scenario. */
export class LiveTrickle {
  readonly #intervalMs: number;
  readonly #publish: LivePublish;
  readonly #published: LivePublished[] = [];
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<void>[] = [];
  #errors = 0;

  constructor(intervalMs: number, publish: LivePublish) {
    this.#intervalMs = intervalMs;
    this.#publish = publish;
  }

  /** Starts publishing (the first one right away). */
  start(): void {
    if (this.#timer) return;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
  }

  /** Stops publishing and waits for the sends in flight. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#pending);
  }

  /** Every live event published so far. */
  get published(): readonly LivePublished[] {
    return this.#published;
  }

  /** Sends that failed (the event then never applies; reported, never hidden). */
  get errors(): number {
    return this.#errors;
  }

  #tick(): void {
    const user = liveProvider(this.#published.length + 1);
    const eventId = `live-${user.partnerUserId}`;
    const live = { user, eventId, publishedAt: Date.now() };
    this.#published.push(live);
    const sending = this.#publish(live).catch(() => {
      this.#errors += 1;
    });
    this.#pending.push(sending);
  }
}
