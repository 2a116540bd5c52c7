/**
 * Upheal behind the shared limiter: the adapter that makes the use cases' plain Upheal port
 * (`UphealPort`) paced. Every call first obtains a send slot from the limiter (docs/limits.md);
 * a 429 is reported back so every worker slows down and pauses at once. Each message gets its own
 * pacer, which knows what the limiter needs and the use case never says: whether a call continues
 * the message's work (served ahead of new work, and waited for rather than deferred), and how many
 * calls to book with a check, or with a create sent without one (the calls the use case announced
 * for a new user).
 */
import { RateLimitedError, SlotUnavailableError } from '#lib/errors.ts';
import type { Lane, RateLimiter } from '#lib/limiter/rate-limiter.ts';
import type { UphealCall, UphealForMessage, UphealPort } from '#lib/sync/ports.ts';
import type {
  CheckUserResult,
  CreateClientBody,
  CreateProviderBody,
  CreateProviderResult,
  UpdateProviderBody,
  UpdateUserBody,
} from '#lib/upheal/client.ts';

/**
 * How many more times a call that is not a message's first waits out the limiter's "no slot
 * within the horizon" instead of deferring the message: a deferral then would repeat the calls
 * already made (a check before a create, say), which costs more of the budget than the wait.
 */
const CONTINUATION_RETRIES = 2;

/** What a check is followed by when the caller did not say: the user's create. */
const DEFAULT_CALLS_IF_NEW = 1;

/** Sleeps `ms` milliseconds. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Upheal paced in the shared limiter: a fresh pacer per message, in the message's lane. */
export function pacedUpheal(
  client: UphealPort,
  limiter: RateLimiter,
  wait: (ms: number) => Promise<void> = sleep,
): UphealForMessage {
  return (lane, decorate) =>
    new PacedUpheal(decorate ? decorate(client) : client, limiter, lane, wait);
}

/** The pacer of one message's Upheal calls, in one lane of the shared limiter. */
export class PacedUpheal implements UphealPort {
  readonly #client: UphealPort;
  readonly #limiter: RateLimiter;
  readonly #lane: Lane;
  readonly #wait: (ms: number) => Promise<void>;
  /** Set once a call of this pacer's message went out. */
  #started = false;

  constructor(
    client: UphealPort,
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
   * A pacer for the calls of one message: its first call defers the message when no slot is
   * near (nothing is lost), its later calls wait a little longer instead (CONTINUATION_RETRIES).
   */
  forEvent(): PacedUpheal {
    return new PacedUpheal(this.#client, this.#limiter, this.#lane, this.#wait);
  }

  /**
   * A check is made only for a user without a mapping, and nearly always followed by the calls
   * announced in `ifNew` (the create): its booking takes their slots too (one limiter write), and
   * gives them back when the check finds the user or fails.
   */
  checkUser(email: string, ifNew?: readonly UphealCall[]): Promise<CheckUserResult> {
    const followUps = ifNew?.length ?? DEFAULT_CALLS_IF_NEW;
    return this.#announcing(
      () => this.#client.checkUser(email),
      followUps,
      (result) => !result.exists,
    );
  }

  /**
   * A create sent without a check before it (`ifCreated` given) books the calls announced there
   * (a provider's follow-up update, a client's full list) with its own slot, and gives them back
   * when the create fails (a duplicate is then checked, which announces nothing). Though it is
   * its message's first call, it waits out a missing slot as a later call does: the create-path
   * claim is written before it, and a deferral would leave that claim behind for nothing and
   * turn the retry into a check first (one call more).
   */
  createProvider(
    body: CreateProviderBody,
    ifCreated?: readonly UphealCall[],
  ): Promise<CreateProviderResult> {
    return this.#announcing(
      () => this.#client.createProvider(body),
      ifCreated?.length ?? 0,
      () => true,
      ifCreated !== undefined,
    );
  }

  createClient(
    body: CreateClientBody,
    ifCreated?: readonly UphealCall[],
  ): Promise<{ userId: string }> {
    return this.#announcing(
      () => this.#client.createClient(body),
      ifCreated?.length ?? 0,
      () => true,
      ifCreated !== undefined,
    );
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

  /**
   * A call whose booking takes the slots of `followUps` calls after it; they are given back when
   * the call went out and failed, or when `followed` says its answer leads to none of them.
   * `waitsOut`: a missing slot is waited out even when it is the message's first call.
   */
  async #announcing<T>(
    call: () => Promise<T>,
    followUps: number,
    followed: (result: T) => boolean,
    waitsOut = false,
  ): Promise<T> {
    if (followUps === 0) return this.#paced(call, 0, waitsOut);
    let sent = false;
    let result: { value: T } | undefined;
    try {
      const value = await this.#paced(
        () => {
          sent = true;
          return call();
        },
        followUps,
        waitsOut,
      );
      result = { value };
      return value;
    } finally {
      // A call that never got a slot announced nothing that is still held.
      if (sent && (result === undefined || !followed(result.value))) {
        this.#limiter.forgo(followUps);
      }
    }
  }

  async #paced<T>(call: () => Promise<T>, followUps = 0, waitsOut = false): Promise<T> {
    for (let retries = 0; ; retries++) {
      try {
        await this.#limiter.acquire(this.#lane, { continuation: this.#started, followUps });
        break;
      } catch (error) {
        const waitOut =
          error instanceof SlotUnavailableError &&
          (this.#started || waitsOut) &&
          retries < CONTINUATION_RETRIES;
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
