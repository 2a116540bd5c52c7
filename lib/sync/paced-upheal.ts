/**
 * Upheal, paced: every call first obtains a send slot from the shared limiter (SPEC §3.2), and a
 * 429 is reported back so every worker slows down and pauses at once.
 */
import { RateLimitedError, SlotUnavailableError } from '#lib/errors.ts';
import type { Lane, RateLimiter } from '#lib/limiter/rate-limiter.ts';
import type {
  CheckUserResult,
  CreateClientBody,
  CreateProviderBody,
  CreateProviderResult,
  UpdateProviderBody,
  UpdateUserBody,
  UphealClient,
} from '#lib/upheal/client.ts';

/** The Upheal operations the sync uses, each behind the limiter. */
export type UphealPort = UphealCalls & {
  /**
   * Tells the pacer how many calls follow a check when the user turns out to be new (default 1,
   * the create; 2 for a client whose providers are assigned right after its create), so the
   * check's booking takes their slots too.
   */
  callsAfterCheck?(count: number): void;
};

/** Upheal's operations the sync makes. */
type UphealCalls = Pick<
  UphealClient,
  | 'checkUser'
  | 'createProvider'
  | 'createClient'
  | 'updateUser'
  | 'updateProvider'
  | 'replaceProviders'
  | 'deleteUser'
>;

/**
 * How many more times a call that is not an event's first waits out the limiter's "no slot
 * within the horizon" instead of deferring the message: a deferral then would repeat the calls
 * already made (a check before a create, say), which costs more of the budget than the wait.
 */
const CONTINUATION_RETRIES = 2;

/** Calls expected right after a check by default (its create). */
const CHECK_FOLLOW_UPS = 1;

/** Sleeps `ms` milliseconds. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An UphealClient whose every call waits for a slot in one lane of the shared limiter. */
export class PacedUpheal implements UphealPort {
  readonly #client: UphealCalls;
  readonly #limiter: RateLimiter;
  readonly #lane: Lane;
  readonly #wait: (ms: number) => Promise<void>;
  /** Set once a call of this pacer's event went out (see `forEvent`). */
  #started = false;
  #callsAfterCheck = CHECK_FOLLOW_UPS;

  constructor(
    client: UphealCalls,
    limiter: RateLimiter,
    lane: Lane,
    wait: (ms: number) => Promise<void> = sleep,
  ) {
    this.#client = client;
    this.#limiter = limiter;
    this.#lane = lane;
    this.#wait = wait;
  }

  /**
   * A pacer for the calls of one event: its first call defers the message when no slot is near
   * (nothing is lost), its later calls wait a little longer instead (see CONTINUATION_RETRIES).
   */
  forEvent(): PacedUpheal {
    return new PacedUpheal(this.#client, this.#limiter, this.#lane, this.#wait);
  }

  /**
   * A check is made only for a user without a mapping, and nearly always followed by its create:
   * its booking takes the create's slot too (one limiter write for both).
   */
  callsAfterCheck(count: number): void {
    this.#callsAfterCheck = count;
  }

  async checkUser(email: string): Promise<CheckUserResult> {
    let sent = false;
    let result: CheckUserResult | undefined;
    try {
      result = await this.#paced(() => {
        sent = true;
        return this.#client.checkUser(email);
      }, this.#callsAfterCheck);
      return result;
    } finally {
      // Found (a link, no create) or failed: the create's slot goes to other callers. (A check
      // that never got a slot announced nothing that is still held.)
      if (sent && (result === undefined || result.exists)) {
        this.#limiter.forgo?.(this.#callsAfterCheck);
      }
    }
  }

  createProvider(body: CreateProviderBody): Promise<CreateProviderResult> {
    return this.#paced(() => this.#client.createProvider(body));
  }

  createClient(body: CreateClientBody): Promise<{ userId: string }> {
    return this.#paced(() => this.#client.createClient(body));
  }

  updateUser(userId: string, body: UpdateUserBody): Promise<void> {
    return this.#paced(() => this.#client.updateUser(userId, body));
  }

  updateProvider(providerUserId: string, body: UpdateProviderBody): Promise<void> {
    return this.#paced(() => this.#client.updateProvider(providerUserId, body));
  }

  replaceProviders(userId: string, providerUserIds: string[]): Promise<string[]> {
    return this.#paced(() => this.#client.replaceProviders(userId, providerUserIds));
  }

  deleteUser(userId: string): Promise<void> {
    return this.#paced(() => this.#client.deleteUser(userId));
  }

  async #paced<T>(call: () => Promise<T>, followUps = 0): Promise<T> {
    for (let retries = 0; ; retries++) {
      try {
        await this.#limiter.acquire(this.#lane, { continuation: this.#started, followUps });
        break;
      } catch (error) {
        const waitOut =
          error instanceof SlotUnavailableError && this.#started && retries < CONTINUATION_RETRIES;
        if (!waitOut) throw error;
        await this.#wait(error.retryAfterMs);
      }
    }
    this.#started = true;
    try {
      return await call();
    } catch (error) {
      if (error instanceof RateLimitedError) await this.#limiter.rateLimited(error.retryAfterMs);
      throw error;
    }
  }
}
