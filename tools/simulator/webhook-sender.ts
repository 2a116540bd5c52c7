/**
 * The simulator's webhooks (upheal-api.md §6 and §8 rows 13–16): when a user is created, Upheal
 * POSTs a signed user-created event carrying the `partnerUserId` given at creation — also when
 * the create's own answer was lost (the `createdButFailed` fault), which is what lets the product
 * heal such creates. The payload shape is guessed: `{type, userId, partnerUserId,
 * organizationId, userType, timestamp}`.
 *
 * Delivery as Upheal describes it: any answer but 200/204, or none within 5 s, is a failure,
 * retried up to `retries` times with doubling delays. Options add the disorder of an
 * at-least-once sender: duplicate deliveries and a random delay before the first attempt
 * (reordering). Deliveries run in the background; `settled()` waits for those in flight.
 */
import { signWebhook } from '#lib/upheal-webhook/signature.ts';
import type { WebhookOptions } from './options.ts';
import { mulberry32 } from './prng.ts';
import type { SimUser } from './user-store.ts';

/** The statuses Upheal takes as delivered. */
const DELIVERED_STATUSES: readonly number[] = [200, 204];
/** The organization id the simulated users belong to. */
export const SIM_ORGANIZATION_ID = 'org-simulated';
/** What identifies Upheal's webhook requests. */
const USER_AGENT = 'Upheal Webhook';

/** Counts of the webhooks sent so far. */
export interface WebhookStats {
  /** Events (one per created user, plus duplicates). */
  readonly events: number;
  /** HTTP attempts, retries included. */
  readonly attempts: number;
  /** Events answered 200/204. */
  readonly delivered: number;
  /** Events given up after the last retry. */
  readonly abandoned: number;
}

/** Sends the simulator's webhooks. */
export class WebhookSender {
  #options: WebhookOptions;
  #random: () => number;
  readonly #inFlight = new Set<Promise<void>>();
  /** Pending waits (reorder delays, backoffs), ended early by stop(). */
  readonly #waits = new Map<NodeJS.Timeout, () => void>();
  #stopped = false;
  #stats = { events: 0, attempts: 0, delivered: 0, abandoned: 0 };

  constructor(options: WebhookOptions) {
    this.#options = options;
    this.#random = mulberry32(options.seed);
  }

  /** The current options. */
  get options(): WebhookOptions {
    return this.#options;
  }

  /** Replaces the options (e.g. the URL, once the receiving function runs). */
  configure(options: WebhookOptions): void {
    this.#options = options;
    this.#random = mulberry32(options.seed);
  }

  /** Counts so far. */
  stats(): WebhookStats {
    return { ...this.#stats };
  }

  /** Announces a created user (no-op without a URL and secret). */
  userCreated(user: Pick<SimUser, 'userId' | 'partnerUserId' | 'userType'>): void {
    const { url, secret } = this.#options;
    if (!url || !secret || this.#stopped) return;
    const body = JSON.stringify({
      type: 'user.created',
      userId: user.userId,
      partnerUserId: user.partnerUserId,
      organizationId: SIM_ORGANIZATION_ID,
      userType: user.userType,
      timestamp: new Date().toISOString(),
    });
    const copies = this.#random() < this.#options.duplicates ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delay = this.#random() * this.#options.reorderMaxMs;
      const delivery = this.#deliver(url, secret, body, delay).finally(() =>
        this.#inFlight.delete(delivery),
      );
      this.#inFlight.add(delivery);
    }
  }

  /** Resolves when every delivery in flight has been delivered or abandoned. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stops sending: pending waits end and nothing new starts. */
  stop(): void {
    this.#stopped = true;
    for (const [timer, resolve] of this.#waits) {
      clearTimeout(timer);
      resolve();
    }
    this.#waits.clear();
  }

  async #deliver(url: string, secret: string, body: string, delayMs: number): Promise<void> {
    this.#stats.events += 1;
    await this.#sleep(delayMs);
    for (let attempt = 0; attempt <= this.#options.retries && !this.#stopped; attempt++) {
      if (attempt > 0) await this.#sleep(this.#options.backoffMs * 2 ** (attempt - 1));
      if (this.#stopped) break;
      this.#stats.attempts += 1;
      if (await this.#post(url, secret, body)) {
        this.#stats.delivered += 1;
        return;
      }
    }
    this.#stats.abandoned += 1;
  }

  async #post(url: string, secret: string, body: string): Promise<boolean> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          ...signWebhook(this.#options.scheme, secret, body, Date.now()),
        },
        body,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      await response.arrayBuffer();
      return DELIVERED_STATUSES.includes(response.status);
    } catch {
      return false;
    }
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waits.delete(timer);
        resolve();
      }, ms);
      this.#waits.set(timer, resolve);
    });
  }
}
