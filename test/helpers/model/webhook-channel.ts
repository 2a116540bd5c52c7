/**
 * Upheal's side of its webhooks in the model. The simulated Upheal announces every user it
 * creates, also one whose create it answered 500 (its own webhook sender, captured by the
 * fixture); this channel delivers each announcement as an at-least-once sender does, on the
 * virtual clock: after a random delay (so announcements overtake each other), sometimes twice,
 * and sometimes never (lost). Each attempt is signed when it is sent and answered by the real
 * receiver (`receiveWebhook`: signature, timestamp, replay guard, envelope, queue). An attempt
 * that fails (the endpoint unreachable, or the queue refusing the command: 503) is retried up to
 * 5 times with doubling delays, as Upheal documents; after the last one the delivery is lost.
 * What the receiver queues becomes a heal command on the model's `upheal-webhooks` queue.
 */
import type { EventQueue } from '#lib/ingest/event-queue.ts';
import type { NonceStore } from '#lib/ingest/replay-guard.ts';
import { staticSecrets } from '#lib/ingest/secrets.ts';
import { HealCommandSchema } from '#lib/upheal-webhook/heal-command.ts';
import {
  receiveWebhook,
  WEBHOOK_REASONS,
  WEBHOOK_STATUS,
} from '#lib/upheal-webhook/receive-webhook.ts';
import { SIGNATURE_SCHEMES, signWebhook } from '#lib/upheal-webhook/signature.ts';
import type { Arrivals, Outgoing } from './delivery-model.ts';

/** Retries after a failed attempt (Upheal's documented number). */
const RETRIES = 5;
/** First retry delay; each next one doubles. */
const FIRST_BACKOFF_MS = 1_000;
/** The receiver's limits as production defaults them (lib/config.ts). */
const LIMITS = { maxBodyBytes: 64 * 1024, toleranceMs: 300_000 } as const;

/** How disorderly Upheal's delivery is in one case. */
export interface ChannelRates {
  /** Probability that an announcement is never sent. */
  readonly loss: number;
  /** Probability that an announcement is sent twice (two independent deliveries). */
  readonly duplicate: number;
  /** Probability that an attempt does not reach the receiver (answered 5xx or timed out). */
  readonly attemptFailure: number;
  /** Probability that the receiver's queue refuses the command (the receiver answers 503). */
  readonly queueFailure: number;
  /** Longest delay before a delivery's first attempt. */
  readonly reorderMaxMs: number;
}

/** What the channel did, for the run's figures and the oracle. */
export interface ChannelReport {
  /** Upheal user id → partner user id of every announcement. */
  readonly announced: Map<string, string>;
  /** Upheal user ids of which at least one heal command was queued. */
  readonly queued: Set<string>;
  /** Counts. */
  readonly stats: {
    announcements: number;
    lost: number;
    duplicates: number;
    attempts: number;
    failedAttempts: number;
    replaysRefused: number;
    abandoned: number;
  };
}

/** One delivery attempt waiting for its time. */
interface Attempt {
  readonly body: string;
  readonly dueAt: number;
  /** 0 for the first attempt. */
  readonly attempt: number;
}

/** Upheal's webhook sender on the virtual clock. */
export class WebhookChannel implements Arrivals {
  readonly #take: () => Promise<string[]>;
  readonly #nonces: NonceStore;
  readonly #secret: string;
  readonly #rates: ChannelRates;
  readonly #random: () => number;
  #attempts: Attempt[] = [];
  readonly report: ChannelReport = {
    announced: new Map(),
    queued: new Set(),
    stats: {
      announcements: 0,
      lost: 0,
      duplicates: 0,
      attempts: 0,
      failedAttempts: 0,
      replaysRefused: 0,
      abandoned: 0,
    },
  };

  constructor(options: {
    /** The simulator's announcements since the last call (bodies). */
    readonly take: () => Promise<string[]>;
    readonly nonces: NonceStore;
    readonly secret: string;
    readonly rates: ChannelRates;
    readonly random: () => number;
  }) {
    this.#take = options.take;
    this.#nonces = options.nonces;
    this.#secret = options.secret;
    this.#rates = options.rates;
    this.#random = options.random;
  }

  nextAt(): number | undefined {
    return this.#attempts.length === 0
      ? undefined
      : Math.min(...this.#attempts.map((attempt) => attempt.dueAt));
  }

  async due(now: number): Promise<Outgoing[]> {
    // Sorted: the order the simulator's requests finished in is not the seed's to decide.
    for (const body of (await this.#take()).sort()) this.#announce(body, now);
    const queued: Outgoing[] = [];
    for (;;) {
      const ready = this.#attempts
        .filter((attempt) => attempt.dueAt <= now)
        .sort((a, b) => a.dueAt - b.dueAt || a.body.localeCompare(b.body));
      const next = ready[0];
      if (!next) return queued;
      this.#attempts.splice(this.#attempts.indexOf(next), 1);
      await this.#send(next, now, queued);
    }
  }

  /** A user created: delivered once, twice, or never, each after its own delay. */
  #announce(body: string, now: number): void {
    const { userId, partnerUserId } = JSON.parse(body) as {
      userId: string;
      partnerUserId?: string;
    };
    this.report.stats.announcements += 1;
    if (partnerUserId) this.report.announced.set(userId, partnerUserId);
    if (this.#random() < this.#rates.loss) {
      this.report.stats.lost += 1;
      return;
    }
    const copies = this.#random() < this.#rates.duplicate ? 2 : 1;
    if (copies > 1) this.report.stats.duplicates += 1;
    for (let copy = 0; copy < copies; copy++) {
      const delay = Math.floor(this.#random() * this.#rates.reorderMaxMs);
      this.#attempts.push({ body, dueAt: now + delay, attempt: 0 });
    }
  }

  /** One attempt: through the real receiver, unless the endpoint is down; retried on failure. */
  async #send(attempt: Attempt, now: number, queued: Outgoing[]): Promise<void> {
    this.report.stats.attempts += 1;
    let delivered = false;
    if (this.#random() >= this.#rates.attemptFailure) {
      const outcome = await receiveWebhook(
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...signWebhook(SIGNATURE_SCHEMES.body, this.#secret, attempt.body, now),
          },
          body: new TextEncoder().encode(attempt.body),
        },
        {
          scheme: SIGNATURE_SCHEMES.body,
          secrets: staticSecrets(this.#secret, 'model webhook secret'),
          nonces: this.#nonces,
          queue: this.#queue(queued),
          limits: LIMITS,
          now: () => now,
        },
      );
      delivered = outcome.status === WEBHOOK_STATUS.noContent;
      if (outcome.reason === WEBHOOK_REASONS.replayed) this.report.stats.replaysRefused += 1;
    }
    if (delivered) return;
    this.report.stats.failedAttempts += 1;
    if (attempt.attempt >= RETRIES) {
      this.report.stats.abandoned += 1;
      return;
    }
    this.#attempts.push({
      body: attempt.body,
      dueAt: now + FIRST_BACKOFF_MS * 2 ** attempt.attempt,
      attempt: attempt.attempt + 1,
    });
  }

  /** The Upheal-webhooks queue as the receiver sees it: the model's, sometimes refusing. */
  #queue(queued: Outgoing[]): EventQueue {
    return {
      enqueue: async (events) => {
        if (this.#random() < this.#rates.queueFailure) {
          return events.map((_, index) => ({ index, reason: 'simulated', permanent: false }));
        }
        for (const event of events) {
          const command = HealCommandSchema.parse(JSON.parse(event.body));
          this.report.queued.add(command.uphealUserId);
          queued.push({ queue: 'upheal-webhooks', group: event.partnerUserId, body: event.body });
        }
        return [];
      },
    };
  }
}
